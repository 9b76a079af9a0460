"""A local file a review's "keep the bucket's object" rejected is never lost from view.

The review keeps the registry row (now describing the bucket's object) and leaves the
rejected local file beside it in processed/ (quarantine/ never takes a file a registry
row accounts for: one file, one place). ``extract`` with ``readmit_quarantine=true`` (what
docs/operacion.md says to run after a parser change) must not make it silent: it stays
where a person decides, is asked about again, or retention counts it every run (it is
never uploaded nor removed by itself)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from extractorov import pipeline, reconcile, retention, review
from extractorov.landing import company_folders, read_quarantine
from tests.helpers import write_request
from tests.landing_files import AFINIA, prefix

pytestmark = pytest.mark.integration

PDF = "RE1_20251008_090000.pdf"


def test_a_file_a_review_set_aside_is_not_brought_back_unseen_by_readmit_quarantine(
        db, s3, bucket, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1", "20251008_090000")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest, run_id="day-1")
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    key = prefix() + "RE1/" + PDF
    s3.put_object(Bucket=bucket, Key=key, Body=b"%PDF-1.4 the portal's corrected detail")
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    forms = review.collect(db, s3, settings, "review-1")
    [fid] = [f["finding"]["id"] for f in forms if f["finding"]["s3_key"] == key]
    outcome = review.apply_answer(db, s3, settings, fid, review.KEEP_PRE_EXISTING,
                                  answered_by="reviewer", answered_at=datetime.now(UTC),
                                  run_id="review-1")
    assert outcome.applied
    folders = company_folders(landing, "afinia")
    # Since a file is never both registered and in quarantine/, the rejected local file
    # stays beside its row (counted by retention); nothing of it is in quarantine/.
    assert read_quarantine(folders) == [] and (folders.processed / PDF).exists()

    # After a parser change the operator validates quarantine again, as documented.
    summary = pipeline.extract(db, AFINIA, settings, "day-2", readmit_quarantine=True)
    pipeline.load(db, AFINIA, summary.manifest, run_id="day-2")
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-2")
    in_quarantine = [q.original_name for q in read_quarantine(folders)] == [PDF]
    asked = [f for f in reconcile.reconcile(db, s3, AFINIA, settings,
                                            run_id="check-2").findings
             if f.s3_key == key or f.file_name == PDF]
    kept = retention.run(db, s3, AFINIA, settings, run_id="day-400",
                         now=datetime.now(UTC) + timedelta(days=400))
    counted = kept.local_held + kept.local_held_by_question + kept.quarantine_old
    # The set-aside file stays where a person decides, or is asked about / counted again.
    assert in_quarantine or asked or counted >= 1 or not (folders.processed / PDF).exists(), (
        sorted(p.name for p in folders.processed.iterdir()), kept)
