"""``make demo`` and ``make airflow``: the pipeline on sample data, on this machine.

Usage::

    python -m devtools demo      # sample data → ov_afinia, ov_aire via `airflow dags test`
    python -m devtools airflow   # fresh state + the same services + `airflow standalone`
    python -m devtools morning   # the next morning of sample data for the running `airflow`
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from devtools.sample import generate_landing
from devtools.services import BUCKET, airflow_env, dev_dir, init_airflow, services
from devtools.standalone import morning, standalone
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders, parse_file_name


def print_report(dsn_env: dict[str, str]) -> None:
    """Print the last run of each company and the registry stats from the warehouse."""
    os.environ.update(dsn_env)
    from extractorov import runtime, stats

    with runtime.warehouse_connection() as conn:
        print("\n=== last run per company (data_general.post_processing_runs) ===")
        for company in COMPANIES.values():
            for run in stats.recent_runs(conn, company.empresa, limit=1):
                print(f"{company.dag_id}: status={run['status']} database_only="
                      f"{run['database_only']} files_new={run['files_new']} "
                      f"quarantined={run['files_quarantined']} inserted={run['db_inserted']} "
                      f"updated={run['db_updated']} duplicates={run['db_duplicates']} "
                      f"s3_uploaded={run['s3_uploaded']} pre_existing={run['s3_pre_existing']} "
                      f"s3_errors={run['s3_errors']} bytes={run['s3_bytes']}")
        print()
        print(stats.format_registry_stats(stats.get_s3_registry_stats(conn)))


def _deliver(scraped: Path, landing: Path, days: set[date]) -> int:
    """Copy the scraper's files of the given days into the landing folder (as the bot would)."""
    copied = 0
    for empresa in COMPANIES:
        target = company_folders(landing, empresa).processed
        for source in sorted(company_folders(scraped, empresa).processed.glob("*")):
            name = parse_file_name(source.name)
            if name is None or name.timestamp is None or name.timestamp.date() not in days:
                continue
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / source.name)
            copied += 1
    return copied


def _plant_bad_files(landing: Path) -> None:
    """What a real landing folder also holds: a truncated JSON (quarantined) and a PDF whose
    JSON never comes (never quarantined for that: it waits in ``processed/``)."""
    for empresa in COMPANIES:
        processed = company_folders(landing, empresa).processed
        (processed / "RE0000000000001_data_20251007_235959.json").write_text(
            '{"numero_radicado": "2025', encoding="utf-8")
        (processed / "99999999_20251007_235959.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
        for path in processed.glob("*_20251007_235959.*"):
            os.utime(path, (1_759_900_000, 1_759_900_000))


def _run_dags(state: Path, env: dict[str, str], step: str, database_only: bool) -> int:
    for dag_id in (company.dag_id for company in COMPANIES.values()):
        log_file = state / f"{step}-{dag_id}.log"
        with log_file.open("w") as out:
            result = subprocess.run(
                [str(Path(sys.executable).with_name("airflow")), "dags", "test", dag_id,
                 "-c", json.dumps({"database_only": database_only})],
                env=env, stdout=out, stderr=subprocess.STDOUT, check=False,
            )
        print(f"airflow dags test {dag_id} -c '{{\"database_only\": "
              f"{str(database_only).lower()}}}': exit code {result.returncode} (log: {log_file})",
              flush=True)
        if result.returncode != 0:
            print(log_file.read_text()[-4000:])
            return result.returncode
    return 0


def demo(argv: argparse.Namespace) -> int:
    """Two mornings: day 1 with S3 off (database_only), then the next days with S3 on."""
    state = dev_dir() / "demo"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    scraped, landing = state / "scraper-output", state / "landing"
    start = date(2025, 10, 7)
    summary = generate_landing(scraped, days=argv.days, requests_per_day=argv.requests_per_day,
                               start=start)
    print(f"sample scraper output: {summary.requests} requests, {summary.json_files} JSON, "
          f"{summary.pdf_files} PDF, {summary.attachments} attachments over {argv.days} days "
          f"({summary.rescraped_same} identical and {summary.rescraped_changed} changed "
          "re-scrapes)")
    with services(state) as stack:
        env = airflow_env(state / "airflow", landing, stack.env)
        init_airflow(env, stdout=subprocess.DEVNULL)

        files = _deliver(scraped, landing, {start})
        _plant_bad_files(landing)
        print(f"\n=== morning 1: {files} files of {start} + 2 bad files per company (a "
              "truncated request JSON, quarantined with its reason; a PDF whose JSON never "
              "comes, left waiting in processed/); database_only=true (S3 off) ===",
              flush=True)
        if code := _run_dags(state, env, "1", database_only=True):
            return code
        print_report(stack.env)

        later = {start + timedelta(days=d) for d in range(1, argv.days)}
        files = _deliver(scraped, landing, later)
        print(f"\n=== morning 2: {files} files of the next {len(later)} days; database_only=false "
              "(uploads today's files and morning 1's backlog) ===", flush=True)
        if code := _run_dags(state, env, "2", database_only=False):
            return code
        print_report(stack.env)
        summary = []
        if stack.moto:
            client = stack.moto.client()
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            count = sum(page.get("KeyCount", 0) for page in pages)
            summary.append(f"\nobjects in s3://{BUCKET}: {count}")
        reasons = sorted(path for empresa in COMPANIES
                         for path in company_folders(landing, empresa).quarantine.glob("*.txt"))
        summary.append(f"quarantine reason files: {len(reasons)}"
                       + (f" (e.g. {reasons[0]})" if reasons else ""))
        waiting = sorted(p.name for empresa in COMPANIES
                         for p in company_folders(landing, empresa).processed.glob("*.pdf")
                         if p.name.startswith("99999999_"))
        summary.append(f"left waiting in processed/ for their request JSON: {len(waiting)}"
                       + (f" ({waiting[0]} per company)" if waiting else ""))
        # Importing Airflow set logging to INFO: the embedded PostgreSQL would log its
        # shutdown (~15 lines) after the summary.
        logging.getLogger("pgserver").setLevel(logging.WARNING)
    print("\n".join(summary), flush=True)  # last: after the services stopped
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("demo", help="two mornings through `airflow dags test`")
    cmd.add_argument("--days", type=int, default=3)
    cmd.add_argument("--requests-per-day", type=int, default=40)
    cmd.set_defaults(func=demo)
    cmd = sub.add_parser("airflow", help="fresh state + `airflow standalone` (make airflow)")
    cmd.add_argument("--days", type=int, default=1,
                     help="mornings of sample data in the landing folder at start")
    cmd.add_argument("--requests-per-day", type=int, default=40)
    cmd.add_argument("--port", type=int, default=8080, help="port of the Airflow UI")
    cmd.set_defaults(func=standalone)
    cmd = sub.add_parser("morning", help="the next morning of sample data into the landing "
                                         "folder of the running `make airflow` (make morning)")
    cmd.set_defaults(func=morning)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
