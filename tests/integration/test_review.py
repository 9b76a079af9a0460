"""Human review of reconcile findings on the real services (PostgreSQL, moto over HTTP):
questions, their identity across hourly checks, and what each answer does.

The answers here are given by calling :func:`extractorov.review.apply_answer` (what the
review task does once Airflow hands it the response); tests/e2e/test_review_dag.py
answers through Airflow's REST API.
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime

import pytest

from extractorov import findings, pipeline, reconcile, review
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders, read_quarantine, shown_key
from extractorov.registry import DIFFERENT_OBJECT, SUPERSEDED, files_to_upload
from tests.helpers import query, seen_hours_ago, write_request

AFINIA = COMPANIES["afinia"]
PREFIX = "oficina-virtual/afinia/raw_data/"
WHEN = datetime(2025, 10, 9, 15, 0, tzinfo=UTC)
PERSONAL = ("María José Núñez Peña", "1045678901", "maria.nunez@example.com", "3001234567",
            "6053334455")


def check(db, s3, settings, run_id: str) -> reconcile.ReconcileReport:
    return reconcile.reconcile(db, s3, AFINIA, settings, run_id=run_id)


def answer(db, s3, settings, finding_id: int, choice: str, who: str = "reviewer"):
    return review.apply_answer(db, s3, settings, finding_id, choice, answered_by=who,
                               answered_at=WHEN, run_id="review-run")


def of_kind(report, kind: str, key: str | None = None) -> list[reconcile.Finding]:
    return [f for f in report.findings if f.kind == kind and (key is None or f.s3_key == key)]


def finding_id(db, run_id: str, kind: str, key: str | None = None) -> int:
    [(fid,)] = query(db, "SELECT id FROM data_general.reconcile_findings WHERE run_id = %s "
                         "AND kind = %s AND (%s::text IS NULL OR s3_key = %s)",
                     run_id, kind, key, key)
    return fid


def rows_of(db, kind: str, key: str | None = None) -> list[tuple]:
    """(run_id, open, answer, answered_by, answered_at, cleared) of every row of a kind."""
    return query(db, "SELECT run_id, open, answer, answered_by, answered_at, "
                     "cleared_at IS NOT NULL FROM data_general.reconcile_findings "
                     "WHERE kind = %s AND (%s::text IS NULL OR s3_key = %s) ORDER BY id",
                 kind, key, key)


def askable(db) -> dict:
    result = findings.count_askable(db, stale_after=review.STALE_ASK)
    db.commit()
    return result


def uploaded(db, settings, landing, s3, *sgcs: str) -> dict[str, str]:
    """Each request's PDF key, after extract → load → upload."""
    for n, sgc in enumerate(sgcs):
        write_request(landing, "afinia", sgc, f"R-{sgc}", f"20251008_09000{n}")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    return {sgc: f"{PREFIX}{sgc}/{sgc}_20251008_09000{n}.pdf" for n, sgc in enumerate(sgcs)}


