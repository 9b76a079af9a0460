"""A request JSON keeps its place in the bot's write order, whatever happens to it.

Documents with a placeholder SGC (``PQR_4_ERROR``) are paired with the JSON written
after them; if a JSON that was seen disappears from a run's view (moved away while the
run reads, unreadable, its quarantine failed), the stretch of documents before it must
not run on to the next customer's JSON: the documents wait (``docs/data-contract.md``).
"""

from __future__ import annotations

import pytest

from extractorov import extract as extract_step
from extractorov import pipeline, registry
from extractorov.landing import company_folders
from tests.landing_files import AFINIA, stamp, write_adjunto, write_json, write_pdf

pytestmark = pytest.mark.integration


def test_a_json_that_vanishes_while_extract_reads_keeps_its_documents_waiting(
        db, bucket, settings, landing, monkeypatch):
    a_pdf = write_pdf(landing, "PQR_4_ERROR", 0, "A")
    a_json = write_json(landing, "PQR_4_ERROR", "R-A", 10)
    write_adjunto(landing, "PQR_4_ERROR", 300, "B")
    write_json(landing, "PQR_4_ERROR", "R-B", 310)
    processed = company_folders(landing, "afinia").processed
    real_scan = extract_step.scan

    def scan_then_someone_moves_a_json(*args, **kwargs):
        found = real_scan(*args, **kwargs)
        (processed / a_json).rename(landing / a_json)  # e.g. an operator took it away
        return found

    monkeypatch.setattr(extract_step, "scan", scan_then_someone_moves_a_json)
    summary = pipeline.extract(db, AFINIA, settings, "run-1")
    keys = registry.keys(db, "afinia", bucket)
    assert not [k for k in keys if k.endswith(a_pdf)], "A's PDF was filed with another request"
    assert (processed / a_pdf).exists()  # it waits for a later run
    assert summary.files_waiting == 1 and summary.files_vanished == 1
    assert sorted(k.rsplit("/", 2)[-2] for k in keys) == ["R-B", "R-B"]


def test_a_request_json_left_empty_by_a_killed_bot_keeps_its_documents_out_of_the_next_request(
        db, bucket, settings, landing):
    """The bot killed mid-write leaves a 0-byte JSON after its PDF: quarantined, it still
    closes its request's stretch, so the PDF follows it and never joins the next request."""
    from tests.landing_files import write

    a_pdf = write_pdf(landing, "PQR_4_ERROR", 0, "A")
    write(landing, f"PQR_4_ERROR_data_{stamp(10)}.json", b"")
    write_adjunto(landing, "PQR_4_ERROR", 300, "B")
    write_json(landing, "PQR_4_ERROR", "R-B", 310)
    summary = pipeline.extract(db, AFINIA, settings, "run-1")
    folders = {k.rsplit("/", 2)[-2] for k in registry.keys(db, "afinia", bucket)}
    assert folders == {"R-B"}
    assert a_pdf in {p.name for p in company_folders(landing, "afinia").quarantine.iterdir()}
    assert summary.files_quarantined == 2


def test_a_placeholder_pdf_whose_json_was_never_written_waits_rather_than_join_the_next_request(
        db, bucket, settings, landing):
    """Request A: the bot printed its detail PDF, then died before it opened A's JSON (no
    file at all). Two minutes later request B, same placeholder: its PDF step failed, its
    JSON was saved. The bot stamps each step as it starts, and nothing but printing one
    page lies between a PDF and the next step: a PDF two minutes before the JSON may be
    A's, so it waits."""
    pdf_a = write_pdf(landing, "PQR_4_ERROR", 0, "customer A's detail page")
    write_json(landing, "PQR_4_ERROR", "R-B", 120)
    summary = pipeline.extract(db, AFINIA, settings, "run-1")
    assert not [k for k in registry.keys(db, "afinia", bucket) if k.endswith(pdf_a)]
    assert (company_folders(landing, "afinia").processed / pdf_a).exists()
    assert summary.files_waiting == 1
