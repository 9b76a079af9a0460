"""A regression test: a local file a review set aside ("Keep the bucket's object", with or without
"report the local file as superseded") stays in processed/ for ever: retention never
takes it (by design it may not be uploaded), but it also never counts it, logs it or moves
it anywhere a person decides about (quarantine/). The Ley 1581 table of docs/operacion.md
promises processed/ holds a file 30 days, or longer only while something is unresolved
"y se cuenta"; the question is answered and closed, and the customer's file (a version
nobody will ever deliver) stays, uncounted, years later."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from extractorov import pipeline, reconcile, retention, review
from extractorov.landing import company_folders
from tests.helpers import write_request
from tests.landing_files import AFINIA, prefix

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("choice", [review.KEEP_PRE_EXISTING, review.KEEP_SUPERSEDED])
def test_a_local_file_a_review_set_aside_does_not_stay_for_ever_uncounted(
        db, s3, bucket, settings, landing, caplog, choice):
    write_request(landing, "afinia", "RE1", "R-1", "20251008_090000")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest, run_id="day-1")
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    key = prefix() + "RE1/RE1_20251008_090000.pdf"
    s3.put_object(Bucket=bucket, Key=key, Body=b"%PDF-1.4 the portal's corrected detail")
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    forms = review.collect(db, s3, settings, "review-1")  # the form shows the facts
    [fid] = [f["finding"]["id"] for f in forms if f["finding"]["s3_key"] == key]
    outcome = review.apply_answer(db, s3, settings, fid, choice, answered_by="reviewer",
                                  answered_at=datetime.now(UTC), run_id="review-1")
    assert outcome.applied and not outcome.open

    caplog.set_level(logging.INFO, logger="extractorov")
    summary = retention.run(db, s3, AFINIA, settings, run_id="day-400",
                            now=datetime.now(UTC) + timedelta(days=400))
    local = company_folders(landing, "afinia").processed / "RE1_20251008_090000.pdf"
    # Either it left processed/ (to quarantine/, where a person decides), or the run says
    # it is still there (counted, as every other file kept past its period is).
    counted = summary.local_held + summary.local_held_by_question + summary.quarantine_old
    assert not local.exists() or counted >= 1, summary
