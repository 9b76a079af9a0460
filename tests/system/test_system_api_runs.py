"""Both company DAGs on CeleryExecutor, driven through the Airflow REST API only.

``ov_afinia`` runs with ``database_only=false`` and ``ov_aire`` with
``database_only=true`` (fixture ``api_runs`` in conftest.py). The checks read
Airflow's answers from the REST API, and the warehouse and the bucket directly.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.helpers import list_keys, query
from tests.system.stack import BUCKET, SUMMARY

pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]


def test_both_dags_are_parsed_and_listed(airflow_stack, api_runs):
    api = airflow_stack.api
    for dag_id in ("ov_afinia", "ov_aire"):
        dag = api.dag(dag_id)
        assert dag is not None
        assert dag["is_paused"] is False
        assert "oficina-virtual" in {tag["name"] for tag in dag["tags"]}
    assert api.import_errors() == []


def test_both_runs_succeed_and_only_aire_skips_the_upload(api_runs):
    afinia, aire = api_runs["ov_afinia"], api_runs["ov_aire"]
    assert afinia.run["state"] == "success", afinia.states
    assert aire.run["state"] == "success", aire.states
    assert afinia.run["conf"] == {"database_only": False}
    assert aire.run["conf"] == {"database_only": True}
    assert afinia.states == {"scrape": "success", "extract": "success", "load_db": "success",
                             "check_data": "success", "upload_s3": "success",
                             "retention": "success", "report_stats": "success",
                             "watcher": "skipped"}
    # database_only: retention runs (manifests, reason files) and removes no local copy.
    assert aire.states == {"scrape": "success", "extract": "success", "load_db": "success",
                           "check_data": "success", "upload_s3": "skipped",
                           "retention": "success", "report_stats": "success",
                           "watcher": "skipped"}


def test_tasks_ran_on_both_celery_workers(airflow_stack, api_runs):
    # A task instance has a hostname once a worker started it (upload_s3 of ov_aire too:
    # it runs and skips itself); the watcher never runs when nothing failed.
    ran = [ti for outcome in api_runs.values() for ti in outcome.task_instances
           if ti["hostname"]]
    assert len(ran) == 14, [(ti["task_id"], ti["state"], ti["hostname"]) for ti in ran]
    # Every executed task went through this session's Celery queue and was run by one of
    # the two workers (each reports its Celery node name as the task instance hostname).
    assert {ti["queue"] for ti in ran} == {airflow_stack.queue}
    per_worker = Counter(ti["hostname"] for ti in ran)
    assert set(per_worker) <= set(airflow_stack.workers), per_worker
    assert all(per_worker[w] >= 1 for w in airflow_stack.workers), (
        f"both workers should have run tasks: {dict(per_worker)}")
    SUMMARY["api_runs_tasks_per_worker"] = dict(sorted(per_worker.items()))


def test_rows_objects_and_registry_are_in_place(airflow_stack, api_runs):
    sample = airflow_stack.sample
    with airflow_stack.warehouse() as conn:
        for empresa in ("afinia", "aire"):
            [(rows,)] = query(conn, f"SELECT count(*) FROM data_general.ov_{empresa}")
            assert rows > 0
        registry = dict(((e, s), n) for e, s, n in query(
            conn, "SELECT empresa, upload_status, count(*) FROM data_general.s3_files_registry "
                  "GROUP BY 1, 2"))
        run_ids = [outcome.run["dag_run_id"] for outcome in api_runs.values()]
        runs = {row[0]: row[1:] for row in query(
            conn, "SELECT empresa, database_only, s3_skipped, status, s3_uploaded "
                  "FROM data_general.post_processing_runs WHERE run_id = ANY(%s)", run_ids)}
    assert registry == {("afinia", "uploaded"): sample.by_company["afinia"],
                        ("aire", "pending"): sample.by_company["aire"]}
    afinia_files = sample.by_company["afinia"]
    assert runs == {"afinia": (False, False, "success", afinia_files),
                    "aire": (True, True, "success", 0)}

    keys = list_keys(airflow_stack.s3(), BUCKET)
    assert len(keys) == afinia_files
    assert all(k.startswith("oficina-virtual/afinia/raw_data/") for k in keys)
