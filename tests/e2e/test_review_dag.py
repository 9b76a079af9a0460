"""Human review from Airflow's UI, end to end: ``ov_s3_reconcile`` finds what a human must
decide, ``ov_review_findings`` asks it (Human-in-the-loop tasks) and each answer is given
through Airflow's REST API, as the Required actions page sends it.

``dag.test()`` runs in the main thread (task timeouts need its signals) and waits while
its review tasks are ``awaiting_input``; a responder thread answers them through the
REST API of the same metadata database (``airflow.api_fastapi.app.create_app``, signed
in as a SimpleAuthManager user) and, after each answer is applied, records the registry
and ``reconcile_findings`` for the checks below. Real PostgreSQL and moto S3.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from extractorov import pipeline, reconcile, review
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders, read_quarantine, shown_key
from extractorov.registry import SUPERSEDED
from tests.helpers import query, seen_hours_ago, write_request

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

AFINIA = COMPANIES["afinia"]
PREFIX = "oficina-virtual/afinia/raw_data/"
REVIEWER, PASSWORD = "reviewer", "review-pass"
PERSONAL = ("María José Núñez Peña", "1045678901", "maria.nunez@example.com", "3001234567",
            "6053334455")


class Responder(threading.Thread):
    """Answers the review DAG's questions through the REST API, one at a time."""

    def __init__(self, dag_id: str, choose: Callable[[dict[str, Any]], str],
                 after: Callable[[dict[str, Any], str], None], expected: int,
                 timeout: float = 600.0) -> None:
        super().__init__(daemon=True)
        self.dag_id, self.choose, self.after, self.expected = dag_id, choose, after, expected
        self.timeout = timeout
        self.asked: list[dict[str, Any]] = []
        self.error: str | None = None

    def run(self) -> None:
        from airflow.api_fastapi.app import create_app
        from fastapi.testclient import TestClient

        self.client = TestClient(create_app())
        token = self.client.post("/auth/token",
                                 json={"username": REVIEWER, "password": PASSWORD})
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            waiting = self._waiting()
            if not waiting and len(self.asked) >= self.expected:
                return
            for detail in waiting:
                if self.error is None:
                    try:
                        choice = self.choose(detail)
                        self._answer(detail, choice)
                        self._wait_done(detail)
                        self.after(detail, choice)
                    except Exception:
                        self.error = traceback.format_exc()
                else:  # let dag.test() end: the test fails with the first error
                    self._answer(detail, review.LEAVE_OPEN)
                self.asked.append(detail)
            time.sleep(0.5)
        self.error = self.error or f"timed out; asked {len(self.asked)} of {self.expected}"

    def _path(self, ti: dict[str, Any]) -> str:
        return (f"/api/v2/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/"
                f"{ti['task_id']}/{ti['map_index']}")

    def _waiting(self) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v2/dags/{self.dag_id}/dagRuns/~/hitlDetails",
                                   headers=self.headers, params={"response_received": False})
        assert response.status_code == 200, response.text
        return [d for d in response.json()["hitl_details"]
                if d["task_instance"]["state"] == "awaiting_input"]

    def _answer(self, detail: dict[str, Any], choice: str) -> None:
        response = self.client.patch(f"{self._path(detail['task_instance'])}/hitlDetails",
                                     headers=self.headers,
                                     json={"chosen_options": [choice], "params_input": {}})
        assert response.status_code == 200, response.text
        assert response.json()["responded_by"]["name"] == REVIEWER

    def _wait_done(self, detail: dict[str, Any]) -> None:
        """Until dag.test() has run the task's resume (the answer is applied)."""
        path = self._path(detail["task_instance"])
        for _ in range(240):
            state = self.client.get(path, headers=self.headers).json()["state"]
            if state in ("success", "failed"):
                assert state == "success", f"{detail['subject']}: {state}"
                return
            time.sleep(0.5)
        raise AssertionError(f"{detail['subject']} not applied in 2 minutes")


@pytest.fixture
def reviewer_login(airflow_db, tmp_path, monkeypatch) -> None:
    """A SimpleAuthManager user for the REST API (the UI's login)."""
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({REVIEWER: PASSWORD}))
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", f"{REVIEWER}:admin")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))


