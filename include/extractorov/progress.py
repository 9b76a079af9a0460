"""Progress lines for long steps: ``load_db: 40000 / 100000 (16000/s, 4s left)``."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class Progress:
    """Logs done / total, rate and time left at most every ``every`` seconds.

    Nothing is logged for empty work (total 0): a line saying ``0 / 0`` tells nothing.
    """

    def __init__(self, label: str, total: int, every: float = 5.0,
                 logger: logging.Logger = log) -> None:
        self.label, self.total, self.every, self.log = label, total, every, logger
        self.started = self.last = time.monotonic()

    def update(self, done: int, *, force: bool = False) -> None:
        if self.total <= 0:
            return
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        if done >= self.total:
            self.log.info("%s: %d / %d done (%.0f/s)", self.label, done, self.total, rate)
            return
        left = (self.total - done) / rate if rate else None
        self.log.info("%s: %d / %d (%.0f/s, %s left)", self.label, done, self.total, rate,
                      f"{left:.0f}s" if left is not None else "unknown time")
