"""A document filed with the request JSON that followed it when it arrived keeps its own
request once the rest of a backlog arrives, also when its local copy is gone by then.

The story of ``test_documents_filed_before_the_rest_of_a_backlog_arrives_stay_their_own_
requests`` (two whole requests of one SGC part, R-2: PDF +0 s, attachment +4 s, JSON +8 s;
R-3: PDF +60 s, attachment +62 s, JSON +64 s; no bot step failing; the files reach
``processed/`` in two batches, out of write order). Here the second batch comes after the
retention step took the first batch's local copies: with ``ov_local_retention=delete``
30 days after their upload, or with the defaults (``archive`` after 30 days, the archive
deleted ``ov_local_archive_days`` = 60 days later). A backlog copied by hand from a bot
host's folders (the project's own story for out-of-order arrival) can come in parts that
far apart.

Retention sets ``local_path`` NULL (``deleted``). ``extract._place_documents`` re-places
only registered documents with ``info.local`` (``filed``), a flag meant for rows
``ov_s3_reconcile`` made from the bucket: R-2's documents are rivals that pairing now gives
R-2, but their tie to R-3 is never re-asked. R-3 ends with two detail PDFs and two
attachments, and its removal deletes R-2's detail page and ID scan; with a placeholder,
R-2's documents stay in ``sin_sgc/R-3/``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from extractorov import retention
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

RETENTIONS = {"delete": [31], "archive": [31, 92]}


def _two_batches_months_apart(db, s3, settings, landing, sgc, mode):
    settings = dataclasses.replace(settings, local_retention=mode)
    r2_pdf = write_pdf(landing, sgc, 0, "detalle de R-2")
    r2_adjunto = write_adjunto(landing, sgc, 4, "cédula de R-2")
    write_json(landing, sgc, "R-3", 64)
    run_all(db, s3, settings, "day-1")
    for days in RETENTIONS[mode]:
        retention.run(db, s3, AFINIA, settings, run_id=f"day-{days}",
                      now=datetime.now(UTC) + timedelta(days=days))
    gone = query(db, "SELECT filename FROM data_general.s3_files_registry "
                     "WHERE local_path IS NULL AND filename = ANY(%s)", [r2_pdf, r2_adjunto])
    assert len(gone) == 2, "the retention step did not take the local copies"
    write_json(landing, sgc, "R-2", 8)
    r3_pdf = write_pdf(landing, sgc, 60, "detalle de R-3")
    r3_adjunto = write_adjunto(landing, sgc, 62, "cédula de R-3")
    run_all(db, s3, settings, "day-100")
    return r2_pdf, r2_adjunto, r3_pdf, r3_adjunto


@pytest.mark.parametrize("mode", ["delete", "archive"])
@pytest.mark.parametrize("sgc", ["RE900", "PQR_4_ERROR"])
def test_documents_filed_before_the_rest_of_a_backlog_arrives_stay_their_own_requests_after_retention(  # noqa: E501
        db, s3, bucket, settings, landing, sgc, mode):
    docs = _two_batches_months_apart(db, s3, settings, landing, sgc, mode)
    ties = dict(query(db, "SELECT filename, numero_radicado FROM data_general.s3_files_registry"
                          " WHERE filename = ANY(%s)", list(docs)))
    tied_to_r3 = sorted(name for name, radicado in ties.items() if radicado == "R-3")
    assert tied_to_r3 == sorted(docs[2:]), f"R-3 holds {len(tied_to_r3)} documents: {tied_to_r3}"


def test_removing_a_request_keeps_another_requests_documents_whose_local_copies_are_gone(
        db, s3, bucket, settings, landing):
    r2_pdf, r2_adjunto, _, _ = _two_batches_months_apart(db, s3, settings, landing, "RE900",
                                                         "delete")
    remove_request(db, s3, settings, "R-3")
    keys = list_keys(s3, bucket)
    gone = [name for name in (r2_pdf, r2_adjunto) if prefix() + "RE900/" + name not in keys]
    assert gone == [], "R-2's documents were deleted by R-3's removal"
