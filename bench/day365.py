"""Step 3b, day 1 vs day 365: one morning of new requests on an empty history and on the
history a year of runs leaves (``bench/history.py``: registry, loaded marks and table
filled with SQL, not by running the pipeline), with ``processed/`` holding the last 30 days
(retention on) and, separately, everything (retention ``keep``).

Each step (``extract``, ``load_db``, ``upload_s3``) runs in a fresh process, as a task does,
against the benchmark's PostgreSQL and moto S3 (behind the latency proxy); each reports its
seconds and peak RSS, and PostgreSQL's count of the registry rows it read. The baseline,
measured on the same data in the same run: what every extract did before it asked about
its own names, the load of every registry row of the company
(:func:`extractorov.registry.all_known_files`), in a fresh process too.

``python -m bench.day365 --quick|--full`` runs only this step (``bench.run`` runs it with
the others).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import env, history
from bench.data import generate, pipeline_settings
from bench.load_bench import LOAD_EMPRESA
from bench.measure import log, settled_count, sql
from bench.modes import Mode
from bench.services import Services

CASES = ("retention", "keep")
"""``retention``: processed/ holds the last ``RETENTION_DAYS`` days of the history;
``keep``: it holds all of it."""
RETENTION_DAYS = 30
MORNING = date(2025, 8, 4)
"""The new requests' day; the history ends the day before."""


def _child(step: str, root: Path, bucket: str, run_id: str, manifest: str) -> None:
    """In the measured process: one step, then its seconds, peak RSS and counts."""
    env.prepare()
    env.quiet_airflow()
    from extractorov import pipeline, registry, runtime
    from extractorov.companies import get_company

    company = get_company(LOAD_EMPRESA)
    settings = pipeline_settings(root, bucket)
    with runtime.warehouse_connection() as conn:
        client = (runtime.s3_client(settings.aws_conn_id, workers=settings.upload_workers)
                  if step == "upload_s3" else None)
        env.peak_rss_reset()
        rss_before, _ = env.rss_mb()
        started = time.monotonic()
        counts: dict[str, Any]
        if step == "extract":
            extracted = pipeline.extract(conn, company, settings, run_id)
            counts = {"files_found": extracted.files_found, "files_new": extracted.files_new,
                      "files_handled_before": extracted.files_handled_before,
                      "files_registered": extracted.files_registered,
                      "records": extracted.records, "manifest": extracted.manifest}
        elif step == "load_db":
            loaded = pipeline.load(conn, company, manifest, run_id=run_id)
            counts = {"db_inserted": loaded.db_inserted, "db_updated": loaded.db_updated,
                      "json_files_loaded": loaded.json_files_loaded}
        elif step == "upload_s3":
            uploaded = pipeline.upload(conn, client, company, settings, run_id=run_id)
            counts = {"files": uploaded.files, "s3_uploaded": uploaded.s3_uploaded,
                      "s3_errors": uploaded.s3_errors}
        else:  # the baseline: every registry row of the company, as extract read them
            known = registry.all_known_files(conn, company.empresa, bucket)
            counts = {"rows": len(known)}
            conn.commit()
        seconds = time.monotonic() - started
    _, peak = env.rss_mb()
    print(json.dumps({"seconds": round(seconds, 3), "rss_before_mb": rss_before,
                      "peak_rss_mb": peak, "peak_over_start_mb": round(peak - rss_before, 1),
                      **counts}))


def registry_rows_read(dsn: str) -> int:
    """Registry rows read so far by sequential and index scans (pg_stat counters; each
    step's process has exited, which flushes its counters: poll until two reads agree)."""
    return settled_count(
        dsn, "SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) FROM "
             "pg_stat_user_tables WHERE relid = 'data_general.s3_files_registry'::regclass")


