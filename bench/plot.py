"""The benchmark's plot: files/s of each backfill step against its ceiling, with the stock
Airflow way and the old system's way, all from one run (``results.json``).

``python -m bench.plot RESULTS.json OUT.png`` redraws it from a results file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

STEPS = (("extract", "extract"), ("load", "load_db"), ("upload", "upload_s3"))
BARS = (("ceiling", "ceiling (same machine, same run)", "#bbbbbb"),
        ("project", "this project", "#1f77b4"),
        ("stock", "stock Airflow way", "#ff7f0e"),
        ("old", "old system's way", "#d62728"))


def _rate(backfill: dict[str, Any], bar: str, step: str) -> float | None:
    if bar == "ceiling":
        return backfill["ceilings"][step].get("files_per_second")
    steps = backfill["ways"][bar]["steps"]
    if bar == "old" and step in ("extract", "load"):
        # The old way reads and loads in one pass: both steps are that pass.
        return steps["extract+load"].get("files_per_second")
    return steps[step].get("files_per_second")


def plot(results: dict[str, Any], output: Path) -> Path:
    """Draw the plot into ``output`` (PNG); returns it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backfill = results["backfill"]
    fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
    width = 0.2
    for i, (bar, label, color) in enumerate(BARS):
        xs, ys = [], []
        for j, (step, _) in enumerate(STEPS):
            rate = _rate(backfill, bar, step)
            if rate:
                xs.append(j + (i - 1.5) * width)
                ys.append(rate)
        bars = ax.bar(xs, ys, width, label=label, color=color)
        for rect, value in zip(bars, ys, strict=True):
            ax.annotate(f"{value:,.0f}", (rect.get_x() + rect.get_width() / 2, value),
                        ha="center", va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(range(len(STEPS)), [
        f"{name}\nthis project: {backfill['of_ceiling'][step]:.0%} of its ceiling"
        for step, name in STEPS])
    ax.set_ylabel("files per second (log scale)")
    data = backfill["dataset"]
    sampled = any(backfill["ways"][w]["steps"]["upload"].get("extrapolated")
                  for w in ("stock", "old"))
    extrapolated = " (sequential uploads extrapolated from a sample)" if sampled else ""
    ax.set_title(f"Backfill of {data['files']:,} files ({data['json_files']:,} request JSONs), "
                 f"{results['mode']} run {results['started'][:10]}{extrapolated}", fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output)
    plt.close(fig)
    return output


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    plot(json.loads(Path(args[0]).read_text()), Path(args[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
