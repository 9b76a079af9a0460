"""A regression test (hostile-review-5.md).

The bot writes, per request, the detail PDF first, then the attachment, then the JSON
last, each step in a ``try`` of its own (``_process_single_pqr_specific_sequence`` in
``Jeampauldev/ExtractorMerc``, ``afinia_pqr_processor.py``: PASO 3 PDF, PASO 4 adjuntos,
PASO 5 JSON; the bot goes on when one fails). So a request's attachment is never written
before its own detail PDF.

One bot session, SGC ``RE1`` shared by two requests (an SGC folder may hold more than one
request: data contract). R-2's detail PDF and attachment (the customer's proof: an ID scan,
a bill) are written and R-2's JSON step fails. R-3 follows: its detail PDF and its JSON, no
attachment (most requests have none). Review 3 finding 2's rule, "a request has at most one
detail PDF and one attachment ... only the last is that JSON's", is applied kind by kind
(``pairing._one_request_each``): R-2's PDF is rightly untied (two PDFs), but R-2's
attachment is the only attachment before R-3's JSON and is tied to R-3
(``metadata.request_json`` and ``numero_radicado`` R-3), although it was written BEFORE
R-3's detail PDF, which the bot never does within one request. R-3's titular asks for
supresión: the removal deletes R-2's attachment from the bucket (every version) and its
registry row — another customer's document LOST.
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



def _session(db, s3, settings, landing) -> tuple[str, str]:
    write_pdf(landing, "RE1", 0, "detalle de R-2")
    r2_adj = write_adjunto(landing, "RE1", 4, "cédula de R-2")  # then R-2's JSON step fails
    r3_pdf = write_pdf(landing, "RE1", 60, "detalle de R-3")
    r3_json = write_json(landing, "RE1", "R-3", 65)  # R-3 has no attachment
    run_all(db, s3, settings, "day-1")
    # R-3's own detail PDF is tied to R-3 (holds).
    assert query(db, "SELECT numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = %s",
                 r3_pdf) == [("R-3", r3_json)]
    return r2_adj, r3_json


def test_an_attachment_whose_json_was_never_written_is_never_tied_to_the_next_request_of_its_sgc(
        db, s3, bucket, settings, landing):
    r2_adj, _ = _session(db, s3, settings, landing)
    rows = query(db, "SELECT numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = %s", r2_adj)
    # Waiting/undecided (no row) or filed tied to no request: never R-3's.
    assert rows in ([], [(None, None)]), rows


def test_removing_the_next_request_of_the_sgc_keeps_the_attachment_whose_json_was_never_written(
        db, s3, bucket, settings, landing):
    r2_adj, _ = _session(db, s3, settings, landing)
    remove_request(db, s3, settings, "R-3")
    keys = list_keys(s3, bucket)
    local = landing / "afinia" / "oficina_virtual" / "processed" / r2_adj
    assert prefix() + "RE1/" + r2_adj in keys or local.exists(), "R-2's attachment is gone"
