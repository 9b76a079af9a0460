"""What the benchmark concluded: the targets checked against the results, the printed
table, and ``results.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.modes import Mode


def evaluate(mode: Mode, results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of ``docs/performance.md`` with the measured value and whether it is met."""
    load = results["load"]
    big = max(mode.load_sizes)
    by = {(r["method"], r["size"], r["case"]): r for r in load["results"]}
    ratio = next(r for r in load["ratios"] if r["size"] == big and r["case"] == "all_new")
    project_cases = [r for r in load["results"] if r["method"] == "project"]
    s3 = results["s3"]
    inc = results["incremental"]["results"]
    inc_big = [r for r in inc if r["handled_files"] == max(x["handled_files"] for x in inc)]
    parse = results["dag_parsing"]["files"]
    gaps = {
        "extract (backfill)": load["backfill_extract"]["max_silent_seconds"],
        "load_db": max(r["max_silent_seconds"] for r in project_cases),
        "upload_s3": s3["project_new"]["max_silent_seconds"],
    }
    targets = [
        {"target": f"load {big:,} new: >= 5x stock insert_rows",
         "value": ratio["vs_stock"], "met": ratio["vs_stock"] >= 5},
        {"target": f"load {big:,} new: >= 50x per-record",
         "value": ratio["vs_per_record"], "met": ratio["vs_per_record"] >= 50},
        {"target": f"load {big:,} new: >= 50 % of a bare COPY of the same rows",
         "value": ratio["of_ceiling"], "met": ratio["of_ceiling"] >= 0.5},
        {"target": "load counts (inserted/updated/duplicates) exact, every case",
         "value": all(r["counts_exact"] for r in project_cases),
         "met": all(r["counts_exact"] for r in project_cases)},
        {"target": f"load {big:,} new: peak memory < 300 MB (process max RSS)",
         "value": by[("project", big, "all_new")]["peak_rss_mb"],
         "met": by[("project", big, "all_new")]["peak_rss_mb"] < 300},
        {"target": "S3: >= 10x sequential S3Hook.load_file(replace=True)",
         "value": s3["ratio_vs_stock"], "met": s3["ratio_vs_stock"] >= 10},
        {"target": "S3: <= 1 request per new file",
         "value": s3["project_new"]["requests_per_file"],
         "met": s3["project_new"]["requests_per_file"] <= 1},
        {"target": "S3: 0 requests per file the registry already has",
         "value": s3["project_registered"]["requests_total"],
         "met": s3["project_registered"]["requests_total"] == 0},
    ]
    for r in inc_big:
        targets.append({
            "target": f"incremental, {r['handled_files']:,} handled + {r['case']}: < 5 s, "
                      "0 rows and 0 S3 requests for the backlog",
            "value": {"seconds": r["seconds"], "rows_for_backlog": r["rows_written_for_backlog"],
                      "s3_requests_for_backlog": r["s3_requests_for_backlog"],
                      "rows_written": r["rows_written"], "s3_requests": r["s3_requests_total"]},
            "met": r["seconds"] < 5 and r["rows_written_for_backlog"] == 0
            and r["s3_requests_for_backlog"] == 0})
    for f in parse:
        targets.append({"target": f"{f['file']} parses in < 100 ms beyond import airflow",
                        "value": f["parse_beyond_import_airflow_ms"],
                        "met": f["parse_beyond_import_airflow_ms"] < 100})
    targets.append({"target": "progress logged at least every 10 s (longest silence, s)",
                    "value": gaps, "met": max(gaps.values()) <= 10.0})
    targets += _backfill_targets(results.get("backfill"))
    targets += _morning_targets(results.get("morning"))
    return targets


ROUND_TRIPS_PER_FILE = 0.02
"""At most one database round trip per 50 files in any step: a per-file one would be 1."""


