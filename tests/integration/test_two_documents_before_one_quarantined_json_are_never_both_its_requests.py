"""A regression test (hostile-review-4.md).

"a request has at most one detail PDF and one attachment: when several of one
kind come before the same JSON (another request of the SGC whose JSON was never written),
only the last is that JSON's, the others are tied to no request" (data contract, review 3
finding 2). The rule is applied in ``pairing._one_request_each`` only to placements
``Outcome.FOLDER``; a document placed ``FOLDER_JSON_QUARANTINED`` (its SGC is real and the
JSON after it was quarantined) is tied to that JSON whatever comes before it.

So with the bot's JSON step failing for R-2 (its detail PDF is written, its JSON never is)
and the next request of the session, R-3 (same SGC), having a JSON the pipeline refuses (a
``fecha`` in a new format: the portal changed; or a JSON cut short by a kill), both PDFs get
``metadata.request_json`` = R-3's JSON. R-3's titular asks for supresión: the removal finds
R-3's JSON in ``quarantine/`` by its ``numero_radicado``, takes every registry row filed
with it, and deletes R-2's detail page (every version, and its registry row): another
customer's document LOST."""

from __future__ import annotations

import pytest

from tests.helpers import list_keys, query
from tests.landing_files import prefix, remove_request, run_all, write_json, write_pdf

pytestmark = pytest.mark.integration

NEW_FORMAT = "martes, 7 de octubre de 2025"  # the portal changed how it shows the date


def _session(db, s3, settings, landing) -> tuple[str, str, str]:
    r2_pdf = write_pdf(landing, "RE1", 0, "detalle de R-2")  # R-2's JSON step fails
    r3_pdf = write_pdf(landing, "RE1", 60, "detalle de R-3")
    r3_json = write_json(landing, "RE1", "R-3", 65, fecha=NEW_FORMAT)
    run_all(db, s3, settings, "day-1")
    # R-3's JSON is quarantined; R-3's PDF is delivered to RE1/ (holds). R-2's waits for
    # its own JSON (or is delivered tied to no request once it has waited).
    assert query(db, "SELECT metadata ->> 'request_json' FROM data_general.s3_files_registry "
                     "WHERE filename = %s", r3_pdf) == [(r3_json,)]
    return r2_pdf, r3_pdf, r3_json


def test_two_documents_before_one_quarantined_json_are_never_both_its_requests(
        db, s3, bucket, settings, landing):
    r2_pdf, _, _ = _session(db, s3, settings, landing)
    rows = query(db, "SELECT numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = %s", r2_pdf)
    assert rows in ([], [(None, None)]), rows


def test_removing_a_request_with_a_quarantined_json_keeps_the_document_before_its_own(
        db, s3, bucket, settings, landing):
    r2_pdf, r3_pdf, _ = _session(db, s3, settings, landing)
    remove_request(db, s3, settings, "R-3")
    keys = list_keys(s3, bucket)
    assert prefix() + "RE1/" + r3_pdf not in keys  # R-3's own page went (holds)
    local = landing / "afinia" / "oficina_virtual" / "processed" / r2_pdf
    assert prefix() + "RE1/" + r2_pdf in keys or local.exists(), "R-2's detail page is gone"
