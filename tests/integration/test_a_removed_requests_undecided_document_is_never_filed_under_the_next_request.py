"""A regression test: a removal on request takes the documents pairing *gives* its request; one that
pairing left undecided (two detail PDFs with the bot's placeholder before the request's
JSON: R-900's, whose JSON was never written, and R-901's own) stays in processed/. The
removal says ``completed`` and its form and audit name nothing of it (the titular's
detail page may still be on the landing volume: no alarm). Then the removed JSON is
nowhere: it is no mark in the write order any more (only a removed name still *on disk*
is, ``run.removed_left``), so once the other document has gone (a review moved R-900's
waiting PDF to quarantine/) the next placeholder request's JSON, R-902's (written 7 s
after R-901's in the same session, its PDF failed; its copy was still a ``.part`` file
when the removal ran), takes R-901's detail PDF: filed under sin_sgc/R-902/ with
numero_radicado R-902, another customer's folder (pairing concluded from a JSON's
absence)."""

from __future__ import annotations

import json

import pytest

from extractorov import review
from extractorov.landing import company_folders, quarantine
from tests.helpers import query
from tests.landing_files import remove_request, run_all, write_json, write_pdf

pytestmark = pytest.mark.integration


def _removed_with_an_undecided_document(db, s3, settings, landing):
    p900 = write_pdf(landing, "PQR_4_ERROR", -100, "detalle de R-900")  # its JSON: never
    p901 = write_pdf(landing, "PQR_4_ERROR", 0, "detalle de R-901")
    write_json(landing, "PQR_4_ERROR", "R-901", 5)
    # R-902, next in the session (its PDF failed): its JSON still being copied.
    folders = company_folders(landing, "afinia")
    r902 = write_json(landing, "PQR_4_ERROR", "R-902", 12)
    (folders.processed / r902).rename(folders.processed / f"{r902}.part")
    run_all(db, s3, settings, "day-1")
    assert (folders.processed / p900).exists() and (folders.processed / p901).exists()
    shown, outcome = remove_request(db, s3, settings, "R-901")
    assert outcome.status == "completed"
    return p900, p901, shown, outcome


def test_a_removed_requests_undecided_document_is_never_filed_under_the_next_request(
        db, s3, bucket, settings, landing):
    p900, p901, _, _ = _removed_with_an_undecided_document(db, s3, settings, landing)
    folders = company_folders(landing, "afinia")
    # A review answers the document_waiting question of R-900's PDF: to quarantine/.
    quarantine(folders.processed / p900, review.QUARANTINE_REASON["document_waiting"],
               folders, run_id="review-1")
    # R-902's JSON copy completes.
    [part] = folders.processed.glob("*.json.part")
    part.rename(part.with_name(part.name.removesuffix(".part")))
    run_all(db, s3, settings, "day-2")
    rows = query(db, "SELECT s3_key, numero_radicado FROM data_general.s3_files_registry "
                     "WHERE filename = %s", p901)
    assert not [r for r in rows if r[1] == "R-902" or "/R-902/" in r[0]], rows


def test_a_removal_names_the_undecided_documents_its_request_could_own(
        db, s3, bucket, settings, landing):
    _, p901, shown, _ = _removed_with_an_undecided_document(db, s3, settings, landing)
    [(kept,)] = query(db, "SELECT kept FROM data_general.request_removals")
    folders = company_folders(landing, "afinia")
    # Either the removal took it, or the approver was shown it and the audit keeps it.
    assert not (folders.processed / p901).exists() or (
        p901 in json.dumps(shown) and p901 in json.dumps(kept)), (shown, kept)