def test_an_answered_question_is_not_asked_again_until_its_cause_changes(
        db, settings, landing, s3, bucket):
    stray = f"{PREFIX}loose-file.txt"
    s3.put_object(Bucket=bucket, Key=stray, Body=b"x")
    first = check(db, s3, settings, "check-1")
    assert [f.kind for f in first.awaiting_answer] == ["object_outside_layout"]
    assert askable(db) == {("afinia", "object_outside_layout"): 1}

    # A review run claims it: no other run asks it meanwhile, a retry of the same run does.
    [question] = findings.claim_questions(db, "review-1", limit=10,
                                          stale_after=review.STALE_ASK)
    db.commit()
    assert (question.kind, question.s3_key, question.cause) == (
        "object_outside_layout", stray, "1 bytes")
    assert askable(db) == {}
    assert findings.claim_questions(db, "review-2", limit=10, stale_after=review.STALE_ASK) == []
    assert [q.id for q in findings.claim_questions(
        db, "review-1", limit=10, stale_after=review.STALE_ASK)] == [question.id]
    db.commit()
    # The next hour's check finds it again while it is being asked: still not askable.
    check(db, s3, settings, "check-2")
    assert askable(db) == {}

    # (The form the run shows, with the facts the answer is bound to.)
    [form] = review.collect(db, s3, settings, "review-1")
    # The form shows the key as logs do (a file name not the bot's: its length only).
    assert form["finding"]["s3_key"] == shown_key(stray) != stray
    outcome = answer(db, s3, settings, question.id, review.ACCEPT)
    assert (outcome.applied, outcome.open) == (True, False)
    assert rows_of(db, "object_outside_layout") == [
        ("check-1", False, review.ACCEPT, "reviewer", WHEN, False),
        ("check-2", False, review.ACCEPT, "reviewer", WHEN, False)]

    # Same key, same cause: the answer is carried, nothing to ask, the check is green.
    third = check(db, s3, settings, "check-3")
    [carried] = of_kind(third, "object_outside_layout")
    assert carried.answer is not None and carried.answer.answer == review.ACCEPT
    assert third.awaiting_answer == []
    assert askable(db) == {}
    assert findings.claim_questions(db, "review-3", limit=10, stale_after=review.STALE_ASK) == []
    assert rows_of(db, "object_outside_layout")[-1] == (
        "check-3", False, review.ACCEPT, "reviewer", WHEN, False)

    # Same key, new cause (the object was replaced by another size): a new question.
    s3.put_object(Bucket=bucket, Key=stray, Body=b"xyz")
    fourth = check(db, s3, settings, "check-4")
    assert [f.kind for f in fourth.awaiting_answer] == ["object_outside_layout"]
    assert askable(db) == {("afinia", "object_outside_layout"): 1}
    # The old question is cleared (a check no longer found it with that cause).
    assert [r[-1] for r in rows_of(db, "object_outside_layout")] == [True, True, True, False]

    # Gone, then back with the first cause: the question was cleared, so it is new.
    s3.delete_object(Bucket=bucket, Key=stray)
    assert check(db, s3, settings, "check-5").findings == []
    assert askable(db) == {}
    s3.put_object(Bucket=bucket, Key=stray, Body=b"x")
    sixth = check(db, s3, settings, "check-6")
    assert [f.kind for f in sixth.awaiting_answer] == ["object_outside_layout"]


def test_a_rerun_of_the_same_check_keeps_the_answer(db, settings, landing, s3, bucket):
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}loose-file.txt", Body=b"x")
    check(db, s3, settings, "check-1")
    answer(db, s3, settings, finding_id(db, "check-1", "object_outside_layout"),
           review.LEAVE_OPEN)
    again = check(db, s3, settings, "check-1")  # a cleared task: the run's rows are replaced
    assert again.awaiting_answer == []
    assert rows_of(db, "object_outside_layout") == [
        ("check-1", True, review.LEAVE_OPEN, "reviewer", WHEN, False)]


