"""A regression test (hostile-review-7.md).

The bot (``afinia_pqr_processor._process_single_pqr_specific_sequence`` in
``Jeampauldev/ExtractorMerc``) runs PASO 3 (detail PDF), PASO 4 (attachment) and PASO 5
(JSON) each in a ``try`` of its own and goes on whatever fails. PASO 4
(``_download_document_proof_attachments``) downloads only the file its page names in
*Documento/prueba* (the ``documento_prueba`` field PASO 5 saves): with that field blank it
saves nothing and returns. A failed ``page.pdf`` leaves a screenshot in ``screenshots_dir``,
not a PDF (``_generate_pdf_with_sgc_name``), so a request may have a JSON and no PDF.

Story: SGC ``RE900`` shared by two requests. R-2: detail PDF at +0 s, its attachment (the
customer's ID scan) at +4 s, its JSON step fails. R-3: its PDF step fails (a screenshot
instead), its page names no attachment (``documento_prueba`` blank: nothing saved), its
JSON at +60 s. ``_place_real`` ties R-2's PDF and attachment to R-3's JSON (the first of
the SGC within 30 minutes); ``_one_request_each`` sees one PDF, one attachment after it,
the PDF 4 s before the attachment (``MAX_PDF_TO_NEXT_STEP`` is measured to the attachment,
and the attachment-to-JSON gap is never bounded): it keeps both ties. R-3's own JSON says
it has no attachment, so the attachment cannot be R-3's. R-3's removal deletes R-2's
detail page and ID scan: another customer's documents LOST. The placeholder rule
(``_not_one_request``) ties the same files the same way.
"""

from __future__ import annotations

import pytest

from tests.helpers import list_keys, query
from tests.landing_files import (
    prefix,
    remove_request,
    run_all,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration

REASON = ("R-2's PDF + attachment (JSON step failed) are tied to R-3, whose JSON names no "
          "attachment and whose PDF step failed")


def _session(db, s3, settings, landing, sgc):
    r2_pdf = write_pdf(landing, sgc, 0, "detalle de R-2")
    r2_adjunto = write_adjunto(landing, sgc, 4, "cédula de R-2")  # R-2's JSON step failed
    # PDF step failed; its page names no attachment (documento_prueba blank).
    r3_json = write_json(landing, sgc, "R-3", 60, documento_prueba="")
    run_all(db, s3, settings, "day-1")
    return r2_pdf, r2_adjunto, r3_json


def _ties(db, *names):
    return query(db, "SELECT filename, numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = ANY(%s) "
                     "ORDER BY 1", list(names))


@pytest.mark.xfail(strict=True, reason=REASON)
@pytest.mark.parametrize("sgc", ["RE900", "PQR_4_ERROR"])
def test_an_attachment_before_a_json_that_names_no_attachment_is_never_tied_to_it(
        db, s3, bucket, settings, landing, sgc):
    r2_pdf, r2_adjunto, r3_json = _session(db, s3, settings, landing, sgc)
    tied_to_r3 = [name for name, radicado, request_json in _ties(db, r2_pdf, r2_adjunto)
                  if radicado == "R-3" or request_json == r3_json]
    assert tied_to_r3 == []


@pytest.mark.xfail(strict=True, reason=REASON)
def test_removing_a_request_without_attachment_keeps_the_earlier_requests_documents(
        db, s3, bucket, settings, landing):
    r2_pdf, r2_adjunto, _ = _session(db, s3, settings, landing, "RE900")
    remove_request(db, s3, settings, "R-3")
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    keys = list_keys(s3, bucket)
    gone = [name for name in (r2_pdf, r2_adjunto)
            if prefix() + "RE900/" + name not in keys and not (processed / name).exists()]
    assert gone == [], "R-2's documents are gone"