def _states(run) -> dict[str, str]:
    return {(ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"):
            str(ti.state) for ti in run.get_task_instances()}


def _asset_events(name: str) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(select(AssetEvent).join(
            AssetModel, AssetModel.id == AssetEvent.asset_id).where(AssetModel.name == name))
        return [{"dag": e.source_dag_id, "task": e.source_task_id, "run": e.source_run_id,
                 "extra": e.extra} for e in events]


def _damage(db, settings, landing, s3, bucket) -> dict[str, str]:
    """Five findings a human must decide, one of each choice the test gives."""
    for n, sgc in enumerate(("RE1", "RE2")):
        write_request(landing, "afinia", sgc, f"R-{sgc}", f"20251008_09000{n}")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    keys = {"pre_existing": f"{PREFIX}RE1/RE1_20251008_090000.pdf",
            "superseded": f"{PREFIX}RE2/RE2_20251008_090001.pdf",
            "outside": f"{PREFIX}loose-file.txt",
            "missing": f"{PREFIX}RE77/RE77_data_20251001_080000.json"}
    for name in ("pre_existing", "superseded"):
        s3.put_object(Bucket=bucket, Key=keys[name], Body=f"{name}: someone else's".encode())
    s3.put_object(Bucket=bucket, Key=keys["missing"], Body=b"{}")
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="before")  # registers RE77
    s3.delete_object(Bucket=bucket, Key=keys["missing"])
    s3.put_object(Bucket=bucket, Key=keys["outside"], Body=b"x")
    lonely = company_folders(landing, "afinia").processed / "RE1234_20251008_090000.pdf"
    lonely.write_bytes(b"%PDF lonely")
    old = time.time() - 80 * 3600
    os.utime(lonely, (old, old))
    seen_hours_ago(db, landing, "afinia", lonely.name, hours=80)  # the age that counts
    keys["waiting"] = lonely.name
    return keys


def test_findings_are_answered_in_the_ui_and_each_answer_is_applied(
        dags, db, settings, landing, s3, bucket, reviewer_login):
    keys = _damage(db, settings, landing, s3, bucket)
    plan = {keys["pre_existing"]: review.KEEP_PRE_EXISTING,
            keys["superseded"]: review.KEEP_SUPERSEDED,
            keys["outside"]: review.LEAVE_OPEN,
            keys["missing"]: review.DELETE_ROW,
            keys["waiting"]: review.QUARANTINE}

    # 1. The hourly check: fails (something needs a human), announces the findings.
    # (the metadata database is shared by the session: dates no other test uses)
    events_before = len(_asset_events("ov_findings"))
    check = dags["ov_s3_reconcile"].test(logical_date=datetime(2025, 10, 19, 15, tzinfo=UTC))
    assert str(check.state) == "failed"
    assert _states(check) == {"reconcile_afinia": "failed", "reconcile_aire": "success",
                              "announce_findings": "success", "watcher": "failed",
                              "check_morning_runs": "success",
                              "remind_open_findings": "success",
                              "deliver_alerts": "success"}
    [event] = [e for e in _asset_events("ov_findings") if e["run"] == check.run_id]
    assert (event["dag"], event["task"], event["run"]) == (
        "ov_s3_reconcile", "announce_findings", check.run_id)
    assert event["extra"]["questions"] == 5
    assert event["extra"]["by_kind"] == {"document_waiting": 1, "object_different": 2,
                                         "object_missing": 1, "object_outside_layout": 1}

    # 2. The review run; every question answered through the REST API.
    snapshots: dict[str, dict[str, Any]] = {}

    def subject_of(detail: dict[str, Any]) -> str:
        # The form shows a key through shown_key (a name not the bot's: its length only).
        return next(k for k in plan if f"`{shown_key(k)}`" in detail["body"])

    def after(detail: dict[str, Any], choice: str) -> None:
        about = subject_of(detail)
        snapshots[about] = {
            "registry": query(db, "SELECT upload_status, file_size, last_error, metadata "
                                  "FROM data_general.s3_files_registry WHERE s3_key = %s",
                              about),
            "findings": query(db, "SELECT DISTINCT answer, answered_by, answered_at IS NOT "
                                  "NULL, open, outcome FROM data_general.reconcile_findings "
                                  "WHERE needs_human AND (s3_key = %s OR subject = %s)",
                              about, about),
            "file": (company_folders(landing, "afinia").processed / about).exists(),
        }

    responder = Responder("ov_review_findings", lambda d: plan[subject_of(d)], after,
                          expected=len(plan))
    responder.start()
    run = dags["ov_review_findings"].test()
    responder.join(timeout=30)
    assert responder.error is None, responder.error
    assert str(run.state) == "success"
    assert _states(run) == {"collect": "success",
                            **{f"review[{i}]": "success" for i in range(len(plan))}}

    # The forms: the subject names company, kind and file; choices per kind; no personal data.
    asked = {subject_of(d): d for d in responder.asked}
    assert set(asked) == set(plan)
    for about, detail in asked.items():
        assert shown_key(about).rsplit("/", 1)[-1] in detail["subject"]
        assert review.LEAVE_OPEN in detail["options"]
        assert detail["defaults"] == [review.LEAVE_OPEN]
        assert plan[about] in detail["options"]
        text = json.dumps(detail, ensure_ascii=False)
        assert not any(p in text for p in PERSONAL)
        assert detail["task_instance"]["rendered_map_index"] == detail["subject"]
    assert asked[keys["pre_existing"]]["options"] == [
        review.KEEP_PRE_EXISTING, review.KEEP_SUPERSEDED, review.REPLACE_OBJECT,
        review.LEAVE_OPEN]

    # After each answer: the registry and reconcile_findings (who, when, what it did).
    for about, choice in plan.items():
        [(answer, by, has_time, is_open, outcome)] = snapshots[about]["findings"]
        assert (answer, by, has_time) == (choice, REVIEWER, True), about
        assert is_open is (choice == review.LEAVE_OPEN), about
    kept = snapshots[keys["pre_existing"]]["registry"]
    [(status, size, error, metadata)] = kept
    assert (status, size, error) == ("pre_existing", len(b"pre_existing: someone else's"), None)
    assert metadata["review"]["answer"] == review.KEEP_PRE_EXISTING
    [(status, _, error, metadata)] = snapshots[keys["superseded"]]["registry"]
    assert (status, error) == ("pre_existing", SUPERSEDED)
    assert metadata["review"]["local_file_superseded"] is True
    assert snapshots[keys["missing"]]["registry"] == []  # row deleted
    assert snapshots[keys["waiting"]]["file"] is False  # moved to quarantine/
    # The local files a review kept the bucket's object over stay beside their registry
    # rows (one place: never registered and in quarantine/ too; retention counts them).
    kept_over = {keys[k].rsplit("/", 1)[1] for k in ("pre_existing", "superseded")}
    processed = company_folders(landing, "afinia").processed
    assert all((processed / name).exists() for name in kept_over)
    assert [q.original_name for q in read_quarantine(company_folders(landing, "afinia"))
            ] == [keys["waiting"]]
    [(_, _, _, _, outcome)] = snapshots[keys["outside"]]["findings"]
    assert outcome == "left open"

    # 3. The next check: nothing waits for an answer, so it is green and announces nothing;
    # the finding left open is found again and not asked again.
    again = dags["ov_s3_reconcile"].test(logical_date=datetime(2025, 10, 19, 16, tzinfo=UTC))
    assert _states(again) == {"reconcile_afinia": "success", "reconcile_aire": "success",
                              "announce_findings": "skipped", "watcher": "skipped",
                              "check_morning_runs": "success",
                              "remind_open_findings": "success",
                              "deliver_alerts": "success"}
    assert str(again.state) == "success"
    assert len(_asset_events("ov_findings")) == events_before + 1
    assert query(db, "SELECT kind, s3_key, answer FROM data_general.reconcile_findings "
                     "WHERE run_id = %s", again.run_id) == [
        ("object_outside_layout", keys["outside"], review.LEAVE_OPEN)]
    # A review run now has nothing to ask (it ends at once, no task waits).
    idle = dags["ov_review_findings"].test()
    assert str(idle.state) == "success"
    assert _states(idle) == {"collect": "success", "review": "skipped"}


