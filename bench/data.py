"""Landing data for the benchmark: generated once per parameter set and reused, and the
pipeline ``Settings`` each step runs with.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench.measure import log
from devtools.sample import generate_landing
from extractorov.settings import Settings


def generate(folder: Path, **params: Any) -> dict[str, Any]:
    """Generate landing data once per parameter set; reuse it while the stamp matches."""
    stamp = folder / "stamp.json"
    wanted = json.dumps({k: str(v) for k, v in sorted(params.items())})
    if stamp.is_file() and stamp.read_text() == wanted:
        return {"generated": False, "seconds": 0.0}
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    summary = generate_landing(folder / "landing", **params)
    stamp.write_text(wanted)
    seconds = round(time.perf_counter() - started, 2)
    log(f"generated {summary.files} files in {folder} ({seconds} s)")
    return {"generated": True, "seconds": seconds, "files": summary.files}


def dataset(requests: int, **params: Any) -> dict[str, Any]:
    """``generate_landing`` parameters for ``requests`` requests in days of up to 1,000."""
    per_day = min(1_000, requests)
    if requests % per_day:
        raise ValueError("dataset sizes are whole days of 1,000 requests")
    return {"days": requests // per_day, "requests_per_day": per_day, "rescrape_ratio": 0.0,
            "attachment_ratio": 0.0, **params}


def clean_landing(root: Path) -> None:
    """Forget what earlier benchmark runs left next to the data (manifests, quarantine)."""
    for folder in root.glob("*/oficina_virtual"):
        for name in ("manifests", "quarantine"):
            shutil.rmtree(folder / name, ignore_errors=True)


def pipeline_settings(landing_root: Path, bucket: str) -> Settings:
    """The pipeline's settings for a benchmark step: no settle wait, 16 upload workers."""
    return Settings(landing_root=landing_root, bucket=bucket, settle_seconds=0.0,
                    upload_workers=16)
