"""A removal on request takes a document waiting in ``processed/`` only if pairing, as the
next run would apply it, gives it to the request. ``extract`` keeps the JSON of a request
removed on request as an ``UNSURE`` mark (``extract.WHY_REMOVED``: "the documents before it
were … it is never re-admitted alone"): the documents it held back stay *undecided*. The
removal's own pairing (``removal._documents_by_pairing``) is given no mark for it: without
it, the stretch of the removed JSON merges with the next request's, and what it held back
becomes the next request's.

The bot, placeholder ``PQR_4_ERROR`` (shared by unrelated requests), one session:

* R-0: detail PDF +0 s, attachment +4 s, its JSON step fails (PASO 5's own try);
* R-1: detail PDF +6 s, JSON +8 s naming no attachment (``documento_prueba`` blank);
* R-3: JSON +12 s naming an attachment; its PDF step and attachment download failed.

Day 1 files R-1's PDF with R-1's JSON, R-3's JSON alone; R-0's PDF and attachment wait in
``processed/`` as undecided (R-1's JSON names no attachment: what was written up to an
attachment before it is an earlier request's), for a person. R-1's titular asks for the
supresión (removed; R-0's files are kept as possibly its own). Later R-3's titular asks
for the supresión: the removal's pairing, without R-1's JSON, sees one PDF and one
attachment, 4 s apart, before R-3's JSON (which names one): R-3's. R-0's detail page and ID
scan are deleted from ``processed/``, while ``extract`` keeps them undecided.
"""

from __future__ import annotations

import pytest

from extractorov.landing import company_folders
from tests.landing_files import (
    remove_request,
    run_all,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration

SGC = "PQR_4_ERROR"


def test_a_removal_never_takes_documents_a_removed_requests_json_held_back(
        db, s3, bucket, settings, landing):
    r0 = [write_pdf(landing, SGC, 0, "detalle de R-0"),
          write_adjunto(landing, SGC, 4, "cédula de R-0")]
    write_pdf(landing, SGC, 6, "detalle de R-1")
    write_json(landing, SGC, "R-1", 8, documento_prueba="")
    write_json(landing, SGC, "R-3", 12)
    run_all(db, s3, settings, "day-1")
    processed = company_folders(landing, "afinia").processed
    assert all((processed / n).exists() for n in r0)  # undecided: waiting for a person
    remove_request(db, s3, settings, "R-1", run_id="rm-1")
    assert all((processed / n).exists() for n in r0)  # kept (possibly R-1's)
    run_all(db, s3, settings, "day-2")
    assert all((processed / n).exists() for n in r0)  # extract: still undecided
    _shown, outcome = remove_request(db, s3, settings, "R-3", run_id="rm-3")
    assert outcome.status == "completed"
    gone = [n for n in r0 if not (processed / n).exists()]
    assert gone == [], f"R-3's removal deleted R-0's documents from processed/: {gone}"
