"""Backfill end to end: the historical backlog from the landing folder to table, registry
and bucket, this project's way, the stock Airflow way and the old system's way, with the
ceiling of each step measured in the same run (``bench/backfill_child.py`` measures;
this side prepares the data and computes the ratios).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.data import generate
from bench.env import ROOT
from bench.measure import log
from bench.modes import Mode
from bench.services import Services

BACKFILL_EMPRESA = "afinia"
STEPS = ("extract", "load", "upload")


def dataset(mode: Mode) -> dict[str, Any]:
    """``generate_landing`` parameters: whole days of up to 1,000 request JSONs, 15 % of
    them re-scrapes of earlier requests, half the requests with an attachment."""
    days = max(2, mode.backfill_requests // 1_000)  # re-scrapes start on the second day
    return {"companies": (BACKFILL_EMPRESA,), "days": days,
            "requests_per_day": mode.backfill_requests // days, "rescrape_ratio": 0.15,
            "attachment_ratio": 0.5, "pdf_size": mode.backfill_pdf_size}


def bench_backfill(mode: Mode, stack: Services, data: Path, work: Path) -> dict[str, Any]:
    """Generate (or reuse) the backlog, run the three ways in a child process, compare."""
    params = dataset(mode)
    gen = generate(data / "backfill", **params)
    landing = data / "backfill" / "landing"
    dsn = stack.use_database("bench_backfill")
    buckets = {way: f"bench-backfill-{way}" for way in ("project", "ceiling", "stock", "old")}
    for bucket in buckets.values():
        stack.moto.create_bucket(bucket)
    spec = work / "backfill-spec.json"
    out = work / "backfill-results.json"
    spec.write_text(json.dumps({
        "dsn": dsn, "empresa": BACKFILL_EMPRESA, "landing": str(landing), "buckets": buckets,
        "workers": mode.upload_workers, "proxy_endpoint": stack.proxy_endpoint,
        "ceiling_sample": mode.backfill_ceiling_sample,
        "stock_sample": mode.backfill_sequential_sample,
        "old_sample": mode.backfill_sequential_sample}))
    log(f"backfill: {params['days'] * params['requests_per_day']:,} request JSONs")
    for part in ("extract", "load", "upload", "rest"):
        subprocess.run([sys.executable, "-m", "bench.backfill_child", str(spec), str(out), part],
                       check=True, cwd=ROOT)
    child = json.loads(out.read_text())
    stack.reset_moto()  # hundreds of thousands of objects: give the memory back
    ways = child["ways"]
    ceilings = child["ceilings"]
    for way in ways.values():
        steps = way["steps"].values()
        way["seconds"] = round(sum(s["seconds"] for s in steps), 1)
        way["extrapolated"] = any(s.get("extrapolated") for s in steps)
    project = ways["project"]["steps"]
    files = project["extract"]["files"]
    for way in ways.values():
        way["files_per_second"] = round(files / way["seconds"], 1)
    ratios = {step: round(ceilings[step]["seconds"] / project[step]["seconds"]
                          * project[step]["files"] / ceilings[step]["files"], 3)
              for step in STEPS}
    return {
        "dataset": {"empresa": BACKFILL_EMPRESA, **{k: v for k, v in params.items()
                                                    if k != "companies"},
                    "files": files, "records": project["extract"]["records"],
                    "json_files": project["extract"]["json_files"],
                    "bytes": project["upload"].get("bytes"), "generation": gen},
        "workers": mode.upload_workers,
        "ways": ways, "ceilings": ceilings,
        "of_ceiling": ratios,
        "vs_stock": round(ways["stock"]["seconds"] / ways["project"]["seconds"], 1),
        "vs_old": round(ways["old"]["seconds"] / ways["project"]["seconds"], 1),
        "peak_rss_measured_per_step": child["peak_rss_reset"],
    }