def _run_child(step: str, root: Path, bucket: str, run_id: str, manifest: str = "",
               dsn: str = "") -> dict:
    before = registry_rows_read(dsn)
    done = subprocess.run(
        [sys.executable, "-m", "bench.day365", "--child", step, "--root", str(root),
         "--bucket", bucket, "--run-id", run_id, "--manifest", manifest],
        cwd=env.ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"day365 {step} failed: {done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["registry_rows_read"] = registry_rows_read(dsn) - before
    return result


def bench_day365(mode: Mode, stack: Services, data: Path) -> dict[str, Any]:
    """For each retention case and history size: the morning's three steps, and the
    baseline's full registry read, each in a fresh process."""
    from extractorov import runtime, warehouse
    from extractorov.companies import get_company
    from extractorov.landing import company_folders

    company = get_company(LOAD_EMPRESA)
    new_requests = mode.day365_new_requests
    generate(data / "day365-morning", companies=(LOAD_EMPRESA,), pdf_size=4_000,
             start=MORNING, seed=11, days=1, requests_per_day=new_requests,
             rescrape_ratio=0.0, attachment_ratio=0.5)
    morning = company_folders(data / "day365-morning" / "landing", LOAD_EMPRESA).processed
    morning_files = sorted(morning.iterdir())
    end = datetime.combine(MORNING - timedelta(days=1), datetime.min.time(), UTC)
    results = []
    for case in CASES:
        for handled in mode.day365_handled:
            root = data / f"day365-{case}-{handled}"
            shutil.rmtree(root, ignore_errors=True)
            processed = company_folders(root, LOAD_EMPRESA).processed
            processed.mkdir(parents=True)
            dsn = stack.use_database(f"bench_d365_{case}_{handled}")
            bucket = f"bench-d365-{case}-{handled}"
            stack.moto.create_bucket(bucket)
            settings = pipeline_settings(root, bucket)
            t = time.monotonic()
            with runtime.warehouse_connection() as conn:
                warehouse.ensure_schema(conn)
                conn.commit()
                files = history.fill(conn, company, bucket, settings.base_path, processed,
                                     history.requests_for(handled), end=end,
                                     keep_days=RETENTION_DAYS if case == "retention" else None,
                                     per_day=mode.day365_requests_per_day)
                local = history.local_names(conn, company, bucket)
            history.write_files(processed, local, end)
            sql(dsn, "VACUUM ANALYZE", "CHECKPOINT", autocommit=True)
            fill_seconds = round(time.monotonic() - t, 1)
            for path in morning_files:
                os.link(path, processed / path.name)
            baseline = _run_child("baseline", root, bucket, "baseline", dsn=dsn)
            steps = {"extract": _run_child("extract", root, bucket, "day-1", dsn=dsn)}
            steps["load_db"] = _run_child("load_db", root, bucket, "day-1",
                                          steps["extract"]["manifest"], dsn=dsn)
            steps["upload_s3"] = _run_child("upload_s3", root, bucket, "day-1", dsn=dsn)
            results.append({"case": case, "handled_files": files, "local_history_files": len(local),
                            "new_files": len(morning_files), "fill_seconds": fill_seconds,
                            "steps": steps, "baseline_full_registry_read": baseline})
            log(f"  day365 {case}, {files:,} handled ({len(local):,} in processed/): "
                + ", ".join(f"{s} {r['seconds']} s / {r['peak_rss_mb']} MiB"
                            for s, r in steps.items())
                + f"; baseline full registry read {baseline['seconds']} s / "
                  f"{baseline['peak_rss_mb']} MiB")
            shutil.rmtree(root, ignore_errors=True)
    return {"new_requests": new_requests, "new_files": len(morning_files),
            "requests_per_day": mode.day365_requests_per_day,
            "retention_days": RETENTION_DAYS, "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.day365",
                                     description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true")
    size.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=None,
                        help="write the section's JSON here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bucket", help=argparse.SUPPRESS)
    parser.add_argument("--run-id", help=argparse.SUPPRESS)
    parser.add_argument("--manifest", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.root, args.bucket, args.run_id, args.manifest)
        return 0
    home, created = env.prepare()
    from bench.modes import FULL, QUICK
    from bench.report import day365_table
    from bench.services import bench_services

    mode = FULL if args.full else QUICK
    data = env.ROOT / ".dev" / "bench" / mode.name
    data.mkdir(parents=True, exist_ok=True)
    try:
        with bench_services() as stack:
            env.quiet_airflow()
            section = bench_day365(mode, stack, data)
    finally:
        if created:
            shutil.rmtree(home, ignore_errors=True)
    print(day365_table(section))
    if args.output:
        args.output.write_text(json.dumps(section, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
