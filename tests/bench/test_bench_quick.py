"""Runs the quick benchmark once so it never rots (``make bench-quick``).

Asserts the structure of ``results.json`` and that every count is exact; never
a timing (timings depend on the machine; ``docs/performance.md`` has them).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("bench")
    output = tmp / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--output", str(output),
         "--data-dir", str(tmp / "data")],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "## Targets" in done.stdout  # the printed table
    return json.loads(output.read_text())


def test_results_have_every_section(results):
    assert results["mode"] == "quick"
    for key in ("started", "seconds", "parameters", "machine", "load", "s3", "incremental",
                "day365", "dag_parsing", "targets", "backfill", "concurrency", "morning", "plot"):
        assert key in results, key
    for target in results["targets"]:
        assert set(target) == {"target", "value", "met"}
        assert isinstance(target["met"], bool)


def test_load_counts_are_exact_for_every_method_size_and_case(results):
    load = results["load"]
    sizes = results["parameters"]["load_sizes"]
    by = {(r["method"], r["size"], r["case"]): r for r in load["results"]}
    assert len(by) == len(load["results"]) == (3 * 3 + 1) * len(sizes)
    for size in sizes:
        changed = size // 10
        expected = {"all_new": (size, 0, 0), "rerun": (0, 0, size),
                    "changed": (0, changed, size - changed)}
        for case, counts in expected.items():
            for method in ("project", "per_record"):
                r = by[(method, size, case)]
                assert (r["inserted"], r["updated"], r["duplicates"]) == counts, (method, case)
                assert r["counts_exact"] is True
                assert r["rows_in_table"] == size
            stock = by[("stock", size, case)]
            assert stock["counts_exact"] is None and stock["rows_in_table"] == size
            for method in ("project", "stock", "per_record"):
                r = by[(method, size, case)]
                assert r["seconds"] > 0 and r["records_per_second"] > 0
                assert r["peak_rss_mb"] > 0
        assert by[("project", size, "all_new")]["json_files_marked_loaded"] == size
        assert by[("project", size, "rerun")]["json_files_marked_loaded"] == 0
        ceiling = by[("ceiling", size, "all_new")]  # a bare COPY of the same rows
        assert (ceiling["inserted"], ceiling["rows_in_table"]) == (size, size)
        assert load["ratios"][0]["of_ceiling"] > 0
    ratios = {(r["size"], r["case"]) for r in load["ratios"]}
    assert ratios == {(s, c) for s in sizes for c in ("all_new", "rerun", "changed")}
    extract = load["backfill_extract"]
    assert extract["files"] == 2 * load["dataset"]["requests"]
    assert extract["records"] == load["dataset"]["requests"]


def test_s3_request_counts_per_file(results):
    s3 = results["s3"]
    n = results["parameters"]["s3_files"]
    assert s3["dataset"]["files"] == n
    new = s3["project_new"]
    assert (new["files"], new["uploaded"], new["errors"]) == (n, n, 0)
    assert new["requests"] == {"ListObjectsV2": 1, "PutObject": n}  # preflight + one PUT each
    assert new["requests_per_file"] == 1.0
    assert s3["project_registered"]["files"] == 0
    assert s3["project_registered"]["requests_total"] == 0
    again = s3["project_in_bucket_not_registry"]
    # Objects this pipeline put itself are recorded "uploaded", others "pre_existing".
    assert (again["pre_existing"] + again["uploaded"], again["errors"]) == (n, 0)
    assert again["requests"] == {"ListObjectsV2": 1, "PutObject": n, "HeadObject": n}
    assert s3["stock_new"]["requests"] == {"PutObject": n}
    sample = s3["stock_already_uploaded"]
    assert sample["requests"] == {"PutObject": sample["files"]}
    assert s3["moto_ceiling"]["files"] == n


def test_incremental_run_touches_nothing_of_the_backlog(results):
    params = results["parameters"]
    rows = results["incremental"]["results"]
    new_files = 2 * params["incremental_new_requests"]
    assert [(r["handled_files"], r["case"]) for r in rows] == [
        (h, case) for h in params["incremental_handled"]
        for case in (f"{new_files}_new", "nothing_new")]
    for r in rows:
        assert r["files_handled_before"] >= r["handled_files"]
        assert r["rows_written_for_backlog"] == 0
        assert r["s3_requests_for_backlog"] == 0
        if r["case"] == "nothing_new":  # the run's own two records (extract, load_db)
            assert (r["new_files"], r["rows_written"], r["s3_requests_total"]) == (0, 2, 0)
        else:
            assert r["new_files"] == new_files
            assert r["db_inserted"] == params["incremental_new_requests"]
            assert r["s3_uploaded"] == new_files
            assert r["s3_requests"] == {"ListObjectsV2": 1, "PutObject": new_files}


def test_day365_counts_are_exact_for_every_history_size_and_case(results):
    """Day 1 vs day 365: the same morning on each history, whatever processed/ holds; the
    history's files are skipped by name, none read, loaded or sent again."""
    from bench import history

    params = results["parameters"]
    day365 = results["day365"]
    per_day, days = day365["requests_per_day"], day365["retention_days"]
    new_files, new_requests = day365["new_files"], day365["new_requests"]
    assert new_requests == params["day365_new_requests"]
    assert 2 * new_requests <= new_files <= 3 * new_requests
    rows = day365["results"]
    assert [(r["case"], r["handled_files"]) for r in rows] == [
        (case, history.files_of(history.requests_for(h)))
        for case in ("retention", "keep") for h in params["day365_handled"]]
    for r in rows:
        requests = history.requests_for(r["handled_files"])
        local = (r["handled_files"] if r["case"] == "keep"
                 else history.files_of(min(requests, days * per_day)))
        assert r["local_history_files"] == local, r
        assert r["new_files"] == new_files
        steps = r["steps"]
        extract = steps["extract"]
        assert (extract["files_found"], extract["files_new"], extract["files_handled_before"],
                extract["files_registered"], extract["records"]) == (
            new_files + local, new_files, local, new_files, new_requests), r
        assert (steps["load_db"]["db_inserted"], steps["load_db"]["db_updated"],
                steps["load_db"]["json_files_loaded"]) == (new_requests, 0, new_requests)
        assert (steps["upload_s3"]["files"], steps["upload_s3"]["s3_uploaded"],
                steps["upload_s3"]["s3_errors"]) == (new_files, new_files, 0)
        for step in steps.values():
            assert step["seconds"] > 0 and step["peak_rss_mb"] > 0
            assert isinstance(step["registry_rows_read"], int) and step["registry_rows_read"] >= 0
        # The baseline, the old extract's full read, reads every row of the history.
        baseline = r["baseline_full_registry_read"]
        assert baseline["rows"] == r["handled_files"]
        assert baseline["registry_rows_read"] >= r["handled_files"]
    retention = {r["handled_files"]: r for r in rows if r["case"] == "retention"}
    biggest = max(retention)
    if biggest:  # the history is longer than retention keeps: processed/ holds less of it
        assert retention[biggest]["local_history_files"] < biggest