def test_object_different_keep_pre_existing_superseded_or_leave_open(
        db, settings, landing, s3, bucket):
    keys = uploaded(db, settings, landing, s3, "RE1", "RE2", "RE3")
    tampered = {}
    for sgc, key in keys.items():
        body = f"%PDF-1.4 someone else's {sgc}, another size".encode()
        s3.put_object(Bucket=bucket, Key=key, Body=body)  # no checksum, no metadata
        tampered[key] = body
    first = check(db, s3, settings, "check-1")
    assert sorted(f.s3_key for f in first.awaiting_answer) == sorted(keys.values())
    status = dict(query(db, "SELECT s3_key, last_error FROM data_general.s3_files_registry "
                            "WHERE s3_key = ANY(%s)", list(keys.values())))
    assert set(status.values()) == {DIFFERENT_OBJECT}  # the upload found them different

    # The forms: the three choices, the key, both sizes; no personal data.
    forms = review.collect(db, s3, settings, "review-1")
    assert len(forms) == 3
    by_key = {f["finding"]["s3_key"]: f for f in forms}
    form = by_key[keys["RE1"]]
    assert form["options"] == [review.KEEP_PRE_EXISTING, review.KEEP_SUPERSEDED,
                               review.REPLACE_OBJECT, review.LEAVE_OPEN]
    assert keys["RE1"] in form["body"] and form["subject"] == (
        "afinia · object_different · RE1_20251008_090000.pdf")
    local_size = query(db, "SELECT file_size FROM data_general.s3_files_registry "
                           "WHERE s3_key = %s", keys["RE1"])[0][0]
    assert f"| {local_size:,} |" in form["body"]
    assert f"| {len(tampered[keys['RE1']]):,} |" in form["body"]
    assert not any(p in form["body"] + form["subject"] for p in PERSONAL)

    before = {k: query(db, "SELECT file_hash, file_size FROM data_general.s3_files_registry "
                           "WHERE s3_key = %s", k)[0] for k in keys.values()}
    pre = answer(db, s3, settings, by_key[keys["RE1"]]["finding"]["id"],
                 review.KEEP_PRE_EXISTING)
    sup = answer(db, s3, settings, by_key[keys["RE2"]]["finding"]["id"],
                 review.KEEP_SUPERSEDED, who="other-reviewer")
    left = answer(db, s3, settings, by_key[keys["RE3"]]["finding"]["id"], review.LEAVE_OPEN)
    assert (pre.applied, pre.open, sup.applied, sup.open, left.open) == (
        True, False, True, False, True)

    rows = {k: query(db, "SELECT upload_status, file_size, file_hash, last_error, metadata "
                         "FROM data_general.s3_files_registry WHERE s3_key = %s", k)[0]
            for k in keys.values()}
    for sgc, choice_error in (("RE1", None), ("RE2", SUPERSEDED)):
        key = keys[sgc]
        status, size, digest, error, metadata = rows[key]
        assert (status, size, digest, error) == (
            "pre_existing", len(tampered[key]), hashlib.sha256(tampered[key]).hexdigest(),
            choice_error)
        assert metadata["review"]["local_file"] == {"sha256": before[key][0],
                                                    "size": before[key][1]}
        assert metadata["review"]["local_file_superseded"] is (sgc == "RE2")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == tampered[key]
    assert rows[keys["RE3"]][0] == "error"  # left open: nothing changed
    recorded = dict((k, r) for k, *r in query(
        db, "SELECT s3_key, answer, answered_by, answered_at, open, outcome LIKE 'registry row%%'"
            " FROM data_general.reconcile_findings WHERE run_id = 'check-1'"))
    assert recorded[keys["RE1"]] == [review.KEEP_PRE_EXISTING, "reviewer", WHEN, False, True]
    assert recorded[keys["RE2"]] == [review.KEEP_SUPERSEDED, "other-reviewer", WHEN, False,
                                     True]
    assert recorded[keys["RE3"]] == [review.LEAVE_OPEN, "reviewer", WHEN, True, False]

    # The next check: the kept objects agree with the registry (no finding, no upload);
    # the one left open is found again, not asked again, and stays on the open list.
    second = check(db, s3, settings, "check-2")
    assert [f.s3_key for f in of_kind(second, "object_different")] == [keys["RE3"]]
    assert second.awaiting_answer == []
    assert askable(db) == {}
    assert [f.s3_key for f in files_to_upload(db, "afinia", bucket)] == []
    assert query(db, "SELECT s3_key, answer FROM data_general.open_findings") == [
        (keys["RE3"], review.LEAVE_OPEN)]
    cleared = query(db, "SELECT s3_key, open, cleared_at IS NOT NULL FROM "
                        "data_general.reconcile_findings WHERE run_id = 'check-1' "
                        "AND s3_key = ANY(%s) ORDER BY s3_key", [keys["RE1"], keys["RE2"]])
    assert cleared == [(keys["RE1"], False, True), (keys["RE2"], False, True)]

    # The bucket's object changes again: a new cause, asked again. The row now describes
    # the bucket's object, so the local file is never uploaded in its place.
    s3.put_object(Bucket=bucket, Key=keys["RE1"], Body=b"a third version of it")
    third = check(db, s3, settings, "check-3")
    assert [f.s3_key for f in third.awaiting_answer] == [keys["RE1"]]
    assert third.upload.get("files", 0) == 0
    [form] = review.collect(db, s3, settings, "review-2")
    assert form["options"] == [review.KEEP_PRE_EXISTING, review.LEAVE_OPEN]
    assert answer(db, s3, settings, form["finding"]["id"], review.KEEP_PRE_EXISTING).applied
    [(status, size, metadata)] = query(
        db, "SELECT upload_status, file_size, metadata FROM data_general.s3_files_registry "
            "WHERE s3_key = %s", keys["RE1"])
    assert (status, size) == ("pre_existing", len(b"a third version of it"))
    assert metadata["review"]["local_file"] == {"sha256": before[keys["RE1"]][0],
                                                "size": before[keys["RE1"]][1]}
    fourth = check(db, s3, settings, "check-4")
    assert [f.s3_key for f in fourth.findings] == [keys["RE3"]]  # the one left open
    assert fourth.awaiting_answer == []