def _backfill_targets(backfill: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not backfill:
        return []
    steps = backfill["ways"]["project"]["steps"]
    upload = backfill["of_ceiling"]["upload"]
    trips = {name: step.get("db_round_trips_per_file") for name, step in steps.items()}
    peaks = {name: step["peak_rss_mb"] for name, step in steps.items()}
    files = backfill["dataset"]["files"]
    return [
        {"target": f"backfill upload_s3: >= 80 % of a bare put_object pool "
                   f"({backfill['workers']} threads, same proxy)",
         "value": upload, "met": upload >= 0.8},
        {"target": f"backfill of {files:,} files: every step < 300 MB peak (process max RSS)",
         "value": peaks, "met": max(peaks.values()) < 300},
        {"target": f"backfill: registry writes batched, <= {ROUND_TRIPS_PER_FILE} database "
                   "round trips per file in every step",
         "value": trips, "met": all(t is not None and t <= ROUND_TRIPS_PER_FILE
                                    for t in trips.values())},
        {"target": "backfill: S3 requests per new file <= 1 (+1 preflight listing)",
         "value": round((sum(steps["upload"]["s3_requests"].values()) - 1)
                        / max(steps["upload"]["files"], 1), 3),
         "met": sum(steps["upload"]["s3_requests"].values()) - 1 <= steps["upload"]["files"]},
    ]


def _morning_targets(morning: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not morning or "runs" not in morning:
        return []
    return [{"target": "morning through the scheduler: both DAG runs succeed",
             "value": {d: r["state"] for d, r in morning["runs"].items()},
             "met": all(r["state"] == "success" for r in morning["runs"].values())}]


def _table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header, *[[("" if c is None else str(c)) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def load_section(load: dict[str, Any]) -> list[str]:
    """Section 1: every load sample, the medians, the ratios to stock and to a bare COPY."""
    out: list[str] = []
    extract = load["backfill_extract"]
    out += ["## 1. Database load (records/s; counts inserted/updated/duplicates)", "",
            f"backfill extract of {extract['files']:,} files: {extract['seconds']} s "
            f"({extract['files_per_second']:,.0f} files/s)", ""]
    rows = []
    for r in load["results"]:
        counts = ("-" if r["inserted"] is None else
                  f"{r['inserted']}/{r['updated']}/{r['duplicates']}")
        seconds = r["seconds"]
        if len(r.get("samples_seconds", ())) > 1:
            seconds = f"{seconds} (median of {', '.join(map(str, r['samples_seconds']))})"
        rows.append([f"{r['size']:,}", r["case"], r["method"], seconds,
                     f"{r['records_per_second']:,.0f}", counts,
                     {True: "exact", False: "WRONG", None: f"{r['rows_in_table']:,} rows"}[
                         r["counts_exact"]], r["peak_rss_mb"], r["peak_rss_increase_mb"]])
    out += [_table(rows, ["requests", "case", "method", "seconds", "rec/s", "ins/upd/dup",
                          "check", "peak RSS MiB", "+MiB in step"]), ""]
    out += [_table([[f"{r['size']:,}", r["case"], r["vs_stock"], r["vs_per_record"],
                     r["of_ceiling"]] for r in load["ratios"]],
                   ["requests", "case", "x stock insert_rows", "x per-record",
                    "of bare COPY (ceiling)"]), ""]
    project = [r for r in load["results"] if r["method"] == "project"]
    out += ["project load_db split: " + "; ".join(
        f"{r['size']:,} {r['case']}: keys {r['stage_seconds']} s + rows (COPY or upsert) "
        f"{r['upsert_seconds']} s + mark_loaded {r['mark_loaded_seconds']} s"
        for r in project), ""]
    return out


def report(results: dict[str, Any]) -> str:
    """The printed results: one Markdown table per step, then the targets."""
    out = [f"# extractorov benchmark ({results['mode']}, {results['started']}, "
           f"{results['seconds']:.0f} s)", ""]
    out += _backfill_section(results.get("backfill"))
    out += _morning_section(results.get("morning"))
    out += _sweep_section(results.get("concurrency"))
    out += load_section(results["load"])

    s3 = results["s3"]
    out += [f"## 2. S3 upload ({s3['dataset']['files']:,} files, "
            f"{s3['dataset']['average_kib']} KiB average, +{s3['proxy_delay_ms']:.0f} ms "
            f"proxy; median HEAD {s3['round_trip']['direct_ms']} ms direct, "
            f"{s3['round_trip']['through_proxy_ms']} ms through the proxy)", ""]
    rows = []
    for key, label in (("project_new", "upload_s3: new files"),
                       ("project_in_bucket_not_registry", "upload_s3: in bucket, not in registry"),
                       ("project_registered", "upload_s3: already in registry"),
                       ("stock_new", "S3Hook.load_file(replace=True), sequential: new"),
                       ("stock_already_uploaded", "S3Hook.load_file: already uploaded (sample)"),
                       ("moto_ceiling", "moto itself, no proxy, 16 threads put_object")):
        r = s3[key]
        rows.append([label, r["files"], r.get("seconds", ""), r.get("files_per_second", ""),
                     r.get("requests_per_file", ""),
                     ", ".join(f"{k} {v}" for k, v in sorted(r.get("requests", {}).items()))])
    out += [_table(rows, ["path", "files", "seconds", "files/s", "requests/file", "requests"]),
            "", f"ratio upload_s3 / stock: {s3['ratio_vs_stock']}x", ""]

    out += ["## 3. Incremental run (extract -> load_db -> upload_s3, outside Airflow)", ""]
    rows = [[f"{r['handled_files']:,}", r["case"], r["new_files"], r["seconds"],
             " / ".join(str(r["steps"][s]) for s in ("extract", "load_db", "upload_s3")),
             r["rows_written"], r["rows_written_for_backlog"], r["s3_requests_total"],
             r["s3_requests_for_backlog"]] for r in results["incremental"]["results"]]
    out += [_table(rows, ["handled files", "case", "new files", "seconds",
                          "extract / load / upload s", "rows written", "for backlog",
                          "S3 requests", "for backlog"]), ""]

    if "day365" in results:
        out += [day365_table(results["day365"]), ""]

    out += ["## 4. DAG parsing (fresh interpreter, median)", ""]
    rows = [[f["file"], ", ".join(f["dags"]), f["import_airflow_ms"],
             f["parse_beyond_import_airflow_ms"], f["airflow_modules_ms"],
             f["parse_own_code_ms"], f["no_bytecode_beyond_import_airflow_ms"],
             f"{f['nothing_compiled_beyond_import_airflow_ms']} "
             f"(import airflow {f['nothing_compiled_import_airflow_ms']})"]
            for f in results["dag_parsing"]["files"]]
    out += [_table(rows, ["file", "DAGs", "import airflow ms", "file beyond it ms",
                          "of which Airflow modules ms", "own code ms",
                          "project uncompiled ms", "nothing compiled ms"]), "",
            "*project uncompiled*: the project's code without bytecode caches "
            "(`PYTHONDONTWRITEBYTECODE=1`, installed packages compiled); *nothing compiled*: "
            "no bytecode at all (an install that compiled none).", ""]

    out += ["## Targets", ""]
    out += [_table([[t["target"], json.dumps(t["value"]), "met" if t["met"] else "MISSED"]
                    for t in results["targets"]], ["target", "value", ""]), ""]
    return "\n".join(out)


def day365_table(section: dict[str, Any]) -> str:
    """Section 3b: seconds and peak RSS per step for each history size and retention case,
    and the old full registry read (the baseline) on the same data."""
    out = [f"## 3b. Day 1 vs day 365 ({section['new_files']:,} new files of "
           f"{section['new_requests']:,} requests on a history of N handled files; "
           f"{section['requests_per_day']:,} requests a day, retention "
           f"{section['retention_days']} days)", ""]
    rows = []
    for r in section["results"]:
        steps = r["steps"]
        base = r["baseline_full_registry_read"]
        rows.append([r["case"], f"{r['handled_files']:,}", f"{r['local_history_files']:,}",
                     *(f"{steps[s]['seconds']} s / {steps[s]['peak_rss_mb']} MiB / "
                       f"{steps[s]['registry_rows_read']:,} rows"
                       for s in ("extract", "load_db", "upload_s3")),
                     f"{base['rows']:,} rows: {base['seconds']} s / "
                     f"+{base['peak_over_start_mb']} MiB"])
    out.append(_table(rows, ["processed/", "history files", "of them in processed/",
                             "extract: s / peak RSS / registry rows read", "load_db",
                             "upload_s3",
                             "baseline: full registry read (old extract)"]))
    return "\n".join(out)


def write_results(results: dict[str, Any], output: Path) -> None:
    """Write ``results.json`` (one key per step, plus mode, machine and targets)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1, default=str) + "\n")


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _backfill_section(backfill: dict[str, Any] | None) -> list[str]:
    if not backfill:
        return []
    data = backfill["dataset"]
    ways = backfill["ways"]
    out = [f"## Backfill end to end ({data['files']:,} files: {data['json_files']:,} request "
           f"JSONs of {data['records']:,} requests, PDFs of ~{data['pdf_size'] // 1000} KB, "
           f"attachments; S3 behind the 60 ms proxy; upload concurrency "
           f"{backfill['workers']})", ""]
    rows = []
    labels = {"project": "this project", "stock": "stock Airflow way",
              "old": "old system's way"}
    for way, label in labels.items():
        steps = ways[way]["steps"]
        split = " / ".join(
            f"{name} {_fmt(step['seconds'])}{'*' if step.get('extrapolated') else ''}"
            for name, step in steps.items())
        peak = max(step["peak_rss_mb"] for step in steps.values())
        trips = sum(step["db"]["round_trips"] for step in steps.values()
                    if not step.get("extrapolated"))
        rows.append([label, _fmt(ways[way]["seconds"]), _fmt(ways[way]["files_per_second"]),
                     split, _fmt(peak), _fmt(trips),
                     "yes" if ways[way]["extrapolated"] else "no"])
    out += [_table(rows, ["way", "wall s", "files/s", "split s (* extrapolated)",
                          "peak RSS MiB", "DB round trips", "extrapolated"]), ""]
    for way in ("stock", "old"):
        for name, step in ways[way]["steps"].items():
            if step.get("extrapolated"):
                out.append(f"{labels[way]}, {name}: extrapolated from {step['sample_files']:,} "
                           f"files in {step['sample_seconds']} s (a full run: "
                           f"{step['seconds'] / 3600:.1f} h)")
    out += ["", f"this project vs stock: {backfill['vs_stock']}x faster; vs old: "
            f"{backfill['vs_old']}x faster", ""]
    rows = []
    project = ways["project"]["steps"]
    for step, label in (("extract", "extract"), ("load", "load_db"), ("upload", "upload_s3")):
        ceiling = backfill["ceilings"][step]
        rows.append([label, _fmt(project[step]["seconds"]),
                     _fmt(project[step]["files_per_second"]), _fmt(ceiling["files_per_second"]),
                     f"{backfill['of_ceiling'][step]:.0%}", _fmt(project[step]["peak_rss_mb"]),
                     f"{project[step]['db']['round_trips']} / {project[step]['db']['statements']}",
                     ", ".join(f"{k} {v}"
                               for k, v in sorted(project[step]["s3_requests"].items()))])
    out += [_table(rows, ["step", "seconds", "files/s", "ceiling files/s", "of ceiling",
                          "peak RSS MiB", "DB round trips / statements", "S3 requests"]), ""]
    out += ["ceilings: extract = read + SHA-256 every file and json.loads every request JSON; "
            "load_db = a bare COPY of the same rows into an empty table of the same shape; "
            f"upload_s3 = a bare pool of {backfill['workers']} threads of put_object through the "
            f"same proxy ({backfill['ceilings']['upload']['files']:,} files).", ""]
    return out


def _morning_section(morning: dict[str, Any] | None) -> list[str]:
    if not morning:
        return []
    out = ["## A morning through the scheduler (CeleryExecutor stack, REST API)", ""]
    if "runs" not in morning:
        return [*out, f"not measured: {morning.get('skipped') or morning.get('failed')}", ""]
    rows = []
    for dag_id, r in morning["runs"].items():
        tasks = r["tasks"]
        rows.append([dag_id, r["files"], r["state"], _fmt(r["trigger_to_success"]),
                     _fmt(r["task_seconds"]), _fmt(r["pipeline_seconds"]),
                     _fmt(r["airflow_overhead_seconds"]),
                     f"{r['airflow_overhead_share']:.0%}" if r["airflow_overhead_share"] is not None
                     else "",
                     " / ".join(f"{_fmt(t['waited_to_start'])}" for t in tasks.values())])
    out += [_table(rows, ["DAG run", "files", "state", "trigger to success s", "task time s",
                          "of which pipeline s", "Airflow overhead s", "overhead share",
                          "wait before each task s (" + ", ".join(
                              next(iter(morning["runs"].values()))["tasks"]) + ")"]), ""]
    out += [f"{morning['requests_per_company']:,} requests per company, both runs triggered at "
            f"once; stack up in {morning['stack_startup_seconds']} s, DAGs parsed "
            f"{morning['dag_parse_wait_seconds']} s later (not counted).", ""]
    return out


def _sweep_section(sweep: dict[str, Any] | None) -> list[str]:
    if not sweep:
        return []
    out = [f"## Upload concurrency ({sweep['files']:,} files of {sweep['average_kib']} KiB, "
           f"+{sweep['delay_ms']:.0f} ms per response)", ""]
    rows = [[p["workers"], _fmt(p["bare_sink"]["files_per_second"]),
             _fmt(p["project_sink"]["files_per_second"]),
             _fmt(p["project_sink"]["cpu_ms_per_file"], 2),
             _fmt(p["project_sink"]["peak_rss_mb"]),
             _fmt(p["bare_moto"]["files_per_second"]), _fmt(p["project_moto"]["files_per_second"]),
             f"{p['project_of_bare_moto']:.0%}",
             p.get("cpu_share", round(p["project_sink"]["files_per_second"]
                                      * p["project_sink"]["cpu_ms_per_file"] / 1000, 2))]
            for p in sweep["points"]]
    out += [_table(rows, ["workers", "sink: bare pool files/s", "sink: upload_s3 files/s",
                          "upload_s3 CPU ms/file", "peak RSS MiB", "moto: bare pool files/s",
                          "moto: upload_s3 files/s", "upload_s3 of bare (moto)",
                          "upload_s3 cores (sink)"]), ""]
    out += [f"chosen default: {sweep['chosen_workers']} (the fastest on the sink within half "
            "a core of client CPU)", ""]
    sync = sweep.get("aws_sync") or {}
    if "skipped" in sync:
        out += [f"`aws s3 sync`: not measured ({sync['skipped']})", ""]
    elif sync:
        rows = [[p["workers"], _fmt(p["aws_sync_sink"]["files_per_second"]),
                 _fmt(p["project_sink"]["files_per_second"]),
                 f"{p['project_x_aws_sync_sink']:.2f}x",
                 _fmt(p["aws_sync_moto"]["files_per_second"]),
                 _fmt(p["project_moto"]["files_per_second"]),
                 f"{p['project_x_aws_sync_moto']:.2f}x"] for p in sweep["points"]]
        out += [f"Against `aws s3 sync` at the same concurrency ({sync['version']}; its "
                f"times include the CLI's start, {sync['startup_seconds']} s):", "",
                _table(rows, ["workers", "sink: aws s3 sync files/s", "sink: upload_s3 files/s",
                              "upload_s3 x sync (sink)", "moto: aws s3 sync files/s",
                              "moto: upload_s3 files/s", "upload_s3 x sync (moto)"]), ""]
    return out
