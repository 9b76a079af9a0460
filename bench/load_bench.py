"""Step 1, database load: records/s, exact counts and peak memory of ``pipeline.load``
against ``PostgresHook.insert_rows`` and the old per-record way.

This side prepares the data (a backfill extract, timed, writes the manifest; subsets
of it and a 10 % changed copy are the cases) and compares the rates; the loads run
in a child process, ``bench/load.py``, so their peak memory is their own.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import load
from bench.data import clean_landing, dataset, generate, pipeline_settings
from bench.env import ROOT
from bench.measure import ProgressLog, log
from bench.modes import Mode
from bench.services import Services

LOAD_EMPRESA = "afinia"


def bench_load(mode: Mode, stack: Services, data: Path, progress: ProgressLog,
               work: Path) -> dict[str, Any]:
    """Extract the backfill, then load each size and case with each method (child process)."""
    from extractorov import pipeline, runtime
    from extractorov.companies import get_company

    company = get_company(LOAD_EMPRESA)
    requests = max(max(mode.load_sizes), max(mode.incremental_handled) // 2)
    gen = generate(data / "load", companies=(LOAD_EMPRESA,), pdf_size=0,
                   **dataset(requests))
    landing = data / "load" / "landing"
    clean_landing(landing)
    dsn = stack.use_database("bench_load")

    # The backfill's extract: every file new. It writes the manifest the loads read.
    settings = pipeline_settings(landing, "bench-load")
    started = time.monotonic()
    with runtime.warehouse_connection() as conn:
        extracted = pipeline.extract(conn, company, settings, "bench-backfill")
    ended = time.monotonic()
    extract = {"files": extracted.files_found, "records": extracted.records,
               "seconds": round(ended - started, 3),
               "files_per_second": round(extracted.files_found / (ended - started), 1),
               **progress.gap(started, ended)}
    log(f"extract (backfill) {extracted.files_found} files in {extract['seconds']} s")

    runs = []
    for size in mode.load_sizes:
        new = work / f"load-{size}-new.jsonl"
        changed = work / f"load-{size}-changed.jsonl"
        load.write_subset(Path(extracted.manifest), new, size)
        changed_count = load.write_changed(company, new, changed)
        manifests = {"new": str(new), "changed": str(changed)}
        for which in ("new", "changed"):  # the baselines read the same records as JSON
            records = work / f"load-{size}-{which}-records.jsonl"
            load.write_json_lines(company, Path(manifests[which]), records)
            manifests[f"{which}_records"] = str(records)
        runs.append({"size": size, "changed": changed_count, "manifests": manifests})
    spec = work / "load-spec.json"
    out = work / "load-results.json"
    spec.write_text(json.dumps({"dsn": dsn, "empresa": LOAD_EMPRESA, "runs": runs,
                                "methods": list(load.METHODS), "repeats": mode.load_repeats}))
    subprocess.run([sys.executable, "-m", "bench.load", str(spec), str(out)], check=True,
                   cwd=ROOT)
    child = json.loads(out.read_text())
    results = medians(child["results"])

    ratios = []
    for size in mode.load_sizes:
        for case in load.CASES:
            by = {r["method"]: r for r in results if r["size"] == size and r["case"] == case}
            rate = by["project"]["records_per_second"]
            ceiling = next(r for r in results if r["size"] == size and r["method"] == "ceiling")
            ratios.append({
                "size": size, "case": case,
                "vs_stock": round(rate / by["stock"]["records_per_second"], 2),
                "vs_per_record": round(rate / by["per_record"]["records_per_second"], 2),
                "of_ceiling": round(rate / ceiling["records_per_second"], 3),
            })
    return {"dataset": {"empresa": LOAD_EMPRESA, "requests": requests,
                        "files": extracted.files_found, "generation": gen},
            "backfill_extract": extract, "results": results, "ratios": ratios,
            "peak_rss_measured_per_case": child["peak_rss_reset"]}


def medians(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One result per (method, size, case): the median time of its samples (all kept in
    ``samples_seconds``), in the order each was first measured."""
    grouped: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for sample in samples:
        grouped.setdefault((sample["method"], sample["size"], sample["case"]), []).append(sample)
    results = []
    for (_, size, _), group in grouped.items():
        seconds = statistics.median(r["seconds"] for r in group)
        middle = min(group, key=lambda r: abs(r["seconds"] - seconds))
        results.append({**middle, "seconds": round(seconds, 3),
                        "records_per_second": round(size / seconds, 1),
                        "samples_seconds": [r["seconds"] for r in group],
                        "counts_exact": (None if middle["counts_exact"] is None
                                         else all(r["counts_exact"] for r in group)),
                        "peak_rss_mb": max(r["peak_rss_mb"] for r in group)})
    return results


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.load_bench --full|--quick``: the database load step alone (section
    1 of ``bench.run``): every sample, medians, ratios to stock and to a bare COPY."""
    import argparse
    import shutil
    import tempfile

    from bench import env
    from bench.modes import FULL, QUICK
    from bench.report import load_section
    from bench.services import bench_services

    parser = argparse.ArgumentParser(prog="python -m bench.load_bench",
                                     description=(main.__doc__ or "").split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true")
    size.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=None,
                        help="write the section's JSON here")
    args = parser.parse_args(argv)
    mode = FULL if args.full else QUICK
    home, created = env.prepare()
    data = ROOT / ".dev" / "bench" / mode.name
    data.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ov-bench-load-"))
    try:
        with bench_services() as stack:
            env.quiet_airflow()
            section = bench_load(mode, stack, data, ProgressLog(), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if created:
            shutil.rmtree(home, ignore_errors=True)
    print("\n".join(load_section(section)))
    if args.output:
        args.output.write_text(json.dumps(section, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
