"""Setting aside a waiting document (``ov_review_findings``: "Move the file to quarantine/")
never lets the next run file another customer's document under a request.

The bot, placeholder ``PQR_4_ERROR``, one session: R-900's detail PDF (+0 s; its JSON step
failed, PASO 5's own try), then R-901 whole: PDF (+5 s), attachment (+8 s), JSON (+10 s).
Pairing sees two detail PDFs before R-901's JSON: they cannot be one request, so all three
documents wait, undecided (a document is never guessed into another customer's folder).
After ``ov_orphan_after_hours`` the hourly check asks a person about each
(``document_waiting``). The person sets aside R-901's PDF (the choice the form offers).
The next run no longer sees it: extract's pairing is given the documents in
``processed/`` and the registry, never the ones in ``quarantine/``, so the stretch is now
R-900's PDF + R-901's attachment + R-901's JSON, 8 s apart: "one request". R-900's detail
page is filed under ``sin_sgc/R-901/`` tied to R-901 (misfile). (R-901's supresión keeps
it: the removal's pairing is offered quarantine/'s documents; the companion test passes.)
"""

from __future__ import annotations

import pytest

from extractorov import reconcile, review
from extractorov.landing import company_folders
from tests.helpers import list_keys, query, seen_hours_ago
from tests.landing_files import (
    AFINIA,
    remove_request,
    run_all,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration

REASON = ("a review moving one waiting document to quarantine/ takes it out of the write "
          "order extract's pairing sees (quarantined documents are no pairing input), so "
          "the other undecided documents of its stretch look like one request and are filed")


def _set_aside_r901s_pdf(db, s3, settings, landing):
    p900 = write_pdf(landing, "PQR_4_ERROR", 0, "detalle de R-900")
    p901 = write_pdf(landing, "PQR_4_ERROR", 5, "detalle de R-901")
    a901 = write_adjunto(landing, "PQR_4_ERROR", 8, "cedula de R-901")
    write_json(landing, "PQR_4_ERROR", "R-901", 10)
    run_all(db, s3, settings, "day-1")
    folders = company_folders(landing, "afinia")
    # Two detail PDFs before one JSON: undecided, all three wait (the baseline holds).
    assert all((folders.processed / n).exists() for n in (p900, p901, a901))
    assert not query(db, "SELECT 1 FROM data_general.s3_files_registry "
                         "WHERE filename = ANY(%s)", [p900, p901, a901])
    seen_hours_ago(db, landing, "afinia", p900, p901, a901, hours=80)
    db.commit()
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    forms = review.collect(db, s3, settings, "review-1")
    asked = {f["finding"]["subject"]: f["finding"]["id"] for f in forms
             if f["finding"]["kind"] == "document_waiting"}
    assert {p900, p901, a901} <= asked.keys(), forms
    outcome = review.apply_answer(db, s3, settings, asked[p901], review.QUARANTINE,
                                  answered_by="reviewer", answered_at=_now(),
                                  run_id="review-1")
    assert outcome.applied, outcome
    assert not (folders.processed / p901).exists()
    return p900, p901, a901


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_setting_aside_a_waiting_document_never_files_another_customers_document(
        db, s3, bucket, settings, landing):
    p900, _, _ = _set_aside_r901s_pdf(db, s3, settings, landing)
    run_all(db, s3, settings, "day-2")
    rows = query(db, "SELECT s3_key, numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = %s", p900)
    assert not [r for r in rows if r[1] == "R-901" or "/R-901/" in r[0] or r[2]], rows
    assert not [k for k in list_keys(s3, bucket) if k.endswith(p900)]


def test_a_removal_after_a_waiting_document_was_set_aside_keeps_another_customers_document(
        db, s3, bucket, settings, landing):
    p900, _, _ = _set_aside_r901s_pdf(db, s3, settings, landing)
    run_all(db, s3, settings, "day-2")
    _shown, outcome = remove_request(db, s3, settings, "R-901")
    assert outcome.status == "completed"
    folders = company_folders(landing, "afinia")
    somewhere = ((folders.processed / p900).exists()
                 or [k for k in list_keys(s3, bucket) if k.endswith(p900)]
                 or any(p.name.startswith(p900) for p in folders.quarantine.iterdir()))
    assert somewhere, "R-900's detail page is gone from every view"
    # (Passes: the removal's pairing is offered the documents in quarantine/, extract's is
    # not; the removal sees two PDFs and keeps R-900's as "possibly". The two steps answer
    # differently on the same files; the misfile above stays in R-901's folder.)
