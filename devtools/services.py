"""Local stand-ins for the warehouse and S3, for ``make demo``, ``make airflow``, the
tests and the benchmarks (development only: never shipped to a worker).

* An embedded PostgreSQL 16 (the ``pgserver`` wheel: a real server, unix socket).
* A moto S3 server over HTTP on a free loopback port.

Either is started only when the matching Airflow connection
(``AIRFLOW_CONN_OV_POSTGRES`` / ``AIRFLOW_CONN_AWS_DEFAULT``) is not already
set in the environment, so the same commands run against real services.

The commands that use them: ``python -m devtools`` (:mod:`devtools.demo`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extractorov.settings import DEFAULT_BUCKET

PROJECT = Path(__file__).resolve().parents[1]
DEV_DIR = PROJECT / ".dev"
"""Local state of ``make demo`` / ``make airflow``; ``OV_DEV_DIR`` moves it (tests do)."""
WAREHOUSE_DB = "extractorov"
BUCKET = DEFAULT_BUCKET
UI_USER, UI_PASSWORD = "admin", "admin"


def dev_dir() -> Path:
    return Path(os.environ.get("OV_DEV_DIR") or DEV_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Postgres:
    """An embedded PostgreSQL server reachable through a unix socket directory."""

    server: Any
    socket_dir: str

    def conn_json(self, database: str = WAREHOUSE_DB) -> str:
        return json.dumps({"conn_type": "postgres", "host": self.socket_dir, "login": "postgres",
                           "schema": database, "port": 5432})

    def dsn(self, database: str = WAREHOUSE_DB) -> str:
        return f"host={self.socket_dir} port=5432 user=postgres dbname={database}"

    def create_database(self, name: str, *, fresh: bool = False) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            if fresh:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        self.server.cleanup()


def start_postgres(data_dir: Path) -> Postgres:
    """Start (or reuse) an embedded PostgreSQL whose files live in ``data_dir``."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    uri = server.get_uri()
    return Postgres(server=server, socket_dir=uri.split("host=", 1)[1].split("&")[0])


@dataclass
class MotoS3:
    """A moto server process speaking the S3 API on a loopback port."""

    process: subprocess.Popen
    port: int
    log_path: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def conn_json(self, **config: Any) -> str:
        config_kwargs = {"retries": {"mode": "standard", "max_attempts": 5},
                         "max_pool_connections": 32, **config}
        return json.dumps({
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": self.endpoint, "region_name": "us-east-1",
                      "config_kwargs": config_kwargs},
        })

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing",
                            aws_secret_access_key="testing")  # noqa: S106 - moto's fake key

    def create_bucket(self, name: str = BUCKET) -> None:
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_moto(port: int | None = None, *, env: dict[str, str] | None = None,
               log_path: Path | None = None) -> MotoS3:
    """Start ``moto.server`` as a child process and wait until it answers."""
    port = port or free_port()
    out = log_path.open("ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        start_new_session=True,  # a Ctrl-C meant for `make airflow` must not kill it first
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with code {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return MotoS3(process=process, port=port, log_path=log_path)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"moto server did not answer on port {port} within 30s")


@dataclass
class LocalStack:
    """What ``services()`` started, and the environment Airflow needs to use it."""

    env: dict[str, str] = field(default_factory=dict)
    postgres: Postgres | None = None
    moto: MotoS3 | None = None


@contextmanager
def services(state_dir: Path, *, fresh: bool = True) -> Iterator[LocalStack]:
    """Start what is not configured; stop everything on exit (even on error)."""
    stack = LocalStack()
    with ExitStack() as cleanup:
        if not os.environ.get("AIRFLOW_CONN_OV_POSTGRES"):
            if fresh:
                shutil.rmtree(state_dir / "pgdata", ignore_errors=True)
            # Unix socket paths are limited to ~100 characters: keep the data dir short.
            pgdata = Path(tempfile.mkdtemp(prefix="ovpg-"))
            stack.postgres = start_postgres(pgdata)
            cleanup.callback(shutil.rmtree, pgdata, ignore_errors=True)
            cleanup.callback(stack.postgres.stop)
            stack.postgres.create_database(WAREHOUSE_DB, fresh=fresh)
            stack.env["AIRFLOW_CONN_OV_POSTGRES"] = stack.postgres.conn_json()
            print(f"embedded PostgreSQL: socket {stack.postgres.socket_dir}, db {WAREHOUSE_DB}")
        if not os.environ.get("AIRFLOW_CONN_AWS_DEFAULT"):
            stack.moto = start_moto(log_path=state_dir / "moto.log")
            cleanup.callback(stack.moto.stop)
            bucket = os.environ.get("AIRFLOW_VAR_OV_S3_BUCKET", BUCKET)
            stack.moto.create_bucket(bucket)
            stack.env["AIRFLOW_CONN_AWS_DEFAULT"] = stack.moto.conn_json()
            print(f"moto S3 server: {stack.moto.endpoint}, bucket {bucket}")
        yield stack


AMBIENT_AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                         "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION")


def project_airflow_settings(home: Path) -> dict[str, str]:
    """Airflow pointed at this project's dags/ and plugins/, with its home in ``home``."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def isolate_process(home: Path) -> None:
    """For tests and benchmarks: this project's Airflow, and no AWS credentials from the
    machine (files, variables, instance metadata), so only the connections count."""
    os.environ.update({
        **project_airflow_settings(home),
        "XDG_RUNTIME_DIR": str(home),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
    })
    for name in AMBIENT_AWS_VARIABLES:
        os.environ.pop(name, None)


def airflow_env(home: Path, landing_root: Path, extra: dict[str, str]) -> dict[str, str]:
    """Environment for Airflow commands run against this project."""
    env = dict(os.environ)
    env.update({
        **project_airflow_settings(home),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{UI_USER}:admin",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT / "include"),
                                                    env.get("PYTHONPATH")])),
        # `airflow standalone` starts its components as `airflow …` from PATH.
        "PATH": os.pathsep.join(filter(None, [str(Path(sys.executable).parent),
                                              env.get("PATH")])),
    })
    env.setdefault("AIRFLOW_VAR_OV_LANDING_ROOT", str(landing_root))
    env.update(extra)
    home.mkdir(parents=True, exist_ok=True)
    (home / "passwords.json").write_text(json.dumps({UI_USER: UI_PASSWORD}))
    return env


def airflow(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("airflow")
    return subprocess.run([str(exe), *args], env=env, check=True, **kwargs)


def init_airflow(env: dict[str, str], **kwargs: Any) -> None:
    """What the compose file's ``airflow-init`` does: migrate the metadata database, then
    the warehouse schema (``extractorov.migrate``, connection ``ov_postgres``), and create
    the pools the DAGs need (``extractorov.pools``)."""
    airflow(["db", "migrate"], env, **kwargs)
    subprocess.run([sys.executable, "-m", "extractorov.migrate"], env=env, check=True,
                   **kwargs)
    pools = Path(env["AIRFLOW_HOME"]) / "pools.json"
    pools.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "extractorov.pools", str(pools)], env=env,
                   check=True)
    airflow(["pools", "import", str(pools)], env, **kwargs)
