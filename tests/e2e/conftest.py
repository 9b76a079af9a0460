"""Shared by the dag.test() suites: the project's DAGs, parsed once per module."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dags(airflow_db):
    bag = DagBag(dag_folder=DAGS)
    assert bag.import_errors == {}
    return bag.dags

