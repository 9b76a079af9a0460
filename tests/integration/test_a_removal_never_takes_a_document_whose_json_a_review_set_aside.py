"""A request JSON a human review set aside keeps its place in the removal's pairing as in
``extract``'s: the documents written before it are never tied to the next request.

Review 8's out-of-order backlog with the bot's placeholder ``PQR_4_ERROR``: R-1's request
JSON (+60 s; its PDF step failed, PASO 3's own try; its ``documento_prueba`` named
nothing) was filed by an earlier run. A backlog of earlier files reaches ``processed/``:
R-2's detail PDF (+45 s) and R-2's JSON (+52 s) whose copy was cut, left as
``…_data_{ts}.json.part``. ``extract`` holds R-2's PDF back (the JSON is a mark). After
``ov_orphan_after_hours`` the hourly check asks about the stalled file
(``temp_file_stale``; docs/operacion.md: answer *move to quarantine/*) and the reviewer
does so. Before the next hourly ``extract`` (which would make R-2's PDF follow it into
``quarantine/``), R-1's supresión runs.

``extract`` reads a quarantined entry by ``landing.final_name`` (a mark for R-2's JSON);
``removal._documents_by_pairing`` offers ``entry.original_name`` as it is: a temporary
name does not parse, so there is no mark, R-1's JSON closes a stretch holding R-2's PDF
alone ("one request"), and R-2's detail page, its only copy, is deleted with R-1.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from extractorov import reconcile, review
from extractorov.landing import company_folders, read_quarantine
from tests.helpers import list_keys, seen_hours_ago
from tests.landing_files import AFINIA, remove_request, run_all, stamp, write, write_json, write_pdf

pytestmark = pytest.mark.integration

REASON = ("the removal's pairing offers a quarantined entry by its stored name, not by "
          "landing.final_name as extract does: a request JSON set aside under a temporary "
          "name is no mark, and another customer's waiting document before it is deleted")


def test_a_removal_keeps_a_document_whose_stalled_json_a_review_moved_to_quarantine(
        db, s3, bucket, settings, landing):
    write_json(landing, "PQR_4_ERROR", "R-1", 60, documento_prueba="")
    run_all(db, s3, settings, "day-1")
    p2 = write_pdf(landing, "PQR_4_ERROR", 45, "detalle de R-2")
    part = f"PQR_4_ERROR_data_{stamp(52)}.json.part"
    write(landing, part,
          '{"record_number": 4, "sgc_number": "PQR_4_ERROR", "numero_radicado": "R-2", ')
    run_all(db, s3, settings, "day-2")
    folders = company_folders(landing, "afinia")
    assert (folders.processed / p2).exists()
    seen_hours_ago(db, landing, "afinia", part, p2, hours=80)
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    forms = review.collect(db, s3, settings, "review-1")
    [form] = [f for f in forms if f["finding"]["kind"] == "temp_file_stale"]
    outcome = review.apply_answer(db, s3, settings, form["finding"]["id"], review.QUARANTINE,
                                  answered_by="reviewer", answered_at=datetime.now(UTC),
                                  run_id="review-run")
    assert outcome.applied, outcome
    assert part in {e.original_name for e in read_quarantine(folders)}
    assert (folders.processed / p2).exists()
    shown, removed = remove_request(db, s3, settings, "R-1")
    assert removed.status == "completed"
    quarantined = {p.name for p in folders.quarantine.iterdir()}
    assert ((folders.processed / p2).exists() or p2 in quarantined
            or any(k.endswith("/" + p2) for k in list_keys(s3, bucket))), (
        f"R-2's {p2} is gone from every view")
    assert f"processed/{p2}" not in shown["local"], shown


def test_after_the_next_run_the_document_follows_its_set_aside_json_and_is_kept(
        db, s3, bucket, settings, landing):
    """Baseline (passes): the hourly ``extract`` runs between the answer and the removal;
    it reads the quarantined entry by its final name, R-2's PDF follows it into
    ``quarantine/`` and the removal keeps it."""
    write_json(landing, "PQR_4_ERROR", "R-1", 60, documento_prueba="")
    run_all(db, s3, settings, "day-1")
    p2 = write_pdf(landing, "PQR_4_ERROR", 45, "detalle de R-2")
    part = f"PQR_4_ERROR_data_{stamp(52)}.json.part"
    write(landing, part,
          '{"record_number": 4, "sgc_number": "PQR_4_ERROR", "numero_radicado": "R-2", ')
    run_all(db, s3, settings, "day-2")
    folders = company_folders(landing, "afinia")
    seen_hours_ago(db, landing, "afinia", part, p2, hours=80)
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    forms = review.collect(db, s3, settings, "review-1")
    [form] = [f for f in forms if f["finding"]["kind"] == "temp_file_stale"]
    assert review.apply_answer(db, s3, settings, form["finding"]["id"], review.QUARANTINE,
                               answered_by="reviewer", answered_at=datetime.now(UTC),
                               run_id="review-run").applied
    run_all(db, s3, settings, "day-3")
    assert p2 in {p.name for p in folders.quarantine.iterdir()}
    shown, removed = remove_request(db, s3, settings, "R-1")
    assert removed.status == "completed"
    assert p2 in {p.name for p in folders.quarantine.iterdir()}
    assert not any(p2 in entry for entry in shown["local"]), shown
