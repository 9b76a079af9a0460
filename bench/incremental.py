"""Step 3, incremental run: seconds, rows written and S3 requests of extract → load_db →
upload_s3 over a folder of many already handled files plus a few new ones, and then
with nothing new; what the backlog costs must be zero.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.data import generate, pipeline_settings
from bench.load_bench import LOAD_EMPRESA
from bench.measure import ProgressLog, RequestCounter, log, sql, table_writes
from bench.modes import Mode
from bench.services import Services

RUN_RECORDS = 2
"""Rows every run writes whatever it finds: its extract and load_db records."""


def _link_requests(source: Path, target: Path, requests: int) -> int:
    """Hard-link the files of the first ``requests`` SGC numbers of ``source`` into ``target``."""
    from extractorov.landing import parse_file_name

    by_sgc: dict[str, list[str]] = {}
    for name in sorted(os.listdir(source)):
        parsed = parse_file_name(name)
        if parsed is not None:
            by_sgc.setdefault(parsed.sgc, []).append(name)
    target.mkdir(parents=True, exist_ok=True)
    linked = 0
    for sgc in sorted(by_sgc)[:requests]:
        for name in by_sgc[sgc]:
            os.link(source / name, target / name)
            linked += 1
    return linked


def bench_incremental(mode: Mode, stack: Services, data: Path,
                      progress: ProgressLog) -> dict[str, Any]:
    """For each backlog size: one run with a few new files, then one with nothing new."""
    from extractorov import pipeline, runtime
    from extractorov.companies import get_company
    from extractorov.landing import company_folders

    company = get_company(LOAD_EMPRESA)
    new_requests = mode.incremental_new_requests
    # New files from another seed and an earlier month: names and numbers never collide.
    generate(data / "new", companies=(LOAD_EMPRESA,), pdf_size=mode.s3_file_size,
             start=date(2025, 8, 4), seed=7, days=1, requests_per_day=new_requests,
             rescrape_ratio=0.0, attachment_ratio=0.0)
    new_processed = company_folders(data / "new" / "landing", LOAD_EMPRESA).processed
    source = company_folders(data / "load" / "landing", LOAD_EMPRESA).processed
    counter = RequestCounter()
    results = []
    for handled in mode.incremental_handled:
        root = data / f"incremental-{handled}"
        shutil.rmtree(root, ignore_errors=True)
        processed = company_folders(root, LOAD_EMPRESA).processed
        linked = _link_requests(source, processed, handled // 2)
        dsn = stack.use_database(f"bench_inc_{handled}")
        bucket = f"bench-inc-{handled}"
        stack.moto.create_bucket(bucket)
        settings = pipeline_settings(root, bucket)

        # The backlog: extracted and loaded by earlier runs, uploaded long ago.
        with runtime.warehouse_connection() as conn:
            first = pipeline.extract(conn, company, settings, "backlog")
            pipeline.load(conn, company, first.manifest)
        sql(dsn, "UPDATE data_general.s3_files_registry SET upload_status = 'uploaded', "
              "attempts = 1, uploaded_at = now()")
        sql(dsn, "VACUUM ANALYZE", "CHECKPOINT", autocommit=True)
        new_files = 0
        for path in sorted(new_processed.iterdir()):
            os.link(path, processed / path.name)
            new_files += 1

        for label, run_id in ((f"{new_files}_new", "incremental-1"),
                              ("nothing_new", "incremental-2")):
            writes_before = table_writes(dsn)
            counter.take()
            steps: dict[str, float] = {}
            started = time.monotonic()
            t = time.monotonic()
            with runtime.warehouse_connection() as conn:
                extracted = pipeline.extract(conn, company, settings, run_id)
            steps["extract"] = round(time.monotonic() - t, 3)
            t = time.monotonic()
            with runtime.warehouse_connection() as conn:
                loaded = pipeline.load(conn, company, extracted.manifest)
            steps["load_db"] = round(time.monotonic() - t, 3)
            t = time.monotonic()
            client = counter.attach(runtime.s3_client(settings.aws_conn_id,
                                                      workers=settings.upload_workers))
            with runtime.warehouse_connection() as conn:
                uploaded = pipeline.upload(conn, client, company, settings, run_id=run_id)
            steps["upload_s3"] = round(time.monotonic() - t, 3)
            seconds = time.monotonic() - started
            requests = counter.take()
            rows = table_writes(dsn) - writes_before
            # What the new files alone must write: registry rows, loaded marks, outcomes;
            # and the run's own records, one per step try (data_general.run_steps).
            rows_for_new = (extracted.files_registered + loaded.db_inserted + loaded.db_updated
                            + loaded.json_files_loaded + uploaded.s3_uploaded
                            + uploaded.s3_pre_existing + uploaded.s3_errors + RUN_RECORDS)
            requests_for_new = uploaded.files + (1 if uploaded.files else 0)  # + preflight
            results.append({
                "handled_files": linked, "case": label, "new_files": extracted.files_new,
                "seconds": round(seconds, 3), "steps": steps,
                "files_handled_before": extracted.files_handled_before,
                "records_loaded": loaded.records, "db_inserted": loaded.db_inserted,
                "s3_uploaded": uploaded.s3_uploaded,
                "rows_written": rows, "rows_written_for_new_files": rows_for_new,
                "rows_written_for_backlog": rows - rows_for_new,
                "s3_requests": requests, "s3_requests_total": sum(requests.values()),
                "s3_requests_for_backlog": sum(requests.values()) - requests_for_new,
            })
            log(f"  incremental {linked} handled, {label}: {seconds:.2f} s, rows {rows}, "
                f"S3 requests {sum(requests.values())}")
        shutil.rmtree(root, ignore_errors=True)
    return {"new_requests": new_requests, "results": results}
