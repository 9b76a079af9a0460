"""A removal on request takes a document that followed the request's JSON into
``quarantine/`` only if the files present now still give it to that JSON, as it does for
the documents it finds through a tie, a folder or a move (``removal._documents_by_pairing``:
"the removal, the one step that deletes, applies pairing on the files present now").

The story is review 8's (``test_documents_filed_before_the_rest_of_a_backlog_arrives_stay_
their_own_requests``): two whole requests of the bot's shared placeholder ``PQR_4_ERROR``,
R-2 (PDF +0 s, attachment +4 s, JSON +8 s) and R-3 (PDF +60 s, attachment +62 s, JSON +64 s),
a backlog reaching ``processed/`` in two batches, out of write order (a parallel copy, or
files moved by hand in two batches). One difference: R-3's JSON is cut short (the bot was
stopped while writing it: ``numero_radicado`` whole), so it is quarantined as invalid.

Day 1 (batch 1: R-2's PDF and attachment, R-3's JSON): pairing gives R-2's two documents to
R-3's JSON, which is quarantined: with a placeholder they follow it into ``quarantine/``
(their reason file names R-3's JSON: ``landing.followed_json``). Day 2 (batch 2: R-2's JSON,
R-3's documents): R-2's JSON is filed; quarantined documents are never placed again (only a
``readmit_quarantine=true`` run would), so R-2's documents stay in ``quarantine/``. Pairing,
on the files present now, gives them to R-2's JSON (its stretch: +0 s, +4 s before +8 s).

Then R-3's titular asks for the supresión. ``removal._local_files`` adds every quarantined
document whose reason names one of R-3's JSONs, after ``_documents_by_pairing`` ran and
without asking it: R-2's detail page and ID scan are deleted from ``quarantine/``; they were
never filed anywhere else. A ``readmit_quarantine=true`` run afterwards has nothing of R-2's
to file: R-2's JSON stays alone.
"""

from __future__ import annotations

import pytest

from extractorov import pipeline
from extractorov.landing import company_folders, read_quarantine
from tests.helpers import list_keys, query
from tests.landing_files import (
    AFINIA,
    remove_request,
    run_all,
    stamp,
    write,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration

SGC = "PQR_4_ERROR"


def _anywhere(db, s3, bucket, landing, name) -> bool:
    folders = company_folders(landing, "afinia")
    rows = query(db, "SELECT 1 FROM data_general.s3_files_registry WHERE filename = %s", name)
    quarantined = {q.original_name for q in read_quarantine(folders)}
    return (bool(rows) or any(k.endswith("/" + name) for k in list_keys(s3, bucket))
            or (folders.processed / name).exists() or name in quarantined)


def _story(db, s3, settings, landing) -> list[str]:
    r2 = [write_pdf(landing, SGC, 0, "detalle de R-2"),
          write_adjunto(landing, SGC, 4, "cédula de R-2")]
    cut = write(landing, f"{SGC}_data_{stamp(64)}.json",
                '{"documento_prueba": "a.jpg", "numero_radicado": "R-3", '
                '"nombres_apellidos": "Zoraida Qui')
    run_all(db, s3, settings, "day-1")
    folders = company_folders(landing, "afinia")
    assert {q.original_name for q in read_quarantine(folders)} == {*r2, cut.name}
    write_json(landing, SGC, "R-2", 8)
    write_pdf(landing, SGC, 60, "detalle de R-3")
    write_adjunto(landing, SGC, 62, "cédula de R-3")
    run_all(db, s3, settings, "day-2")
    # Day 2 leaves R-2's two documents in quarantine/ (never placed again), still there.
    assert all(_anywhere(db, s3, settings.bucket, landing, n) for n in r2)
    return r2


def test_a_removal_keeps_another_requests_documents_that_followed_its_quarantined_json(
        db, s3, bucket, settings, landing):
    r2 = _story(db, s3, settings, landing)
    _shown, outcome = remove_request(db, s3, settings, "R-3")
    assert outcome.status == "completed"
    gone = [n for n in r2 if not _anywhere(db, s3, bucket, landing, n)]
    assert gone == [], f"R-3's removal deleted R-2's documents from quarantine/: {gone}"


def test_another_requests_documents_reach_its_folder_after_a_removal_and_a_readmit(
        db, s3, bucket, settings, landing):
    r2 = _story(db, s3, settings, landing)
    remove_request(db, s3, settings, "R-3")
    pipeline.extract(db, AFINIA, settings, "day-3", readmit_quarantine=True)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-3")
    keys = list_keys(s3, bucket)
    filed = [n for n in r2 if any(k.endswith("/sin_sgc/R-2/" + n) for k in keys)]
    assert filed == r2, f"R-2's folder holds {filed} of its documents {r2}; bucket: {keys}"


def test_another_requests_quarantined_documents_reach_its_folder_with_a_readmit(
        db, s3, bucket, settings, landing):
    """The baseline (passes): without R-3's removal, a ``readmit_quarantine=true`` run files
    R-2's documents in R-2's folder (pairing, on the files present, gives them to R-2)."""
    r2 = _story(db, s3, settings, landing)
    pipeline.extract(db, AFINIA, settings, "day-3", readmit_quarantine=True)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-3")
    keys = list_keys(s3, bucket)
    filed = [n for n in r2 if any(k.endswith("/sin_sgc/R-2/" + n) for k in keys)]
    assert filed == r2, f"R-2's folder holds {filed} of its documents {r2}; bucket: {keys}"
