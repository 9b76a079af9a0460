"""Benchmark of the pipeline as users feel it, side by side with the stock Airflow way.

``python -m bench.run --full`` (``make bench``) measures, on the same generated
data, against a real PostgreSQL (``pgserver``) and a moto S3 server behind a
60 ms latency proxy (``bench/services.py``):

* the backfill end to end: the historical backlog from the landing folder to
  table, registry and bucket, this project's way, the stock Airflow way and the
  old system's way, each step against its ceiling (``bench/backfill.py``);
* a morning through the scheduler: both DAGs on the CeleryExecutor stack of
  ``make e2e``, triggered through the REST API (``bench/morning.py``);
1. database load (``pipeline.load`` vs ``PostgresHook.insert_rows`` vs the old
   per-record way vs a bare ``COPY``), records/s, exact counts, peak memory
   (``bench/load_bench.py``, loads in a child process: ``bench/load.py``);
2. S3 upload (``pipeline.upload`` vs ``S3Hook.load_file(replace=True)`` per
   file), files/s and S3 requests per file (``bench/s3.py``), and the upload
   concurrency sweep (``bench/concurrency.py``);
3. an incremental run (extract → load → upload) over a folder with many
   already handled files and a few new ones, and with nothing new
   (``bench/incremental.py``);
3b. day 1 vs day 365: one morning of new requests on an empty history and on a year's
   (registry and tables filled to match), retention on and ``keep``: seconds and peak
   RSS per step, the old full registry read as baseline (``bench/day365.py``);
4. DAG parsing time per file beyond ``import airflow`` (``bench/parsing.py``).

``--quick`` does the same on small data (``make bench-quick``, run once by
``tests/bench/test_bench_quick.py``). Results go to ``bench/results.json``, a
printed table (``bench/report.py``) and a plot (``bench/plot.py``);
``docs/performance.md`` holds the last full run on the reference machine.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import env
from bench.backfill import bench_backfill
from bench.concurrency import bench_concurrency
from bench.day365 import bench_day365
from bench.incremental import bench_incremental
from bench.load_bench import bench_load
from bench.measure import ProgressLog, log
from bench.modes import FULL, QUICK, Mode
from bench.morning import bench_morning
from bench.parsing import bench_dag_parsing
from bench.plot import plot
from bench.report import evaluate, report, write_results
from bench.s3 import bench_s3
from bench.services import bench_services

ROOT = env.ROOT
DEFAULT_OUTPUT = ROOT / "bench" / "results.json"
DEFAULT_DATA = ROOT / ".dev" / "bench"
DOCS_PLOT = ROOT / "docs" / "performance-backfill.png"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("apache-airflow", "apache-airflow-providers-postgres",
                 "apache-airflow-providers-amazon", "psycopg", "boto3", "moto", "pgserver"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def run(mode: Mode, output: Path, data: Path, plot_path: Path | None = None) -> dict[str, Any]:
    """Run the four steps, check the targets and write ``output``; returns the results."""
    home, created_home = env.prepare()
    warnings.simplefilter("ignore", DeprecationWarning)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    data.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ov-bench-"))
    progress = ProgressLog()
    pipeline_log = logging.getLogger("extractorov")
    pipeline_log.setLevel(logging.INFO)
    pipeline_log.addHandler(progress)
    pipeline_log.propagate = False  # keep the printed table readable; lines are still timed
    results: dict[str, Any] = {"mode": mode.name, "started": started_at,
                               "parameters": asdict(mode),
                               "machine": {"cpus": os.cpu_count(), **_versions()}}
    try:
        with bench_services() as stack:
            import psycopg

            with psycopg.connect(stack.dsn("postgres")) as conn:
                results["machine"]["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            env.quiet_airflow()
            log("1. database load")
            results["load"] = bench_load(mode, stack, data, progress, work)
            log("2. S3 upload")
            results["s3"] = bench_s3(mode, stack, data, progress)
            log("2b. upload concurrency sweep")
            results["concurrency"] = bench_concurrency(mode, stack, data)
            log("3. incremental run")
            results["incremental"] = bench_incremental(mode, stack, data, progress)
            log("3b. day 1 vs day 365")
            results["day365"] = bench_day365(mode, stack, data)
            log("backfill end to end")
            results["backfill"] = bench_backfill(mode, stack, data, work)
        log("4. DAG parsing")
        results["dag_parsing"] = bench_dag_parsing(mode)
        log("a morning through the scheduler")
        results["morning"] = bench_morning(mode)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if created_home:
            shutil.rmtree(home, ignore_errors=True)
    results["targets"] = evaluate(mode, results)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["plot"] = str(plot(results, plot_path or output.with_name("backfill.png")))
    write_results(results, output)
    return results


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.run --quick|--full``: run, print the table, name the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--full", action="store_const", const=FULL, dest="mode")
    size.add_argument("--quick", action="store_const", const=QUICK, dest="mode")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"results JSON (default {DEFAULT_OUTPUT.relative_to(ROOT)})")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA,
                        help="generated landing data, reused while its parameters match "
                             f"(default {DEFAULT_DATA.relative_to(ROOT)})")
    parser.add_argument("--plot", type=Path, default=None,
                        help="the PNG of files/s per backfill step against its ceiling "
                             f"(default: {DOCS_PLOT.relative_to(ROOT)} for --full, else "
                             "backfill.png next to the results)")
    parser.add_argument("--backfill-requests", type=int, default=None,
                        help="request JSONs of the end-to-end backfill instead of the mode's "
                             f"({FULL.backfill_requests:,} for --full): a documented smaller run")
    args = parser.parse_args(argv)
    mode = args.mode
    if args.backfill_requests:
        mode = dataclasses.replace(mode, backfill_requests=args.backfill_requests)
    plot_path = args.plot or (DOCS_PLOT if args.mode is FULL else None)
    results = run(mode, args.output, args.data_dir / args.mode.name, plot_path)
    print(report(results))
    print(f"results: {args.output}; plot: {results['plot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
