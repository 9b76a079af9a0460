"""``ov_remove_request`` end to end: ``dag.test()`` runs the DAG while its approval waits
in Required actions, and a responder thread answers it through Airflow's REST API as the
Required actions page does (tests/e2e/test_review_dag.py's ``Responder``), signed in as
a SimpleAuthManager user. Real PostgreSQL and moto S3 (versioning on); the world is
tests/removal_world.py (request R-1 everywhere, R-2 in the same SGC folder, R-3 apart).
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import pytest

from extractorov import locks, runtime, taskfail, tasks
from tests import removal_world as w
from tests.e2e.test_dag_runs import runtime_xcom
from tests.e2e.test_review_dag import REVIEWER, Responder, _states, reviewer_login  # noqa: F401
from tests.helpers import query

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

DAG_ID = "ov_remove_request"
CONF = {"empresa": "afinia", "numero_radicado": w.RADICADO,
        "reason": "orden judicial N° 123-2025", "list_only": False}
"""Every param given: ``dag.test()`` keeps a run's conf in the DAG object it ran (the
module's DagBag), so a key left out would take the last run's value."""


def audit(db) -> list[tuple]:
    return query(db, "SELECT status, decided_by, requested_by, reason, runs, attempts FROM "
                     "data_general.request_removals ORDER BY id")


@pytest.mark.usefixtures("reviewer_login")
def test_approved_in_required_actions_the_request_is_removed_everywhere_and_audited(
        dags, db, s3, bucket, settings, landing, capfd):
    world = w.build(db, s3, bucket, settings, landing)
    responder = Responder(DAG_ID, lambda detail: "Approve", lambda detail, choice: None,
                          expected=1)
    responder.start()
    run = dags[DAG_ID].test(run_conf=CONF)
    responder.join(timeout=30)
    assert responder.error is None, responder.error

    assert str(run.state) == "success"
    assert _states(run) == {"find_request": "success", "approve": "success",
                            "remove_afinia": "success", "remove_aire": "skipped"}
    w.assert_removed(db, s3, bucket, settings, landing, world)
    [(status, by, requested, reason, runs, attempts)] = audit(db)
    assert (status, by, requested, reason, runs, attempts) == (
        "completed", REVIEWER, "dag_test", CONF["reason"], [run.run_id], 1)

    # The form: counts and keys, the choices, Reject by default; no field value anywhere.
    [form] = responder.asked
    assert form["subject"] == "Remove afinia request R-1 everywhere?"
    assert form["options"] == ["Approve", "Reject"] and form["defaults"] == ["Reject"]
    body = form["body"]
    for line in ("| registry rows (`s3_files_registry`) | 5 |",
                 "| S3 objects | 3 key(s): 5 version(s), 1 delete marker(s) |",
                 "| files in processed/ · quarantine/ · archive/ | 5 · 1 · 1 |",
                 "1 rewritten without them · 1 deleted (loaded)",
                 CONF["reason"]):
        assert line in body, line
    assert all(f"`{key}`" in body for key in world.a_keys.values())
    assert all(f"`{key}`" in body for key in world.b_keys)  # listed as kept, not removed
    removed = runtime_xcom(run, "remove_afinia")
    assert removed["status"] == "completed" and removed["removed"]["s3_versions"] == 5
    decision = runtime_xcom(run, "approve")
    assert decision["decision"] == "approved" and REVIEWER not in json.dumps(decision)
    texts = [json.dumps(form, ensure_ascii=False), json.dumps(runtime_xcom(run, "find_request")),
             json.dumps(removed), capfd.readouterr().out]
    assert not [p for p in w.PERSONAL for text in texts if p in text]


@pytest.mark.usefixtures("reviewer_login")
def test_rejected_in_required_actions_nothing_is_removed(
        dags, db, s3, bucket, settings, landing):
    w.build(db, s3, bucket, settings, landing)
    before = w.everything(db, s3, bucket, landing)
    responder = Responder(DAG_ID, lambda detail: "Reject", lambda detail, choice: None,
                          expected=1)
    responder.start()
    run = dags[DAG_ID].test(run_conf=CONF)
    responder.join(timeout=30)
    assert responder.error is None, responder.error

    assert str(run.state) == "success"
    assert _states(run) == {"find_request": "success", "approve": "success",
                            "remove_afinia": "skipped", "remove_aire": "skipped"}
    assert w.everything(db, s3, bucket, landing) == before
    assert [row[:4] for row in audit(db)] == [("rejected", REVIEWER, "dag_test",
                                               CONF["reason"])]


def test_list_only_lists_and_asks_nothing(dags, db, s3, bucket, settings, landing):
    w.build(db, s3, bucket, settings, landing)
    before = w.everything(db, s3, bucket, landing)

    run = dags[DAG_ID].test(run_conf={**CONF, "list_only": True})

    assert str(run.state) == "success"
    assert _states(run) == {"find_request": "success", "approve": "skipped",
                            "remove_afinia": "skipped", "remove_aire": "skipped"}
    found = runtime_xcom(run, "find_request")
    assert (found["table_rows"], len(found["registry"]), len(found["s3"])) == (1, 5, 6)
    assert w.everything(db, s3, bucket, landing) == before
    assert audit(db) == []


@pytest.mark.usefixtures("reviewer_login")
def test_the_removal_waits_while_a_run_writes_the_company_then_removes(
        dags, db, s3, bucket, settings, landing, monkeypatch):
    """Approved while another step holds afinia's writer exclusion (a run outside the pool,
    say): ``remove_afinia`` reschedules itself (``up_for_reschedule``, no worker slot held,
    nothing removed) until the exclusion is free, then removes."""
    monkeypatch.setattr(tasks, "WRITER_WAIT_SECONDS", 0.5)
    monkeypatch.setattr(taskfail, "RESCHEDULE_SECONDS", 1)
    world = w.build(db, s3, bucket, settings, landing)
    seen: dict[str, Any] = {}
    stack = contextlib.ExitStack()
    holder = stack.enter_context(runtime.warehouse_connection())
    locks.acquire(holder, w.AFINIA, "extract of scheduled__2025-10-21T09:00:00+00:00")

    def after_approval(detail: dict[str, Any], choice: str) -> None:
        ti = detail["task_instance"]
        path = (f"/api/v2/dags/{DAG_ID}/dagRuns/{ti['dag_run_id']}/taskInstances/"
                "remove_afinia")
        for _ in range(240):
            state = responder.client.get(path, headers=responder.headers).json()["state"]
            if state == "up_for_reschedule":
                break
            time.sleep(0.5)
        seen["state"] = state
        seen["status"] = audit(db)[0][0]
        seen["row"] = query(db, "SELECT count(*) FROM data_general.ov_afinia WHERE "
                                "numero_radicado = %s", w.RADICADO)
        locks.release(holder, w.AFINIA)

    responder = Responder(DAG_ID, lambda detail: "Approve", after_approval, expected=1)
    try:
        responder.start()
        run = dags[DAG_ID].test(run_conf=CONF)
        responder.join(timeout=30)
    finally:
        stack.close()
    assert responder.error is None, responder.error

    assert seen == {"state": "up_for_reschedule", "status": "approved", "row": [(1,)]}
    assert str(run.state) == "success"
    assert _states(run)["remove_afinia"] == "success"
    w.assert_removed(db, s3, bucket, settings, landing, world)
    assert [row[0] for row in audit(db)] == ["completed"]


@pytest.mark.usefixtures("reviewer_login")
def test_a_removal_cut_short_is_finished_by_the_next_approved_run(
        dags, db, s3, bucket, settings, landing, monkeypatch):
    """The removal of an earlier run died among its S3 deletions: the next run lists what
    is left (through the names and keys written ahead), its form says so, and approving
    finishes the same audit row."""
    from datetime import UTC, datetime

    from extractorov import removal

    world = w.build(db, s3, bucket, settings, landing)
    shown = removal.find(db, s3, w.AFINIA, settings, w.RADICADO).as_dict()
    db.rollback()
    removal.record_decision(db, "afinia", w.RADICADO, run_id="earlier", approved=True,
                            decided_by="someone", decided_at=datetime.now(UTC),
                            reason=CONF["reason"], shown=shown)
    deletes = []

    def die_after_two(**_):
        deletes.append(1)
        if len(deletes) == 2:
            raise KeyboardInterrupt  # the worker dies: nothing after this runs

    s3.meta.events.register("after-call.s3.DeleteObject", die_after_two)
    with pytest.raises(KeyboardInterrupt):
        removal.remove(db, s3, w.AFINIA, settings, w.RADICADO, run_id="earlier")
    s3.meta.events.unregister("after-call.s3.DeleteObject", die_after_two)

    responder = Responder(DAG_ID, lambda detail: "Approve", lambda detail, choice: None,
                          expected=1)
    responder.start()
    run = dags[DAG_ID].test(run_conf=CONF)
    responder.join(timeout=30)
    assert responder.error is None, responder.error

    assert _states(run)["remove_afinia"] == "success"
    [form] = responder.asked
    assert "was cut short (audit row" in form["body"]
    # its first key's two versions went (deleted in key order): two keys are left
    assert "| S3 objects | 2 key(s): 3 version(s), 1 delete marker(s) |" in form["body"]
    w.assert_removed(db, s3, bucket, settings, landing, world)
    assert audit(db) == [("completed", "someone", None, CONF["reason"],
                          ["earlier", run.run_id], 2)]
