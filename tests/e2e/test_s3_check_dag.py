"""ov_s3_check run whole with ``dag.test()`` against a moto S3 server."""

from __future__ import annotations

import pytest

from tests.e2e.test_dag_runs import runtime_xcom

pytestmark = pytest.mark.e2e


def test_a_working_setup_gives_a_green_run_with_the_report_as_xcom(dags, bucket):
    run = dags["ov_s3_check"].test()
    assert str(run.state) == "success"
    report = runtime_xcom(run, "check")
    assert report["bucket"] == bucket and report["failed"] == []
    assert {line["check"]: line["status"] for line in report["lines"]}["put"] == "OK"


def test_a_fail_line_fails_the_run_at_once(dags, bucket, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_BUCKET", "no-such-bucket-here")
    run = dags["ov_s3_check"].test()
    assert str(run.state) == "failed"
    [ti] = run.get_task_instances()
    assert str(ti.state) == "failed"
    assert ti.try_number == 1  # a configuration error is not retried
