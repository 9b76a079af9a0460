"""Peak memory of the backfill's ``extract`` at full size: ``python -m bench.extract_memory``.

The end-to-end backfill (``bench/backfill.py``) measures each step's peak RSS at the size
it runs (``--backfill-requests``); this runs only ``extract`` over the full-size backlog
of the same shape (100,000 request JSONs by default, 15 % re-scrapes, an attachment for
half the requests: ~250,000 files), in a fresh process as the task runs it, against the
benchmark's PostgreSQL, and prints its time and peak RSS (the 300 MB target of issue 13).
The landing data is generated once into ``.dev/bench/extract-memory/`` and reused.

``--upload``: then, in another fresh process, ``pipeline.upload`` of every file extract
registered, with each S3 call replaced by a stub that reports the file uploaded: what the
step holds for a backlog of that size (the pending rows, the batches of outcomes), without
the 35 minutes the real upload takes (the end-to-end backfill measures those).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

from bench import env

DATA = env.ROOT / ".dev" / "bench" / "extract-memory"


def child(landing: Path) -> None:
    """In the measured process: ``pipeline.extract`` of every file, new to the registry."""
    env.prepare()
    env.quiet_airflow()
    from bench.data import pipeline_settings
    from extractorov import pipeline, runtime
    from extractorov.companies import get_company

    with runtime.warehouse_connection() as conn:
        from extractorov import warehouse

        warehouse.ensure_schema(conn)  # its own cost is not extract's
        conn.commit()
        env.peak_rss_reset()
        rss_before, _ = env.rss_mb()
        started = time.monotonic()
        summary = pipeline.extract(conn, get_company("afinia"),
                                   pipeline_settings(landing, "bench-extract-memory"), "mem")
        seconds = time.monotonic() - started
    _, peak = env.rss_mb()
    print(json.dumps({"files": summary.files_found, "records": summary.records,
                      "json_files": summary.records_found, "seconds": round(seconds, 1),
                      "files_per_second": round(summary.files_found / seconds, 1),
                      "rss_before_mb": rss_before, "peak_rss_mb": peak}))


def upload_child(landing: Path) -> None:
    """In the measured process: ``pipeline.upload`` of the registered backlog, S3 stubbed."""
    env.prepare()
    env.quiet_airflow()
    from bench.data import pipeline_settings
    from extractorov import pipeline, registry, runtime, storage
    from extractorov import upload as upload_step
    from extractorov.companies import get_company

    def uploaded(client: object, bucket: str, item: registry.PendingFile,
                 **_: object) -> registry.UploadResult:
        return registry.UploadResult(item.id, "uploaded")

    storage.upload_one = uploaded
    upload_step.preflight = lambda *args, **kwargs: None
    with runtime.warehouse_connection() as conn:
        env.peak_rss_reset()
        rss_before, _ = env.rss_mb()
        started = time.monotonic()
        summary = pipeline.upload(conn, None, get_company("afinia"),
                                  pipeline_settings(landing, "bench-extract-memory"),
                                  run_id="mem")
        seconds = time.monotonic() - started
    _, peak = env.rss_mb()
    print(json.dumps({"files": summary.files, "uploaded": summary.s3_uploaded,
                      "seconds": round(seconds, 1), "rss_before_mb": rss_before,
                      "peak_rss_mb": peak}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.extract_memory",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000,
                        help="request JSONs of the backlog (default 100,000)")
    parser.add_argument("--upload", action="store_true",
                        help="then upload_s3 of the registered backlog, S3 calls stubbed")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--upload-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    if args.upload_child:
        upload_child(args.upload_child)
        return 0
    env.prepare()
    from bench.backfill import dataset
    from bench.data import clean_landing, generate
    from bench.modes import FULL
    from bench.services import bench_services

    params = dataset(dataclasses.replace(FULL, backfill_requests=args.requests))
    folder = DATA / str(args.requests)
    generate(folder, **params)
    landing = folder / "landing"
    clean_landing(landing)
    with bench_services() as stack:
        stack.use_database("bench_extract_memory")
        out = subprocess.run([sys.executable, "-m", "bench.extract_memory", "--child",
                              str(landing)], check=True, cwd=env.ROOT, capture_output=True,
                             text=True)
        uploaded = None
        if args.upload:
            uploaded = json.loads(subprocess.run(
                [sys.executable, "-m", "bench.extract_memory", "--upload-child", str(landing)],
                check=True, cwd=env.ROOT, capture_output=True, text=True,
            ).stdout.strip().splitlines()[-1])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"extract of {result['files']:,} files ({result['json_files']:,} request JSONs, "
          f"{result['records']:,} requests): {result['seconds']} s "
          f"({result['files_per_second']:,} files/s), peak RSS {result['peak_rss_mb']} MiB "
          f"(before extract {result['rss_before_mb']} MiB)")
    if uploaded:
        print(f"upload_s3 of {uploaded['files']:,} files, S3 stubbed: {uploaded['seconds']} s, "
              f"peak RSS {uploaded['peak_rss_mb']} MiB (before {uploaded['rss_before_mb']} MiB)")
        result["upload_stubbed"] = uploaded
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
