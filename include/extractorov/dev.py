"""Local stand-ins for the warehouse and S3: ``make demo``, ``make airflow`` and the tests.

* An embedded PostgreSQL 16 (the ``pgserver`` wheel: a real server, unix socket).
* A moto S3 server over HTTP on a free loopback port.

Either is started only when the matching Airflow connection
(``AIRFLOW_CONN_OV_POSTGRES`` / ``AIRFLOW_CONN_AWS_DEFAULT``) is not already
set in the environment, so the same commands run against real services.

Usage::

    python -m extractorov.dev demo      # sample data → ov_afinia, ov_aire via `airflow dags test`
    python -m extractorov.dev airflow   # the same services + `airflow standalone` (UI on :8080)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
DEV_DIR = PROJECT / ".dev"
WAREHOUSE_DB = "extractorov"
BUCKET = "extractorov-data"
UI_USER, UI_PASSWORD = "admin", "admin"


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


def print_report(dsn_env: dict[str, str]) -> None:
    """Print the last run of each company and the registry stats from the warehouse."""
    os.environ.update(dsn_env)
    from extractorov import runtime, stats
    from extractorov.companies import COMPANIES

    with runtime.warehouse_connection() as conn:
        print("\n=== last run per company (data_general.post_processing_runs) ===")
        for company in COMPANIES.values():
            for run in stats.recent_runs(conn, company.empresa, limit=1):
                print(f"{company.dag_id}: status={run['status']} database_only="
                      f"{run['database_only']} files_new={run['files_new']} "
                      f"quarantined={run['files_quarantined']} inserted={run['db_inserted']} "
                      f"updated={run['db_updated']} duplicates={run['db_duplicates']} "
                      f"s3_uploaded={run['s3_uploaded']} pre_existing={run['s3_pre_existing']} "
                      f"s3_errors={run['s3_errors']} bytes={run['s3_bytes']}")
        print()
        print(stats.format_registry_stats(stats.get_s3_registry_stats(conn)))


def _deliver(scraped: Path, landing: Path, days: set[date]) -> int:
    """Copy the scraper's files of the given days into the landing folder (as the bot would)."""
    from extractorov.landing import parse_file_name

    copied = 0
    for source in sorted(scraped.glob("*/oficina_virtual/processed/*")):
        name = parse_file_name(source.name)
        if name is None or name.timestamp is None or name.timestamp.date() not in days:
            continue
        target = landing / source.relative_to(scraped)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied += 1
    return copied


def _plant_bad_files(landing: Path) -> None:
    """What a real landing folder also holds: a truncated JSON and a PDF with no JSON."""
    for empresa in ("afinia", "aire"):
        processed = landing / empresa / "oficina_virtual" / "processed"
        (processed / "RE0000000000001_data_20251007_235959.json").write_text(
            '{"numero_radicado": "2025', encoding="utf-8")
        (processed / "99999999_20251007_235959.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
        for path in processed.glob("*_20251007_235959.*"):
            os.utime(path, (1_759_900_000, 1_759_900_000))


def _run_dags(state: Path, env: dict[str, str], step: str, database_only: bool) -> int:
    for dag_id in ("ov_afinia", "ov_aire"):
        log_file = state / f"{step}-{dag_id}.log"
        with log_file.open("w") as out:
            result = subprocess.run(
                [str(Path(sys.executable).with_name("airflow")), "dags", "test", dag_id,
                 "-c", json.dumps({"database_only": database_only})],
                env=env, stdout=out, stderr=subprocess.STDOUT, check=False,
            )
        print(f"airflow dags test {dag_id} -c '{{\"database_only\": "
              f"{str(database_only).lower()}}}': exit code {result.returncode} (log: {log_file})",
              flush=True)
        if result.returncode != 0:
            print(log_file.read_text()[-4000:])
            return result.returncode
    return 0


def demo(argv: argparse.Namespace) -> int:
    """Two mornings: day 1 with S3 off (database_only), then the next days with S3 on."""
    from extractorov.sample import generate_landing

    state = DEV_DIR / "demo"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    scraped, landing = state / "scraper-output", state / "landing"
    start = date(2025, 10, 7)
    summary = generate_landing(scraped, days=argv.days, requests_per_day=argv.requests_per_day,
                               start=start)
    print(f"sample scraper output: {summary.requests} requests, {summary.json_files} JSON, "
          f"{summary.pdf_files} PDF, {summary.attachments} attachments over {argv.days} days "
          f"({summary.rescraped_same} identical and {summary.rescraped_changed} changed "
          "re-scrapes)")
    with services(state) as stack:
        env = airflow_env(state / "airflow", landing, stack.env)
        airflow(["db", "migrate"], env, stdout=subprocess.DEVNULL)

        files = _deliver(scraped, landing, {start})
        _plant_bad_files(landing)
        print(f"\n=== morning 1: {files} files of {start} + 2 bad files per company; "
              "database_only=true (S3 off) ===", flush=True)
        if code := _run_dags(state, env, "1", database_only=True):
            return code
        print_report(stack.env)

        later = {start + timedelta(days=d) for d in range(1, argv.days)}
        files = _deliver(scraped, landing, later)
        print(f"\n=== morning 2: {files} files of the next {len(later)} days; database_only=false "
              "(uploads today's files and morning 1's backlog) ===", flush=True)
        if code := _run_dags(state, env, "2", database_only=False):
            return code
        print_report(stack.env)
        if stack.moto:
            client = stack.moto.client()
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            count = sum(page.get("KeyCount", 0) for page in pages)
            print(f"\nobjects in s3://{BUCKET}: {count}")
        quarantined = sorted(p.name for p in landing.glob("*/oficina_virtual/quarantine/*.txt"))
        print(f"quarantine reason files: {len(quarantined)} (e.g. "
              f"{landing / 'afinia/oficina_virtual/quarantine' / quarantined[0]})")
    return 0


def standalone(argv: argparse.Namespace) -> int:
    from extractorov.sample import generate_landing

    state = DEV_DIR / "airflow"
    landing = state / "landing"
    if not landing.exists():
        generate_landing(landing, days=argv.days, requests_per_day=argv.requests_per_day)
    with services(state) as stack:
        env = airflow_env(state / "home", landing, stack.env)
        env.setdefault("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "False")
        env.setdefault("AIRFLOW__API__PORT", str(argv.port))
        airflow(["db", "migrate"], env, stdout=subprocess.DEVNULL)
        print(f"\nAirflow UI: http://localhost:{argv.port}  user {UI_USER} / password "
              f"{UI_PASSWORD}  (Ctrl-C stops Airflow and the embedded services)\n", flush=True)
        process = subprocess.Popen([str(Path(sys.executable).with_name("airflow")),
                                    "standalone"], env=env)
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            return process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m extractorov.dev", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in (("demo", demo), ("airflow", standalone)):
        cmd = sub.add_parser(name)
        cmd.add_argument("--days", type=int, default=3)
        cmd.add_argument("--requests-per-day", type=int, default=40)
        cmd.add_argument("--port", type=int, default=8080)
        cmd.set_defaults(func=func)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
