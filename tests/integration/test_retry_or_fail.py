"""Hostile review, round 3 (after the restructuring): each test reproduces a defect and is
failed on the code it was written against (``xfail(strict=True)`` until fixed); all are
fixed now, and each guards its fix.

Real services only: PostgreSQL through PostgresHook (``db``), moto S3 over HTTP through
S3Hook (``s3``/``bucket``), a temporary landing folder, the task bodies of
:mod:`extractorov.tasks` called as the DAG files call them.
"""

from __future__ import annotations

from dataclasses import asdict
from types import SimpleNamespace

import pytest

from extractorov import errors, pipeline, stats, tasks, warehouse
from extractorov.landing import company_folders
from extractorov.taskfail import NotRetried
from tests.helpers import query, write_request
from tests.landing_files import AFINIA

pytestmark = pytest.mark.integration


class _Outlets(dict):
    """``context["outlet_events"]``: an accessor per asset, created on first use."""

    def __missing__(self, asset):
        self[asset] = SimpleNamespace(extra=None)
        return self[asset]


def _context(run_id: str = "manual__2025-10-09T09:00:00+00:00", try_number: int = 1,
             **params) -> dict:
    return {"run_id": run_id, "ti": SimpleNamespace(try_number=try_number),
            "params": {"database_only": False, "readmit_quarantine": False, **params},
            "outlet_events": _Outlets()}


# --------------------------------------------------------------------------- 1. retry or fail


@pytest.mark.parametrize(("variable", "value"), [
    ("ov_s3_upload_workers", "abc"),
    ("ov_orphan_after_hours", "x"),
    ("ov_landing_settle_seconds", "30s"),
    ("ov_s3_max_file_gib", "5GiB"),
    ("ov_s3_max_file_gib", "inf"),
    ("ov_orphan_after_hours", "nan"),
])
def test_a_malformed_numeric_variable_fails_at_once_naming_it(db, landing, monkeypatch,
                                                               variable, value):
    monkeypatch.setenv(f"AIRFLOW_VAR_{variable.upper()}", value)
    with pytest.raises(NotRetried) as failed:
        tasks.extract(AFINIA, _context())
    assert variable in str(failed.value)


