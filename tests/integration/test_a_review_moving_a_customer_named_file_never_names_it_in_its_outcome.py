"""A regression test: a review's "move to quarantine" answer to a ``temp_file_stale`` finding whose
file is named after a customer (the detail writer names attachments after the customer's
upload; the browser's download of it stopped, ``….crdownload``) reports
``moved to quarantine/{the raw name}``. That outcome text goes to the task log and XCom
(``Outcome.as_dict``). The finding itself shows
the name as its length (landing.shown_name); the outcome must too (docs/operacion.md,
Ley 1581 table: logs and XCom hold no personal data)."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import pytest

from extractorov import reconcile, review
from extractorov.landing import company_folders, read_quarantine
from tests.helpers import seen_hours_ago
from tests.landing_files import AFINIA

pytestmark = pytest.mark.integration

ID_NUMBER = "1099887766"
STOPPED = f"Zoraida Quinones CC {ID_NUMBER}.pdf.crdownload"


def test_a_review_moving_a_customer_named_file_never_names_it_in_its_outcome(
        db, s3, bucket, settings, landing):
    processed = company_folders(landing, "afinia").processed
    processed.mkdir(parents=True, exist_ok=True)
    stopped = processed / STOPPED
    stopped.write_bytes(b"%PDF half of a cedula")
    old = time.time() - 80 * 3600
    os.utime(stopped, (old, old))
    seen_hours_ago(db, landing, "afinia", STOPPED, hours=80)
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    [stale] = [f for f in report.awaiting_answer if f.kind == "temp_file_stale"]
    assert ID_NUMBER not in stale.detail  # the finding shows its length: holds
    [form] = review.collect(db, s3, settings, "review-1")
    assert ID_NUMBER not in json.dumps(form, ensure_ascii=False)
    outcome = review.apply_answer(db, s3, settings, form["finding"]["id"], review.QUARANTINE,
                                  answered_by="reviewer",
                                  answered_at=datetime(2025, 10, 9, 15, 0, tzinfo=UTC),
                                  run_id="review-run")
    assert outcome.applied
    assert [q.original_name for q in read_quarantine(company_folders(landing, "afinia"))] == [
        STOPPED]
    # What the log line and the task's XCom carry.
    assert ID_NUMBER not in json.dumps(outcome.as_dict(), ensure_ascii=False), outcome.text
