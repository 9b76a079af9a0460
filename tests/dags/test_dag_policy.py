"""Policy every DAG of the project follows, checked over all of them (a new DAG included).

Only public APIs: ``DagBag``, ``DAG`` and operator attributes, ``Timetable.summary`` and
``Timetable.serialize()`` (what the scheduler stores), never private attributes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

DAGS = Path(__file__).resolve().parents[2] / "dags"
OWNER = "data-engineering"
ZONE = "America/Bogota"

_BAG = DagBag(dag_folder=DAGS)
DAG_IDS = sorted(_BAG.dag_ids)


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return _BAG


def test_every_dag_file_imports(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert len(DAG_IDS) >= 4  # ov_afinia, ov_aire, ov_s3_reconcile, ov_review_findings


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_owner_tags_and_docs(dagbag: DagBag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert "oficina-virtual" in dag.tags
    assert dag.doc_md and dag.doc_md.strip().startswith("###"), "doc_md: a titled page"
    assert dag.description
    for task in dag.tasks:
        assert task.owner == OWNER, f"{dag_id}.{task.task_id}"


def _scheduled_on(dag) -> list | None:
    """The assets an asset-scheduled DAG waits for; ``None`` for any other schedule."""
    objects = getattr(getattr(dag.timetable, "asset_condition", None), "objects", None)
    return None if objects is None else list(objects)


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_schedule_in_bogota_no_catchup_one_run_at_a_time(dagbag: DagBag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert str(dag.timezone) == ZONE
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    if _scheduled_on(dag) is not None:
        return  # started by an asset event: no clock of its own (checked below)
    stored = dag.timetable.serialize()
    assert stored.get("timezone") == ZONE, "schedules are read in the companies' zone"
    assert dag.timetable.summary.startswith("0 4")  # nothing before the 04:00 scrape


@pytest.mark.parametrize("dag_id", [d for d in DAG_IDS if _scheduled_on(_BAG.dags[d])])
def test_an_asset_scheduled_dag_waits_for_assets_a_project_task_updates(
        dagbag: DagBag, dag_id: str) -> None:
    produced = {(asset.name, asset.uri) for other in dagbag.dags.values() if other.dag_id != dag_id
                for task in other.tasks for asset in task.outlets}
    awaited = _scheduled_on(dagbag.dags[dag_id])
    assert awaited, "an asset schedule names at least one asset"
    for asset in awaited:
        assert (asset.name, asset.uri) in produced, f"{dag_id} waits for {asset}, never updated"


def test_asset_scheduled_dags_exist() -> None:
    assert [d for d in DAG_IDS if _scheduled_on(_BAG.dags[d])] == ["ov_review_findings"]


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_every_task_has_a_time_limit_and_retries(dagbag: DagBag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    for task in dag.tasks:
        where = f"{dag_id}.{task.task_id}"
        assert task.execution_timeout is not None, where
        if task.trigger_rule == "one_failed":
            assert task.retries == 0, f"{where}: a watcher must not retry its own failure"
        else:
            assert task.retries >= 1, where
