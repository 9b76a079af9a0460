"""Shared by the dag.test() suites: the project's DAGs, parsed once per module; a real
SMTP server for the alerts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from tests.mail import Inbox, SmtpServer

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dags(airflow_db):
    bag = DagBag(dag_folder=DAGS)
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Inbox:
    """An empty inbox behind connection ``smtp_default`` (a real SMTP server)."""
    smtp_server.inbox.messages.clear()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.conn_json())
    return smtp_server.inbox
