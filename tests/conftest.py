"""Shared fixtures: a real PostgreSQL, a moto S3 server over HTTP, an Airflow home.

Nothing here depends on state left on the machine: the warehouse is an
embedded PostgreSQL 16 (``pgserver``) started for the session, S3 is a
``moto.server`` process on a free loopback port, and Airflow's metadata
database is SQLite in a temporary AIRFLOW_HOME. Alerts go to a real SMTP server
(``aiosmtpd``) behind ``AIRFLOW_CONN_SMTP_DEFAULT``. Each test gets a fresh
warehouse database, a fresh bucket and a fresh landing folder, wired in
through ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*`` so the code under test goes
through ``PostgresHook`` and ``S3Hook`` exactly as the DAGs do.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# Airflow reads its configuration when first imported: set it before any test imports it.
# (devtools.services imports only the standard library and extractorov.settings.)
from devtools import services

if TYPE_CHECKING:
    from tests.mail import Inbox, SmtpServer

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="ov-airflow-home-"))
services.isolate_process(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[services.Postgres]:
    data_dir = Path(tempfile.mkdtemp(prefix="ovpg-"))
    server = services.start_postgres(data_dir)
    yield server
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    # pgserver logs again from atexit, after pytest closed the streams.
    logging.getLogger("pgserver").disabled = True


@pytest.fixture(scope="session")
def moto_server() -> Iterator[services.MotoS3]:
    server = services.start_moto()
    yield server
    server.stop()


@pytest.fixture
def warehouse(postgres: services.Postgres, monkeypatch: pytest.MonkeyPatch) -> services.Postgres:
    """A fresh, empty warehouse database behind connection ``ov_postgres``."""
    name = f"ov_test_{os.getpid()}_{next(_counter)}"
    postgres.create_database(name, fresh=True)
    monkeypatch.setenv("AIRFLOW_CONN_OV_POSTGRES", postgres.conn_json(name))
    postgres.current_db = name  # type: ignore[attr-defined]
    return postgres


@pytest.fixture
def db(warehouse: services.Postgres) -> Iterator:
    """A psycopg connection to this test's warehouse database, through PostgresHook."""
    from extractorov import runtime

    with runtime.warehouse_connection() as conn:
        yield conn


@pytest.fixture
def bucket(moto_server: services.MotoS3, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket in the moto server behind connection ``aws_default``."""
    name = f"ov-test-{os.getpid()}-{next(_counter)}"
    moto_server.create_bucket(name)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", moto_server.conn_json())
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_BUCKET", name)
    return name


@pytest.fixture
def s3(bucket: str):
    """The boto3 client of S3Hook (connection aws_default), as upload_s3 builds it."""
    from extractorov import runtime

    return runtime.s3_client()


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A landing root as the bot leaves it: ``{empresa}/oficina_virtual/processed/`` of every
    company (the pipeline never creates them: ``CompanyFolders.require``)."""
    from extractorov.companies import COMPANIES
    from extractorov.landing import company_folders

    root = tmp_path / "landing"
    for empresa in COMPANIES:
        company_folders(root, empresa).processed.mkdir(parents=True)
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_ROOT", str(root))
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_SETTLE_SECONDS", "0")
    return root


@pytest.fixture
def settings(landing: Path, bucket: str):
    from extractorov import runtime

    return runtime.settings_from_variables()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata database (SQLite), migrated once for the session."""
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        check=True, env=os.environ.copy(), stdout=subprocess.DEVNULL,
    )
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    from tests.mail import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Inbox:
    """An empty inbox behind connection ``smtp_default`` (a real SMTP server)."""
    smtp_server.inbox.messages.clear()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.conn_json())
    return smtp_server.inbox