def test_a_wrong_bot_timezone_fails_reconcile_at_once(db, bucket, landing, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_OV_BOT_TIMEZONE", "America/Barranquilla")
    with pytest.raises(NotRetried) as failed:
        tasks.reconcile(AFINIA, _context("scheduled__2025-10-09T15:00:00+00:00"))
    assert "ov_bot_timezone" in str(failed.value)


def test_a_permanent_database_error_in_load_is_not_retried(db, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1")  # nic '1234567'
    extracted = pipeline.extract(db, AFINIA, settings, "run-dba")
    warehouse.ensure_schema(db, [AFINIA])
    with db.cursor() as cur:  # schema drift: a DBA narrowed a column
        cur.execute("ALTER TABLE data_general.ov_afinia ALTER COLUMN nic TYPE varchar(5)")
    db.commit()
    with pytest.raises(errors.LoadFailed) as failed:
        pipeline.load(db, AFINIA, extracted.manifest)
    assert "SQLSTATE 22001" in str(failed.value)  # the error is the one meant
    assert tasks.airflow_error(failed.value) is not failed.value  # fail, no retry
    assert "reachable" not in str(failed.value)


# --------------------------------------------------------------------------- 3. readmit


def test_a_cleared_readmit_run_counts_each_file_once(db, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1")
    write_request(landing, "afinia", "RE3", "", pdf=False)  # invalid under any parser
    pipeline.extract(db, AFINIA, settings, "first")
    folders = company_folders(landing, "afinia")
    assert len(list(folders.quarantine.glob("*.json"))) == 1

    run_id = "manual__readmit"
    for attempt in (1, 2):  # the run, then the same run cleared (extract's new try)
        summary = pipeline.extract(db, AFINIA, settings, run_id, readmit_quarantine=True,
                                   attempt=attempt)
        pipeline.load(db, AFINIA, summary.manifest)
        stats.report_run(db, run_id=run_id, empresa="afinia", dag_id="ov_afinia",
                         logical_date=None, data_interval_start=None,
                         data_interval_end=None, database_only=True, summaries={},
                         task_states={})
    assert len(list(folders.quarantine.glob("*.json"))) == 1
    assert query(db, "SELECT files_readmitted, files_quarantined FROM "
                     "data_general.post_processing_runs WHERE run_id = %s", run_id) == [(1, 1)]


# --------------------------------------------------------------------------- 4. assets


def test_the_s3_event_after_a_partly_failed_upload_counts_the_whole_run(
        db, s3, bucket, settings, landing, monkeypatch):
    write_request(landing, "afinia", "RE1", "R-1")
    write_request(landing, "afinia", "RE2", "R-2", adjunto="jpg")
    big = company_folders(landing, "afinia").processed / "RE2_adjunto_20251008_093221.jpg"
    big.write_bytes(b"x" * 4096)
    extracted = pipeline.extract(db, AFINIA, settings, "run-a")
    pipeline.load(db, AFINIA, extracted.manifest)
    run_id = "manual__2025-10-09T09:00:00+00:00"
    # First try: a size limit below the attachment (a wrong Variable): 4 files up, 1 error.
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_MAX_FILE_GIB", str(1024 / 1024**3))
    first = _context(run_id)
    with pytest.raises(NotRetried):
        tasks.upload_s3(AFINIA, first)
    assert dict(first["outlet_events"]) == {}  # a failed task emits no event
    # The operator fixes the Variable and clears the task.
    monkeypatch.delenv("AIRFLOW_VAR_OV_S3_MAX_FILE_GIB")
    second = _context(run_id, try_number=2)
    tasks.upload_s3(AFINIA, second)
    (event,) = second["outlet_events"].values()
    assert event.extra["s3_uploaded"] == 5  # 2 JSON + 2 PDF + 1 attachment, this run


# --------------------------------------------------------------------------- 2+4. checks, assets


@pytest.fixture(scope="module")
def company_dags(airflow_db):
    """The project's DAGs (as tests/e2e/conftest.py's ``dags``)."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.e2e.conftest import DAGS

    bag = DagBag(dag_folder=DAGS)
    assert bag.import_errors == {}
    return bag.dags


def _asset_events(asset_name: str, run_id: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == asset_name, AssetEvent.source_run_id == run_id)).all()
    return [extra for (extra,) in rows]


@pytest.mark.e2e
def test_a_run_whose_data_checks_fail_triggers_no_table_consumer(company_dags, db, landing,
                                                                 monkeypatch):
    from datetime import UTC, datetime

    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    warehouse.ensure_schema(db, [AFINIA])
    # The portal (or a parser bug) gives this run's request a date years ahead.
    write_request(landing, "afinia", "RE9", "R-9", fecha="2099/01/01 10:00")
    run = company_dags["ov_afinia"].test(logical_date=datetime(2025, 10, 13, 9, tzinfo=UTC),
                                 run_conf={"database_only": True})
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["check_data"] == "failed" and str(run.state) == "failed"
    assert _asset_events("ov_afinia_table", run.run_id) == []


def test_a_run_that_loaded_nothing_is_not_failed_by_an_older_row(db, settings, landing):
    warehouse.ensure_schema(db, [AFINIA])
    with db.cursor() as cur:  # loaded by an earlier run, already reported by it
        cur.execute("""INSERT INTO data_general.ov_afinia (numero_radicado, fecha,
                       hash_registro, hash_contenido)
                       VALUES ('R-OLD', now() + interval '90 days', 'h', 'h')""")
    db.commit()
    extracted = pipeline.extract(db, AFINIA, settings, "quiet-day")  # nothing new
    loaded = pipeline.load(db, AFINIA, extracted.manifest)
    assert loaded.records == 0
    context = _context("quiet-day")
    tasks.check_data(AFINIA, asdict(extracted), asdict(loaded), context)
    (event,) = context["outlet_events"].values()  # checks passed: the table's event
    assert event.extra["records"] == 0 and event.extra["checks"] == "passed"
