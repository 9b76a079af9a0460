"""A document still being copied keeps its place in the write order, as a request JSON
being written does: a neighbour's document is never filed under its request meanwhile.

Placeholder ``PQR_4_ERROR``, one bot step failing (R-2's JSON: PASO 5's own try):
R-2's detail PDF (+35 s), then R-1 whole: PDF (+40 s) and JSON (+50 s; its
``documento_prueba`` named nothing). The bot's output reaches ``processed/`` through a
copy tool that writes ``{name}.part`` and copies files in parallel (review 11's "a
parallel copy"): R-1's JSON and R-2's PDF have landed, R-1's PDF is still
``…_040040.pdf.part`` when the hourly ``extract`` runs.

Every file final, the two PDFs before one JSON "cannot be one request": both wait
(the companion test, passes). With R-1's PDF under its temporary name, ``extract`` gives
pairing no document for it (``_unread_marks`` turns temporary names into marks only for
JSONs; ``known_docs`` holds registered and quarantined documents), so the stretch before
R-1's JSON is R-2's PDF alone, "one request": R-2's detail page is uploaded under
``sin_sgc/R-1/`` and tied to R-1. The removal's pairing does offer temporary documents
of ``processed/`` (``_documents_by_pairing``): the two steps answer differently on the
same files. When R-1's PDF lands, the next run's re-tie cannot say where R-2's page
goes and leaves it in ``sin_sgc/R-1/`` (``files_retie_unsure``).
"""

from __future__ import annotations

import os

import pytest

from extractorov.landing import company_folders
from tests.helpers import query
from tests.landing_files import run_all, stamp, write, write_json, write_pdf

pytestmark = pytest.mark.integration

REASON = ("extract gives pairing no document for a document under a temporary name (only "
          "JSONs are marks): a neighbour's PDF alone before the JSON is 'one request' and "
          "is filed under sin_sgc/R-1/, tied to R-1")


def _rows(db, name):
    return query(db, "SELECT s3_key, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = %s", name)


def test_two_pdfs_before_one_placeholder_json_wait(db, s3, bucket, settings, landing):
    """Baseline (passes): every file final: R-2's PDF waits, undecided."""
    p2 = write_pdf(landing, "PQR_4_ERROR", 35, "detalle de R-2")
    write_pdf(landing, "PQR_4_ERROR", 40, "detalle de R-1")
    write_json(landing, "PQR_4_ERROR", "R-1", 50, documento_prueba="")
    run_all(db, s3, settings, "day-1")
    assert not _rows(db, p2)
    assert (company_folders(landing, "afinia").processed / p2).exists()


def test_a_pdf_being_copied_keeps_a_neighbours_pdf_from_being_filed_under_its_request(
        db, s3, bucket, settings, landing):
    p2 = write_pdf(landing, "PQR_4_ERROR", 35, "detalle de R-2")
    p1 = f"PQR_4_ERROR_{stamp(40)}.pdf"
    copying = write(landing, p1 + ".part", "%PDF-1.4 detalle de R-1 (a medio copiar)")
    write_json(landing, "PQR_4_ERROR", "R-1", 50, documento_prueba="")
    run_all(db, s3, settings, "day-1")
    assert not _rows(db, p2), f"R-2's page filed as {_rows(db, p2)}"
    # The copy ends; the next run.
    os.replace(copying, copying.with_name(p1))
    run_all(db, s3, settings, "day-2")
    assert all("/sin_sgc/R-1/" not in key for key, _ in _rows(db, p2)), _rows(db, p2)