def test_every_dag_file_is_parsed(results):
    files = {f["file"]: f for f in results["dag_parsing"]["files"]}
    assert set(files) == {f"dags/{p.name}" for p in (ROOT / "dags").glob("*.py")}
    for f in files.values():
        assert f["dags"], f["file"]
        assert f["parse_beyond_import_airflow_ms"] > 0
        # Also without bytecode caches: the project's code alone, and nothing compiled.
        for key in ("samples_no_bytecode_ms", "samples_nothing_compiled_ms"):
            assert len(f[key]) == f["repeats"] and all(ms > 0 for ms in f[key]), key
        assert f["nothing_compiled_import_airflow_ms"] > 0


def test_backfill_three_ways_with_ceilings_memory_and_statement_counts(results):
    backfill = results["backfill"]
    data = backfill["dataset"]
    ways = backfill["ways"]
    project = ways["project"]["steps"]
    assert set(ways) == {"project", "stock", "old"}
    assert data["json_files"] == results["parameters"]["backfill_requests"]
    # Re-scrapes: fewer requests than request JSONs; PDFs and attachments besides.
    assert data["records"] < data["json_files"] < data["files"]
    assert project["extract"]["files"] == data["files"]
    assert project["load"]["inserted"] == data["records"]
    assert project["load"]["files"] == data["json_files"]  # every request JSON marked loaded
    assert (project["upload"]["uploaded"], project["upload"]["errors"]) == (data["files"], 0)
    assert project["upload"]["s3_requests"] == {"ListObjectsV2": 1, "PutObject": data["files"]}
    for step in project.values():
        # Registry writes are batched: a per-file statement would be one per file. Each
        # step also pays a fixed number (its company's exclusion, its run record, the
        # stage and its COPYs, the keyed lookups of pairing, first sightings and the
        # two-way request tie: about 40 for extract), whatever the files.
        assert step["db"]["round_trips"] < 50 + 0.01 * step["files"], step
        assert step["db"]["statements"] < 50 + 0.01 * step["files"], step
        assert step["peak_rss_mb"] > 0 and step["seconds"] > 0
    for way in ("stock", "old"):
        upload = ways[way]["steps"]["upload"]
        assert upload["extrapolated"] is True and upload["files"] == data["files"]
        assert 0 < upload["sample_files"] < data["files"]
    # The stock and old ways pay a round trip per file where this project batches.
    stock_sample = ways["stock"]["steps"]["upload"]
    assert stock_sample["db"]["round_trips"] >= stock_sample["sample_files"]
    assert ways["old"]["steps"]["extract+load"]["db"]["statements"] >= data["json_files"]
    assert ways["old"]["steps"]["extract+load"]["inserted"] == data["records"]
    for step in ("extract", "load", "upload"):
        ceiling = backfill["ceilings"][step]
        assert ceiling["files"] > 0 and ceiling["seconds"] > 0
        assert backfill["of_ceiling"][step] > 0
    assert backfill["ceilings"]["load"]["records"] == data["records"]
    assert Path(results["plot"]).stat().st_size > 10_000  # the PNG


