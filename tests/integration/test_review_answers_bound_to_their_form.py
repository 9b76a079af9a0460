"""Answers bound to what was shown: an answer given on a form is judged against the facts
*that form* showed, never against a later form of the same question; and what a review
rejected never comes back by another door."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from extractorov import pipeline, reconcile, review
from extractorov.companies import COMPANIES
from tests.helpers import write_request

AFINIA = COMPANIES["afinia"]
PREFIX = "oficina-virtual/afinia/raw_data/"
WHEN = datetime(2025, 10, 9, 15, 0, tzinfo=UTC)

pytestmark = pytest.mark.integration


def _check(db, s3, settings, run_id):
    return reconcile.reconcile(db, s3, AFINIA, settings, run_id=run_id)


def test_an_answer_on_the_form_of_a_question_that_came_back_is_not_applied_to_the_new_object(
        db, settings, landing, s3, bucket):
    # RE1 uploaded from its local file.
    write_request(landing, "afinia", "RE1", "R-RE1", "20251008_090000")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    key = f"{PREFIX}RE1/RE1_20251008_090000.pdf"
    local = (landing / "afinia/oficina_virtual/processed/RE1_20251008_090000.pdf").read_bytes()

    # Another writer (e.g. the old uploader, replace=True) overwrites it with version A.
    version_a = b"%PDF-1.4 another writer's version A of RE1 ......."
    s3.put_object(Bucket=bucket, Key=key, Body=version_a)
    first = _check(db, s3, settings, "check-1")
    assert [f.kind for f in first.new_questions] == ["object_different"]

    # Review run 1 asks it: form 1 shows version A.
    [form_1] = review.collect(db, s3, settings, "review-1")
    assert hashlib.sha256(version_a).hexdigest() in form_1["body"]

    # Version A is deleted: the next check re-uploads the local file, the question is
    # cleared (a later check no longer found it).
    s3.delete_object(Bucket=bucket, Key=key)
    _check(db, s3, settings, "check-2")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == local

    # The other writer comes back with version B, of the same size as A: the same question
    # (kind, key, cause) comes back, as a new one.
    version_b = b"%PDF-1.4 another writer's version B of RE1 ......."
    assert len(version_b) == len(version_a)
    s3.put_object(Bucket=bucket, Key=key, Body=version_b)
    third = _check(db, s3, settings, "check-3")
    assert [f.kind for f in third.new_questions] == ["object_different"]
    # Review run 2 asks it: form 2 shows version B (nobody has answered it yet).
    [form_2] = review.collect(db, s3, settings, "review-2")
    assert hashlib.sha256(version_b).hexdigest() in form_2["body"]

    # The reviewer answers form 1 (still open in Required actions: 24 h), having compared
    # version A with the local file: "my local file is right, replace the object".
    outcome = review.apply_answer(db, s3, settings, form_1["finding"]["id"],
                                  review.REPLACE_OBJECT, answered_by="reviewer",
                                  answered_at=WHEN, run_id="review-1")

    # What form 1 showed (version A) no longer holds: nothing may be applied.
    assert outcome.applied is False, outcome.text
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == version_b, (
        "version B, which no form the reviewer answered ever showed, was overwritten")
    # The same answer carrying form 1's facts, as the review task sends it: not applied.
    again = review.apply_answer(db, s3, settings, form_1["finding"]["id"],
                                review.KEEP_PRE_EXISTING, answered_by="reviewer",
                                answered_at=WHEN, run_id="review-1",
                                shown=form_1["finding"]["shown"])
    assert again.applied is False, again.text
    # Form 2, answered, is applied: it showed version B.
    applied = review.apply_answer(db, s3, settings, form_2["finding"]["id"],
                                  review.KEEP_PRE_EXISTING, answered_by="reviewer",
                                  answered_at=WHEN, run_id="review-2",
                                  shown=form_2["finding"]["shown"])
    assert applied.applied, applied.text


def test_a_local_file_a_review_rejected_is_never_uploaded_after_its_kept_objects_row_is_deleted(
        db, settings, landing, s3, bucket):
    write_request(landing, "afinia", "RE1", "R-RE1", "20251008_090000")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    key = f"{PREFIX}RE1/RE1_20251008_090000.pdf"
    local = (landing / "afinia/oficina_virtual/processed/RE1_20251008_090000.pdf").read_bytes()

    # The bucket holds the right version; the reviewer keeps it and reports the local file
    # as superseded ("the local file is never uploaded").
    right = b"%PDF-1.4 the signed, corrected version of RE1"
    s3.put_object(Bucket=bucket, Key=key, Body=right)
    _check(db, s3, settings, "check-1")
    [form] = review.collect(db, s3, settings, "review-1")
    kept = review.apply_answer(db, s3, settings, form["finding"]["id"], review.KEEP_SUPERSEDED,
                               answered_by="reviewer", answered_at=WHEN, run_id="review-1")
    assert kept.applied, kept.text

    # Later the object is removed on purpose (e.g. a retention clean-up); the check asks, the
    # form says the row has no local copy, the reviewer deletes the registry row.
    s3.delete_object(Bucket=bucket, Key=key)
    second = _check(db, s3, settings, "check-2")
    assert [f.kind for f in second.new_questions] == ["object_missing"]
    [form] = review.collect(db, s3, settings, "review-2")
    assert "no local copy" in form["body"]
    deleted = review.apply_answer(db, s3, settings, form["finding"]["id"], review.DELETE_ROW,
                                  answered_by="reviewer", answered_at=WHEN, run_id="review-2")
    assert deleted.applied, deleted.text

    # The next morning's run.
    extracted = pipeline.extract(db, AFINIA, settings, "day-2")
    pipeline.load(db, AFINIA, extracted.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-2")

    objects = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    uploaded_superseded = key in objects and (
        s3.get_object(Bucket=bucket, Key=key)["Body"].read() == local)
    assert not uploaded_superseded, (
        "the local file the reviewer reported as superseded was uploaded")
    # Kept beside its row while the row stands (one place: never registered and in
    # quarantine/ too); set aside when the row went, never uploaded.
    assert "stays in processed/ beside its row" in kept.text
    assert "moved to quarantine/" in deleted.text
    quarantine = landing / "afinia/oficina_virtual/quarantine"
    assert (quarantine / "RE1_20251008_090000.pdf").read_bytes() == local  # set aside, whole
