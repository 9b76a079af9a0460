"""The distributed Airflow stack of the system tests: processes, services, REST API.

Used by ``conftest.py`` (fixtures ``airflow_stack`` and ``api_runs``) and by the
tests, always imported as ``tests.system.stack`` so every module shares one
:data:`SUMMARY`. See conftest.py for what the stack is made of.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools import services
from devtools.sample import SampleSummary
from tests import compose_config

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "system"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AIRFLOW = Path(sys.executable).with_name("airflow")

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = int(os.environ.get("OV_SYSTEM_REDIS_DB", "5"))
CHROMIUM = Path(os.environ.get("OV_SYSTEM_CHROMIUM", "/usr/bin/chromium"))
BUCKET = services.BUCKET
USER, PASSWORD = services.UI_USER, services.UI_PASSWORD
DAG_IDS = ("ov_afinia", "ov_aire")

STARTUP_TIMEOUT = 180.0
PARSE_TIMEOUT = 180.0
RUN_TIMEOUT = 420.0
STOP_GRACE = 20.0

SUMMARY: dict[str, Any] = {}
"""Outcome numbers the tests record; written to summary.json and printed at the end."""


def unavailable(reason: str) -> None:
    """Skip, or fail under CI where scripts/system-deps.sh must have provided it."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: scripts/system-deps.sh should have provided it)")
    pytest.skip(reason)


# ----------------------------------------------------------------------------- processes


def _die_with_parent() -> None:
    """In the child: own process group, and SIGTERM if pytest itself dies (Linux)."""
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)


def start(name: str, args: list[str], env: dict[str, str], cwd: Path,
          log_dir: Path = ARTIFACTS) -> Proc:
    log_path = log_dir / f"{name}.log"
    out = log_path.open("ab")
    popen = subprocess.Popen(  # preexec_fn: own process group + parent-death signal
        args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    out.close()
    return Proc(name, popen, log_path)


def stop_all(procs: list[Proc]) -> dict[str, int | None]:
    """SIGTERM every group, wait up to STOP_GRACE, SIGKILL what is left; exit codes."""
    for proc in procs:
        proc.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
    for proc in procs:
        proc.signal_group(signal.SIGKILL)  # the group: also children the leader left behind
        if proc.alive():
            proc.popen.wait(timeout=10)
    return {proc.name: proc.popen.returncode for proc in procs}


# ----------------------------------------------------------------------------- services


def check_celery_provider() -> None:
    """Fail early, and say why, when the installed celery breaks Airflow's Celery provider."""
    import importlib

    try:
        importlib.import_module("airflow.providers.celery.executors.celery_executor_utils")
    except ImportError as exc:
        from importlib.metadata import version

        pytest.fail(
            f"Airflow's Celery provider ({version('apache-airflow-providers-celery')}) cannot "
            f"import with the installed celery ({version('celery')}): {exc}. The workers would "
            "crash at start. Re-lock within Airflow's constraints (make lock), which pin a "
            "celery release tested with the provider (celery<5.7 for provider 3.26.0).",
            pytrace=False)


def pg_dsn(dbname: str = "postgres") -> str:
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={dbname} connect_timeout=5"


def check_postgres() -> None:
    import psycopg

    try:
        with psycopg.connect(pg_dsn(), autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        unavailable(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} as user {PG_USER} "
                    f"({str(exc).strip().splitlines()[0]}); start it: scripts/system-deps.sh")


def check_redis() -> None:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        unavailable(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT} ({exc}); "
                    "start it: scripts/system-deps.sh")
    if not answer.startswith(b"+PONG"):
        unavailable(f"Redis at {REDIS_HOST}:{REDIS_PORT} answered {answer!r} to PING")


