"""A distributed Airflow stack as real processes on this machine, for the system tests.

Session fixture :func:`airflow_stack` starts, in a temporary ``AIRFLOW_HOME``:

* Airflow's metadata database: a fresh database on the machine's PostgreSQL
  (127.0.0.1:5432, user ``postgres``, trust auth), dropped at the end;
* the data warehouse (connection ``ov_postgres``): another fresh database there;
* a moto S3 server (connection ``aws_default``) with the bucket created, and a
  landing folder filled by ``devtools.sample.generate_landing``;
* ``airflow api-server`` (free port), ``scheduler``, ``dag-processor`` and two
  ``airflow celery worker`` processes (``worker1@host``, ``worker2@host``) on
  CeleryExecutor, with Redis (127.0.0.1:6379, db ``OV_SYSTEM_REDIS_DB``,
  default 5) as broker and the metadata database as result backend. Tasks go
  to a queue named for this session, so another run on the same Redis cannot
  take them. The scheduler works as shipped (``[scheduler] use_job_schedule`` on:
  cron and Asset-triggered runs); the cron DAGs start paused and
  ``ov_review_findings`` unpaused, and a test triggers a cron DAG in place of its
  due scheduled run before unpausing it, so its runs are the only ones.

Everything is stopped at the end, also on failure, Ctrl-C or SIGTERM (each
process in its own process group: SIGTERM, then SIGKILL after a grace
period; and each dies with pytest). The processes' logs, the task logs and a
``summary.json`` of the outcome stay in ``test-artifacts/system/``.

Session fixture :func:`api_runs` then, through the REST API only, waits for
both DAGs to be parsed, triggers ``ov_afinia`` with ``database_only=false`` and
``ov_aire`` with ``database_only=true`` (in place of their due scheduled runs),
unpauses them and waits for both runs.

Skips (with the reason) only when PostgreSQL or Redis cannot be reached, or
Chromium is missing for the browser tests; with ``CI`` set those are failures
instead, because ``scripts/system-deps.sh`` provides all of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.sample import generate_landing
from tests.system.stack import (
    ARTIFACTS,
    DAG_IDS,
    SUMMARY,
    AirflowStack,
    RunOutcome,
    running_stack,
    wait_for_dags,
)


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "system: starts the distributed Airflow stack as processes (tests/system)")


@pytest.fixture(scope="session")
def airflow_stack() -> Iterator[AirflowStack]:
    with running_stack(lambda landing: generate_landing(landing, days=2,
                                                        requests_per_day=10)) as stack:
        yield stack


@pytest.fixture(scope="session")
def api_runs(airflow_stack: AirflowStack) -> dict[str, RunOutcome]:
    """Through the REST API only: trigger and unpause both DAGs, wait for both runs."""
    api = airflow_stack.api
    SUMMARY["dag_parse_wait_seconds"] = round(wait_for_dags(api, airflow_stack), 1)
    confs = {"ov_afinia": {"database_only": False}, "ov_aire": {"database_only": True}}
    triggered = {dag_id: (api.trigger_in_place_of_next_run(dag_id, conf), time.monotonic())
                 for dag_id, conf in confs.items()}
    for dag_id in DAG_IDS:
        api.unpause(dag_id)
    outcomes: dict[str, RunOutcome] = {}
    for dag_id, (run, t0) in triggered.items():
        finished = api.wait_run(dag_id, run["dag_run_id"], on_wait=airflow_stack.check_alive)
        outcomes[dag_id] = RunOutcome(
            dag_id=dag_id, conf=confs[dag_id], run=finished,
            task_instances=api.task_instances(dag_id, run["dag_run_id"]),
            wall_seconds=round(time.monotonic() - t0, 1))
    SUMMARY["api_runs"] = {
        dag_id: {"run_id": o.run["dag_run_id"], "state": o.run["state"], "conf": o.conf,
                 "duration_seconds": o.run.get("duration"),
                 "trigger_to_done_seconds": o.wall_seconds, "task_states": o.states,
                 "hostnames": {ti["task_id"]: ti["hostname"] for ti in o.task_instances}}
        for dag_id, o in outcomes.items()}
    return outcomes


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not SUMMARY:
        return
    terminalreporter.section("tests/system outcome")
    for key, value in SUMMARY.items():
        terminalreporter.write_line(f"{key}: {json.dumps(value, default=str)}")
    terminalreporter.write_line(f"(also in {ARTIFACTS / 'summary.json'}; process logs in "
                                f"{ARTIFACTS})")
