"""Times as an operator reads them in a task log: durations and Bogotá clock times.

Raw seconds (``last change 36720411.7 s ago``) tell nothing at a glance: a duration is
written in its two largest units (``425 d 1 h``, ``2 min 10 s``), a moment as the
companies' local time (``2025-10-07 14:05 Bogotá``).
"""

from __future__ import annotations

from datetime import datetime

from extractorov.settings import BOGOTA

_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def duration(seconds: float) -> str:
    """``seconds`` in its two largest units, whole ones: ``425 d 1 h``, ``1 h 59 min``,
    ``2 min 10 s``, ``8 s`` (rounded to the second, then cut: never more than it was)."""
    left = max(0, round(seconds))
    if left < 60:
        return f"{left} s"
    parts: list[str] = []
    for unit, size in _UNITS:
        if left >= size or parts:
            count, left = divmod(left, size)
            if count:
                parts.append(f"{count} {unit}")
            if len(parts) == 2 or (parts and not count):
                break
    return " ".join(parts)


def bogota_time(timestamp: float) -> str:
    """A POSIX timestamp as Bogotá's wall clock, to the minute: ``2025-10-07 14:05 Bogotá``."""
    return datetime.fromtimestamp(timestamp, BOGOTA).strftime("%Y-%m-%d %H:%M") + " Bogotá"


def ago(seconds: float, now: float) -> str:
    """``425 d 1 h ago (2025-10-07 14:05 Bogotá)``: how long ago and when."""
    return f"{duration(seconds)} ago ({bogota_time(now - seconds)})"