def create_database(name: str) -> None:
    import psycopg

    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_stale_databases() -> list[str]:
    """Drop databases left by an earlier session that was killed (its pytest pid is gone)."""
    import psycopg

    dropped = []
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname ~ '^ov_sys_(meta|wh)_[0-9]+_'")]
        for name in names:
            pid = int(name.split("_")[3])
            if pid == os.getpid() or _pid_alive(pid):
                continue
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            dropped.append(name)
    return dropped


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_redis_queue(queue: str) -> None:
    """Remove this session's queue keys (other keys and databases are left alone)."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"*{queue}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# ----------------------------------------------------------------------------- REST API


class AirflowApi:
    """The Airflow REST API (v2) with a SimpleAuthManager token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(base_url=self.base_url, timeout=30.0)
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            response = self.client.post("/auth/token",
                                        json={"username": USER, "password": PASSWORD})
            assert response.status_code in (200, 201), response.text
            self._token = response.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        response = self.client.request(method, path, headers=headers, **kwargs)
        if response.status_code == 401:  # expired: get a new token once
            self._token = None
            headers["Authorization"] = f"Bearer {self.token()}"
            response = self.client.request(method, path, headers=headers, **kwargs)
        return response

    def get(self, path: str, **params: Any) -> Any:
        response = self.request("GET", path, params=params or None)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        response = self.request("GET", f"/api/v2/dags/{dag_id}")
        return response.json() if response.status_code == 200 else None

    def import_errors(self) -> list[dict[str, Any]]:
        return self.get("/api/v2/importErrors")["import_errors"]

    def unpause(self, dag_id: str, *, paused: bool = False) -> None:
        response = self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})
        assert response.status_code == 200, response.text
        assert response.json()["is_paused"] is paused

    def pause(self, dag_id: str) -> None:
        self.unpause(dag_id, paused=True)

    def trigger(self, dag_id: str, conf: dict[str, Any],
                logical_date: datetime | None = None) -> dict[str, Any]:
        body = {"logical_date": (logical_date or datetime.now(UTC)).isoformat(), "conf": conf,
                "note": "triggered by tests/system through the REST API"}
        response = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        assert response.status_code == 200, f"trigger {dag_id}: {response.text}"
        return response.json()

    def trigger_in_place_of_next_run(self, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
        """Trigger a (paused) cron DAG at the logical date of its next scheduled run when that
        run is due already: once unpaused, the scheduler finds a run of that date, creates
        none and moves on to the next, future one. The scheduler runs as in production
        (use_job_schedule on) and the tests' runs stay the only ones."""
        dag = self.dag(dag_id) or {}
        due, when = dag.get("next_dagrun_run_after"), dag.get("next_dagrun_logical_date")
        now = datetime.now(UTC)
        if due and when and datetime.fromisoformat(due.replace("Z", "+00:00")) <= now:
            return self.trigger(dag_id, conf, datetime.fromisoformat(when.replace("Z",
                                                                                  "+00:00")))
        return self.trigger(dag_id, conf)

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", order_by="-run_after",
                        limit=100)["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                        limit=100)["task_instances"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = RUN_TIMEOUT,
                 on_wait: Callable[[], None] | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in ("success", "failed"):
                return run
            states = {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}
            # The DAGs retry failed tasks after minutes: fail now, with the states.
            broken = {t: s for t, s in states.items() if s in ("up_for_retry", "failed")}
            if broken:
                raise AssertionError(f"{dag_id} run {run_id}: {broken} (all: {states}); task "
                                     f"logs are kept in {ARTIFACTS / 'airflow-logs'}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{dag_id} run {run_id} still {run['state']} after "
                                     f"{timeout:.0f}s; task states {states}")
            if on_wait:
                on_wait()
            time.sleep(2)


# ----------------------------------------------------------------------------- the stack


@dataclass
class AirflowStack:
    base_url: str
    home: Path
    landing: Path
    sample: SampleSummary
    env: dict[str, str]
    queue: str
    workers: list[str]
    warehouse_db: str
    metadata_db: str
    moto: services.MotoS3
    procs: list[Proc] = field(default_factory=list)
    artifacts: Path = ARTIFACTS
    api: AirflowApi = field(init=False)

    def __post_init__(self) -> None:
        self.api = AirflowApi(self.base_url)

    def warehouse(self):
        import psycopg

        return psycopg.connect(pg_dsn(self.warehouse_db))

    def s3(self):
        return self.moto.client()

    def check_alive(self) -> None:
        dead = [p for p in self.procs if not p.alive()]
        if dead:
            details = "\n\n".join(f"--- {p.name} exited with {p.popen.returncode}; log tail:\n"
                                  f"{p.tail()}" for p in dead)
            raise AssertionError(f"Airflow components died:\n{details}")


PROCESS_ONLY: tuple[str, ...] = (
    "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW__OPERATORS__DEFAULT_QUEUE", "AIRFLOW__API__BASE_URL", "AIRFLOW__API__HOST",
    "AIRFLOW__API__PORT", "AIRFLOW__API__WORKERS", "AIRFLOW_VAR_OV_LANDING_SETTLE_SECONDS",
    "AIRFLOW_VAR_OV_S3_UPLOAD_WORKERS", "PYTHONPATH",
)
"""What the process stack adds to the compose configuration (never a compose key)."""


def stack_env(home: Path, landing: Path, port: int, *, metadata_db: str, warehouse_db: str,
              moto: services.MotoS3, queue: str, s3_endpoint: str | None = None,
              ) -> dict[str, str]:
    """The compose file's Airflow configuration (tests/compose_config.py), host names and
    paths mapped to this machine, plus what only a process stack needs."""
    base_url = f"http://127.0.0.1:{port}"
    shipped, _ = compose_config.process_environment(
        home=home, landing=landing, api_url=base_url,
        metadata_dsn=f"{PG_USER}@{PG_HOST}:{PG_PORT}/{metadata_db}",
        broker_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        warehouse={"conn_type": "postgres", "host": PG_HOST, "port": PG_PORT,
                   "login": PG_USER, "schema": warehouse_db},
        s3=_s3_connection(moto, s3_endpoint))
    process_only = {
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,  # one queue per stack: stacks never mix
        "AIRFLOW__API__BASE_URL": f"{base_url}/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        # The scheduler works as shipped (use_job_schedule on): cron and Asset-triggered
        # runs. The tests trigger a cron DAG's runs in place of its next scheduled run
        # (AirflowApi.trigger_in_place_of_next_run), so unpausing it adds none.
        "AIRFLOW_VAR_OV_LANDING_SETTLE_SECONDS": "0",
        "AIRFLOW_VAR_OV_S3_UPLOAD_WORKERS": "4",
        # The checkout, for the workers' test-only hostname callable
        # (tests.system.celery_hostname); not include/: `extractorov` comes from the
        # virtualenv's installation, as in the image (docker-compose.yaml sets no PYTHONPATH).
        "PYTHONPATH": str(ROOT),
    }
    assert set(process_only) == set(PROCESS_ONLY)
    assert not set(process_only) & set(shipped), "the process stack overrides compose"
    ours = {**shipped, **process_only}
    # Nothing from the calling environment's Airflow settings (the unit-test conftest sets
    # UNIT_TEST_MODE, a developer's shell may set more) leaks into the stack.
    inherited = [k for k in os.environ
                 if k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and k not in ours]
    env = services.airflow_env(home, landing, ours)  # also writes the SimpleAuthManager passwords
    for key in inherited:
        env.pop(key, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _s3_connection(moto: services.MotoS3, endpoint: str | None) -> dict[str, Any]:
    connection = json.loads(moto.conn_json())
    if endpoint:
        connection["extra"]["endpoint_url"] = endpoint
    return connection


def wait_http(url: str, stack: AirflowStack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(1)
    raise AssertionError(f"{url} did not answer 200 within {timeout:.0f}s (last: {last})")


def sigterm_to_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def keep_task_logs(home: Path, log_dir: Path = ARTIFACTS) -> None:
    logs = home / "logs"
    if logs.is_dir():
        shutil.copytree(logs, log_dir / "airflow-logs", dirs_exist_ok=True)


def write_summary(log_dir: Path = ARTIFACTS) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "summary.json").write_text(json.dumps(SUMMARY, indent=2, default=str) + "\n")


def wait_workers_ready(stack: AirflowStack, timeout: float) -> None:
    """Both Celery workers consume the queue (else one could take every task)."""
    deadline = time.monotonic() + timeout
    names = {name: stack.artifacts / f"{name.split('@')[0]}.log" for name in stack.workers}
    while names:
        stack.check_alive()
        for name, log_path in list(names.items()):
            with contextlib.suppress(OSError):
                if f"{name} ready." in log_path.read_text(errors="replace"):
                    del names[name]
        if names and time.monotonic() > deadline:
            raise AssertionError(f"Celery workers not ready within {timeout:.0f}s: "
                                 f"{sorted(names)} (see their logs in {stack.artifacts})")
        if names:
            time.sleep(0.5)


# ----------------------------------------------------------------------------- the runs


@dataclass
class RunOutcome:
    dag_id: str
    conf: dict[str, Any]
    run: dict[str, Any]
    task_instances: list[dict[str, Any]]
    wall_seconds: float

    @property
    def states(self) -> dict[str, str]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances}


def wait_for_dags(api: AirflowApi, stack: AirflowStack) -> float:
    started = time.monotonic()
    deadline = started + PARSE_TIMEOUT
    while True:
        stack.check_alive()
        if all(api.dag(dag_id) for dag_id in DAG_IDS):
            return time.monotonic() - started
        errors = api.import_errors()
        assert not errors, f"DAG import errors: {errors}"
        assert time.monotonic() < deadline, f"{DAG_IDS} not parsed within {PARSE_TIMEOUT:.0f}s"
        time.sleep(2)




@contextlib.contextmanager
def running_stack(make_sample: Callable[[Path], SampleSummary], *,
                  artifacts: Path = ARTIFACTS, upload_workers: int | None = None,
                  s3_endpoint: Callable[[services.MotoS3], str] | None = None,
                  ) -> Iterator[AirflowStack]:
    """Start the whole stack (see conftest.py) and stop it on exit, also on failure.

    ``make_sample(landing)`` fills the landing folder; ``upload_workers`` sets
    ``ov_s3_upload_workers`` (else the process stack's 4); ``s3_endpoint(moto)``
    gives the endpoint the ``aws_default`` connection uses (else moto's own: the
    benchmark puts its latency proxy in front of it).
    """
    check_postgres()
    check_redis()
    check_celery_provider()
    if stale := drop_stale_databases():
        SUMMARY["dropped_stale_databases"] = stale
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
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
        cleanup.callback(keep_task_logs, home, artifacts)
        cleanup.callback(write_summary, artifacts)

        create_database(metadata_db)
        cleanup.callback(drop_database, metadata_db)
        create_database(warehouse_db)
        cleanup.callback(drop_database, warehouse_db)
        cleanup.callback(clean_redis_queue, queue)

        moto = services.start_moto(log_path=artifacts / "moto.log")
        cleanup.callback(moto.stop)
        moto.create_bucket(BUCKET)

        sample = make_sample(landing)
        port = services.free_port()
        env = stack_env(home, landing, port, metadata_db=metadata_db,
                        warehouse_db=warehouse_db, moto=moto, queue=queue,
                        s3_endpoint=s3_endpoint(moto) if s3_endpoint else None)
        if upload_workers is not None:
            env["AIRFLOW_VAR_OV_S3_UPLOAD_WORKERS"] = str(upload_workers)
        stack = AirflowStack(base_url=f"http://127.0.0.1:{port}", home=home, landing=landing,
                             sample=sample, env=env, queue=queue, workers=workers,
                             warehouse_db=warehouse_db, metadata_db=metadata_db, moto=moto,
                             artifacts=artifacts)

        t0 = time.monotonic()
        with (artifacts / "db-migrate.log").open("wb") as out:
            migrate = subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, cwd=tmp,
                                     stdout=out, stderr=subprocess.STDOUT, check=False)
            if migrate.returncode == 0:  # then the warehouse schema, as airflow-init does
                migrate = subprocess.run([sys.executable, "-m", "extractorov.migrate"],
                                         env=env, cwd=tmp, stdout=out,
                                         stderr=subprocess.STDOUT, check=False)
            if migrate.returncode == 0:  # then the pools, as airflow-init does
                pools = home / "pools.json"
                subprocess.run([sys.executable, "-m", "extractorov.pools", str(pools)],
                               env=env, check=True)
                migrate = subprocess.run([str(AIRFLOW), "pools", "import", str(pools)],
                                         env=env, cwd=tmp, stdout=out,
                                         stderr=subprocess.STDOUT, check=False)
        assert migrate.returncode == 0, (artifacts / "db-migrate.log").read_text()[-3000:]
        SUMMARY["db_migrate_seconds"] = round(time.monotonic() - t0, 1)

        # A SIGTERM (a CI time limit) unwinds this ExitStack too.
        previous = signal.signal(signal.SIGTERM, sigterm_to_interrupt)
        cleanup.callback(signal.signal, signal.SIGTERM, previous)
        cleanup.callback(lambda: SUMMARY.__setitem__("exit_codes", stop_all(stack.procs)))

        airflow = str(AIRFLOW)
        stack.procs.append(start("api-server", [airflow, "api-server", "--host", "127.0.0.1",
                                                "--port", str(port), "--workers", "1"],
                                 env, tmp, artifacts))
        stack.procs.append(start("scheduler", [airflow, "scheduler", "--skip-serve-logs"],
                                 env, tmp, artifacts))
        stack.procs.append(start("dag-processor", [airflow, "dag-processor"], env, tmp,
                                 artifacts))
        for name in workers:
            # Each worker's task instances report its Celery node name as their hostname.
            worker_env = {**env, "OV_CELERY_HOSTNAME": name,
                          "AIRFLOW__CORE__HOSTNAME_CALLABLE":
                              "tests.system.celery_hostname.hostname"}
            stack.procs.append(start(
                name.split("@")[0],
                [airflow, "celery", "worker", "--celery-hostname", name, "--concurrency", "1",
                 "--queues", queue, "--skip-serve-logs", "--without-mingle", "--without-gossip"],
                worker_env, tmp, artifacts))

        wait_http(f"{stack.base_url}/api/v2/monitor/health", stack, STARTUP_TIMEOUT)
        wait_workers_ready(stack, STARTUP_TIMEOUT)
        SUMMARY["stack_startup_seconds"] = round(time.monotonic() - started, 1)
        yield stack