def test_an_answer_given_while_the_company_is_written_is_applied_by_the_next_check(
        dags, db, settings, landing, s3, bucket, reviewer_login):
    """Answered in the UI while another step writes the company: the review task ends
    green with the answer recorded; the next hourly check applies it ("replace the
    bucket's object with my local file": the object the form showed is overwritten)."""
    from extractorov import locks, runtime

    write_request(landing, "afinia", "RE1", "R-RE1", "20251008_090000")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    key = f"{PREFIX}RE1/RE1_20251008_090000.pdf"
    local = (company_folders(landing, "afinia").processed / key.rsplit("/", 1)[-1]).read_bytes()
    s3.put_object(Bucket=bucket, Key=key, Body=b"someone else's PDF")
    check = dags["ov_s3_reconcile"].test(logical_date=datetime(2025, 10, 20, 15, tzinfo=UTC))
    assert _states(check)["reconcile_afinia"] == "failed"  # a new question

    outcomes: list[list[tuple]] = []
    responder = Responder(
        "ov_review_findings", lambda d: review.REPLACE_OBJECT,
        lambda d, c: outcomes.append(query(
            db, "SELECT DISTINCT answer, answered_by, answer_waiting, open, outcome FROM "
                "data_general.reconcile_findings WHERE s3_key = %s AND needs_human", key)),
        expected=1)
    with runtime.warehouse_connection() as holder:
        locks.acquire(holder, AFINIA, "upload_s3 of a long backfill")
        responder.start()
        run = dags["ov_review_findings"].test()
        responder.join(timeout=30)
        locks.release(holder, AFINIA)
    assert responder.error is None, responder.error
    assert str(run.state) == "success"
    [(answer, by, waiting, is_open, outcome)] = outcomes[0]
    assert (answer, by, waiting, is_open) == (review.REPLACE_OBJECT, REVIEWER, True, True)
    assert outcome.startswith("chosen, not applied yet: afinia is being written by upload_s3 "
                              "of a long backfill")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"someone else's PDF"

    # The next hourly check applies it first, then finds nothing to ask: green.
    again = dags["ov_s3_reconcile"].test(logical_date=datetime(2025, 10, 20, 16, tzinfo=UTC))
    assert str(again.state) == "success"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == local
    assert query(db, "SELECT upload_status, last_error FROM data_general.s3_files_registry "
                     "WHERE s3_key = %s", key) == [("uploaded", None)]
    assert query(db, "SELECT DISTINCT answer, answer_waiting, open, outcome LIKE "
                     "'registry row %%: uploaded over the bucket''s object%%' FROM "
                     "data_general.reconcile_findings WHERE s3_key = %s AND needs_human",
                 key) == [(review.REPLACE_OBJECT, False, False, True)]
