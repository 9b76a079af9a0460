"""The hourly check compares the bucket with the registry one slice of keys at a time.

A year of production leaves ~900,000 objects per company: listing them all and reading
every registry row each hour would make the check cost what the history holds. Each check
compares at most ``ov_reconcile_keys_per_check`` keys after where the previous one stopped;
a pass over the bucket takes several checks, and every key is compared once a pass. A
question about a key is cleared only by a check that looked at that key (real PostgreSQL,
moto over HTTP; a slice of 2 keys here, 50,000 by default).
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from extractorov import findings, pipeline, reconcile
from extractorov.companies import COMPANIES
from tests.helpers import list_keys, query, write_request

pytestmark = pytest.mark.integration

AFINIA = COMPANIES["afinia"]
PREFIX = "oficina-virtual/afinia/raw_data/"


def _uploaded(db, settings, landing, s3, requests: int = 3) -> None:
    for n in range(requests):
        write_request(landing, "afinia", f"RE{n}", f"R-{n}", f"20251008_09000{n}")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    db.commit()


def _one_pass(db, s3, settings, first_run: int) -> list[reconcile.ReconcileReport]:
    """The checks of one whole pass, from the first key to the last (at most 40 checks;
    the checks that end a pass begun earlier are left out)."""
    reports: list[reconcile.ReconcileReport] = []
    for n in range(first_run, first_run + 40):
        report = reconcile.reconcile(db, s3, AFINIA, settings, run_id=f"check-{n}")
        if report.window.after is None:
            reports = []
        reports.append(report)
        if report.window.upto is None and reports[0].window.after is None:
            return reports
    raise AssertionError("no whole pass in 40 checks")


def test_a_pass_of_small_checks_compares_every_key_once_and_finds_what_one_check_finds(
        db, settings, landing, s3, bucket):
    _uploaded(db, settings, landing, s3)
    missing = f"{PREFIX}RE0/RE0_20251008_090000.pdf"
    stray = f"{PREFIX}RE77/RE77_data_20251001_080000.json"
    s3.delete_object(Bucket=bucket, Key=missing)
    s3.put_object(Bucket=bucket, Key=stray, Body=b'{"numero_radicado": "OLD-1"}',
                  ChecksumAlgorithm="SHA256")
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}loose-file.txt", Body=b"x")
    listed = list_keys(s3, bucket)
    [(rows,)] = query(db, "SELECT count(*) FROM data_general.s3_files_registry")
    small = dataclasses.replace(settings, reconcile_keys_per_check=2)

    reports = _one_pass(db, s3, small, first_run=1)

    # Each check compared 2 keys and the registry rows between them (theirs, and the row
    # of the missing object when it falls in that slice), each row once a pass.
    assert len(reports) == (len(listed) + 1) // 2
    assert all(r.objects_listed <= 2 for r in reports)
    assert max(r.registry_rows for r in reports) <= 3
    assert sum(r.registry_rows for r in reports) == rows
    # The slices follow each other, and together they are the bucket, each key once.
    assert reports[0].window.after is None
    for before, after in itertools.pairwise(reports):
        assert after.window.after == before.window.upto
    assert sum(r.objects_listed for r in reports) == len(listed)
    # What one whole check finds, the pass found, once each.
    found = [f.kind for r in reports for f in r.findings if f.kind != "request_without_file"]
    assert sorted(found) == ["object_missing", "object_outside_layout", "object_unregistered"]
    assert missing in list_keys(s3, bucket)  # uploaded again from its local copy
    assert dict(query(db, "SELECT s3_key, upload_status FROM data_general.s3_files_registry "
                          "WHERE s3_key = %s", stray)) == {stray: "pre_existing"}
    # The next check starts the next pass from the first key.
    following = reconcile.reconcile(db, s3, AFINIA, small, run_id="check-next")
    assert following.window.after is None


def test_a_question_about_a_key_stays_open_until_a_check_looks_at_that_key_again(
        db, settings, landing, s3, bucket):
    _uploaded(db, settings, landing, s3)
    different = f"{PREFIX}RE1/RE1_20251008_090001.pdf"
    s3.put_object(Bucket=bucket, Key=different, Body=b"%PDF-1.4 tampered, longer than before")
    small = dataclasses.replace(settings, reconcile_keys_per_check=2)

    first = _one_pass(db, s3, small, first_run=1)
    asked = [f for r in first for f in r.findings if f.kind == "object_different"]
    assert [f.s3_key for f in asked] == [different] and asked[0].needs_human
    # Checks of the next pass that do not reach the key leave its question open.
    before_it = []
    for n in range(100, 120):
        report = reconcile.reconcile(db, s3, AFINIA, small, run_id=f"check-{n}")
        if report.window.upto is None or report.window.upto >= different:
            break
        before_it.append(report)
        assert findings.open_counts(db, "afinia")["unanswered"] == 1
    assert before_it, "the key should lie beyond the first slice of a pass"
    # Someone deletes the wrong object; the check that reaches the key repairs the file
    # and clears its question.
    s3.delete_object(Bucket=bucket, Key=different)
    _one_pass(db, s3, small, first_run=200)
    assert findings.open_counts(db, "afinia")["unanswered"] == 0
    assert dict(query(db, "SELECT s3_key, upload_status FROM data_general.s3_files_registry "
                          "WHERE s3_key = %s", different)) == {different: "uploaded"}


def test_a_retried_check_compares_its_own_slice_again(db, settings, landing, s3, bucket):
    _uploaded(db, settings, landing, s3)
    small = dataclasses.replace(settings, reconcile_keys_per_check=2)
    first = reconcile.reconcile(db, s3, AFINIA, small, run_id="check-1")
    second = reconcile.reconcile(db, s3, AFINIA, small, run_id="check-2")
    assert second.window.after == first.window.upto is not None

    retried = reconcile.reconcile(db, s3, AFINIA, small, run_id="check-2")

    assert retried.window == second.window
    # And the check after it goes on after that slice, not after the retry's rerun.
    third = reconcile.reconcile(db, s3, AFINIA, small, run_id="check-3")
    assert third.window.after == second.window.upto


def test_the_slice_size_is_a_variable_refused_below_one_listing_page(
        monkeypatch, landing, bucket):
    from extractorov import runtime
    from extractorov.errors import ConfigurationError

    monkeypatch.setenv("AIRFLOW_VAR_OV_RECONCILE_KEYS_PER_CHECK", "200000")
    assert runtime.settings_from_variables().reconcile_keys_per_check == 200_000
    monkeypatch.setenv("AIRFLOW_VAR_OV_RECONCILE_KEYS_PER_CHECK", "10")
    with pytest.raises(ConfigurationError, match="ov_reconcile_keys_per_check"):
        runtime.settings_from_variables()
