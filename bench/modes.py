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
    backfill_requests: int
    """Request JSONs of the end-to-end backfill (with PDFs, attachments, re-scrapes)."""
    backfill_pdf_size: int
    """Approximate bytes of each generated PDF of the backfill (see docs/performance.md)."""
    backfill_ceiling_sample: int
    """Files the bare ``put_object`` pool (the upload ceiling) sends."""
    backfill_sequential_sample: int
    """Files the sequential uploads (stock and old way) send; the rest is extrapolated."""
    upload_workers: int
    """Concurrency of ``upload_s3`` in the benchmark (the ``ov_s3_upload_workers`` default)."""
    sweep_files: int
    """Files per point of the upload concurrency sweep."""
    sweep_workers: tuple[int, ...]
    morning_requests: int
    """Requests per company in the morning through the scheduler (3 files each)."""
    load_repeats: int = 3
    """Times the all-new load is timed per method with a target (project, stock, bare COPY),
    in turn; the report takes medians."""
    day365_handled: tuple[int, ...] = (0, 20_000)
    """Day 1 vs day 365: files of the history (registry rows) under the morning's run."""
    day365_new_requests: int = 20
    """Day 1 vs day 365: the morning's new requests (a JSON, a detail PDF, an attachment
    for half of them)."""
    day365_requests_per_day: int = 100
    """Day 1 vs day 365: requests a day in the history (how many days retention keeps)."""


FULL = Mode("full", (10_000, 100_000), 2_000, 100_000, (10_000, 100_000), 50, 5, 50,
            backfill_requests=100_000, backfill_pdf_size=16_000, backfill_ceiling_sample=20_000,
            backfill_sequential_sample=400, upload_workers=16, sweep_files=2_000,
            sweep_workers=(4, 8, 16, 32, 64), morning_requests=1_000,
            day365_handled=(0, 100_000, 300_000, 900_000), day365_new_requests=1_000,
            day365_requests_per_day=1_000)
QUICK = Mode("quick", (1_000,), 30, 100_000, (500, 2_000), 5, 1, 5,
             backfill_requests=400, backfill_pdf_size=16_000, backfill_ceiling_sample=300,
             backfill_sequential_sample=20, upload_workers=16, sweep_files=200,
             sweep_workers=(8, 32), morning_requests=20, load_repeats=1,
             day365_handled=(0, 20_000), day365_new_requests=20, day365_requests_per_day=100)