def test_keep_bucket_object_is_not_applied_when_the_object_changed_since_asked(
        db, settings, landing, s3, bucket):
    keys = uploaded(db, settings, landing, s3, "RE1")
    s3.put_object(Bucket=bucket, Key=keys["RE1"], Body=b"someone else's content")
    check(db, s3, settings, "check-1")
    [form] = review.collect(db, s3, settings, "review-1")
    fid = form["finding"]["id"]
    s3.put_object(Bucket=bucket, Key=keys["RE1"], Body=b"and yet another, longer content")
    outcome = answer(db, s3, settings, fid, review.KEEP_PRE_EXISTING)
    assert outcome.applied is False
    assert outcome.text.startswith("not applied: changed since asked: the bucket object's size")
    assert query(db, "SELECT upload_status, last_error FROM data_general.s3_files_registry "
                     "WHERE s3_key = %s", keys["RE1"]) == [("error", DIFFERENT_OBJECT)]
    # Re-opened: no answer, the outcome says why.
    assert query(db, "SELECT answer, outcome FROM data_general.reconcile_findings "
                     "WHERE id = %s", fid) == [(None, outcome.text)]
    # The new state is a new question.
    assert [f.s3_key for f in check(db, s3, settings, "check-2").awaiting_answer] == [
        keys["RE1"]]


def test_object_missing_of_a_bucket_row_delete_its_registry_row(
        db, settings, landing, s3, bucket):
    key = f"{PREFIX}RE77/RE77_data_20251001_080000.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"numero_radicado": "OLD-1"}',
                  ChecksumAlgorithm="SHA256")
    check(db, s3, settings, "check-1")  # registered from the bucket
    s3.delete_object(Bucket=bucket, Key=key)
    second = check(db, s3, settings, "check-2")
    assert [(f.kind, f.s3_key) for f in second.awaiting_answer] == [("object_missing", key)]
    [form] = review.collect(db, s3, settings, "review-1")
    assert form["options"] == [review.DELETE_ROW, review.LEAVE_OPEN]
    assert "| bucket object | missing |" in form["body"]

    outcome = answer(db, s3, settings, form["finding"]["id"], review.DELETE_ROW)
    assert outcome.applied and outcome.text.startswith("registry row ")
    assert query(db, "SELECT count(*) FROM data_general.s3_files_registry "
                     "WHERE s3_key = %s", key) == [(0,)]
    assert check(db, s3, settings, "check-3").findings == []
    # If the object comes back, it is registered again (repaired, no question).
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"numero_radicado": "OLD-1"}')
    assert [f.kind for f in check(db, s3, settings, "check-4").findings] == [
        "object_unregistered"]


def test_delete_row_is_not_applied_when_the_object_is_back(db, settings, landing, s3, bucket):
    key = f"{PREFIX}RE77/RE77_data_20251001_080000.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    check(db, s3, settings, "check-1")
    s3.delete_object(Bucket=bucket, Key=key)
    check(db, s3, settings, "check-2")
    [form] = review.collect(db, s3, settings, "review-1")
    s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    outcome = answer(db, s3, settings, form["finding"]["id"], review.DELETE_ROW)
    assert outcome.applied is False
    assert outcome.text.startswith("not applied: changed since asked: the bucket object "
                                   "(shown missing, now present)")
    assert query(db, "SELECT count(*) FROM data_general.s3_files_registry "
                     "WHERE s3_key = %s", key) == [(1,)]


def _lonely_pdf(db, landing, name: str = "RE1234_20251008_090000.pdf"):
    """A PDF whose JSON never came, first seen by the pipeline 80 h ago."""
    processed = company_folders(landing, "afinia").processed
    processed.mkdir(parents=True, exist_ok=True)
    lonely = processed / name
    lonely.write_bytes(b"%PDF lonely")
    hours_ago = time.time() - 80 * 3600
    os.utime(lonely, (hours_ago, hours_ago))
    seen_hours_ago(db, landing, "afinia", name, hours=80)
    return lonely


def test_document_waiting_move_to_quarantine(db, settings, landing, s3, bucket):
    lonely = _lonely_pdf(db, landing)
    first = check(db, s3, settings, "check-1")
    assert [f.kind for f in first.awaiting_answer] == ["document_waiting"]
    [form] = review.collect(db, s3, settings, "review-1")
    assert form["options"] == [review.QUARANTINE, review.ACCEPT, review.LEAVE_OPEN]
    assert lonely.name in form["body"]

    outcome = answer(db, s3, settings, form["finding"]["id"], review.QUARANTINE)
    assert outcome.applied and outcome.text == f"moved to quarantine/{lonely.name}"
    assert not lonely.exists()
    [moved] = read_quarantine(company_folders(landing, "afinia"))
    assert moved.original_name == lonely.name
    assert moved.reason.startswith("set aside by a human review")
    # Gone from processed/: the next check has nothing; a run never brings it back.
    assert check(db, s3, settings, "check-2").findings == []
    pipeline.extract(db, AFINIA, settings, "day-2")
    assert not lonely.exists() and moved.path.exists()


