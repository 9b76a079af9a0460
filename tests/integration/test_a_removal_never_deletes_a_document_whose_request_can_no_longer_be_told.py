"""A removal on request never deletes a document whose owner pairing can no longer tell,
whatever order its files reached ``processed/`` in.

The bot writes each request's detail PDF, attachment and JSON, each step in its own try
(``afinia_pqr_processor._process_single_pqr_specific_sequence``, PASO 3-5, in
``Jeampauldev/ExtractorMerc``); a placeholder SGC (``PQR_4_ERROR``) is shared by unrelated
customers. R-2: PDF +0 s, attachment +4 s, its JSON step fails (one failure). R-3: PDF
+60 s, attachment +62 s, JSON +64 s.

In write order, the stretch before R-3's JSON holds two PDFs and two attachments: all four
are *undecided* (pairing cannot tell whose), wait in ``processed/`` and are reported to a
person (``document_waiting``); R-3's removal lists them as "may be its own" and deletes none.

The files reach ``processed/`` in two batches, out of write order (the project's own story:
"a parallel copy, or files moved by hand in two batches"): R-2's two documents and R-3's
JSON first (a run files them into ``sin_sgc/R-3/``, tied to R-3: they look like its one
request), R-3's own documents next. Pairing now answers *undecided* for R-2's documents;
``extract._retie`` leaves a document in a placeholder request's folder where it is, still
tied to R-3 (``metadata.request_json``, ``numero_radicado`` R-3), with only a log warning and
the count ``files_retie_unsure``: no mark on the row, no finding. R-3's titular asks for the
supresión: the removal takes the whole ``sin_sgc/R-3/`` folder and the rows tied to R-3's
JSON, and deletes R-2's detail page and ID scan from the bucket, the registry and
``processed/``, while R-3's own documents (undecided, waiting) are kept.
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

SGC = "PQR_4_ERROR"


def _still_somewhere(db, s3, bucket, landing, name):
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    rows = query(db, "SELECT 1 FROM data_general.s3_files_registry WHERE filename = %s", name)
    return bool(rows) or any(k.endswith("/" + name) for k in list_keys(s3, bucket)) or (
        processed / name).exists()


def _r2_documents(db, s3, settings, landing, out_of_order: bool):
    r2 = [write_pdf(landing, SGC, 0, "detalle de R-2"),
          write_adjunto(landing, SGC, 4, "cédula de R-2")]
    write_json(landing, SGC, "R-3", 64)
    if out_of_order:
        run_all(db, s3, settings, "day-1")
    write_pdf(landing, SGC, 60, "detalle de R-3")
    write_adjunto(landing, SGC, 62, "cédula de R-3")
    run_all(db, s3, settings, "day-2")
    return r2


def test_in_write_order_the_removal_keeps_documents_whose_request_cannot_be_told(
        db, s3, bucket, settings, landing):
    r2 = _r2_documents(db, s3, settings, landing, out_of_order=False)
    remove_request(db, s3, settings, "R-3")
    assert [n for n in r2 if not _still_somewhere(db, s3, bucket, landing, n)] == []


def test_a_removal_never_deletes_a_document_whose_request_can_no_longer_be_told(
        db, s3, bucket, settings, landing):
    r2 = _r2_documents(db, s3, settings, landing, out_of_order=True)
    assert query(db, "SELECT count(*) FROM data_general.s3_files_registry "
                     "WHERE numero_radicado = 'R-3' AND filename = ANY(%s)", r2) == [(2,)]
    remove_request(db, s3, settings, "R-3")
    gone = [n for n in r2 if not _still_somewhere(db, s3, bucket, landing, n)]
    assert gone == [], f"R-3's removal deleted documents pairing cannot tell are R-3's: {gone}"
