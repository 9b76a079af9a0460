"""A document goes with its own request JSON even when a later request's JSON of the same
SGC reaches ``processed/`` first.

A backlog copied in (by a parallel copy, or files moved by hand in two batches) can bring
R-3's JSON before R-2's. The documents pairing sees as not R-3's (a second PDF before
R-3's JSON, or an attachment before a JSON that names none) then wait for their own JSON,
instead of being filed at once tied to no request: R-2's removal, or R-2's new SGC, takes
them along when R-2's JSON arrives. (Once they have waited ``ov_orphan_after_hours``, or
a JSON over 30 minutes later shows the bot went on, they keep the SGC's folder, tied to
no request.)
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
    return query(db, "SELECT filename, numero_radicado FROM data_general.s3_files_registry "
                     "WHERE filename = ANY(%s) ORDER BY 1", list(names))


@pytest.mark.parametrize("r3_names_attachment", [False, True])
def test_a_document_waits_for_its_own_json_arriving_after_a_later_requests(
        db, s3, bucket, settings, landing, r3_names_attachment):
    r2_pdf = write_pdf(landing, "RE900", 0, "detalle de R-2")
    r2_adjunto = write_adjunto(landing, "RE900", 4, "cédula de R-2")
    # R-3 (60 s later): its PDF, and its JSON; naming an attachment or not, R-2's
    # documents are not R-3's (a second PDF before it; an attachment before its PDF).
    r3_pdf = write_pdf(landing, "RE900", 60, "detalle de R-3")
    write_json(landing, "RE900", "R-3", 65,
               documento_prueba="x.jpg" if r3_names_attachment else "")
    run_all(db, s3, settings, "day-1")
    assert _ties(db, r2_pdf, r2_adjunto, r3_pdf) == [(r3_pdf, "R-3")]
    # R-2's JSON arrives (written at +8 s, copied late).
    write_json(landing, "RE900", "R-2", 8)
    run_all(db, s3, settings, "day-2")
    assert _ties(db, r2_pdf, r2_adjunto) == [(r2_pdf, "R-2"), (r2_adjunto, "R-2")]
    remove_request(db, s3, settings, "R-2")
    keys = list_keys(s3, bucket)
    assert not {prefix() + "RE900/" + n for n in (r2_pdf, r2_adjunto)} & keys.keys(), (
        "R-2's documents outlived its removal")
    assert prefix() + "RE900/" + r3_pdf in keys