def test_concurrency_sweep_measures_both_servers(results):
    sweep = results["concurrency"]
    assert [p["workers"] for p in sweep["points"]] == list(results["parameters"]["sweep_workers"])
    for point in sweep["points"]:
        for key in ("bare_sink", "project_sink", "bare_moto", "project_moto"):
            assert point[key]["files"] == sweep["files"] and point[key]["files_per_second"] > 0
    assert sweep["chosen_workers"] in results["parameters"]["sweep_workers"]
    # aws s3 sync of the same files at the same concurrency, or the reason it was not run.
    if shutil.which("aws") is None:
        assert "not on PATH" in sweep["aws_sync"]["skipped"]
        return
    assert sweep["aws_sync"]["version"].startswith("aws-cli/")
    for point in sweep["points"]:
        for server in ("sink", "moto"):
            assert point[f"aws_sync_{server}"]["files"] == sweep["files"]
            assert point[f"project_x_aws_sync_{server}"] > 0


def test_morning_through_the_scheduler_or_the_reason_it_was_not(results):
    morning = results["morning"]
    if "skipped" in morning:  # no PostgreSQL/Redis for the Celery stack here: said so
        assert morning["skipped"]
        return
    assert "failed" not in morning, morning.get("failed")
    runs = morning["runs"]
    assert set(runs) == {"ov_afinia", "ov_aire"}
    for run in runs.values():
        assert run["state"] == "success"
        assert run["files"] == 3 * results["parameters"]["morning_requests"]
        assert 0 < run["task_seconds"] <= run["trigger_to_success"]
        assert run["pipeline_seconds"] <= run["task_seconds"]
        assert set(run["tasks"]) == {"scrape", "extract", "load_db", "upload_s3",
                                     "report_stats"}