def test_quarantine_is_not_applied_to_a_file_copied_again(db, settings, landing, s3, bucket):
    lonely = _lonely_pdf(db, landing)
    check(db, s3, settings, "check-1")
    [form] = review.collect(db, s3, settings, "review-1")
    os.utime(lonely, None)  # copied again / touched since the question
    outcome = answer(db, s3, settings, form["finding"]["id"], review.QUARANTINE)
    assert outcome.applied is False
    assert outcome.text.startswith("not applied: changed since asked: the file's "
                                   "modification time")
    assert lonely.exists()


def test_a_question_withdrawn_or_abandoned_is_asked_again(db, settings, landing, s3, bucket):
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}loose-file.txt", Body=b"x")
    check(db, s3, settings, "check-1")
    [question] = findings.claim_questions(db, "review-1", limit=10,
                                          stale_after=review.STALE_ASK)
    db.commit()
    assert askable(db) == {}
    review.withdraw(db, question.id)  # the response timeout: nobody answered
    assert askable(db) == {("afinia", "object_outside_layout"): 1}
    # A run that ended without withdrawing (killed): its claim goes stale.
    findings.claim_questions(db, "review-2", limit=10, stale_after=review.STALE_ASK)
    db.execute("UPDATE data_general.reconcile_findings SET asked_at = now() - %s",
               (review.STALE_ASK * 2,))
    db.commit()
    assert askable(db) == {("afinia", "object_outside_layout"): 1}


def test_a_question_answered_elsewhere_keeps_its_first_answer(db, settings, landing, s3, bucket):
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}loose-file.txt", Body=b"x")
    check(db, s3, settings, "check-1")
    check(db, s3, settings, "check-2")
    first, second = (finding_id(db, run, "object_outside_layout")
                     for run in ("check-1", "check-2"))
    review.collect(db, s3, settings, "review-1")
    assert answer(db, s3, settings, first, review.ACCEPT, who="first").applied
    late = answer(db, s3, settings, second, review.LEAVE_OPEN, who="second")
    assert late.applied is False and late.text.startswith("already answered by first")
    assert {r[2:4] for r in rows_of(db, "object_outside_layout")} == {(review.ACCEPT, "first")}


@pytest.mark.parametrize("kind", ["object_different", "object_missing", "object_outside_layout",
                                  "request_without_file", "document_waiting", "temp_file_stale",
                                  "upload_failed", "a_kind_added_later"])
def test_every_kind_can_be_left_open_and_every_choice_is_explained(kind):
    for local_copy in (True, False):
        options = review.options_for(kind, local_copy=local_copy)
        assert options[-1] == review.LEAVE_OPEN
        assert len(options) >= 2 and len(set(options)) == len(options)
        assert all(option in review.EFFECTS for option in options)


def test_a_review_task_that_timed_out_withdraws_its_question(db, settings, landing, s3,
                                                             bucket):
    """The scheduler's response timeout resumes the task with the default ("Leave open")
    and no user: nothing is recorded, and the question can be asked again."""
    from extractorov.review_operator import FindingReviewOperator

    s3.put_object(Bucket=bucket, Key=f"{PREFIX}loose-file.txt", Body=b"x")
    check(db, s3, settings, "check-1")
    [form] = review.collect(db, s3, settings, "review-1")
    assert askable(db) == {}
    task = FindingReviewOperator(task_id="review", defaults=[review.LEAVE_OPEN], **form)
    event = {"chosen_options": [review.LEAVE_OPEN], "params_input": {},
             "responded_at": WHEN, "responded_by_user": None, "timedout": True}
    result = task.execute_complete({"run_id": "review-1"}, event)
    assert result == {"finding": form["finding"]["id"], "answer": None,
                      "outcome": "no answer in time"}
    assert rows_of(db, "object_outside_layout") == [("check-1", True, None, None, None, False)]
    assert askable(db) == {("afinia", "object_outside_layout"): 1}

    # Answered in time: the operator applies the answer and records the user's name.
    [form] = review.collect(db, s3, settings, "review-2")
    task = FindingReviewOperator(task_id="review", defaults=[review.LEAVE_OPEN], **form)
    result = task.execute_complete({"run_id": "review-2"}, {
        **event, "chosen_options": [review.ACCEPT], "timedout": False,
        "responded_by_user": {"id": "u-7", "name": "ana.reviewer"}})
    assert (result["answer"], result["applied"], result["open"]) == (review.ACCEPT, True, False)
    assert rows_of(db, "object_outside_layout") == [
        ("check-1", False, review.ACCEPT, "ana.reviewer", WHEN, False)]


