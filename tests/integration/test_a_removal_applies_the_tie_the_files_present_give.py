"""A removal on request takes a filed document only if the files present now still give it
to the request, as the run that reads them next would (the tie is asked again whenever the
files change: ``extract._retie``).

The story of ``test_documents_filed_before_the_rest_of_a_backlog_arrives_stay_their_own_
requests`` (two whole requests of one SGC part, R-2: PDF +0 s, attachment +4 s, JSON +8 s;
R-3: PDF +60 s, attachment +62 s, JSON +64 s; no bot step failing; a backlog reaching
``processed/`` in two batches, out of write order). Day 1's run files R-2's two documents
with R-3's JSON. The second batch (R-2's JSON, R-3's documents) is in ``processed/``; the
next run would re-tie R-2's documents to R-2. Before it runs (the company DAG runs once a
day; the copy is made by hand in between), R-3's titular asks for the supresión.

``removal.find`` re-places only the documents of the request's JSONs *waiting* in
``processed/`` (``_local_documents``); R-3's JSON is registered, so its registered ties are
taken as they are (``_registry_rows``: ``metadata.request_json``, ``numero_radicado``): R-2's
detail page and ID scan are deleted from the bucket, the registry and ``processed/``, though
R-2's JSON beside them in ``processed/`` makes them R-2's for pairing. The next run files
R-2's JSON alone.
"""

from __future__ import annotations

import pytest

from tests.helpers import list_keys, query
from tests.landing_files import (
    remove_request,
    run_all,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration


def _still_somewhere(db, s3, bucket, landing, name):
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    rows = query(db, "SELECT 1 FROM data_general.s3_files_registry WHERE filename = %s", name)
    return bool(rows) or any(k.endswith("/" + name) for k in list_keys(s3, bucket)) or (
        processed / name).exists()


@pytest.mark.parametrize("sgc", ["RE900", "PQR_4_ERROR"])
def test_a_removal_applies_the_tie_the_files_present_give(db, s3, bucket, settings, landing,
                                                          sgc):
    r2 = [write_pdf(landing, sgc, 0, "detalle de R-2"),
          write_adjunto(landing, sgc, 4, "cédula de R-2")]
    write_json(landing, sgc, "R-3", 64)
    run_all(db, s3, settings, "day-1")
    write_json(landing, sgc, "R-2", 8)
    write_pdf(landing, sgc, 60, "detalle de R-3")
    write_adjunto(landing, sgc, 62, "cédula de R-3")
    remove_request(db, s3, settings, "R-3")  # before the next run
    run_all(db, s3, settings, "day-2")
    gone = [n for n in r2 if not _still_somewhere(db, s3, bucket, landing, n)]
    assert gone == [], f"R-3's removal deleted R-2's documents: {gone}"
