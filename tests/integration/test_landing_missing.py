"""A missing landing folder fails at once and is never re-created (issue 21, major 3).

An unmounted share, a wrong Variable ``ov_landing_root`` or a renamed company folder
used to look like a quiet morning: ``extract`` re-created the folder tree, the run was
green with "0 files", and reconcile found nothing. Now every step that reads the
bot's folders stops with :class:`~extractorov.errors.LandingMissing` (a configuration
error: not retried) naming the folder, and leaves the file system as it was.
"""

from __future__ import annotations

import pytest

from extractorov import pipeline, reconcile, review, tasks
from extractorov.companies import COMPANIES
from extractorov.errors import LandingMissing
from extractorov.landing import company_folders
from tests.helpers import query, seen_hours_ago, write_request

AFINIA, AIRE = COMPANIES["afinia"], COMPANIES["aire"]


def _tree(path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_extract_of_a_company_whose_folder_is_gone_fails_at_once_and_creates_nothing(
        db, settings, landing, tmp_path):
    write_request(landing, "aire", "AI1", "R-1")
    (landing / "aire").rename(tmp_path / "aire-moved-away")
    before = _tree(landing)
    with pytest.raises(LandingMissing) as raised:
        pipeline.extract(db, AIRE, settings, "run-missing")
    assert f"{landing / 'aire'}, does not exist" in str(raised.value)
    assert _tree(landing) == before  # no aire/, oficina_virtual/, manifests/…
    # Checked first of all: not even the schema was touched.
    assert query(db, "SELECT to_regclass('data_general.s3_files_registry')") == [(None,)]
    # Airflow's answer: fail the task now, without retries (the retry policy's NotRetried).
    from extractorov.taskfail import RETRY_POLICY, NotRetried

    failure = tasks.airflow_error(raised.value)
    assert isinstance(failure, NotRetried)
    assert RETRY_POLICY.evaluate(failure, try_number=1, max_tries=4).action.name == "FAIL"
    # The other company is not concerned.
    assert pipeline.extract(db, AFINIA, settings, "run-afinia").files_found == 0


def test_extract_of_a_landing_root_that_is_not_mounted_fails_naming_it(db, settings, landing):
    for child in sorted(landing.rglob("*"), reverse=True):
        child.rmdir()  # an empty mount point: the share is not mounted
    with pytest.raises(LandingMissing, match=r"is empty\).*not mounted"):
        pipeline.extract(db, AFINIA, settings, "run-unmounted")
    assert list(landing.iterdir()) == []


def test_reconcile_of_a_company_whose_processed_folder_is_gone_fails_and_finds_nothing(
        db, s3, settings, landing):
    company_folders(landing, "afinia").processed.rmdir()
    with pytest.raises(LandingMissing, match="output folder of afinia"):
        reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-missing")
    assert not company_folders(landing, "afinia").processed.exists()


def test_a_review_answer_to_quarantine_fails_when_the_folder_is_gone_and_keeps_the_question(
        db, s3, settings, landing, bucket, tmp_path):
    lonely = company_folders(landing, "afinia").processed / "RE1234_20251008_090000.pdf"
    lonely.write_bytes(b"%PDF lonely")
    seen_hours_ago(db, landing, "afinia", lonely.name, hours=80)
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    [form] = review.collect(db, s3, settings, "review-1")
    (landing / "afinia").rename(tmp_path / "afinia-moved-away")
    with pytest.raises(LandingMissing, match="company afinia"):
        review.apply_answer(db, s3, settings, form["finding"]["id"], review.QUARANTINE,
                            answered_by="reviewer", answered_at=review_time(),
                            run_id="review-1")
    assert not (landing / "afinia").exists()
    # Not recorded as "the file is no longer in processed/": the question keeps waiting.
    assert query(db, "SELECT answer FROM data_general.reconcile_findings WHERE needs_human"
                 ) == [(None,)]


def review_time():
    from datetime import UTC, datetime

    return datetime(2025, 10, 9, 15, 0, tzinfo=UTC)