def test_a_review_run_asks_at_most_its_limit_the_longest_waiting_first(
        db, settings, landing, s3, bucket):
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}zz-first.txt", Body=b"x")
    check(db, s3, settings, "check-1")
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}aa-second.txt", Body=b"x")
    check(db, s3, settings, "check-2")  # both found again; zz-first waits longest
    [first] = findings.claim_questions(db, "review-1", limit=1, stale_after=review.STALE_ASK)
    assert (first.s3_key, first.run_id) == (f"{PREFIX}zz-first.txt", "check-2")
    db.commit()
    assert askable(db) == {("afinia", "object_outside_layout"): 1}  # the rest: a later run
    [second] = findings.claim_questions(db, "review-2", limit=1, stale_after=review.STALE_ASK)
    assert second.s3_key == f"{PREFIX}aa-second.txt"


def test_a_stale_temp_file_with_a_name_that_is_not_utf8_is_a_question(
        db, settings, landing, s3, bucket):
    processed = company_folders(landing, "afinia").processed
    processed.mkdir(parents=True, exist_ok=True)
    raw = os.path.join(os.fsencode(processed), b"RE1_\xff_20251008_090000.pdf.part")
    with open(raw, "wb") as handle:
        handle.write(b"%PDF half")
    old = time.time() - 80 * 3600
    os.utime(raw, (old, old))
    seen_hours_ago(db, landing, "afinia", os.fsdecode(os.path.basename(raw)), hours=80)
    report = check(db, s3, settings, "check-1")
    [stale] = report.awaiting_answer
    assert (stale.kind, stale.subject) == ("temp_file_stale",
                                           "RE1_\\xff_20251008_090000.pdf.part")
    [form] = review.collect(db, s3, settings, "review-1")
    assert form["options"] == [review.QUARANTINE, review.LEAVE_OPEN]
    # The printable name is not the file's: nothing is moved, and it says why.
    outcome = answer(db, s3, settings, form["finding"]["id"], review.QUARANTINE)
    assert (outcome.applied, outcome.text) == (False,
                                               "not applied: the file is no longer in processed/")
    assert os.path.exists(raw)


# ------------------------------------------------------------ answers bound to what was shown


def _registry(db, key: str) -> tuple:
    [row] = query(db, "SELECT upload_status, last_error, file_hash, file_size FROM "
                      "data_general.s3_files_registry WHERE s3_key = %s", key)
    return row


def test_keep_the_bucket_object_is_not_applied_to_an_object_replaced_after_the_question(
        db, settings, landing, s3, bucket):
    key = uploaded(db, settings, landing, s3, "RE1")["RE1"]
    shown = b"%PDF-1.4 someone else's version A of it"
    s3.put_object(Bucket=bucket, Key=key, Body=shown)  # no checksum, no metadata
    check(db, s3, settings, "check-1")
    before = _registry(db, key)
    [form] = review.collect(db, s3, settings, "review-1")
    # Replaced between question and answer by an object of the same size.
    replaced = b"%PDF-1.4 someone else's version B of it"
    assert len(replaced) == len(shown)
    s3.put_object(Bucket=bucket, Key=key, Body=replaced)

    outcome = answer(db, s3, settings, form["finding"]["id"], review.KEEP_PRE_EXISTING)
    assert (outcome.applied, outcome.open) == (False, True)
    assert _registry(db, key) == before  # nothing recorded of an object nobody saw
    assert outcome.text.startswith("not applied: changed since asked: the bucket object's "
                                   "SHA-256")
    # The form showed the bucket object's hash; the question is asked again with the new one.
    assert hashlib.sha256(shown).hexdigest() in form["body"]
    assert askable(db) == {("afinia", "object_different"): 1}
    [again] = review.collect(db, s3, settings, "review-2")
    assert hashlib.sha256(replaced).hexdigest() in again["body"]
    assert "changed since asked" in again["body"]  # the form says why it is asked again
    assert answer(db, s3, settings, again["finding"]["id"], review.KEEP_PRE_EXISTING).applied
    assert _registry(db, key)[:3] == ("pre_existing", None, hashlib.sha256(replaced).hexdigest())


