"""Whole DAG runs with ``dag.test()`` against real PostgreSQL and a moto S3 server.

For each company: a ``database_only`` run (upload skipped, files pending),
then a normal run (backlog uploaded), then the same run again (nothing
changes); and a run whose upload fails (the run fails, the stats row stays).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from devtools.sample import generate_landing
from extractorov import runtime
from tests.helpers import list_keys, query

pytestmark = pytest.mark.e2e

PERSONAL_FIELDS = ("nombres_apellidos", "correo_electronico", "documento_identidad", "celular")


def _states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def _snapshot(db, s3, bucket):
    return {
        "rows": query(db, "SELECT 'afinia', numero_radicado, hash_contenido, updated_at "
                          "FROM data_general.ov_afinia UNION ALL SELECT 'aire', numero_radicado, "
                          "hash_contenido, updated_at FROM data_general.ov_aire ORDER BY 1, 2"),
        "registry": query(db, "SELECT s3_key, upload_status, attempts, updated_at "
                              "FROM data_general.s3_files_registry ORDER BY s3_key"),
        "objects": list_keys(s3, bucket),
    }


@pytest.mark.parametrize("dag_id", ["ov_afinia", "ov_aire"])
def test_database_only_then_backlog_upload_then_rerun_changes_nothing(
        dags, dag_id, db, s3, bucket, landing):
    empresa = dag_id.removeprefix("ov_")
    sample = generate_landing(landing, companies=[empresa], days=2, requests_per_day=12)
    files = sample.by_company[empresa]
    dag = dags[dag_id]

    # 1. database_only: rows loaded, files registered pending, upload skipped, run green.
    first = dag.test(logical_date=datetime(2025, 10, 9, 9, tzinfo=UTC),
                     run_conf={"database_only": True})
    assert str(first.state) == "success"
    states = _states(first)
    assert states["upload_s3"] == "skipped"
    assert (states["extract"], states["load_db"], states["report_stats"]) == ("success",) * 3
    table = f"data_general.{dag_id}"
    assert query(db, f"SELECT count(*) FROM {table}") == [(sample.requests,)]
    assert query(db, "SELECT upload_status, count(*) FROM data_general.s3_files_registry "
                     "GROUP BY 1") == [("pending", files)]
    assert list_keys(s3, bucket) == {}
    run = query(db, "SELECT database_only, s3_skipped, status, db_inserted, files_new "
                    "FROM data_general.post_processing_runs WHERE run_id = %s", first.run_id)
    assert run == [(True, True, "success", sample.requests, files)]

    # 2. A normal run uploads the backlog left by the database_only run.
    logical = datetime(2025, 10, 10, 9, tzinfo=UTC)
    second = dag.test(logical_date=logical, run_after=logical, run_conf={"database_only": False})
    assert str(second.state) == "success"
    assert _states(second)["upload_s3"] == "success"
    keys = list_keys(s3, bucket)
    assert len(keys) == files
    assert all(k.startswith(f"oficina-virtual/{empresa}/raw_data/") for k in keys)
    assert query(db, "SELECT upload_status, count(*) FROM data_general.s3_files_registry "
                     "GROUP BY 1") == [("uploaded", files)]
    run = query(db, "SELECT s3_skipped, s3_uploaded, files_new, db_inserted, status FROM "
                    "data_general.post_processing_runs WHERE run_id = %s", second.run_id)
    assert run == [(False, files, 0, 0, "success")]

    # The stats task's XCom: counts and registry stats, no personal data.
    xcom = json.dumps(runtime_xcom(second, "report_stats"), ensure_ascii=False, default=str)
    assert f'"s3_uploaded": {files}' in xcom
    rows = query(db, f"SELECT {', '.join(PERSONAL_FIELDS)} FROM {table}")
    assert not any(value and value in xcom for row in rows for value in row)

    # 3. The same run again (dag.test clears its task instances and reruns them): no change.
    before = _snapshot(db, s3, bucket)
    again = dag.test(logical_date=logical, run_after=logical, run_conf={"database_only": False})
    assert again.run_id == second.run_id
    assert str(again.state) == "success"
    assert _snapshot(db, s3, bucket) == before
    assert query(db, "SELECT count(*) FROM data_general.post_processing_runs") == [(2,)]


def test_a_failed_upload_fails_the_run_but_report_stats_records_it(
        dags, db, bucket, landing, monkeypatch):
    generate_landing(landing, companies=["aire"], days=1, requests_per_day=5)
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_BUCKET", "bucket-that-does-not-exist")
    run = dags["ov_aire"].test(logical_date=datetime(2025, 10, 11, 9, tzinfo=UTC))
    assert str(run.state) == "failed"
    states = _states(run)
    assert states["upload_s3"] == "failed"
    assert states["report_stats"] == "success"
    assert states["watcher"] == "failed"
    [(status, task_states, inserted)] = query(
        db, "SELECT status, task_states, db_inserted FROM data_general.post_processing_runs")
    assert status == "failed"
    assert task_states["upload_s3"] == "failed"
    assert inserted == 5
    assert query(db, "SELECT DISTINCT upload_status FROM data_general.s3_files_registry") == [
        ("pending",)]


def runtime_xcom(dag_run, task_id: str):
    """The return value a task pushed in a finished run (read from the metadata DB)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        value = session.query(XComModel.value).filter_by(
            dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key="return_value",
        ).scalar()
    return json.loads(value) if isinstance(value, str) else value


def test_registry_stats_function_reads_through_the_connection(db, bucket, landing, settings):
    generate_landing(landing, companies=["afinia"], days=1, requests_per_day=3)
    from extractorov import pipeline
    from extractorov.companies import COMPANIES

    pipeline.extract(db, COMPANIES["afinia"], settings, "r1")
    stats = runtime.get_s3_registry_stats()
    total = stats["totals"]["total_files"]
    assert total == query(db, "SELECT count(*) FROM data_general.s3_files_registry")[0][0] > 0
    assert stats["by_company_status"]["afinia"]["pending"]["count"] == total
