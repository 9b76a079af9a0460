"""Retry or fail: a task retries what time can fix and fails at once, saying what to fix,
on what it cannot (a malformed Variable, a wrong time zone, a permanent database error).

Real services only: PostgreSQL through PostgresHook (``db``), moto S3 over HTTP through
S3Hook (``s3``/``bucket``), a temporary landing folder, the task bodies of
:mod:`extractorov.tasks` called as the DAG files call them.
"""

from __future__ import annotations

import pytest

from extractorov import errors, pipeline, tasks, warehouse
from extractorov.taskfail import NotRetried
from tests.helpers import task_context as _context
from tests.helpers import write_request
from tests.landing_files import AFINIA

pytestmark = pytest.mark.integration


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
    """A regression test: a malformed numeric Variable (``ov_s3_upload_workers=abc``,
    ``ov_landing_settle_seconds=30s``, ``ov_s3_max_file_gib=5GiB|inf``) raised a bare
    ValueError / OverflowError from ``runtime.settings_from_variables``: retried 3 times
    with backoff, and the message named no Variable; ``ov_orphan_after_hours=nan`` was
    accepted silently (stale and orphan reports off). A Variable Airflow cannot read as a
    number fails the task at once, naming it."""
    monkeypatch.setenv(f"AIRFLOW_VAR_{variable.upper()}", value)
    with pytest.raises(NotRetried) as failed:
        tasks.extract(AFINIA, _context())
    assert variable in str(failed.value)


def test_a_wrong_bot_timezone_fails_reconcile_at_once(db, bucket, landing, monkeypatch):
    """A regression test: ``tasks.reconcile`` / ``upload_s3`` / ``s3_check`` built their
    settings outside the error mapping, so a wrong ``ov_bot_timezone`` escaped as an
    unmapped ConfigurationError and was retried. A configuration error fails at once."""
    monkeypatch.setenv("AIRFLOW_VAR_OV_BOT_TIMEZONE", "America/Barranquilla")
    with pytest.raises(NotRetried) as failed:
        tasks.reconcile(AFINIA, _context("scheduled__2025-10-09T15:00:00+00:00"))
    assert "ov_bot_timezone" in str(failed.value)


def test_a_permanent_database_error_in_load_is_not_retried(db, settings, landing):
    """A regression test: ``LoadFailed`` was retryable for every psycopg error, so permanent
    ones (22001 after a narrowed column, 42501, 23xxx, 25006) were retried, then again each
    day, with a message saying "once the database is reachable". A permanent database error
    fails the task without a retry."""
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


def test_an_unreachable_warehouse_is_retried_and_its_password_stays_out(landing, monkeypatch):
    """psycopg OperationalError during extract (database down): a transient error, raised as
    itself so Airflow retries it; the message names host and port, never the password."""
    import json
    import socket
    from types import SimpleNamespace

    import psycopg

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_OV_POSTGRES", json.dumps({
        "conn_type": "postgres", "host": "127.0.0.1", "port": port, "login": "ov",
        "password": "Sup3r-Secret-Pw", "schema": "warehouse"}))
    context = {"run_id": "r", "ti": SimpleNamespace(try_number=1),
               "params": {"readmit_quarantine": False}}
    with pytest.raises(psycopg.OperationalError) as failed:
        tasks.extract(AFINIA, context)
    assert tasks.airflow_error(failed.value) is failed.value  # retried with backoff
    assert "Sup3r-Secret-Pw" not in str(failed.value)
