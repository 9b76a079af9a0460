"""``check_data`` after ``load_db``: named checks with counts, a failed one fails the run."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from extractorov import checks, pipeline, warehouse
from extractorov.companies import COMPANIES
from tests.helpers import write_request

pytestmark = pytest.mark.e2e

AFINIA = COMPANIES["afinia"]
SECRET_NAME = "Zoraida Quintero Bermúdez"


def execute(conn, statement: str, *params) -> None:
    with conn.cursor() as cur:
        cur.execute(statement, params)
    conn.commit()


def _states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_a_clean_load_passes_every_check_and_counts_blank_fechas(dags, db, landing, monkeypatch,
                                                                 caplog):
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    write_request(landing, "afinia", "RE1", "R-1")
    write_request(landing, "afinia", "RE2", "R-2", fecha="")
    caplog.set_level(logging.INFO)
    run = dags["ov_afinia"].test(logical_date=datetime(2025, 10, 9, 9, tzinfo=UTC),
                                 run_conf={"database_only": True})
    assert str(run.state) == "success"
    assert _states(run)["check_data"] == "success"
    result = next(ti for ti in run.get_task_instances() if ti.task_id == "check_data")
    assert result.xcom_pull(task_ids="check_data")["failed"] == []
    assert result.xcom_pull(task_ids="check_data")["fecha_missing"] == 1
    assert any("check fecha_not_in_future" in m and "ok" in m for m in caplog.messages)


def test_a_row_breaking_a_rule_fails_the_run_naming_the_check_without_values(
        dags, db, landing, monkeypatch, caplog, capfd):
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    # A request whose date is years ahead (a portal or parser bug).
    write_request(landing, "afinia", "RE9", "R-OLD", nombres_apellidos=SECRET_NAME,
                  fecha="2099/01/01 10:00")
    caplog.set_level(logging.INFO)
    run = dags["ov_afinia"].test(logical_date=datetime(2025, 10, 10, 9, tzinfo=UTC),
                                 run_conf={"database_only": True})
    states = _states(run)
    assert str(run.state) == "failed"
    assert states["check_data"] == "failed"
    assert states["load_db"] == "success" and states["report_stats"] == "success"
    captured = capfd.readouterr()
    failure = captured.out + captured.err + "\n".join(r.getMessage() for r in caplog.records)
    assert "data checks failed for afinia" in failure
    assert "fecha_not_in_future: 1 break the rule" in failure
    assert "R-OLD" not in failure and SECRET_NAME not in failure
    assert "numero_radicado_unique:" not in failure  # only the failed checks are named


def test_each_check_catches_what_it_names(db, settings, landing):
    """The run-specific checks, broken one at a time on a real table and registry."""
    write_request(landing, "afinia", "RE5", "R-5")
    write_request(landing, "afinia", "RE6", "R-6")
    extracted = pipeline.extract(db, AFINIA, settings, "run-c")
    loaded = pipeline.load(db, AFINIA, extracted.manifest)
    keys = pipeline.manifest_keys(db, AFINIA, extracted.manifest)

    def failed(records_loaded: int = loaded.records) -> list[str]:
        report = checks.run_checks(db, AFINIA, bucket=keys.bucket, records_loaded=records_loaded,
                                   radicados=keys.radicados, json_files=keys.json_files)
        db.commit()
        return [r.name for r in report.failed]

    assert failed() == []
    assert failed(records_loaded=3) == ["rows_of_run_match_load"]
    execute(db, "DELETE FROM data_general.s3_files_loaded WHERE filename = %s",
            keys.json_files[0])
    assert failed() == ["json_files_marked_loaded"]
    execute(db, "DELETE FROM data_general.ov_afinia WHERE numero_radicado = 'R-5'")
    assert failed() == ["rows_of_run_match_load", "json_files_marked_loaded"]
    execute(db, "UPDATE data_general.ov_afinia SET fecha = '1999-12-31' "
                "WHERE numero_radicado = 'R-6'")
    assert "fecha_not_before_2000" in failed()
    # A row of an earlier run breaking a rule does not fail this run's checks (it failed
    # the run that loaded it).
    execute(db, "INSERT INTO data_general.ov_afinia (numero_radicado, fecha, hash_registro, "
                "hash_contenido) VALUES ('R-OLDER', now() + interval '90 days', 'h', 'h')")
    assert "fecha_not_in_future" not in failed()


# --------------------------------------------------------------------------- assets


def _asset_events(asset_name: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra, AssetEvent.source_run_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == asset_name).order_by(AssetEvent.id)).all()
    return [{**(extra or {}), "source_run_id": run_id} for extra, run_id in rows]


def test_load_and_upload_emit_asset_events_with_the_runs_counts(dags, db, s3, bucket, landing,
                                                                monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    write_request(landing, "aire", "RE70", "AIR-70", nombres_apellidos=SECRET_NAME)
    write_request(landing, "aire", "RE71", "AIR-71", adjunto="png")
    before_table = len(_asset_events("ov_aire_table"))
    before_s3 = len(_asset_events("ov_aire_s3"))

    only_db = dags["ov_aire"].test(logical_date=datetime(2025, 10, 11, 9, tzinfo=UTC),
                                   run_conf={"database_only": True})
    table_events = _asset_events("ov_aire_table")[before_table:]
    assert [e["source_run_id"] for e in table_events] == [only_db.run_id]
    assert {k: table_events[0][k] for k in ("records", "db_inserted", "db_updated")} == {
        "records": 2, "db_inserted": 2, "db_updated": 0}
    assert table_events[0]["table"] == "data_general.ov_aire"
    assert _asset_events("ov_aire_s3")[before_s3:] == []  # skipped upload: no S3 event

    # (dag.test keeps the last run_conf's values as defaults: say it explicitly.)
    full = dags["ov_aire"].test(logical_date=datetime(2025, 10, 12, 9, tzinfo=UTC),
                                run_conf={"database_only": False})
    s3_events = _asset_events("ov_aire_s3")[before_s3:]
    assert [e["source_run_id"] for e in s3_events] == [full.run_id]
    assert s3_events[0]["s3_uploaded"] == 5  # 2 JSON + 2 PDF + 1 attachment, the backlog
    assert s3_events[0]["prefix"] == f"s3://{bucket}/oficina-virtual/aire/raw_data/"
    assert SECRET_NAME not in json.dumps(table_events + s3_events)


def test_a_run_whose_data_checks_fail_triggers_no_table_consumer(dags, db, landing, monkeypatch):
    """A regression test: the table's Asset event was emitted by ``load_db``, before
    ``check_data``: a run whose checks fail still triggered the table's consumers. The
    event waits for the checks."""
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    warehouse.ensure_schema(db, [AFINIA])
    # The portal (or a parser bug) gives this run's request a date years ahead.
    write_request(landing, "afinia", "RE9", "R-9", fecha="2099/01/01 10:00")
    run = dags["ov_afinia"].test(logical_date=datetime(2025, 10, 13, 9, tzinfo=UTC),
                                 run_conf={"database_only": True})
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["check_data"] == "failed" and str(run.state) == "failed"
    assert [e for e in _asset_events("ov_afinia_table")
            if e["source_run_id"] == run.run_id] == []
