"""Hostile review, round 2: attacks the fixes survive (these pass)."""

from __future__ import annotations

import os
import time

import pytest

from extractorov import errors, pipeline, reconcile, storage
from extractorov.landing import company_folders
from extractorov.registry import DIFFERENT_OBJECT
from tests.helpers import list_keys, query, seen_hours_ago, write_request
from tests.landing_files import AFINIA, prefix

pytestmark = pytest.mark.integration

MB = 1024 * 1024


def _row(db, key):
    return query(db, "SELECT upload_status, last_error, local_path IS NOT NULL FROM "
                     "data_general.s3_files_registry WHERE s3_key = %s", key)


def _multipart_object(s3, bucket, key, data: bytes, **extra):
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256",
                                        **extra)["UploadId"]
    parts = []
    for number, start in enumerate((0, 5 * MB), start=1):
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                Body=data[start:start + 5 * MB] if number == 1 else data[start:],
                                ChecksumAlgorithm="SHA256")
        parts.append({"ETag": answer["ETag"], "PartNumber": number,
                      "ChecksumSHA256": answer.get("ChecksumSHA256")})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                 MultipartUpload={"Parts": parts})


def _big_pdf(landing, sgc, data: bytes):
    paths = write_request(landing, "afinia", sgc, f"R-{sgc}", pdf=False)
    pdf = company_folders(landing, "afinia").processed / f"{sgc}_20251008_093220.pdf"
    pdf.write_bytes(data)
    os.utime(pdf, (paths[0].stat().st_mtime,) * 2)
    return pdf, f"{prefix()}{sgc}/{pdf.name}"


def _daily(db, s3, settings, run_id):
    extracted = pipeline.extract(db, AFINIA, settings, run_id)
    pipeline.load(db, AFINIA, extracted.manifest)
    try:
        return pipeline.upload(db, s3, AFINIA, settings, run_id=run_id)
    except errors.UploadIncomplete as exc:
        return exc.summary


@pytest.mark.parametrize("order", ["reconcile_first", "extract_first"])
def test_multipart_object_with_the_same_bytes_is_pre_existing_in_either_order(
        db, s3, bucket, settings, landing, order):
    data = os.urandom(5 * MB + 1024)
    _pdf, key = _big_pdf(landing, "AM1", data)
    _multipart_object(s3, bucket, key, data)
    if order == "reconcile_first":
        reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1", upload=False)
        summary = _daily(db, s3, settings, "day-1")
    else:
        extracted = pipeline.extract(db, AFINIA, settings, "day-1")
        pipeline.load(db, AFINIA, extracted.manifest)
        reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1")
        summary = pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    assert summary.s3_errors == 0
    assert _row(db, key) == [("pre_existing", None, True)]


