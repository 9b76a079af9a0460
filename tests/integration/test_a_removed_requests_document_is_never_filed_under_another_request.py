"""A request whose JSON was quarantined (invalid) with the bot's placeholder SGC has its
detail PDF quarantined with it (the reason file names that JSON: ``request_json``). Once
that JSON is nowhere any more (removed on request by ov_remove_request, or deleted by hand
as the Ley 1581 table of docs/operacion.md allows), a re-admission
(``readmit_quarantine=true``) must never file that PDF under the next placeholder
request's folder, another customer's: it stays in quarantine/ with a reason saying why
(docs/reviews/hostile-review-2.md, finding 3)."""

from __future__ import annotations

import pytest

from extractorov import pipeline
from extractorov.landing import company_folders, followed_json, read_quarantine
from tests.helpers import query
from tests.landing_files import AFINIA, remove_request, stamp, write, write_json, write_pdf

pytestmark = pytest.mark.integration


def _quarantined_request_then_removed(db, s3, settings, landing) -> str:
    # The bot: R-901's detail PDF, then its JSON, cut short (the bot was stopped while
    # writing it; numero_radicado whole); the portal showed no SGC (placeholder
    # PQR_4_ERROR). Then the next request of the session, R-902 (its PDF failed).
    pdf = write_pdf(landing, "PQR_4_ERROR", 0, "detalle de R-901")
    broken = write(landing, f"PQR_4_ERROR_data_{stamp(5)}.json",
                   '{"numero_radicado": "R-901", "nombres_apellidos": "Zoraida Qui')
    write_json(landing, "PQR_4_ERROR", "R-902", 12)
    pipeline.extract(db, AFINIA, settings, "day-1")
    folders = company_folders(landing, "afinia")
    assert {q.original_name for q in read_quarantine(folders)} == {pdf, broken.name}

    # The titular of R-901 asks for supresión: ov_remove_request lists, is approved, removes.
    _, outcome = remove_request(db, s3, settings, "R-901")
    assert outcome.status == "completed"
    return pdf


def test_a_removed_requests_document_is_never_filed_under_another_request(
        db, s3, bucket, settings, landing):
    pdf = _quarantined_request_then_removed(db, s3, settings, landing)
    # Later, quarantine is validated again (readmit_quarantine=true: what the docs say to do
    # after a parser change or for a 'reason lost' file).
    pipeline.extract(db, AFINIA, settings, "day-2", readmit_quarantine=True)
    rows = query(db, "SELECT filename, s3_key FROM data_general.s3_files_registry")
    # R-901's detail PDF must never be filed in R-902's folder (another customer's request).
    assert not [k for name, k in rows if name == pdf and "/R-902/" in k], rows


def test_a_quarantined_json_deleted_by_hand_never_sends_its_document_to_another_request(
        db, s3, bucket, settings, landing):
    """The same without a removal: the Ley 1581 table of docs/operacion.md lets the
    operator delete a quarantined file by hand "junto con su .reason.txt"."""
    pdf = write_pdf(landing, "PQR_4_ERROR", 0, "detalle de R-901")
    broken = write(landing, f"PQR_4_ERROR_data_{stamp(5)}.json",
                   '{"numero_radicado": "R-901", "nombres_apellidos": "Zoraida Qui')
    write_json(landing, "PQR_4_ERROR", "R-902", 12)
    pipeline.extract(db, AFINIA, settings, "day-1")
    folders = company_folders(landing, "afinia")
    for entry in read_quarantine(folders):
        if entry.original_name == broken.name:  # the operator deletes the broken JSON
            entry.path.unlink()
            entry.reason_path.unlink()
    pipeline.extract(db, AFINIA, settings, "day-2", readmit_quarantine=True)
    rows = query(db, "SELECT filename, s3_key FROM data_general.s3_files_registry")
    assert not [k for name, k in rows if name == pdf and "/R-902/" in k], rows


def test_a_document_whose_request_json_is_gone_stays_in_quarantine_saying_why(
        db, s3, bucket, settings, landing):
    """The reason file of the document that stays says why, names no customer, and keeps
    the JSON it followed (so a removal of that request can still take it)."""
    pdf = write_pdf(landing, "PQR_4_ERROR", 0, "detalle de R-901")
    broken = write(landing, f"PQR_4_ERROR_data_{stamp(5)}.json",
                   '{"numero_radicado": "R-901", "nombres_apellidos": "Zoraida Qui')
    write_json(landing, "PQR_4_ERROR", "R-902", 12)
    pipeline.extract(db, AFINIA, settings, "day-1")
    folders = company_folders(landing, "afinia")
    [doc] = [q for q in read_quarantine(folders) if q.original_name == pdf]
    assert followed_json(doc) == broken.name
    for entry in read_quarantine(folders):
        if entry.original_name == broken.name:
            entry.path.unlink()
            entry.reason_path.unlink()
    pipeline.extract(db, AFINIA, settings, "day-2")  # no re-admission asked: restated
    [doc] = read_quarantine(folders)
    assert doc.original_name == pdf
    assert doc.reason.startswith("request JSON gone, no real SGC: ")
    assert followed_json(doc) == broken.name
    text = doc.reason_path.read_text(encoding="utf-8")
    assert "Zoraida" not in text and "R-901" not in text
    summary = pipeline.extract(db, AFINIA, settings, "day-3", readmit_quarantine=True)
    assert summary.files_readmitted == 0
    assert [q.original_name for q in read_quarantine(folders)] == [pdf]
    # Its JSON put back in processed/: both come back, and the PDF follows that JSON.
    (folders.processed / broken.name).write_text(
        '{"numero_radicado": "R-901", "nombres_apellidos": "Zoraida Qui', encoding="utf-8")
    pipeline.extract(db, AFINIA, settings, "day-4", readmit_quarantine=True)
    rows = query(db, "SELECT filename, s3_key FROM data_general.s3_files_registry")
    assert not [k for name, k in rows if name == pdf], rows
    left = {q.original_name: q for q in read_quarantine(folders)}
    assert set(left) == {pdf, broken.name}
    assert left[pdf].reason.startswith("request JSON quarantined, no real SGC")
