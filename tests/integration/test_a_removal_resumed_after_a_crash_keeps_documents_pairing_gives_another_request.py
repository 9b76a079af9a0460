"""A removal resumed after a crash applies pairing on the files present *then*: the names
an interrupted attempt wrote ahead as removed are never taken without asking it again.

Review 8's out-of-order backlog with the bot's placeholder ``PQR_4_ERROR`` (a parallel
copy, or files moved by hand in two batches): batch 1 = R-2's detail PDF (+0 s) and ID
scan (+4 s) and R-3's JSON (+64 s). Before the next ``extract``, R-3's titular asks for the
supresión; the approval form lists, as pairing gives them on the files present, R-3's
JSON and R-2's two documents (one PDF, one attachment before R-3's JSON: "R-3's").

The removal's first attempt writes ahead (``_start``: the names go to ``removed_files``,
committed) and the worker dies before it deletes anything (killed, a lost database
connection: ``remove`` is "idempotent and resumable"). Batch 2 arrives (R-2's JSON +8 s,
R-3's PDF +60 s and attachment +62 s) and the hourly run goes: R-2's JSON is filed,
R-2's two documents are skipped as "files of requests removed on request". The retry
(or the cleared task) finds them again *by the names written ahead*; they are documents
in ``processed/`` not registered yet, which ``_documents_by_pairing`` only ever adds and
never judges, so pairing (which now gives them to R-2's JSON) is not asked: R-2's detail
page and ID scan are deleted, their only copy.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from extractorov import removal, warehouse
from extractorov.landing import company_folders
from tests.helpers import list_keys, query
from tests.landing_files import AFINIA, run_all, write_adjunto, write_json, write_pdf

pytestmark = pytest.mark.integration

REASON = ("the names an interrupted removal wrote ahead (removed_files) are taken by the "
          "retry without pairing: an unregistered document in processed/ that pairing now "
          "gives another request is deleted (and extract never files it meanwhile)")


def _interrupted_removal_then_batch_two(db, s3, settings, landing, monkeypatch):
    p2 = write_pdf(landing, "PQR_4_ERROR", 0, "detalle de R-2")
    a2 = write_adjunto(landing, "PQR_4_ERROR", 4, "cedula de R-2")
    write_json(landing, "PQR_4_ERROR", "R-3", 64)
    warehouse.ensure_schema(db, [AFINIA])  # a deployed database (the DAG does it too)
    db.commit()
    shown = removal.find(db, s3, AFINIA, settings, "R-3").as_dict()
    db.rollback()
    assert {f"processed/{p2}", f"processed/{a2}"} <= set(shown["local"]), shown
    removal.record_decision(db, "afinia", "R-3", run_id="rm-1", approved=True,
                            decided_by="reviewer", decided_at=datetime.now(UTC),
                            reason="supresión pedida por el titular", shown=shown)

    def killed(*_args, **_kwargs):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    with monkeypatch.context() as patch:
        patch.setattr(removal, "_delete_rows", killed)
        with pytest.raises(psycopg.OperationalError):
            removal.remove(db, s3, AFINIA, settings, "R-3", run_id="rm-1")
    db.rollback()
    folders = company_folders(landing, "afinia")
    assert (folders.processed / p2).exists() and (folders.processed / a2).exists()
    # Batch 2 of the backlog, then the hourly run.
    write_json(landing, "PQR_4_ERROR", "R-2", 8)
    write_pdf(landing, "PQR_4_ERROR", 60, "detalle de R-3")
    write_adjunto(landing, "PQR_4_ERROR", 62, "cedula de R-3")
    run_all(db, s3, settings, "day-2")
    # Skipped by extract as files of a removed request: still in processed/, not filed.
    assert (folders.processed / p2).exists() and (folders.processed / a2).exists()
    assert not query(db, "SELECT 1 FROM data_general.s3_files_registry "
                         "WHERE filename = ANY(%s)", [p2, a2])
    return p2, a2


def test_without_the_crash_the_removal_keeps_another_requests_documents(
        db, s3, bucket, settings, landing):
    """Baseline (passes): the same approval, no crash; batch 2 and the hourly run come
    before the removal runs: R-2's documents are filed under sin_sgc/R-2/ and kept."""
    p2 = write_pdf(landing, "PQR_4_ERROR", 0, "detalle de R-2")
    a2 = write_adjunto(landing, "PQR_4_ERROR", 4, "cedula de R-2")
    write_json(landing, "PQR_4_ERROR", "R-3", 64)
    warehouse.ensure_schema(db, [AFINIA])
    db.commit()
    shown = removal.find(db, s3, AFINIA, settings, "R-3").as_dict()
    db.rollback()
    removal.record_decision(db, "afinia", "R-3", run_id="rm-1", approved=True,
                            decided_by="reviewer", decided_at=datetime.now(UTC),
                            reason="supresión pedida por el titular", shown=shown)
    write_json(landing, "PQR_4_ERROR", "R-2", 8)
    write_pdf(landing, "PQR_4_ERROR", 60, "detalle de R-3")
    write_adjunto(landing, "PQR_4_ERROR", 62, "cedula de R-3")
    run_all(db, s3, settings, "day-2")
    assert removal.remove(db, s3, AFINIA, settings, "R-3", run_id="rm-1").status == "completed"
    rows = dict(query(db, "SELECT filename, s3_key FROM data_general.s3_files_registry "
                          "WHERE filename = ANY(%s)", [p2, a2]))
    assert rows.keys() == {p2, a2} and all("/sin_sgc/R-2/" in k for k in rows.values())
    assert all(any(k == v for k in list_keys(s3, bucket)) for v in rows.values())


def test_a_resumed_removal_keeps_documents_pairing_now_gives_another_request(
        db, s3, bucket, settings, landing, monkeypatch):
    p2, a2 = _interrupted_removal_then_batch_two(db, s3, settings, landing, monkeypatch)
    outcome = removal.remove(db, s3, AFINIA, settings, "R-3", run_id="rm-1")
    assert outcome.status == "completed"
    folders = company_folders(landing, "afinia")
    keys = list_keys(s3, bucket)
    quarantined = {p.name for p in folders.quarantine.iterdir()} if folders.quarantine.exists() \
        else set()
    for name in (p2, a2):
        assert ((folders.processed / name).exists() or any(k.endswith(name) for k in keys)
                or name in quarantined), f"R-2's {name} is gone from every view"


def test_documents_an_interrupted_removal_named_are_filed_once_pairing_gives_them_another_request(
        db, s3, bucket, settings, landing, monkeypatch):
    p2, a2 = _interrupted_removal_then_batch_two(db, s3, settings, landing, monkeypatch)
    removal.remove(db, s3, AFINIA, settings, "R-3", run_id="rm-1")
    run_all(db, s3, settings, "day-3")
    rows = dict(query(db, "SELECT filename, s3_key FROM data_general.s3_files_registry "
                          "WHERE filename = ANY(%s)", [p2, a2]))
    assert rows.keys() == {p2, a2}, rows
    assert all("/sin_sgc/R-2/" in key for key in rows.values()), rows
