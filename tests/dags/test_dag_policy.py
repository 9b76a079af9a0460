"""Policy every DAG of the project follows, checked over all of them (a new DAG included).

Only public APIs: ``DagBag``, ``DAG`` and operator attributes, ``Timetable.summary`` and
``Timetable.serialize()`` (what the scheduler stores), never private attributes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.timetables.base import TimeRestriction

from extractorov.alerts import RunFailureNotifier, morning_logical_date
from extractorov.companies import COMPANIES
from tests.helpers import scheduler_timetable

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


MANUAL_ONLY = {"ov_s3_check", "ov_remove_request"}
"""DAGs an operator triggers by hand (``schedule=None``): listed here so a DAG cannot lose
its schedule by accident."""


def _scheduled_on(dag) -> list | None:
    """The assets an asset-scheduled DAG waits for; ``None`` for any other schedule."""
    objects = getattr(getattr(dag.timetable, "asset_condition", None), "objects", None)
    return None if objects is None else list(objects)


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_schedule_in_bogota_no_catchup_one_run_at_a_time(dagbag: DagBag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert str(dag.timezone) == ZONE, "start dates and logical dates in the companies' zone"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    if dag_id in MANUAL_ONLY:
        assert dag.schedule is None, f"{dag_id} is manual only"
        assert dag.timetable.can_be_scheduled is False
        return
    if _scheduled_on(dag) is not None:
        return  # started by an asset event: no clock of its own (checked below)
    assert dag.timetable.can_be_scheduled, f"{dag_id} has no schedule: add it to MANUAL_ONLY?"
    timetable = scheduler_timetable(dag)
    stored = timetable.serialize()
    assert stored.get("timezone") == ZONE, "schedules are read in the companies' zone"
    assert timetable.summary.startswith("0 4")  # nothing before the 04:00 scrape


@pytest.mark.parametrize("dag_id", [d for d in DAG_IDS if _scheduled_on(_BAG.dags[d])])
def test_an_asset_scheduled_dag_waits_for_assets_a_project_task_updates(
        dagbag: DagBag, dag_id: str) -> None:
    produced = {(asset.name, asset.uri) for other in dagbag.dags.values() if other.dag_id != dag_id
                for task in other.tasks for asset in task.outlets}
    awaited = _scheduled_on(dagbag.dags[dag_id])
    assert awaited, "an asset schedule names at least one asset"
    for asset in awaited:
        assert (asset.name, asset.uri) in produced, f"{dag_id} waits for {asset}, never updated"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_only_an_asset_scheduled_dag_starts_unpaused(dagbag: DagBag, dag_id: str) -> None:
    """Where new DAGs start paused (compose, make airflow, the system stack), a DAG that
    waits for an Asset must not: paused, the event of a check that found a question would
    start no review run (issue 21). A cron DAG starts paused: no run before the operator
    unpauses it."""
    dag = dagbag.dags[dag_id]
    expected = False if _scheduled_on(dag) else None  # None: the installation's default
    assert dag.is_paused_upon_creation is expected


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


def test_the_readmes_downstream_dag_is_scheduled_on_the_assets_the_steps_update(
        dagbag: DagBag, tmp_path: Path) -> None:
    readme = (DAGS.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Data checks and downstream DAGs (Assets)", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "pqr_reporting.py").write_text(example, encoding="utf-8")
    downstream = DagBag(dag_folder=tmp_path)
    assert downstream.import_errors == {}
    waits_for = {asset.name for asset in downstream.dags["pqr_reporting"].schedule}
    updated = {asset.name for dag in dagbag.dags.values() for task in dag.tasks
               for asset in task.outlets}
    assert waits_for <= updated
    assert {"ov_afinia_table", "ov_aire_table", "ov_afinia_s3", "ov_aire_s3"} <= updated


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_a_failed_run_alerts_a_person(dagbag: DagBag, dag_id: str) -> None:
    """At DAG level (task callbacks are skipped when a task process is killed), through
    the project's notifier: e-mail to Variable ov_alert_emails via smtp_default."""
    callbacks = dagbag.dags[dag_id].on_failure_callback
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    assert any(isinstance(cb, RunFailureNotifier) for cb in callbacks), (
        f"{dag_id}: on_failure_callback=[RunFailureNotifier(...)] at DAG level")


@pytest.mark.parametrize("empresa", sorted(COMPANIES))
def test_the_0600_check_looks_for_the_run_the_scheduler_creates(dagbag: DagBag,
                                                                 empresa: str) -> None:
    """The morning check finds the company run by logical date: it must be the one the
    DAG's own timetable gives the run that starts at 04:00 Bogotá that day."""
    from datetime import date, datetime

    from extractorov.settings import BOGOTA

    timetable = scheduler_timetable(dagbag.dags[COMPANIES[empresa].dag_id])
    for day in (date(2025, 10, 9), date(2026, 1, 1), date(2026, 3, 1)):
        logical = morning_logical_date(day)
        info = timetable.next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(earliest=logical, latest=None, catchup=True))
        assert info.logical_date == logical
        assert info.run_after == datetime(day.year, day.month, day.day, 4, tzinfo=BOGOTA)


WRITING_TASKS = {"extract", "load_db", "upload_s3", "retention"}
"""The company DAG's tasks that change a company's files, registry, table or bucket."""


@pytest.mark.parametrize("empresa", sorted(COMPANIES))
def test_every_task_that_writes_a_company_waits_in_its_writer_pool(
        dagbag: DagBag, empresa: str) -> None:
    """One writer per company: the company DAG's writing steps, the company's hourly check
    and the removal of one of its requests share one pool; nothing else takes it (a reader
    never waits for a writer)."""
    company = COMPANIES[empresa]
    in_pool = {(dag_id, task.task_id) for dag_id in DAG_IDS
               for task in dagbag.dags[dag_id].tasks if task.pool == company.writer_pool}
    assert in_pool == {*((company.dag_id, t) for t in WRITING_TASKS),
                       ("ov_s3_reconcile", f"reconcile_{empresa}"),
                       ("ov_remove_request", f"remove_{empresa}")}


def test_the_writer_pools_are_what_airflow_init_imports() -> None:
    """``python -m extractorov.pools`` writes what ``airflow pools import`` reads: one pool of
    one slot per company (a task whose pool does not exist is never scheduled)."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "extractorov.pools"], check=True,
                         capture_output=True, text=True).stdout
    pools = json.loads(out)
    assert {name: p["slots"] for name, p in pools.items()} == {
        c.writer_pool: 1 for c in COMPANIES.values()}
    assert all(p["include_deferred"] is False for p in pools.values())


def _import_guard(path: Path) -> str:
    """The source of the DAG file's ``except ModuleNotFoundError`` handler of its imports."""
    import ast

    source = path.read_text()
    handlers = [handler for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Try)
                for handler in node.handlers
                if isinstance(handler.type, ast.Name)
                and handler.type.id == "ModuleNotFoundError"]
    assert len(handlers) == 1, f"{path.name}: one import guard, found {len(handlers)}"
    return ast.get_source_segment(source, handlers[0]) or ""


def test_every_dag_file_says_the_same_thing_when_the_package_is_missing() -> None:
    """Each DAG file guards its imports (a DAG file cannot import a shared guard from dags/
    where dags/ is not on sys.path): the copies stay one text, naming the install step."""
    files = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))
    guards = {p.name: _import_guard(p) for p in files}
    assert len(set(guards.values())) == 1, guards
    assert "Install into any Airflow" in next(iter(guards.values()))
