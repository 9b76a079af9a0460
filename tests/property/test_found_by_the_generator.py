"""What the generator (``test_every_file_ends_in_exactly_one_place.py``) found, each as the
shortest test its shrunk counterexample became, on the real PostgreSQL and moto S3.

Each failed on the code of its time (strict xfail while its defect was open, named in the
generator's ``KNOWN_OPEN``); they pass since their fixes landed, and guard them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import asdict
from datetime import UTC, datetime

import pytest

from extractorov import pipeline, reconcile, review
from extractorov.errors import PipelineError
from extractorov.landing import company_folders, read_quarantine
from tests.helpers import query, seen_hours_ago
from tests.landing_files import AFINIA, run_all, write, write_json, write_pdf
from tests.property._world import LandingFaults, Steps

pytestmark = pytest.mark.integration

WHEN = datetime(2025, 10, 9, 15, 0, tzinfo=UTC)


def folders_of(db, radicado_or_name: str) -> set[str]:
    """The folders under raw_data/ of every registry row whose name or radicado matches."""
    keys = [k for (k,) in query(db, "SELECT s3_key FROM data_general.s3_files_registry "
                                    "WHERE filename = %s OR metadata->>'numero_radicado' = %s",
                                radicado_or_name, radicado_or_name)]
    return {k.split("raw_data/", 1)[1].rsplit("/", 1)[0] for k in keys}


def answer(db, s3, settings, finding_id: int, choice: str):
    return review.apply_answer(db, s3, settings, finding_id, choice, answered_by="reviewer",
                               answered_at=WHEN, run_id="review-run")


# ------------------------------------------------------------------ never another customer's


def test_a_placeholder_pdf_whose_json_the_bot_never_wrote_is_not_filed_with_the_next_request(
        db, settings, landing):
    """Row 4 of one result page: the PDF is saved, the JSON step fails, the bot goes on.
    Row 4 of the next page, 40 s later: no PDF (its PDF step failed), the JSON."""
    pdf = write_pdf(landing, "PQR_4_ERROR", 0, "request A")
    write_json(landing, "PQR_4_ERROR", "R-B", 40)
    pipeline.extract(db, AFINIA, settings, "run-1")
    assert folders_of(db, pdf) == set(), "request A's PDF was filed in request B's folder"


def _two_placeholder_requests(landing) -> tuple[str, str]:
    """A: PDF and a JSON with a blank numero_radicado (invalid); B, minutes later, with the
    same placeholder: its JSON only."""
    pdf = write_pdf(landing, "PQR_4_ERROR", 0, "request A")
    a_json = write_json(landing, "PQR_4_ERROR", "", 10)
    write_json(landing, "PQR_4_ERROR", "R-B", 300)
    return pdf, a_json


def test_a_json_quarantined_while_the_disk_is_full_stays_in_view(db, settings, landing,
                                                                  monkeypatch):
    _, a_json = _two_placeholder_requests(landing)
    faults = LandingFaults()
    faults.install(monkeypatch.setattr)
    faults.reason = "enospc"
    with contextlib.suppress(OSError, PipelineError):  # the step may fail: the disk is full
        pipeline.extract(db, AFINIA, settings, "run-1")
    assert faults.hits == 1
    folders = company_folders(landing, "afinia")
    where = ((folders.processed / a_json).exists(),
             a_json in {q.original_name for q in read_quarantine(folders)})
    assert where in {(True, False), (False, True)}, (
        f"request A's JSON (in processed/, listed in quarantine/) = {where}")


def test_a_full_disk_while_quarantining_a_json_misfiles_nothing_afterwards(
        db, settings, landing, monkeypatch):
    pdf, _ = _two_placeholder_requests(landing)
    faults = LandingFaults()
    faults.install(monkeypatch.setattr)
    faults.reason = "enospc"
    with contextlib.suppress(OSError, PipelineError):
        pipeline.extract(db, AFINIA, settings, "run-1")
    assert faults.hits == 1
    pipeline.extract(db, AFINIA, settings, "run-1")  # the disk has room again: retried
    assert "sin_sgc/R-B" not in folders_of(db, pdf), (
        "request A's PDF was filed in request B's folder")


# ------------------------------------------------------------------ one folder per request


def test_a_request_whose_sgc_is_learned_on_a_later_scrape_stays_in_one_folder(
        db, s3, settings, landing):
    write_pdf(landing, "PQR_4_ERROR", 0, "first scrape")
    write_json(landing, "PQR_4_ERROR", "R-8", 10)
    run_all(db, s3, settings, "day-1")
    write_pdf(landing, "RE8", 86400, "second scrape")
    write_json(landing, "RE8", "R-8", 86410)
    run_all(db, s3, settings, "day-2")
    assert len(folders_of(db, "R-8")) == 1, sorted(folders_of(db, "R-8"))


# ------------------------------------------------------------------ the scan races the bot


@pytest.mark.parametrize("step", ["extract", "reconcile"])
def test_a_download_finishing_during_the_scan_does_not_crash_the_step(
        db, s3, settings, landing, monkeypatch, step):
    processed = company_folders(landing, "afinia").processed
    final = processed / "RE5_adjunto_20251008_090003.jpg"
    partial = write(landing, final.name + ".crdownload", b"adj", mtime=time.time())
    faults = LandingFaults()
    faults.install(monkeypatch.setattr)
    faults.after_listing = lambda: os.replace(partial, final)
    if step == "extract":
        pipeline.extract(db, AFINIA, settings, "run-1")
    else:
        reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    assert final.exists()


# ------------------------------------------------------------------ answers bound to the form


def _uploaded_pdf(db, s3, settings, landing) -> str:
    write_pdf(landing, "RE1", 0, "ours")
    write_json(landing, "RE1", "R-1", 10)
    run_all(db, s3, settings, "day-1")
    [(key,)] = query(db, "SELECT s3_key FROM data_general.s3_files_registry "
                         "WHERE filename LIKE %s", "%.pdf")
    return key


def test_keep_the_bucket_object_is_not_applied_to_an_object_the_reviewer_never_saw(
        db, s3, bucket, settings, landing):
    key = _uploaded_pdf(db, s3, settings, landing)
    s3.put_object(Bucket=bucket, Key=key, Body=b"someone else's, another size")
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    [form] = review.collect(db, s3, settings, "review-1")
    shown = hashlib.sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()
    unseen = bytes(b ^ 0x20 for b in b"someone else's, another size")  # same size
    s3.put_object(Bucket=bucket, Key=key, Body=unseen)
    answer(db, s3, settings, form["finding"]["id"], review.KEEP_PRE_EXISTING)
    [(digest,)] = query(db, "SELECT file_hash FROM data_general.s3_files_registry "
                            "WHERE s3_key = %s", key)
    assert digest != hashlib.sha256(unseen).hexdigest(), (
        f"the registry now describes an object the reviewer was never shown (shown: "
        f"{shown[:12]})")


def test_move_to_quarantine_does_not_set_aside_a_document_whose_json_has_arrived(
        db, s3, settings, landing):
    pdf = write_pdf(landing, "RE1234", 0, "waiting")  # its JSON is late
    seen_hours_ago(db, landing, "afinia", hours=100)  # first seen long ago
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    [form] = review.collect(db, s3, settings, "review-1")
    assert form["finding"]["kind"] == "document_waiting"
    write_json(landing, "RE1234", "R-1234", 5)  # the JSON arrives before the answer
    answer(db, s3, settings, form["finding"]["id"], review.QUARANTINE)
    pipeline.extract(db, AFINIA, settings, "day-1")
    assert folders_of(db, pdf) == {"RE1234"}, "its request's document was set aside"


# ------------------------------------------------------------------ hourly check


def test_an_unanswered_question_fails_one_hourly_check_not_every_one(
        db, s3, settings, landing):
    write_pdf(landing, "RE1234", 0, "waiting for a JSON that never comes")
    seen_hours_ago(db, landing, "afinia", hours=100)  # first seen long ago
    steps = Steps(settings)
    assert steps.reconcile_task(AFINIA, "scheduled__2025-10-09T10:00:00+00:00") == "failed"
    assert steps.reconcile_task(AFINIA, "scheduled__2025-10-09T11:00:00+00:00") == "success"


# ------------------------------------------------------------------ counts per run


def _report(db, settings, run_id: str, extract: dict, load: dict) -> tuple[int, int]:
    Steps(settings).report_stats(AFINIA, run_id, database_only=True,
                                 xcoms={"extract": extract, "load_db": load},
                                 states={"extract": "success", "load_db": "success",
                                         "upload_s3": "skipped"})
    [row] = query(db, "SELECT files_registered, db_inserted FROM "
                      "data_general.post_processing_runs WHERE run_id = %s", run_id)
    return row


def test_a_load_retried_after_its_commit_reports_what_the_run_inserted(db, settings, landing):
    write_json(landing, "RE1", "R-1", 10)
    write_json(landing, "RE2", "R-2", 20)
    extracted = pipeline.extract(db, AFINIA, settings, "run-1")
    pipeline.load(db, AFINIA, extracted.manifest)  # committed; the worker dies before XCom
    retry = pipeline.load(db, AFINIA, extracted.manifest)  # Airflow's retry
    assert _report(db, settings, "run-1", Steps.extract_xcom(extracted, 1),
                   asdict(retry)) == (2, 2)


def test_an_extract_retried_after_its_commit_reports_what_the_run_registered(
        db, settings, landing):
    write_json(landing, "RE1", "R-1", 10)
    write_json(landing, "RE2", "R-2", 20)
    pipeline.extract(db, AFINIA, settings, "run-1")  # committed; the worker dies before XCom
    retry = pipeline.extract(db, AFINIA, settings, "run-1")  # Airflow's retry
    loaded = pipeline.load(db, AFINIA, retry.manifest)
    assert _report(db, settings, "run-1", Steps.extract_xcom(retry, 2),
                   asdict(loaded)) == (2, 2)


# ------------------------------------------------------------------ one place after a review


@pytest.mark.parametrize("choice", [review.KEEP_PRE_EXISTING, review.KEEP_SUPERSEDED])
def test_a_file_whose_bucket_object_a_review_kept_is_never_both_registered_and_quarantined(
        db, s3, bucket, settings, landing, choice):
    """A request JSON delivered; someone edits its bucket object; the hourly check asks;
    the reviewer keeps the bucket's object. The registry row stays (it describes the kept
    object, under the file's name): the local file stays with it, never in quarantine/
    as well."""
    name = write_json(landing, "PQR_4_ERROR", "R-2", 83)
    run_all(db, s3, settings, "day-1")
    [(key,)] = query(db, "SELECT s3_key FROM data_general.s3_files_registry "
                         "WHERE filename = %s", name)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=body + b"\n(edited)")
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    [form] = review.collect(db, s3, settings, "review-1")
    assert form["finding"]["kind"] == "object_different"
    outcome = answer(db, s3, settings, form["finding"]["id"], choice)
    assert outcome.applied, outcome.text
    folders = company_folders(landing, "afinia")
    registered = bool(query(db, "SELECT 1 FROM data_general.s3_files_registry "
                                "WHERE filename = %s", name))
    quarantined = name in {q.original_name for q in read_quarantine(folders)}
    assert not (registered and quarantined), (
        f"{name} is registered and in quarantine/ too ({outcome.text})")
    assert registered and (folders.processed / name).exists()


# ------------------------------------------------------------------ a retried extract


def test_a_json_that_arrives_after_an_extract_committed_has_its_row_after_the_next_run(
        db, settings, landing):
    """The generator's finding of a "lost row" was its own: a run's extract try committed
    (then its worker was SIGKILLed), an operator moved a fixed request JSON back, the
    retry returned the committed try's manifest. What users rely on: the retry's load
    owes that JSON nothing, the JSON waits in processed/, and the next run loads it."""
    write_json(landing, "RE1", "R-1", 10)
    pipeline.extract(db, AFINIA, settings, "run-1")  # committed; the worker dies
    late = write_json(landing, "RE2", "R-2", 20)  # e.g. a fixed JSON moved back
    retry = pipeline.extract(db, AFINIA, settings, "run-1")  # Airflow's retry
    pipeline.load(db, AFINIA, retry.manifest, run_id="run-1")
    assert query(db, "SELECT numero_radicado FROM data_general.ov_afinia") == [("R-1",)]
    assert (company_folders(landing, "afinia").processed / late).exists(), (
        "the JSON that arrived after the committed try is nowhere")
    extracted = pipeline.extract(db, AFINIA, settings, "run-2")
    pipeline.load(db, AFINIA, extracted.manifest, run_id="run-2")
    assert sorted(query(db, "SELECT numero_radicado FROM data_general.ov_afinia")) == [
        ("R-1",), ("R-2",)], "a valid request JSON has no row after the next run"
