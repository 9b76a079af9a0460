"""The two benchmark sizes, ``--full`` and ``--quick``: how much data each step measures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    name: str
    load_sizes: tuple[int, ...]
    s3_files: int
    s3_file_size: int
    incremental_handled: tuple[int, ...]
    incremental_new_requests: int
    """Each new request is two files (JSON + detail PDF)."""
    parse_repeats: int
    stock_rerun_sample: int
    """Files re-sent with S3Hook to count its requests for files already uploaded."""


FULL = Mode("full", (10_000, 100_000), 2_000, 100_000, (10_000, 100_000), 50, 5, 50)
QUICK = Mode("quick", (1_000,), 30, 100_000, (500, 2_000), 5, 1, 5)
