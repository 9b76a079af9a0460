"""ov_s3_reconcile against a bucket damaged on purpose (real PostgreSQL, moto over HTTP)."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from extractorov import pipeline, reconcile, runtime
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders
from tests.helpers import list_keys, query, seen_hours_ago, write_request
from tests.landing_files import prefix, stamp, write_json, write_pdf

AFINIA = COMPANIES["afinia"]
PREFIX = "oficina-virtual/afinia/raw_data/"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _damage(db, settings, landing, s3, bucket) -> dict[str, str]:
    """Three uploaded requests, then every kind of disagreement the old system had."""
    for n in range(3):
        write_request(landing, "afinia", f"RE{n}", f"R-{n}", f"20251008_09000{n}")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")

    missing = f"{PREFIX}RE0/RE0_20251008_090000.pdf"
    different = f"{PREFIX}RE1/RE1_20251008_090001.pdf"
    stray = f"{PREFIX}RE77/RE77_data_20251001_080000.json"
    s3.delete_object(Bucket=bucket, Key=missing)
    s3.put_object(Bucket=bucket, Key=different, Body=b"%PDF-1.4 tampered, longer than before")
    s3.put_object(Bucket=bucket, Key=stray, Body=b'{"numero_radicado": "OLD-1"}',
                  ChecksumAlgorithm="SHA256")
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}loose-file.txt", Body=b"x")
    # A request loaded by hand (or by the old system) whose JSON nobody registered.
    db.execute("INSERT INTO data_general.ov_afinia (numero_radicado, numero_reclamo_sgc, fecha, "
               "hash_registro, hash_contenido, archivo_origen) VALUES "
               "('R-GHOST', 'RE9', now(), 'h', 'h', 'RE9_data_20250101_000000.json')")
    # And a new request registered by a database_only run: pending.
    write_request(landing, "afinia", "RE5", "R-5", "20251009_090000")
    extracted = pipeline.extract(db, AFINIA, settings, "day-2")
    pipeline.load(db, AFINIA, extracted.manifest)
    db.commit()
    return {"missing": missing, "different": different, "stray": stray}


def test_reconcile_repairs_what_it_can_and_flags_the_rest(db, settings, landing, s3, bucket):
    keys = _damage(db, settings, landing, s3, bucket)
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    text = reconcile.format_report(report)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "reconcile-report.txt").write_text(text + "\n")
    print(text)

    assert report.counts() == {
        "object_missing": 1, "object_different": 1, "object_unregistered": 1,
        "object_outside_layout": 1, "request_without_file": 1,
    }
    # The upload failed only on the different object: counted once, as object_different
    # (not also as upload_failed).
    assert {f.kind for f in report.needs_human} == {
        "object_different", "object_outside_layout", "request_without_file"}
    # Repaired: the missing object is back, the new request's files are uploaded.
    bucket_keys = list_keys(s3, bucket)
    assert keys["missing"] in bucket_keys
    assert report.upload["s3_uploaded"] == 3  # the missing PDF + RE5's JSON and PDF
    status = dict(query(db, "SELECT s3_key, upload_status FROM data_general.s3_files_registry"))
    assert status[keys["missing"]] == "uploaded"
    assert status[keys["stray"]] == "pre_existing"
    assert status[keys["different"]] == "error"  # never overwritten
    assert s3.get_object(Bucket=bucket, Key=keys["different"])["Body"].read().startswith(
        b"%PDF-1.4 tampered")
    [(source, digest)] = query(db, "SELECT upload_source, file_hash FROM "
                                   "data_general.s3_files_registry WHERE s3_key = %s",
                               keys["stray"])
    assert source == "pre_existing" and len(digest) == 64
    # Findings are in the table, and a rerun of the same check replaces them.
    stored = query(db, "SELECT kind, needs_human FROM data_general.reconcile_findings "
                       "WHERE run_id = 'check-1' ORDER BY kind")
    assert len(stored) == 5
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    again = query(db, "SELECT kind FROM data_general.reconcile_findings WHERE run_id = 'check-1'")
    # The tampered object is now an 'error' row: reconcile flags it by its key, and no
    # upload retries it while the different object is there.
    assert sorted(k for (k,) in again) == ["object_different", "object_outside_layout",
                                           "request_without_file"]
    # Once someone deletes the wrong object, the next check uploads the file.
    s3.delete_object(Bucket=bucket, Key=keys["different"])
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-2")
    assert "object_different" not in report.counts()
    status = dict(query(db, "SELECT s3_key, upload_status FROM data_general.s3_files_registry"))
    assert status[keys["different"]] == "uploaded"


def test_clean_state_has_no_findings(db, settings, landing, s3, bucket):
    write_request(landing, "afinia", "RE1", "R-1")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check")
    assert (report.findings, report.objects_listed, report.registry_rows) == ([], 2, 2)


@pytest.mark.e2e
def test_reconcile_dag_fails_when_a_human_is_needed(airflow_db, db, settings, landing, s3,
                                                    bucket):
    _damage(db, settings, landing, s3, bucket)
    dag = DagBag(dag_folder=Path(__file__).resolve().parents[2] / "dags").dags["ov_s3_reconcile"]
    run = dag.test(logical_date=datetime(2025, 10, 9, 15, tzinfo=UTC))
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "failed"
    # The failed check still announces its findings (ov_review_findings asks them), and the
    # watcher keeps the run red.
    assert states == {"reconcile_afinia": "failed", "reconcile_aire": "success",
                      "announce_findings": "success", "watcher": "failed",
                      "check_morning_runs": "success", "remind_open_findings": "success",
                      "deliver_alerts": "success"}
    kinds = {k for (k,) in query(db, "SELECT DISTINCT kind FROM data_general.reconcile_findings "
                                     "WHERE empresa = 'afinia'")}
    assert "object_missing" in kinds and "request_without_file" in kinds


# --------------------------------------------- objects changed or deleted while it runs


class _SlowS3:
    def __init__(self, client, delay):
        self._client, self._delay = client, delay

    def put_object(self, **kwargs):
        time.sleep(self._delay)
        return self._client.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_reconcile_concurrent_with_a_daily_upload(db, s3, bucket, settings, landing):
    for i in range(40):
        write_pdf(landing, "PQR_4_ERROR", i * 60, f"A{i}")
        write_json(landing, "PQR_4_ERROR", f"R-{i}", i * 60 + 5)
    lonely = write_pdf(landing, "RE55", 9_000, "lonely")
    old = time.time() - 100 * 3600
    os.utime(company_folders(landing, "afinia").processed / lonely, (old, old))
    seen_hours_ago(db, landing, "afinia", lonely, hours=100)
    ex = pipeline.extract(db, AFINIA, settings, "daily")
    pipeline.load(db, AFINIA, ex.manifest)
    errors: list[BaseException] = []

    def daily():
        try:
            with runtime.warehouse_connection() as conn:
                pipeline.upload(conn, _SlowS3(runtime.s3_client(), 0.03), AFINIA, settings,
                                run_id="daily", wait_seconds=60)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=daily)
    thread.start()
    time.sleep(0.5)  # the daily upload holds the lock
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec")
    thread.join(60)
    assert not errors
    kinds = sorted(f.kind for f in report.findings)
    assert kinds == ["document_waiting"], kinds
    assert lonely in report.findings[0].detail
    assert query(db, "SELECT count(*) FILTER (WHERE upload_status='uploaded'), count(*) "
                     "FROM data_general.s3_files_registry") == [(80, 80)]
    assert len(list_keys(s3, bucket)) == 80
    assert all("/sin_sgc/R-" in k for k in list_keys(s3, bucket))
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-2")
    assert sorted(f.kind for f in report.findings) == ["document_waiting"]


def test_reconcile_registers_foreign_sin_sgc_objects_and_rejects_off_layout(db, s3, bucket,
                                                                            settings, landing):
    for key in (f"{prefix()}sin_sgc/R-9/x_{stamp(0)}.pdf", f"{prefix()}sin_sgc/y.pdf",
                f"{prefix()}sin_sgc/a/b/c.pdf", f"{prefix()}RE1/../../z.pdf"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec")
    found = sorted((f.kind, f.s3_key) for f in report.findings)
    assert found == sorted([
        ("object_unregistered", f"{prefix()}sin_sgc/R-9/x_{stamp(0)}.pdf"),
        ("object_outside_layout", f"{prefix()}sin_sgc/y.pdf"),
        ("object_outside_layout", f"{prefix()}sin_sgc/a/b/c.pdf"),
        ("object_outside_layout", f"{prefix()}RE1/../../z.pdf"),
    ])
    assert query(db, "SELECT numero_reclamo_sgc FROM data_general.s3_files_registry") == [(None,)]


def test_a_bucket_row_whose_object_changed_then_vanished_is_never_reported(
        db, s3, bucket, settings, landing):
    """A regression test (promise 1): a registry row without a local copy whose object
    disappears is reported by reconcile as object_missing (needs a human). If the object was
    first replaced by one of another size, reconcile turned the row 'pending'
    (object_different, once); from then on the row was skipped: the deletion was never
    reported and the row stayed pending for ever (files_to_upload never queues it)."""
    key = f"{prefix()}RB1/RB1_20251008_040000.pdf"
    s3.put_object(Bucket=bucket, Key=key, Body=b"%PDF original from the old system")
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1")
    s3.put_object(Bucket=bucket, Key=key, Body=b"%PDF replaced by someone, other size!!")
    second = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-2")
    assert [f.kind for f in second.findings if f.s3_key == key] == ["object_different"]
    s3.delete_object(Bucket=bucket, Key=key)
    third = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-3")
    found = [(f.kind, f.needs_human) for f in third.findings if f.s3_key == key]
    assert found == [("object_missing", True)], (
        found, query(db, "SELECT upload_status, local_path FROM data_general.s3_files_registry"))


def test_an_object_deleted_between_listing_and_head_does_not_crash_reconcile(
        db, s3, bucket, settings, landing):
    """A regression test (promises 1/2): reconcile reports and repairs; a human deleting a
    stray object (the README's advice) while reconcile runs makes HEAD answer 404 after the
    listing. The raw ClientError escaped: every finding and repair of that run was rolled
    back."""
    gone = f"{prefix()}RB2/RB2_20251008_040000.pdf"
    s3.put_object(Bucket=bucket, Key=gone, Body=b"%PDF stray")
    write_request(landing, "afinia", "RB3", "R-B3")

    class DeletesOnHead:
        def __init__(self, real):
            self._real = real

        def __getattr__(self, name):
            return getattr(self._real, name)

        def head_object(self, **kwargs):
            if kwargs.get("Key") == gone:
                self._real.delete_object(Bucket=bucket, Key=gone)
            return self._real.head_object(**kwargs)

    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    report = reconcile.reconcile(db, DeletesOnHead(s3), AFINIA, settings, run_id="rec-1")
    assert report.upload.get("s3_uploaded") == 2
