"""A document filed with the request JSON that followed it when it arrived keeps its own
request once the rest of a backlog copied out of order arrives.

The bot (``afinia_pqr_processor._process_single_pqr_specific_sequence`` in
``Jeampauldev/ExtractorMerc``) writes each request's detail PDF, then its attachment
(``{sgc}_adjunto_{ts}.{ext}``), then its JSON, and goes on with the next request. No step
fails in this story: two whole requests of one SGC part, R-2 (PDF +0 s, attachment +4 s,
JSON +8 s) and R-3 (PDF +60 s, attachment +62 s, JSON +64 s).

The files reach ``processed/`` out of their write order, as the project itself says a
backlog can (``test_a_document_waits_for_its_own_json_arriving_after_a_later_requests``: "a
parallel copy, or files moved by hand in two batches"): the first batch holds R-2's PDF and
attachment and R-3's JSON; a run reads the folder; the second batch brings R-2's JSON and
R-3's PDF and attachment.

Run 1: the first JSON of the SGC at or after R-2's documents is R-3's, within 30 minutes;
its group is one PDF and one attachment after it, 4 s apart: both are tied to R-3 (real
SGC: ``numero_radicado`` R-3; placeholder: filed into ``sin_sgc/R-3/``). Run 2 files R-2's
JSON with nothing, and ties R-3's own PDF and attachment to R-3 too. A registered document is
a rival only: the first tie is never looked at again, though pairing now sees that it is
not R-3's. R-3 then has two detail PDFs and two attachments (a request has at most one of
each); R-3's removal deletes R-2's detail page and ID scan; with a placeholder, R-2's ID
scan sits in R-3's folder.
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


def _ties(db, *names):
    return query(db, "SELECT filename, numero_radicado, s3_key "
                     "FROM data_general.s3_files_registry WHERE filename = ANY(%s) "
                     "ORDER BY 1", list(names))


def _two_batches(db, s3, settings, landing, sgc):
    # Batch 1: R-2's documents and R-3's JSON.
    r2_pdf = write_pdf(landing, sgc, 0, "detalle de R-2")
    r2_adjunto = write_adjunto(landing, sgc, 4, "cédula de R-2")
    write_json(landing, sgc, "R-3", 64)
    run_all(db, s3, settings, "day-1")
    # Batch 2: R-2's JSON and R-3's documents.
    write_json(landing, sgc, "R-2", 8)
    r3_pdf = write_pdf(landing, sgc, 60, "detalle de R-3")
    r3_adjunto = write_adjunto(landing, sgc, 62, "cédula de R-3")
    run_all(db, s3, settings, "day-2")
    return r2_pdf, r2_adjunto, r3_pdf, r3_adjunto


@pytest.mark.parametrize("sgc", ["RE900", "PQR_4_ERROR"])
def test_documents_filed_before_the_rest_of_a_backlog_arrives_stay_their_own_requests(
        db, s3, bucket, settings, landing, sgc):
    r2_pdf, r2_adjunto, r3_pdf, r3_adjunto = _two_batches(db, s3, settings, landing, sgc)
    ties = {name: radicado for name, radicado, _ in _ties(db, r2_pdf, r2_adjunto, r3_pdf,
                                                           r3_adjunto)}
    tied_to_r3 = sorted(name for name, radicado in ties.items() if radicado == "R-3")
    assert tied_to_r3 == sorted([r3_pdf, r3_adjunto]), (
        f"R-3 holds {len(tied_to_r3)} documents: {tied_to_r3}")


def test_removing_a_request_keeps_another_requests_documents_that_arrived_before_its_json(
        db, s3, bucket, settings, landing):
    r2_pdf, r2_adjunto, _, _ = _two_batches(db, s3, settings, landing, "RE900")
    remove_request(db, s3, settings, "R-3")
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    keys = list_keys(s3, bucket)
    gone = [name for name in (r2_pdf, r2_adjunto)
            if prefix() + "RE900/" + name not in keys and not (processed / name).exists()]
    assert gone == [], "R-2's documents were deleted by R-3's removal"


def test_a_placeholder_request_folder_never_holds_another_customers_documents(
        db, s3, bucket, settings, landing):
    r2_pdf, r2_adjunto, _, _ = _two_batches(db, s3, settings, landing, "PQR_4_ERROR")
    keys = list_keys(s3, bucket)
    in_r3 = sorted(name for name in (r2_pdf, r2_adjunto)
                   if prefix() + "sin_sgc/R-3/" + name in keys)
    assert in_r3 == [], f"R-2's documents in R-3's folder: {in_r3}"
    # They moved to their own request's folder (the upload moves the objects).
    assert {prefix() + "sin_sgc/R-2/" + name for name in (r2_pdf, r2_adjunto)} <= keys.keys()


def test_a_detail_writers_pdf_arriving_before_its_json_is_never_filed_under_the_previous_request(
        db, s3, bucket, settings, landing):
    """The detail writer (``pqr_detail_extractor``) saves a request's JSON first
    (``pqr_data_{sgc}_{ts}.json``, ``pqr_data__{ts}.json`` when the portal's SGC field was
    blank), then its PDF (``{sgc}_PQR_{n}_{ts}.pdf``), and pauses 2 s before the next request.
    R-1: JSON +0 s, PDF +5 s; R-2: JSON +20 s, PDF +25 s. The first batch of a backlog brings
    R-1's JSON and R-2's PDF; the second R-1's PDF and R-2's JSON."""
    import json

    from tests.landing_files import record, stamp, write

    def detail_json(radicado, at):
        name = f"pqr_data__{stamp(at)}.json"
        write(landing, name, json.dumps(record("", radicado, stamp(at)), ensure_ascii=False))
        return name

    def detail_pdf(n, at, tag):
        name = f"_PQR_{n}_{stamp(at)}.pdf"
        write(landing, name, f"%PDF-1.4 {tag}")
        return name

    detail_json("R-1", 0)
    r2_pdf = detail_pdf(2, 25, "detalle de R-2")
    run_all(db, s3, settings, "day-1")
    detail_json("R-2", 20)
    detail_pdf(1, 5, "detalle de R-1")
    run_all(db, s3, settings, "day-2")
    keys = list_keys(s3, bucket)
    assert prefix() + "sin_sgc/R-1/" + r2_pdf not in keys, "R-2's PDF is in R-1's folder"