def test_moving_a_waiting_document_to_quarantine_is_not_applied_once_its_json_arrived(
        db, settings, landing, s3, bucket):
    lonely = _lonely_pdf(db, landing)
    check(db, s3, settings, "check-1")
    [form] = review.collect(db, s3, settings, "review-1")
    # Its request JSON arrives after the question was asked.
    write_request(landing, "afinia", "RE1234", "R-1234", "20251008_090000", pdf=False)

    outcome = answer(db, s3, settings, form["finding"]["id"], review.QUARANTINE)
    assert (outcome.applied, outcome.open) == (False, True)
    assert outcome.text.startswith("not applied: changed since asked:")
    assert "RE1234_data_20251008_090000.json" in outcome.text
    assert lonely.exists() and read_quarantine(company_folders(landing, "afinia")) == []
    assert "Request JSONs that could own it: none" in form["body"]
    # The next run files the document with its request; the question is gone.
    extracted = pipeline.extract(db, AFINIA, settings, "day-2")
    pipeline.load(db, AFINIA, extracted.manifest)
    report = check(db, s3, settings, "check-2")
    assert report.findings == []
    assert _registry(db, f"{PREFIX}RE1234/{lonely.name}")[:2] == ("uploaded", None)


def _answer_while_written(db, s3, settings, fid: int, choice: str,
                          holder_name: str = "extract of day-2") -> review.Outcome:
    """The answer arrives while another step holds the company's writer exclusion."""
    from extractorov import locks, runtime

    with runtime.warehouse_connection() as holder:
        locks.acquire(holder, AFINIA, holder_name)
        try:
            return review.apply_answer(db, s3, settings, fid, choice, answered_by="reviewer",
                                       answered_at=WHEN, run_id="review-1", wait_seconds=0.2)
        finally:
            locks.release(holder, AFINIA)


def test_an_answer_given_while_the_company_is_written_is_applied_afterwards(
        db, settings, landing, s3, bucket):
    lonely = _lonely_pdf(db, landing)
    check(db, s3, settings, "check-1")
    [form] = review.collect(db, s3, settings, "review-1")
    fid = form["finding"]["id"]

    outcome = _answer_while_written(db, s3, settings, fid, review.QUARANTINE)
    assert (outcome.applied, outcome.open) == (False, True)
    assert "afinia is being written by extract of day-2" in outcome.text
    assert "the next reconcile_afinia applies it" in outcome.text
    assert lonely.exists()  # nothing applied without the exclusion
    # Recorded as chosen, not applied: not asked again meanwhile.
    assert query(db, "SELECT answer, answered_by, answer_waiting, open FROM "
                     "data_general.reconcile_findings WHERE id = %s", fid) == [
        (review.QUARANTINE, "reviewer", True, True)]
    assert askable(db) == {}

    # The company's next writer with review work, the hourly check, applies it first.
    report = check(db, s3, settings, "check-2")
    assert not lonely.exists()
    [moved] = read_quarantine(company_folders(landing, "afinia"))
    assert moved.original_name == lonely.name
    assert report.findings == []
    assert query(db, "SELECT answer, answered_by, answer_waiting, open, outcome FROM "
                     "data_general.reconcile_findings WHERE id = %s", fid) == [
        (review.QUARANTINE, "reviewer", False, False, f"moved to quarantine/{lonely.name}")]


def test_an_answer_waiting_while_extract_files_the_document_is_not_applied(
        db, settings, landing, s3, bucket):
    lonely = _lonely_pdf(db, landing)
    check(db, s3, settings, "check-1")
    [form] = review.collect(db, s3, settings, "review-1")
    fid = form["finding"]["id"]
    assert not _answer_while_written(db, s3, settings, fid, review.QUARANTINE).applied
    # Meanwhile its JSON arrived and a run filed the document.
    write_request(landing, "afinia", "RE1234", "R-1234", "20251008_090000", pdf=False)
    extracted = pipeline.extract(db, AFINIA, settings, "day-2")
    pipeline.load(db, AFINIA, extracted.manifest)

    report = check(db, s3, settings, "check-2")
    assert lonely.exists() and read_quarantine(company_folders(landing, "afinia")) == []
    assert report.findings == []
    # Uploaded by the check: never 'local file is missing'.
    assert _registry(db, f"{PREFIX}RE1234/{lonely.name}")[:2] == ("uploaded", None)
    [(answer_, waiting, outcome)] = query(
        db, "SELECT answer, answer_waiting, outcome FROM data_general.reconcile_findings "
            "WHERE id = %s", fid)
    assert (answer_, waiting) == (None, False)
    assert outcome.startswith("not applied: changed since asked:")
    assert "registered" in outcome


