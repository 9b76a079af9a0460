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

from extractorov import pipeline
from extractorov.landing import company_folders, read_quarantine
from tests.helpers import list_keys, query, seen_hours_ago
from tests.landing_files import (
    AFINIA,
    prefix,
    remove_request,
    run_all,
    write,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration

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


@pytest.mark.parametrize("sgc", ["RE900", "PQR_4_ERROR"])
def test_an_attachment_before_a_json_that_names_no_attachment_is_never_tied_to_it(
        db, s3, bucket, settings, landing, sgc):
    r2_pdf, r2_adjunto, r3_json = _session(db, s3, settings, landing, sgc)
    tied_to_r3 = [name for name, radicado, request_json in _ties(db, r2_pdf, r2_adjunto)
                  if radicado == "R-3" or request_json == r3_json]
    assert tied_to_r3 == []


def test_removing_a_request_without_attachment_keeps_the_earlier_requests_documents(
        db, s3, bucket, settings, landing):
    r2_pdf, r2_adjunto, _ = _session(db, s3, settings, landing, "RE900")
    remove_request(db, s3, settings, "R-3")
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    keys = list_keys(s3, bucket)
    gone = [name for name in (r2_pdf, r2_adjunto)
            if prefix() + "RE900/" + name not in keys and not (processed / name).exists()]
    assert gone == [], "R-2's documents are gone"


def test_a_registered_json_that_names_no_attachment_keeps_that_fact_for_later_runs(
        db, s3, bucket, settings, landing):
    """R-3's JSON is filed on day 1; R-2's documents (written before it) reach processed/
    only on day 2 (a copied backlog): the registry still says R-3 names no attachment."""
    r3_json = write_json(landing, "RE900", "R-3", 60, documento_prueba="")
    run_all(db, s3, settings, "day-1")
    assert query(db, "SELECT metadata -> 'names_attachment' FROM "
                     "data_general.s3_files_registry WHERE filename = %s", r3_json) == [(False,)]
    r2_pdf = write_pdf(landing, "RE900", 0, "detalle de R-2")
    r2_adjunto = write_adjunto(landing, "RE900", 4, "cédula de R-2")
    run_all(db, s3, settings, "day-2")
    # Never R-3's; R-2's own JSON may still arrive: they wait for it.
    assert _ties(db, r2_pdf, r2_adjunto) == []
    seen_hours_ago(db, landing, "afinia", r2_pdf, r2_adjunto, hours=100)
    run_all(db, s3, settings, "day-5")  # none came: the SGC's folder, tied to no request
    assert [(name, radicado, request_json) for name, radicado, request_json
            in _ties(db, r2_pdf, r2_adjunto)] == [
        (r2_pdf, None, None), (r2_adjunto, None, None)]
    keys = list_keys(s3, bucket).keys()
    assert {prefix() + "RE900/" + r2_pdf, prefix() + "RE900/" + r2_adjunto} <= keys


def test_removing_a_request_before_extract_keeps_the_earlier_requests_documents(
        db, s3, bucket, settings, landing):
    """The removal's own pairing (documents still waiting in processed/) reads the same fact
    from the JSON's bytes as extract does."""
    run_all(db, s3, settings, "day-0")  # the tables exist; nothing filed yet
    r2_pdf = write_pdf(landing, "RE900", 0, "detalle de R-2")
    r2_adjunto = write_adjunto(landing, "RE900", 4, "cédula de R-2")
    r3_json = write_json(landing, "RE900", "R-3", 60, documento_prueba="")
    remove_request(db, s3, settings, "R-3")
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    assert not (processed / r3_json).exists()  # the request itself went (holds)
    assert (processed / r2_pdf).exists() and (processed / r2_adjunto).exists()


JSON_CUT = '{\n  "record_number": 4,\n  "sgc_number": "RE900",\n  "numero_radicado": "R-3",\n  "fec'


def test_a_json_read_only_after_readmission_unties_the_attachment_tied_to_it_meanwhile(
        db, s3, bucket, settings, landing):
    """R-3's JSON was cut short (nothing could be read of it), so R-2's documents were filed
    with it while it sat in quarantine; fixed and re-admitted, it names no attachment: the
    group was not one request's, and R-3's removal keeps R-2's documents."""
    r2_pdf = write_pdf(landing, "RE900", 0, "detalle de R-2")
    r2_adjunto = write_adjunto(landing, "RE900", 4, "cédula de R-2")
    r3_json = write_json(landing, "RE900", "R-3", 60, documento_prueba="")
    folders = company_folders(landing, "afinia")
    good = (folders.processed / r3_json).read_bytes()
    write(landing, r3_json, JSON_CUT)
    run_all(db, s3, settings, "day-1")
    assert {request_json for _, _, request_json in _ties(db, r2_pdf, r2_adjunto)} == {
        r3_json}  # tied while nothing was known of it (holds)
    entry = next(q for q in read_quarantine(folders) if q.original_name == r3_json)
    entry.path.write_bytes(good)
    summary = pipeline.extract(db, AFINIA, settings, "day-2", readmit_quarantine=True)
    pipeline.load(db, AFINIA, summary.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-2")
    assert [(radicado, request_json) for _, radicado, request_json
            in _ties(db, r2_pdf, r2_adjunto)] == [(None, None), (None, None)]
    remove_request(db, s3, settings, "R-3")
    keys = list_keys(s3, bucket).keys()
    assert {prefix() + "RE900/" + r2_pdf, prefix() + "RE900/" + r2_adjunto} <= keys


def test_a_refused_json_that_names_no_attachment_ties_none(db, s3, bucket, settings, landing):
    """A JSON refused for its content (a fecha the parser does not know) is still read for
    documento_prueba: R-2's documents are not filed with it."""
    r2_pdf = write_pdf(landing, "RE900", 0, "detalle de R-2")
    r2_adjunto = write_adjunto(landing, "RE900", 4, "cédula de R-2")
    write_json(landing, "RE900", "R-3", 60, documento_prueba="", fecha="ayer en la tarde")
    run_all(db, s3, settings, "day-1")
    assert _ties(db, r2_pdf, r2_adjunto) == []  # they wait for their own JSON
    seen_hours_ago(db, landing, "afinia", r2_pdf, r2_adjunto, hours=100)
    run_all(db, s3, settings, "day-5")
    assert [(radicado, request_json) for _, radicado, request_json
            in _ties(db, r2_pdf, r2_adjunto)] == [(None, None), (None, None)]
