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
  take them; scheduled runs are off (``[scheduler] use_job_schedule``), so only
  the tests' runs exist.

Everything is stopped at the end, also on failure, Ctrl-C or SIGTERM (each
process in its own process group: SIGTERM, then SIGKILL after a grace
period; and each dies with pytest). The processes' logs, the task logs and a
``summary.json`` of the outcome stay in ``test-artifacts/system/``.

Session fixture :func:`api_runs` then, through the REST API only, waits for
both DAGs to be parsed, unpauses them, triggers ``ov_afinia`` with
``database_only=false`` and ``ov_aire`` with ``database_only=true`` and waits
for both runs.

Skips (with the reason) only when PostgreSQL or Redis cannot be reached, or
Chromium is missing for the browser tests; with ``CI`` set those are failures
instead, because ``scripts/system-deps.sh`` provides all of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools import services
from devtools.sample import generate_landing
from tests.system.stack import (
    AIRFLOW,
    ARTIFACTS,
    BUCKET,
    DAG_IDS,
    STARTUP_TIMEOUT,
    SUMMARY,
    AirflowStack,
    RunOutcome,
    check_celery_provider,
    check_postgres,
    check_redis,
    clean_redis_queue,
    create_database,
    drop_database,
    drop_stale_databases,
    keep_task_logs,
    sigterm_to_interrupt,
    stack_env,
    start,
    stop_all,
    wait_for_dags,
    wait_http,
    wait_workers_ready,
    write_summary,
)


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "system: starts the distributed Airflow stack as processes (tests/system)")


@pytest.fixture(scope="session")
def airflow_stack() -> Iterator[AirflowStack]:
    check_postgres()
    check_redis()
    check_celery_provider()
    if stale := drop_stale_databases():
        SUMMARY["dropped_stale_databases"] = stale
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    started = time.monotonic()
    suffix = f"{os.getpid()}_{secrets.token_hex(3)}"
    tmp = Path(tempfile.mkdtemp(prefix="ov-system-"))
    home, landing = tmp / "airflow", tmp / "landing"
    queue = f"ov-system-{suffix}"
    metadata_db, warehouse_db = f"ov_sys_meta_{suffix}", f"ov_sys_wh_{suffix}"
    host = socket.gethostname()
    workers = [f"worker1@{host}", f"worker2@{host}"]

    with contextlib.ExitStack() as cleanup:
        # Callbacks run last-registered first: processes stop before their databases go.
        cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
        cleanup.callback(keep_task_logs, home)
        cleanup.callback(write_summary)

        create_database(metadata_db)
        cleanup.callback(drop_database, metadata_db)
        create_database(warehouse_db)
        cleanup.callback(drop_database, warehouse_db)
        cleanup.callback(clean_redis_queue, queue)

        moto = services.start_moto(log_path=ARTIFACTS / "moto.log")
        cleanup.callback(moto.stop)
        moto.create_bucket(BUCKET)

        sample = generate_landing(landing, days=2, requests_per_day=10)
        port = services.free_port()
        env = stack_env(home, landing, port, metadata_db=metadata_db,
                        warehouse_db=warehouse_db, moto=moto, queue=queue)
        stack = AirflowStack(base_url=f"http://127.0.0.1:{port}", home=home, landing=landing,
                             sample=sample, env=env, queue=queue, workers=workers,
                             warehouse_db=warehouse_db, metadata_db=metadata_db, moto=moto)

        t0 = time.monotonic()
        with (ARTIFACTS / "db-migrate.log").open("wb") as out:
            migrate = subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, cwd=tmp,
                                     stdout=out, stderr=subprocess.STDOUT, check=False)
        assert migrate.returncode == 0, (ARTIFACTS / "db-migrate.log").read_text()[-3000:]
        SUMMARY["db_migrate_seconds"] = round(time.monotonic() - t0, 1)

        # A SIGTERM to pytest (a CI time limit) unwinds this ExitStack too.
        previous = signal.signal(signal.SIGTERM, sigterm_to_interrupt)
        cleanup.callback(signal.signal, signal.SIGTERM, previous)
        cleanup.callback(lambda: SUMMARY.__setitem__("exit_codes", stop_all(stack.procs)))

        airflow = str(AIRFLOW)
        stack.procs.append(start("api-server", [airflow, "api-server", "--host", "127.0.0.1",
                                                "--port", str(port), "--workers", "1"],
                                 env, tmp))
        stack.procs.append(start("scheduler", [airflow, "scheduler", "--skip-serve-logs"],
                                 env, tmp))
        stack.procs.append(start("dag-processor", [airflow, "dag-processor"], env, tmp))
        for name in workers:
            # Each worker's task instances report its Celery node name as their hostname.
            worker_env = {**env, "OV_CELERY_HOSTNAME": name,
                          "AIRFLOW__CORE__HOSTNAME_CALLABLE":
                              "tests.system.celery_hostname.hostname"}
            stack.procs.append(start(
                name.split("@")[0],
                [airflow, "celery", "worker", "--celery-hostname", name, "--concurrency", "1",
                 "--queues", queue, "--skip-serve-logs", "--without-mingle", "--without-gossip"],
                worker_env, tmp))

        wait_http(f"{stack.base_url}/api/v2/monitor/health", stack, STARTUP_TIMEOUT)
        wait_workers_ready(stack, STARTUP_TIMEOUT)
        SUMMARY["stack_startup_seconds"] = round(time.monotonic() - started, 1)
        yield stack


@pytest.fixture(scope="session")
def api_runs(airflow_stack: AirflowStack) -> dict[str, RunOutcome]:
    """Through the REST API only: unpause and trigger both DAGs, wait for both runs."""
    api = airflow_stack.api
    SUMMARY["dag_parse_wait_seconds"] = round(wait_for_dags(api, airflow_stack), 1)
    confs = {"ov_afinia": {"database_only": False}, "ov_aire": {"database_only": True}}
    for dag_id in DAG_IDS:
        api.unpause(dag_id)
    triggered = {dag_id: (api.trigger(dag_id, conf), time.monotonic())
                 for dag_id, conf in confs.items()}
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