def test_replace_the_bucket_object_with_the_local_file(db, settings, landing, s3, bucket):
    keys = uploaded(db, settings, landing, s3, "RE1", "RE2")
    tampered = {}
    for sgc, key in keys.items():
        tampered[key] = f"%PDF-1.4 someone else's {sgc}".encode()
        s3.put_object(Bucket=bucket, Key=key, Body=tampered[key])
    check(db, s3, settings, "check-1")
    forms = {f["finding"]["s3_key"]: f for f in review.collect(db, s3, settings, "review-1")}
    form = forms[keys["RE1"]]
    assert form["options"] == [review.KEEP_PRE_EXISTING, review.KEEP_SUPERSEDED,
                               review.REPLACE_OBJECT, review.LEAVE_OPEN]
    local = company_folders(landing, "afinia").processed / keys["RE1"].rsplit("/", 1)[-1]
    status, _, local_hash, local_size = _registry(db, keys["RE1"])
    assert hashlib.sha256(local.read_bytes()).hexdigest() == local_hash

    outcome = answer(db, s3, settings, form["finding"]["id"], review.REPLACE_OBJECT)
    assert (outcome.applied, outcome.open) == (True, False), outcome.text
    head = s3.head_object(Bucket=bucket, Key=keys["RE1"])
    assert s3.get_object(Bucket=bucket, Key=keys["RE1"])["Body"].read() == local.read_bytes()
    assert head["Metadata"]["file-hash"] == local_hash
    [(status, error, digest, size, metadata)] = query(
        db, "SELECT upload_status, last_error, file_hash, file_size, metadata FROM "
            "data_general.s3_files_registry WHERE s3_key = %s", keys["RE1"])
    assert (status, error, digest, size) == ("uploaded", None, local_hash, local_size)
    assert metadata["review"]["answer"] == review.REPLACE_OBJECT
    assert metadata["review"]["replaced_object"]["sha256"] == hashlib.sha256(
        tampered[keys["RE1"]]).hexdigest()

    # The local file of RE2 changed since the question: its object is not replaced.
    other = company_folders(landing, "afinia").processed / keys["RE2"].rsplit("/", 1)[-1]
    other.write_bytes(b"%PDF-1.4 edited by hand")
    late = answer(db, s3, settings, forms[keys["RE2"]]["finding"]["id"], review.REPLACE_OBJECT)
    assert (late.applied, late.open) == (False, True)
    assert late.text.startswith("not applied: changed since asked: the local file's")
    assert s3.get_object(Bucket=bucket, Key=keys["RE2"])["Body"].read() == tampered[keys["RE2"]]

    # The next check: the replaced object agrees with the registry.
    assert of_kind(check(db, s3, settings, "check-2"), "object_different", keys["RE1"]) == []


def test_a_review_task_whose_company_is_written_ends_with_its_answer_recorded(
        db, settings, landing, s3, bucket):
    """The Human-in-the-loop task's resume (``execute_complete``) never waits for the
    company nor fails: the answer is recorded and the next check applies it."""
    from extractorov import locks, runtime
    from extractorov.review_operator import FindingReviewOperator

    s3.put_object(Bucket=bucket, Key=f"{PREFIX}loose-file.txt", Body=b"x")
    check(db, s3, settings, "check-1")
    [form] = review.collect(db, s3, settings, "review-1")
    task = FindingReviewOperator(task_id="review", defaults=[review.LEAVE_OPEN], **form)
    event = {"chosen_options": [review.ACCEPT], "params_input": {}, "responded_at": WHEN,
             "responded_by_user": {"id": "u-7", "name": "ana.reviewer"}, "timedout": False}
    with runtime.warehouse_connection() as holder:
        locks.acquire(holder, AFINIA, "upload_s3 of scheduled__2025-10-09")
        result = task.execute_complete({"run_id": "review-1"}, event)
        locks.release(holder, AFINIA)
    assert (result["answer"], result["applied"], result["waiting"], result["open"]) == (
        review.ACCEPT, False, True, True)
    assert "afinia is being written by upload_s3 of scheduled__2025-10-09" in result["outcome"]
    assert rows_of(db, "object_outside_layout") == [
        ("check-1", True, review.ACCEPT, "ana.reviewer", WHEN, False)]
    report = check(db, s3, settings, "check-2")
    assert [o.text for o in report.answers_applied] == ["accepted as it is"]
    assert report.awaiting_answer == []
    assert rows_of(db, "object_outside_layout")[-1] == (
        "check-2", False, review.ACCEPT, "ana.reviewer", WHEN, False)