def test_multipart_object_same_size_other_bytes_is_flagged_held_and_uploaded_once_deleted(
        db, s3, bucket, settings, landing):
    data = os.urandom(5 * MB + 1024)
    _pdf, key = _big_pdf(landing, "AM2", data)
    other = bytearray(data)
    other[-10] ^= 0xFF
    _multipart_object(s3, bucket, key, bytes(other))
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1", upload=False)
    _daily(db, s3, settings, "day-1")
    assert _row(db, key) == [("error", DIFFERENT_OBJECT, True)]
    # Not retried while the object is there: the next daily run does not touch it.
    again = _daily(db, s3, settings, "day-2")
    assert again.files == 0
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-2")
    assert [(f.kind, f.needs_human) for f in report.findings if f.s3_key == key] == [
        ("object_different", True)]
    s3.delete_object(Bucket=bucket, Key=key)
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-3")
    assert _row(db, key)[0][0] == "uploaded"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_kms_object_without_checksum_same_bytes_is_pre_existing_other_bytes_flagged(
        db, s3, bucket, settings, landing):
    same, key_same = _big_pdf(landing, "AK1", b"%PDF kms same bytes")
    _diff, key_diff = _big_pdf(landing, "AK2", b"%PDF kms other byte")
    s3.put_object(Bucket=bucket, Key=key_same, Body=same.read_bytes(),
                  ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/ov-review")
    s3.put_object(Bucket=bucket, Key=key_diff, Body=b"%PDF kms OTHER byte",
                  ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/ov-review")
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1", upload=False)
    _daily(db, s3, settings, "day-1")
    assert _row(db, key_same) == [("pre_existing", None, True)]
    assert _row(db, key_diff) == [("error", DIFFERENT_OBJECT, True)]
    assert s3.get_object(Bucket=bucket, Key=key_diff)["Body"].read() == b"%PDF kms OTHER byte"


def test_an_object_created_before_complete_multipart_is_never_overwritten(
        db, s3, bucket, settings, landing, monkeypatch):
    data = os.urandom(MB) * 70
    _pdf, key = _big_pdf(landing, "AC1", data)
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)

    class RacesComplete:
        def __init__(self, real):
            self._real = real

        def __getattr__(self, name):
            return getattr(self._real, name)

        def complete_multipart_upload(self, **kwargs):
            self._real.put_object(Bucket=bucket, Key=key, Body=b"someone else's object")
            return self._real.complete_multipart_upload(**kwargs)

    with pytest.raises(errors.UploadIncomplete):
        pipeline.upload(db, RacesComplete(s3), AFINIA, settings, run_id="day-1")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"someone else's object"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert _row(db, key) == [("error", DIFFERENT_OBJECT, True)]


def test_a_crash_after_complete_before_commit_ends_uploaded_with_one_object(
        db, s3, bucket, settings, landing, monkeypatch):
    data = os.urandom(MB) * 70
    _pdf, key = _big_pdf(landing, "AC2", data)
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    from extractorov import registry

    real = registry.record_upload_results

    def crash(*args, **kwargs):
        raise ConnectionError("worker killed before the registry commit")

    monkeypatch.setattr(registry, "record_upload_results", crash)
    with pytest.raises(ConnectionError):
        pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    monkeypatch.setattr(registry, "record_upload_results", real)
    db.rollback()
    # The hourly check runs first this time: it finishes the record, one object, one count.
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1")
    assert _row(db, key)[0][0] == "uploaded"
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    assert len(versions) <= 1 and list_keys(s3, bucket, key) == {key: 70 * MB}
    runs = query(db, "SELECT sum(s3_uploaded) FROM data_general.post_processing_runs")
    uploaded = query(db, "SELECT count(*) FROM data_general.s3_files_registry "
                         "WHERE upload_status = 'uploaded'")
    assert runs[0][0] == uploaded[0][0]


def test_stale_part_is_reported_fresh_part_is_in_progress(db, s3, bucket, settings, landing):
    write_request(landing, "afinia", "AT1", "R-AT1")
    processed = company_folders(landing, "afinia").processed
    stale = processed / "AT1_adjunto_20251008_093222.jpg.part"
    fresh = processed / "AT1_adjunto_20251008_093223.jpg.crdownload"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    old = time.time() - (settings.orphan_after_hours + 1) * 3600
    os.utime(stale, (old, old))
    seen_hours_ago(db, landing, "afinia", stale.name, hours=settings.orphan_after_hours + 1)
    summary = pipeline.extract(db, AFINIA, settings, "day-1")
    assert (summary.files_in_progress, summary.files_waiting) == (1, 1)
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1", upload=False)
    stale_findings = [f for f in report.findings if f.kind == "temp_file_stale"]
    assert len(stale_findings) == 1 and stale.name in stale_findings[0].detail
    assert fresh.name not in " ".join(f.detail for f in report.findings)


def test_file_over_the_limit_names_the_variable_and_is_not_retryable(tmp_path):
    import hashlib

    from extractorov.registry import PendingFile

    path = tmp_path / "AL1_20251008_040000.pdf"
    path.write_bytes(b"x" * 4096)
    item = PendingFile(1, path.name, str(path), f"{prefix()}AL1/{path.name}", "AL1", "afinia",
                       4096, "application/pdf", hashlib.sha256(b"x" * 4096).hexdigest())
    result = storage.upload_one(object(), "b", item, max_file_bytes=1024)
    assert result.status == "error" and not result.retryable
    assert "ov_s3_max_file_gib" in result.error
