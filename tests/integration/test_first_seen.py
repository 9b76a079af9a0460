"""Waiting is counted from when the pipeline first saw a file, never from its mtime
(issue 21): a copied backlog or an outage raises no false ``document_waiting``, and a
document whose request JSON is there is never reported as waiting for it.

Real PostgreSQL and moto S3; time passes by writing the first sighting in the past
(``tests.helpers.seen_hours_ago``), never by waiting.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import pytest

from extractorov import firstseen, pipeline, reconcile
from extractorov.companies import COMPANIES
from extractorov.errors import LandingMissing
from extractorov.landing import company_folders
from tests.helpers import query, seen_hours_ago, write_request
from tests.landing_files import run_all, stamp, write

pytestmark = pytest.mark.integration

AFINIA = COMPANIES["afinia"]
YEAR_AGO = time.time() - 365 * 86400


def _waiting_findings(report) -> list:
    return [f for f in report.findings if f.kind in {"document_waiting", "temp_file_stale"}]


def _rows(db) -> list[tuple]:
    return query(db, f"SELECT filename, outcome FROM {firstseen.TABLE} ORDER BY filename")


def _lonely(landing, name: str, body: bytes = b"%PDF lonely") -> str:
    processed = company_folders(landing, "afinia").processed
    processed.mkdir(parents=True, exist_ok=True)
    (processed / name).write_bytes(body)
    return name


def test_a_backlog_copied_with_year_old_times_next_to_its_jsons_raises_no_finding(
        db, s3, bucket, settings, landing):
    """67 questions came from this: files copied with their old modification times, the
    hourly check before the morning run."""
    for n in range(5):
        for path in write_request(landing, "afinia", f"RE{n}", f"R-{n}", adjunto="jpg"):
            os.utime(path, (YEAR_AGO, YEAR_AGO))
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1", upload=False)
    assert _waiting_findings(report) == []
    # Even after a long outage (first seen days ago, no extract since): a JSON that could
    # own each document is right there, so none waits for its JSON.
    seen_hours_ago(db, landing, "afinia", hours=settings.orphan_after_hours * 3)
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-2", upload=False)
    assert _waiting_findings(report) == []
    assert len(_rows(db)) == 10  # 5 PDFs + 5 attachments wait for the run
    # The morning run files them all: their rows go with the registering.
    pipeline.extract(db, AFINIA, settings, "day-1")
    assert _rows(db) == []


@pytest.mark.parametrize("unsettled", ["temporary name", "modified just now"])
def test_a_document_whose_real_sgc_json_is_not_settled_yet_raises_no_finding(
        db, s3, bucket, settings, landing, unsettled):
    settings = replace(settings, settle_seconds=30)
    [json, pdf] = write_request(landing, "afinia", "RE7", "R-7")
    os.utime(pdf, (YEAR_AGO, YEAR_AGO))
    if unsettled == "temporary name":
        writing = json.with_name(json.name + ".part")
        json.rename(writing)  # its writer is still at it
    else:
        writing = json
        os.utime(json)  # within ov_landing_settle_seconds
    summary = pipeline.extract(db, AFINIA, settings, "day-1")
    assert (summary.files_waiting, summary.files_in_progress) == (1, 1)
    assert (pdf.name, "waiting") in _rows(db)
    seen_hours_ago(db, landing, "afinia", pdf.name, hours=settings.orphan_after_hours + 1)
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1", upload=False)
    assert _waiting_findings(report) == []
    assert writing.exists()


def test_a_document_whose_json_never_comes_is_reported_after_the_limit_from_first_seen(
        db, s3, bucket, settings, landing):
    name = _lonely(landing, "RE1234_20251008_090000.pdf")
    os.utime(company_folders(landing, "afinia").processed / name, (YEAR_AGO, YEAR_AGO))
    # A year-old modification time is no age: the pipeline sees it now for the first time.
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1", upload=False)
    assert _waiting_findings(report) == []
    pipeline.extract(db, AFINIA, settings, "day-1")  # it waits: no JSON
    assert _rows(db) == [(name, "waiting")]
    seen_hours_ago(db, landing, "afinia", name, hours=settings.orphan_after_hours - 1)
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-2", upload=False)
    assert _waiting_findings(report) == []
    seen_hours_ago(db, landing, "afinia", name, hours=settings.orphan_after_hours + 1)
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-3", upload=False)
    [finding] = _waiting_findings(report)
    assert (finding.kind, finding.subject, finding.needs_human) == (
        "document_waiting", name, True)
    assert finding.detail.startswith(f"{name} has waited 3 d 1 h (first seen ")
    assert "for its request JSON" in finding.detail
    # Its JSON arrives: not waiting for it any more (the next run files it).
    write_request(landing, "afinia", "RE1234", "R-1234", "20251008_090005", pdf=False)
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-4", upload=False)
    assert _waiting_findings(report) == []
    pipeline.extract(db, AFINIA, settings, "day-2")
    assert _rows(db) == []


def test_a_stale_temporary_file_is_reported_after_the_limit_from_first_seen(
        db, s3, bucket, settings, landing):
    part = _lonely(landing, "RE5_adjunto_20251008_093222.jpg.part", b"half")
    os.utime(company_folders(landing, "afinia").processed / part, (YEAR_AGO, YEAR_AGO))
    summary = pipeline.extract(db, AFINIA, settings, "day-1")
    assert (summary.files_in_progress, summary.files_waiting) == (1, 0)  # not stale yet
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1", upload=False)
    assert _waiting_findings(report) == []
    seen_hours_ago(db, landing, "afinia", part, hours=settings.orphan_after_hours + 1)
    summary = pipeline.extract(db, AFINIA, settings, "day-2")
    assert (summary.files_in_progress, summary.files_waiting) == (0, 1)  # a dead writer's
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-2", upload=False)
    [finding] = _waiting_findings(report)
    assert (finding.kind, finding.subject) == ("temp_file_stale", part)
    assert finding.detail.startswith(f"{part} is a temporary file unchanged for 3 d 1 h")
    # It grows (its writer came back): a new file to the pipeline, counted afresh.
    with open(company_folders(landing, "afinia").processed / part, "ab") as grown:
        grown.write(b" more")
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-3", upload=False)
    assert _waiting_findings(report) == []
    assert [size for (size,) in query(db, f"SELECT file_size FROM {firstseen.TABLE}")] == [9]


def test_a_placeholder_document_whose_owner_cannot_be_told_says_so_not_waiting_for_json(
        db, s3, bucket, settings, landing):
    processed = company_folders(landing, "afinia").processed
    processed.mkdir(parents=True, exist_ok=True)
    first = _lonely(landing, "PQR_7_ERROR_20251008_180000.pdf", b"%PDF one")
    write_request(landing, "afinia", "PQR_7_ERROR", "R-77", "20251008_180030")
    summary = pipeline.extract(db, AFINIA, settings, "day-1")
    assert summary.files_waiting == 2  # two PDFs before one JSON: never guessed
    assert {outcome for _, outcome in _rows(db)} == {"undecided"}
    seen_hours_ago(db, landing, "afinia", hours=settings.orphan_after_hours + 1)
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1", upload=False)
    findings = sorted(_waiting_findings(report), key=lambda f: f.subject)
    assert [f.subject for f in findings] == [first, "PQR_7_ERROR_20251008_180030.pdf"]
    for finding in findings:
        assert finding.kind == "document_waiting" and finding.needs_human
        assert "for its request JSON" not in finding.detail
        assert ("although a request JSON that could own it is there "
                "(PQR_7_ERROR_data_20251008_180030.json (registered)): which request owns it "
                "cannot be told for sure (several documents of one kind") in finding.detail


def test_rows_follow_the_waiting_files_not_history(db, s3, bucket, settings, landing):
    gone = _lonely(landing, "RE8_20251008_090000.pdf")
    kept = _lonely(landing, "RE9_20251008_090000.pdf")
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1", upload=False)
    assert [n for n, _ in _rows(db)] == [gone, kept]
    (company_folders(landing, "afinia").processed / gone).unlink()
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-2", upload=False)
    assert [n for n, _ in _rows(db)] == [kept]


def test_a_landing_folder_that_is_not_there_forgets_nothing(db, s3, bucket, settings, landing):
    name = _lonely(landing, "RE6_20251008_090000.pdf")
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1", upload=False)
    processed = company_folders(landing, "afinia").processed
    processed.rename(processed.with_name("elsewhere"))  # the volume is not mounted
    with pytest.raises(LandingMissing, match="output folder of afinia"):
        reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-2", upload=False)
    assert [n for n, _ in _rows(db)] == [name]


# ---------------------------------------------------------------------- temporary files


def test_stale_part_is_reported_fresh_part_is_in_progress(db, s3, bucket, settings, landing):
    write_request(landing, "afinia", "AT1", "R-AT1")
    processed = company_folders(landing, "afinia").processed
    stale = processed / "AT1_adjunto_20251008_093222.jpg.part"
    fresh = processed / "AT1_adjunto_20251008_093223.jpg.crdownload"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    old = time.time() - (settings.orphan_after_hours + 1) * 3600
    os.utime(stale, (old, old))
    seen_hours_ago(db, landing, "afinia", stale.name, hours=settings.orphan_after_hours + 1)
    summary = pipeline.extract(db, AFINIA, settings, "day-1")
    assert (summary.files_in_progress, summary.files_waiting) == (1, 1)
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1", upload=False)
    stale_findings = [f for f in report.findings if f.kind == "temp_file_stale"]
    assert len(stale_findings) == 1 and stale.name in stale_findings[0].detail
    assert fresh.name not in " ".join(f.detail for f in report.findings)


def test_a_stale_temporary_file_is_not_in_progress_for_ever_without_a_report(
        db, s3, bucket, settings, landing):
    """A regression test (promise 1: 'in progress *while being written*', 'nothing silent').
    A '.part' request JSON left by a killed writer 100 hours ago was counted 'in progress' by
    every run, for ever; its real-SGC documents waited for it (JSON 'still being written');
    reconcile reported the documents but never the temporary file itself, which nobody was
    told to look at. The rule: a temp file older than ov_orphan_after_hours is reported."""

    old = time.time() - 100 * 3600
    write(landing, f"RE900_data_{stamp(5)}.json.part", b'{"numero_radicado": "R-9', mtime=old)
    seen_hours_ago(db, landing, "afinia", f"RE900_data_{stamp(5)}.json.part", hours=100)
    run_all(db, s3, settings, "run-1")
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1")
    assert any(".part" in f.detail for f in report.findings), [
        (f.kind, f.detail) for f in report.findings]
