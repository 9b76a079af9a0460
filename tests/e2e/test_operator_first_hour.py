"""What an operator sees in the first hour (dag.test(), real PostgreSQL and moto S3)."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime

import pytest

from tests.helpers import list_keys, query, write_request

pytestmark = pytest.mark.e2e



def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _output(capfd, caplog) -> str:
    captured = capfd.readouterr()
    return "\n".join([captured.out, captured.err, caplog.text])


def test_a_misspelled_param_fails_the_run_at_its_first_task(dags, db, s3, bucket, landing,
                                                            monkeypatch, capfd, caplog):
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    write_request(landing, "afinia", "RE1", "R-1")
    caplog.set_level(logging.INFO)
    run = dags["ov_afinia"].test(logical_date=datetime(2025, 10, 9, 9, tzinfo=UTC),
                                 run_conf={"databse_only": True})
    states = _states(run)
    assert str(run.state) == "failed"
    assert states["scrape"] == "failed" and states["extract"] == "upstream_failed"
    text = _output(capfd, caplog)
    assert list_keys(s3, bucket) == {}  # nothing uploaded with the default
    # The task's own error line: its first line short and what to do, the known keys on
    # screen, details below; then Airflow's "Task exited" line, and no traceback at all.
    [own] = [r for r in caplog.records if r.name == "extractorov.tasks"
             and r.levelno == logging.ERROR and "databse_only" in r.getMessage()]
    first, *details = own.getMessage().splitlines()
    assert first == ("unknown conf key 'databse_only': trigger again with one this DAG knows: "
                     "database_only, readmit_quarantine")
    assert len(first) <= 120 and own.exc_info is None
    assert details == ['Nothing was done. A conf names params as in {"database_only": true}.']
    assert f'Task exited                    [task] exit_code="{first}"' in text
    assert "Retry policy decision" in text and "action=fail" in text  # no retries
    assert "Traceback" not in text and "Task failed with exception" not in text


def test_a_skipped_upload_says_why_in_its_log(dags, db, s3, bucket, landing, monkeypatch,
                                              caplog):
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    write_request(landing, "afinia", "RE2", "R-2")
    caplog.set_level(logging.INFO)
    run = dags["ov_afinia"].test(logical_date=datetime(2025, 10, 9, 9, tzinfo=UTC),
                                 run_conf={"database_only": True})
    assert _states(run)["upload_s3"] == "skipped"
    # A log line of the task itself (Airflow's own skip line says only "Skipping task.").
    assert any(r.name == "extractorov.tasks" and r.levelno == logging.WARNING
               and "database_only=true: S3 upload skipped" in r.getMessage()
               and "ov_s3_reconcile" in r.getMessage() for r in caplog.records)
    assert query(db, "SELECT DISTINCT upload_status FROM data_general.s3_files_registry") == [
        ("pending",)]


def test_a_run_with_default_variables_logs_no_short_secret_warning(dags, db, s3, bucket,
                                                                    landing, monkeypatch,
                                                                    capfd, caplog):
    """Variables left at their defaults ("16", "72", "120"…) are not secrets: no task log
    may open with "Skipping masking for a secret as it's too short"."""
    from airflow.sdk._shared.secrets_masker.secrets_masker import SecretsMasker

    monkeypatch.setattr(SecretsMasker, "_has_warned_short_secret", False)  # warns once
    # As `make airflow` runs it: every Variable but the landing root unset, and files the
    # bot wrote an hour ago (settled, quiet). A Variable *set* to a short value such as "0"
    # still makes Airflow warn (it passes every value to the masker): see README.
    monkeypatch.delenv("AIRFLOW_VAR_OV_LANDING_SETTLE_SECONDS")
    hour_ago = time.time() - 3600
    for path in write_request(landing, "afinia", "RE3", "R-3"):
        os.utime(path, (hour_ago, hour_ago))
    caplog.set_level(logging.INFO)
    run = dags["ov_afinia"].test(logical_date=datetime(2025, 10, 9, 9, tzinfo=UTC),
                                 run_conf={"database_only": False})
    assert str(run.state) == "success", _states(run)
    text = _output(capfd, caplog)
    assert "upload_s3" in text or "uploaded" in text  # the log was captured
    assert "too short" not in text
    assert not SecretsMasker._has_warned_short_secret
