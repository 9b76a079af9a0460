"""DAG integrity: the files import, the DAGs look as operators were promised."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import BaseOperator, CronDataIntervalTimetable

from extractorov.companies import COMPANIES
from tests.helpers import scheduler_timetable

DAGS = Path(__file__).resolve().parents[2] / "dags"
STEPS = ["extract", "load_db", "upload_s3", "retention", "report_stats"]


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=DAGS)


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_one_dag_per_registered_company(dagbag):
    company_dags = {d for d in dagbag.dag_ids
                    if d not in {"ov_s3_reconcile", "ov_s3_check", "ov_review_findings",
                                 "ov_remove_request"}}
    assert company_dags == {c.dag_id for c in COMPANIES.values()} == {"ov_afinia", "ov_aire"}


@pytest.mark.parametrize("dag_id", ["ov_afinia", "ov_aire"])
def test_task_order(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert set(dag.task_ids) == {"scrape", *STEPS, "check_data", "watcher"}
    expected_downstream = {
        "scrape": {"extract", "watcher"},
        "extract": {"load_db", "check_data", "watcher"},
        "load_db": {"upload_s3", "check_data", "watcher"},
        "check_data": {"report_stats", "watcher"},
        "upload_s3": {"retention", "watcher"},
        "retention": {"report_stats", "watcher"},
        "report_stats": set(),
        "watcher": set(),
    }
    for task_id, downstream in expected_downstream.items():
        assert dag.get_task(task_id).downstream_task_ids == downstream, task_id
    assert dag.get_task("scrape").upstream_task_ids == set()
    assert dag.get_task("extract").trigger_rule == "all_success"
    assert dag.get_task("report_stats").trigger_rule == "all_done"
    # Retention only touches what earlier runs delivered: a failed step today must not
    # stop it (it verifies every file in the bucket again before it removes anything).
    assert dag.get_task("retention").trigger_rule == "all_done"
    watcher = dag.get_task("watcher")
    assert watcher.trigger_rule == "one_failed"
    assert watcher.upstream_task_ids == {"scrape", "extract", "load_db", "check_data",
                                         "upload_s3", "retention"}
    assert watcher.downstream_task_ids == set()


@pytest.mark.parametrize("dag_id", ["ov_afinia", "ov_aire"])
def test_scrape_is_a_rescheduling_sensor_with_a_timeout_and_documented_modes(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    scrape = dag.get_task("scrape")
    assert scrape.mode == "reschedule"
    assert scrape.execution_timeout is not None
    assert scrape.execution_timeout.total_seconds() > 90 * 60  # above the default bot timeout
    # Its on_kill stops the bot's process group (TaskFlow's @task.sensor has none).
    assert type(scrape).__name__ == "ScrapeSensor"
    assert type(scrape).on_kill is not BaseOperator.on_kill
    empresa = dag_id.removeprefix("ov_")
    for text in (f"ov_bot_command_{empresa}", "command mode", "quiet mode", "Switching",
                 "ov_landing_quiet_minutes", "ov_landing_wait_minutes", "ov_bot_timeout_minutes"):
        assert text in dag.doc_md, text


@pytest.mark.parametrize("dag_id", ["ov_afinia", "ov_aire"])
def test_database_only_param_is_a_documented_toggle(dagbag, dag_id):
    param = dagbag.dags[dag_id].params.get_param("database_only")
    assert param.value is False
    assert "boolean" in param.schema["type"]
    assert param.schema["title"]
    assert "S3" in param.description and "pending" in param.description


def _required_in_the_trigger_form(param: dict) -> bool:
    """Airflow 3.3's trigger form (``airflow/ui``, ``FlexibleForm``): a param is required,
    a red ``*`` and "required" if emptied, when its schema has a ``type`` that is not a
    list including ``"null"``."""
    kind = param["schema"].get("type")
    return bool(kind) and not (isinstance(kind, list) and "null" in kind)


@pytest.mark.parametrize("dag_id", ["ov_afinia", "ov_aire"])
def test_both_toggles_are_optional_in_the_trigger_form_with_their_defaults(dagbag, dag_id):
    """What the form reads: the params of the serialized DAG (REST API ``/dags/{id}/details``
    dumps them so), not the DAG file's objects."""
    from airflow.serialization.serialized_objects import DagSerialization

    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dagbag.dags[dag_id]))
    params = {name: param.dump() for name, param in serialized.params.items()}
    assert set(params) == {"database_only", "readmit_quarantine"}
    for name, param in params.items():
        assert not _required_in_the_trigger_form(param), name
        assert param["value"] is False, name  # the default scheduled runs use
        # Still a toggle: the form picks its widget from the first type that is not null.
        assert [t for t in param["schema"]["type"] if t != "null"] == ["boolean"], name
        assert param["schema"]["title"] and param["description"], name
    dag = dagbag.dags[dag_id]
    for value in (True, False):  # a trigger's conf still validates, both ways
        dag.params.get_param("database_only").resolve(value)
        dag.params.get_param("readmit_quarantine").resolve(value)


