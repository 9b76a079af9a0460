"""A removal on request never deletes a document that a later run re-tied to another
request, while its object still waits to move out of the removed request's folder.

The story of ``test_documents_filed_before_the_rest_of_a_backlog_arrives_stay_their_own_
requests`` (a placeholder SGC shared by unrelated customers, a backlog reaching
``processed/`` in two batches, out of write order; no bot step failing): day 1 files R-2's
detail PDF and attachment into R-3's folder ``sin_sgc/R-3/`` (uploaded). Day 2's extract
sees R-2's JSON and R-3's own documents and re-ties R-2's two documents to R-2: their rows
take ``sin_sgc/R-2/…`` with ``moving_from`` = the old key; the upload step moves the
objects. Until it has, the object is still in R-3's folder.

The move waits whenever day 2's run does not upload: a ``database_only`` run (README,
"Trigger": the operator's toggle; ``upload_s3`` is skipped, "files stay pending"), or an
upload that failed (S3 down: the move keeps ``moving_from``). If R-3's titular asks for
the supresión meanwhile, ``removal._registry_rows`` takes every row whose ``moving_from``
is under ``sin_sgc/R-3/`` — R-2's re-tied documents — and the removal deletes their rows,
their objects and their files in ``processed/``: R-2's detail page and ID scan are gone
from every view.
"""

from __future__ import annotations

import pytest

from extractorov import pipeline
from tests.helpers import list_keys, query
from tests.landing_files import (
    AFINIA,
    prefix,
    remove_request,
    run_all,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration

SGC = "PQR_4_ERROR"


def _backlog_in_two_batches_second_not_uploaded(db, s3, settings, landing):
    r2_pdf = write_pdf(landing, SGC, 0, "detalle de R-2")
    r2_adjunto = write_adjunto(landing, SGC, 4, "cédula de R-2")
    write_json(landing, SGC, "R-3", 64)
    run_all(db, s3, settings, "day-1")
    write_json(landing, SGC, "R-2", 8)
    write_pdf(landing, SGC, 60, "detalle de R-3")
    write_adjunto(landing, SGC, 62, "cédula de R-3")
    # database_only=true: extract and load, upload_s3 skipped.
    extracted = pipeline.extract(db, AFINIA, settings, "day-2")
    pipeline.load(db, AFINIA, extracted.manifest)
    return r2_pdf, r2_adjunto


def _still_somewhere(db, s3, bucket, landing, name):
    keys = list_keys(s3, bucket)
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    rows = query(db, "SELECT s3_key FROM data_general.s3_files_registry WHERE filename = %s",
                 name)
    in_bucket = [k for k in keys if k.endswith("/" + name)]
    return bool(rows) or bool(in_bucket) or (processed / name).exists()


def test_removing_a_request_keeps_documents_re_tied_away_from_it_before_they_move(
        db, s3, bucket, settings, landing):
    r2_pdf, r2_adjunto = _backlog_in_two_batches_second_not_uploaded(db, s3, settings, landing)
    # The re-tie happened: R-2's rows are R-2's, waiting to move out of R-3's folder.
    rows = query(db, "SELECT filename, numero_radicado, s3_key, moving_from "
                     "FROM data_general.s3_files_registry WHERE filename = ANY(%s) ORDER BY 1",
                 [r2_pdf, r2_adjunto])
    assert [(r[1], r[2].startswith(prefix() + "sin_sgc/R-2/"),
             (r[3] or "").startswith(prefix() + "sin_sgc/R-3/")) for r in rows] == [
        ("R-2", True, True)] * 2, rows
    remove_request(db, s3, settings, "R-3")
    gone = [n for n in (r2_pdf, r2_adjunto) if not _still_somewhere(db, s3, bucket, landing, n)]
    assert gone == [], f"R-3's removal deleted R-2's documents: {gone}"


def test_a_re_tied_document_stays_with_its_request_after_the_old_requests_removal(
        db, s3, bucket, settings, landing):
    r2_pdf, r2_adjunto = _backlog_in_two_batches_second_not_uploaded(db, s3, settings, landing)
    remove_request(db, s3, settings, "R-3")
    run_all(db, s3, settings, "day-3")
    keys = list_keys(s3, bucket)
    missing = [n for n in (r2_pdf, r2_adjunto) if prefix() + "sin_sgc/R-2/" + n not in keys]
    assert missing == [], f"not in R-2's folder after the next full run: {missing}"
