"""A regression test (docs/reviews/hostile-review-2.md, findings 2 and 3): a request whose
JSON was quarantined (invalid) with the bot's placeholder SGC has its detail PDF quarantined
with it ("its request JSON … was quarantined"). Removing the request everywhere
(ov_remove_request) removes the JSON, reports ``completed`` and leaves the customer's PDF in
quarantine/ (finding 2). With every trace of the JSON gone, a re-admission
(``readmit_quarantine=true``) files that PDF under the next placeholder request's folder:
another customer's (finding 3, fixed: its tests are in
tests/integration/test_a_removed_requests_document_is_never_filed_under_another_request.py)."""

from __future__ import annotations

import pytest

from extractorov import pipeline
from extractorov.landing import company_folders, read_quarantine
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


def test_removal_takes_the_quarantined_documents_of_its_request(
        db, s3, bucket, settings, landing):
    _quarantined_request_then_removed(db, s3, settings, landing)
    # Nothing of R-901 is left: its detail PDF (the customer's data) went with its JSON.
    left = sorted(q.original_name for q in read_quarantine(company_folders(landing, "afinia")))
    assert left == [], left


def test_removal_takes_the_quarantined_documents_of_its_request_with_the_usual_placeholder(
        db, s3, bucket, settings, landing):
    """The same with the bot's usual placeholder, unique to the request (``PQR_{n}_{ts}``)."""
    sgc = f"PQR_4_{stamp(0)}"
    pdf = write_pdf(landing, sgc, 1, "detalle de R-901")
    broken = write(landing, f"{sgc}_data_{stamp(6)}.json",
                   '{"numero_radicado": "R-901", "nombres_apellidos": "Zoraida Qui')
    pipeline.extract(db, AFINIA, settings, "day-1")
    folders = company_folders(landing, "afinia")
    assert {q.original_name for q in read_quarantine(folders)} == {pdf, broken.name}
    _, outcome = remove_request(db, s3, settings, "R-901")
    assert outcome.status == "completed"
    assert sorted(q.original_name for q in read_quarantine(folders)) == []