@pytest.mark.parametrize("dag_id", ["ov_afinia", "ov_aire"])
def test_schedule_retries_owner_tags_and_docs(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert scheduler_timetable(dag).serialize() == {
        "expression": "0 4 * * *", "timezone": "America/Bogota"}
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    empresa = dag_id.removeprefix("ov_")
    assert {"oficina-virtual", empresa} <= set(dag.tags)
    for task in dag.tasks:
        assert task.owner == "data-engineering"
        if task.task_id != "watcher":
            assert task.retries >= 2
            assert task.retry_exponential_backoff == 2.0
    assert f"`{empresa}`" in dag.doc_md and "database_only" in dag.doc_md


def test_reconcile_announces_findings_and_a_watcher_keeps_failures_visible(dagbag):
    dag = dagbag.dags["ov_s3_reconcile"]
    checks = {f"reconcile_{e}" for e in COMPANIES}
    assert set(dag.task_ids) == {*checks, "announce_findings", "watcher", "check_morning_runs",
                                 "remind_open_findings", "deliver_alerts"}
    announce = dag.get_task("announce_findings")
    assert announce.upstream_task_ids == checks
    assert announce.trigger_rule == "all_done"  # also after a failed check
    assert [(a.name, a.uri) for a in announce.outlets] == [("ov_findings", "ov_findings")]
    watcher = dag.get_task("watcher")
    assert (watcher.upstream_task_ids, watcher.trigger_rule) == (checks, "one_failed")
    for check in checks:  # only announce_findings updates the asset
        assert dag.get_task(check).outlets == []


def test_alerts_still_owed_are_delivered_every_hour_whatever_the_checks_end_with(dagbag):
    """Issue 21: an alert the mail server did not take is sent by the next hourly check's
    own task, which waits for nothing (no upstream, no writer pool) and holds no one."""
    dag = dagbag.dags["ov_s3_reconcile"]
    deliver = dag.get_task("deliver_alerts")
    assert deliver.upstream_task_ids == set() and deliver.downstream_task_ids == set()
    assert deliver.pool == "default_pool"
    assert deliver.retries >= 1 and deliver.execution_timeout is not None


def test_review_dag_asks_one_hitl_task_per_finding_on_the_findings_asset(dagbag):
    from airflow.providers.standard.operators.hitl import HITLOperator

    from extractorov import review

    dag = dagbag.dags["ov_review_findings"]
    assert [(a.name, a.uri) for a in dag.timetable.asset_condition.objects] == [
        ("ov_findings", "ov_findings")]
    assert set(dag.task_ids) == {"collect", "review"}
    ask = dag.get_task("review")
    assert ask.upstream_task_ids == {"collect"}
    assert issubclass(ask.operator_class, HITLOperator)
    assert ask.partial_kwargs["response_timeout"] == review.RESPONSE_TIMEOUT
    assert ask.partial_kwargs["defaults"] == [review.LEAVE_OPEN]
    # Every choice the forms can offer is explained on the DAG's page.
    for choice in review.EFFECTS:
        assert choice in dag.doc_md.replace("\n  ", " "), choice


def test_parsing_touches_no_database_or_network(tmp_path):
    """Parse the DAG folder in a fresh interpreter where any socket connection fails."""
    script = textwrap.dedent(f"""
        import socket, sys
        def refuse(*args, **kwargs):
            raise AssertionError("network access while parsing DAGs")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        import psycopg
        psycopg.connect = refuse
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(DAGS)!r})
        assert not bag.import_errors, bag.import_errors
        print(sorted(bag.dag_ids))
    """)
    env = {**os.environ,
           "AIRFLOW_CONN_OV_POSTGRES": "postgres://nobody@203.0.113.1:5432/none",
           "AIRFLOW_CONN_AWS_DEFAULT": '{"conn_type": "aws"}'}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'ov_afinia'" in result.stdout and "'ov_aire'" in result.stdout


def test_every_task_of_every_dag_has_an_execution_timeout(dagbag):
    """A regression test: a hung read (a FIFO swapped in) must end; with max_active_runs=1
    it would block every later run."""
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id}"


def test_the_cost_estimate_counts_every_reconcile_run(dagbag):
    from extractorov import costs

    assert scheduler_timetable(dagbag.dags["ov_s3_reconcile"]).summary == "0 4-22 * * *"
    assert costs.RECONCILE_RUNS_PER_DAY == 22 - 4 + 1


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_parsing_imports_neither_boto_nor_psycopg(path):
    """Each takes ~0.5 s to import: a DAG file's modules import them in the task only
    (bench/parsing.py: a DAG file parses in < 100 ms beyond ``import airflow``)."""
    script = textwrap.dedent(f"""
        import importlib.util, sys
        import airflow
        before = set(sys.modules)
        spec = importlib.util.spec_from_file_location("parsed", {str(path)!r})
        module = importlib.util.module_from_spec(spec)
        sys.modules["parsed"] = module
        spec.loader.exec_module(module)
        heavy = sorted(m for m in set(sys.modules) - before
                       if m.split(".")[0] in ("botocore", "boto3", "psycopg"))
        print(heavy)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_every_task_fails_at_once_on_a_handled_error_that_retrying_cannot_fix(dagbag):
    """A handled error is raised as a SystemExit (no traceback in the log); without the
    policy Airflow would retry one that retrying cannot fix (a wrong Variable)."""
    from airflow.sdk import RetryAction

    from extractorov.taskfail import RETRY_POLICY, NotRetried

    for dag in dagbag.dags.values():
        for task in dag.tasks:
            assert task.retry_policy is RETRY_POLICY, (dag.dag_id, task.task_id)
    decision = RETRY_POLICY.evaluate(NotRetried("x"), try_number=1, max_tries=4)
    assert decision.action is RetryAction.FAIL
