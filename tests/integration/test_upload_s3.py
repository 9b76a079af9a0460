"""upload_s3 against a moto S3 server over HTTP, through S3Hook, with a real registry."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import asdict

import pytest

from devtools import services
from extractorov import errors, pipeline, reconcile, runtime, storage
from extractorov import upload as upload_step
from extractorov.companies import COMPANIES
from extractorov.errors import S3PreflightError
from extractorov.landing import company_folders
from extractorov.registry import DIFFERENT_OBJECT
from extractorov.settings import Settings
from extractorov.storage import preflight
from tests.helpers import list_keys, query, write_request
from tests.landing_files import prefix

AFINIA = COMPANIES["afinia"]


def _prepare(db, settings, landing, n=3, **kwargs):
    paths = []
    for i in range(n):
        paths += write_request(landing, "afinia", f"RE{i}", f"R-{i}", f"20251008_09000{i}",
                               **kwargs)
    extracted = pipeline.extract(db, AFINIA, settings, "run-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    return paths


def _registry(db):
    return {r[0]: r[1:] for r in query(
        db, "SELECT filename, upload_status, attempts, last_error, uploaded_at, s3_key, "
            "last_run_id FROM data_general.s3_files_registry")}


def test_upload_puts_every_file_with_checksum_metadata_and_encryption(db, settings, landing,
                                                                      s3, bucket):
    paths = _prepare(db, settings, landing, adjunto="png")
    summary = pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")

    assert (summary.files, summary.s3_uploaded, summary.s3_errors) == (9, 9, 0)
    assert summary.s3_bytes == sum(p.stat().st_size for p in paths)
    keys = list_keys(s3, bucket)
    registry = _registry(db)
    assert set(keys) == {row[4] for row in registry.values()}
    for path in paths:
        status, attempts, error, uploaded_at, key, run_id = registry[path.name]
        assert (status, attempts, error, run_id) == ("uploaded", 1, None, "run-1")
        assert uploaded_at is not None
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        digest = hashlib.sha256(path.read_bytes()).digest()
        assert head["ChecksumSHA256"] == base64.b64encode(digest).decode()
        assert head["ServerSideEncryption"] == "AES256"
        assert head["Metadata"] == {"empresa": "afinia", "numero-reclamo-sgc": key.split("/")[3],
                                    "file-hash": digest.hex()}
        assert keys[key] == path.stat().st_size
    head = s3.head_object(Bucket=bucket, Key=registry["RE0_adjunto_20251008_090000.png"][4])
    assert head["ContentType"] == "image/png"


def test_second_upload_changes_nothing(db, settings, landing, s3, bucket):
    _prepare(db, settings, landing)
    pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")
    before_registry, before_keys = _registry(db), list_keys(s3, bucket)
    again = pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")
    assert (again.files, again.s3_uploaded, again.s3_pre_existing) == (0, 0, 0)
    assert _registry(db) == before_registry
    assert list_keys(s3, bucket) == before_keys


def test_object_already_in_bucket_with_same_content_is_pre_existing(db, settings, landing, s3,
                                                                    bucket):
    paths = _prepare(db, settings, landing, n=1)
    key = f"oficina-virtual/afinia/raw_data/RE0/{paths[0].name}"
    s3.put_object(Bucket=bucket, Key=key, Body=paths[0].read_bytes(), ChecksumAlgorithm="SHA256")
    etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]

    summary = pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")
    assert (summary.s3_uploaded, summary.s3_pre_existing) == (1, 1)
    assert _registry(db)[paths[0].name][0] == "pre_existing"
    assert s3.head_object(Bucket=bucket, Key=key)["ETag"] == etag  # not uploaded again


def test_different_object_at_the_key_is_never_overwritten(db, settings, landing, s3, bucket):
    paths = _prepare(db, settings, landing, n=1)
    key = f"oficina-virtual/afinia/raw_data/RE0/{paths[0].name}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"someone else's bytes")

    with pytest.raises(errors.UploadIncomplete, match="1 of 2 files failed"):
        pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")
    status, attempts, error, *_ = _registry(db)[paths[0].name]
    assert (status, attempts) == ("error", 1)
    assert "different object already exists" in error
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"someone else's bytes"


def test_partial_failure_records_all_then_retry_uploads_only_what_is_left(db, settings, landing,
                                                                          s3, bucket):
    paths = _prepare(db, settings, landing, n=3)
    missing = paths[2]
    content = missing.read_bytes()
    missing.unlink()

    with pytest.raises(errors.UploadIncomplete) as failure:
        pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")
    message = str(failure.value)
    assert "1 of 6 files failed" in message and "local file is missing" in message
    assert failure.value.summary.s3_uploaded == 5
    registry = _registry(db)
    assert registry[missing.name][:3] == ("error", 1, "local file is missing")
    assert sum(1 for row in registry.values() if row[0] == "uploaded") == 5

    missing.write_bytes(content)
    retry = pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")
    assert (retry.files, retry.s3_uploaded, retry.s3_errors) == (1, 1, 0)
    assert _registry(db)[missing.name][:3] == ("uploaded", 2, None)
    assert len(list_keys(s3, bucket)) == 6


def _preflight_error(settings, conn_json: str, monkeypatch, bucket: str | None = None) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", conn_json)
    with pytest.raises(S3PreflightError) as failure:
        client = runtime.s3_client()  # a malformed region already fails here
        preflight(client, bucket or settings.bucket, conn_id="aws_default")
    message = str(failure.value)
    assert "aws_default" in message and "database_only" in message
    return message


def test_preflight_no_credentials(settings, moto_server, monkeypatch):
    conn = json.loads(moto_server.conn_json())
    conn.pop("login"), conn.pop("password")
    message = _preflight_error(settings, json.dumps(conn), monkeypatch)
    assert message.startswith("No AWS credentials")


def test_preflight_no_such_bucket(settings, moto_server, monkeypatch):
    message = _preflight_error(settings, moto_server.conn_json(), monkeypatch,
                               bucket="no-such-bucket-here")
    assert "Bucket 'no-such-bucket-here' does not exist" in message
    assert "ov_s3_bucket" in message


def test_preflight_invalid_region(settings, moto_server, monkeypatch):
    conn = json.loads(moto_server.conn_json())
    conn["extra"]["region_name"] = "us east 1"
    message = _preflight_error(settings, json.dumps(conn), monkeypatch)
    assert message.startswith("Invalid AWS region")


def test_preflight_access_denied(tmp_path, settings, monkeypatch):
    # A separate moto server that enforces IAM: a user with no policy is denied.
    server = services.start_moto(env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    try:
        admin = dict(endpoint_url=server.endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing")
        import boto3

        boto3.client("s3", **admin).create_bucket(Bucket="denied-bucket")
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="no-policy")
        key = iam.create_access_key(UserName="no-policy")["AccessKey"]
        conn = json.loads(server.conn_json())
        conn["login"], conn["password"] = key["AccessKeyId"], key["SecretAccessKey"]
        message = _preflight_error(settings, json.dumps(conn), monkeypatch, bucket="denied-bucket")
        assert message.startswith("Access denied to bucket 'denied-bucket'")

        conn["login"] = "AKIAUNKNOWNKEY000000"
        message = _preflight_error(settings, json.dumps(conn), monkeypatch, bucket="denied-bucket")
        assert "rejected the credentials" in message
    finally:
        server.stop()


def test_preflight_failure_uploads_nothing_and_leaves_registry_pending(db, settings, landing,
                                                                       moto_server, monkeypatch):
    broken = Settings(**{**asdict(settings), "bucket": "missing-bucket"})
    _prepare(db, broken, landing, n=1)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", moto_server.conn_json())
    with pytest.raises(S3PreflightError):
        pipeline.upload(db, runtime.s3_client(), AFINIA, broken, run_id="run-1")
    assert {row[0] for row in _registry(db).values()} == {"pending"}


def test_nothing_pending_means_no_s3_request(db, settings, landing, s3):
    calls: list[str] = []
    s3.meta.events.register("before-send.s3", lambda request, **_: calls.append(request.method))
    summary = pipeline.upload(db, s3, AFINIA, settings, run_id="quiet-day")
    assert (summary.files, calls) == (0, [])


def test_no_aws_environment_leaks_into_tests():
    assert "AWS_ACCESS_KEY_ID" not in os.environ


def test_a_backlog_is_read_a_page_at_a_time_and_every_file_goes_once(db, settings, landing, s3,
                                                                     bucket, monkeypatch):
    """The upload reads the files to send a page at a time (a 250,000-file backlog held
    at once took 522 MiB in the benchmark): every file still goes up once, counted once,
    and the scraper's next file, which another run's extract cannot register while the
    upload writes the company, waits for the next upload."""
    from extractorov import registry
    from extractorov.errors import CompanyBusy

    monkeypatch.setattr(registry, "UPLOAD_PAGE", 4)
    pages: list[int] = []
    real = registry.pending_files
    waited: list[CompanyBusy] = []

    def counting(*args, **kwargs):
        for done, item in enumerate(real(*args, **kwargs), start=1):
            pages.append(done)
            if done == 5:  # mid-run: the scraper's next file arrives; another run looks
                write_request(landing, "afinia", "RE9", "R-9", "20251008_090009", pdf=False)
                with runtime.warehouse_connection() as other:
                    try:
                        pipeline.extract(other, AFINIA, settings, "run-late", wait_seconds=0)
                    except CompanyBusy as busy:  # one writer per company
                        waited.append(busy)
            yield item

    monkeypatch.setattr(registry, "pending_files", counting)
    paths = _prepare(db, settings, landing, n=5)  # 10 files: pages of 4, 4, 2
    summary = pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")
    assert (summary.files, summary.s3_uploaded, summary.s3_errors) == (10, 10, 0)
    assert len(pages) == 10
    assert len(waited) == 1 and "upload_s3 of run-1" in str(waited[0])
    late = pipeline.extract(db, AFINIA, settings, "run-late")
    pipeline.load(db, AFINIA, late.manifest)
    statuses = {name: row[0] for name, row in _registry(db).items()}
    assert {statuses[p.name] for p in paths} == {"uploaded"}
    late_json = "RE9_data_20251008_090009.json"
    assert statuses[late_json] == "pending"
    assert len(list_keys(s3, bucket)) == 10
    assert query(db, "SELECT count(*) FROM pg_cursors") == [(0,)]  # the page cursor closed
    again = pipeline.upload(db, s3, AFINIA, settings, run_id="run-2")
    assert (again.files, again.s3_uploaded) == (1, 1)


def test_an_upload_stopped_midway_leaves_no_cursor_open_and_uploads_the_rest_later(
        db, settings, landing, s3, bucket, monkeypatch):
    from extractorov import registry

    monkeypatch.setattr(registry, "UPLOAD_PAGE", 3)
    real = registry.record_upload_results
    calls = []

    def failing(conn, results, run_id):
        calls.append(len(results))
        real(conn, results, run_id)
        if len(calls) == 2:  # the first batch is committed, the cursor held past it
            raise RuntimeError("the database went away")

    monkeypatch.setattr(registry, "record_upload_results", failing)
    monkeypatch.setattr(upload_step, "upload_files", _small_batches(upload_step.upload_files))
    _prepare(db, settings, landing, n=5)
    with pytest.raises(RuntimeError, match="went away") as failure:
        pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")
    # Closed by upload itself, not by the garbage collector: the task's traceback (kept
    # here) holds the page reader's frames as long as Airflow handles the failure.
    assert failure.traceback
    assert query(db, "SELECT count(*) FROM pg_cursors") == [(0,)]
    monkeypatch.setattr(registry, "record_upload_results", real)
    rest = pipeline.upload(db, s3, AFINIA, settings, run_id="run-2")
    # The failed batch was never committed: it is sent again (the objects already there
    # with the same content count as its), with the files never sent; none lost.
    assert (rest.files, rest.s3_errors) == (10 - calls[0], 0)
    assert {row[0] for row in _registry(db).values()} == {"uploaded"}


def _small_batches(upload_files):
    def wrapper(*args, **kwargs):
        return upload_files(*args, **{**kwargs, "flush_every": 2, "workers": 1})
    return wrapper


def test_a_database_error_midway_leaves_no_cursor_open(db, settings, landing, s3, bucket,
                                                       monkeypatch):
    """Found in review: a database error (deadlock, lock timeout, cancel) after the first
    batch left the transaction failed, so closing the page cursor sent nothing, and a
    cursor WITH HOLD outlives the rollback that followed."""
    import psycopg

    from extractorov import registry

    real, calls = registry.record_upload_results, []

    def failing(conn, results, run_id):
        calls.append(1)
        real(conn, results, run_id)
        if len(calls) == 2:  # after the first commit: the cursor is held
            with conn.cursor() as cur:
                cur.execute("SELECT 1/0")  # stands for a deadlock, a lock timeout, a cancel

    monkeypatch.setattr(registry, "UPLOAD_PAGE", 3)
    monkeypatch.setattr(registry, "record_upload_results", failing)
    monkeypatch.setattr(upload_step, "upload_files", _small_batches(upload_step.upload_files))
    _prepare(db, settings, landing, n=5)
    with pytest.raises(psycopg.errors.DivisionByZero) as failure:
        pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")
    assert failure.traceback
    assert query(db, "SELECT count(*) FROM pg_cursors") == [(0,)]


def test_a_migration_during_the_first_batch_neither_waits_nor_deadlocks(
        db, settings, landing, s3, bucket, monkeypatch):
    """Found in review: the page cursor's transaction stayed open until the first batch
    was recorded, holding the registry: a migration's LOCK + ALTER waited on it, and the
    batch's UPDATE then deadlocked with the migration (the upload failed)."""
    import threading
    import time

    from extractorov import registry

    real, outcome, started = registry.record_upload_results, {}, []

    def migrate():
        with runtime.warehouse_connection() as other:
            try:
                other.execute("SET lock_timeout = '1s'")
                other.execute("LOCK TABLE data_general.s3_files_registry "
                              "IN SHARE ROW EXCLUSIVE MODE")
                other.execute("ALTER TABLE data_general.s3_files_registry ADD COLUMN scratch int")
                outcome["migration"] = "ok"
            except Exception as exc:  # the outcome is what is asserted
                outcome["migration"] = type(exc).__name__
            finally:
                other.rollback()

    thread = threading.Thread(target=migrate)

    def first_batch(conn, results, run_id):
        if not started:
            started.append(1)
            thread.start()
            time.sleep(2)  # longer than the lock timeout and deadlock_timeout (1 s)
        real(conn, results, run_id)

    monkeypatch.setattr(registry, "record_upload_results", first_batch)
    monkeypatch.setattr(upload_step, "upload_files", _small_batches(upload_step.upload_files))
    _prepare(db, settings, landing, n=2)
    summary = pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")
    thread.join()
    assert (summary.files, summary.s3_errors) == (4, 0)
    assert outcome["migration"] == "ok"


# ------------------------------------------------ objects already at the key, S3 errors


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


def test_an_invalid_bucket_name_is_a_clear_configuration_error(s3):
    """A regression test (promise 5: configuration errors fail at once with a message naming
    the connection). A bucket Variable with a space (a typo) makes botocore refuse the
    request before it is sent: preflight let ParamValidationError escape, so the task was
    retried for nothing and the message named neither the Variable nor the connection."""
    with pytest.raises(errors.S3PreflightError) as info:
        storage.preflight(s3, "extractorov data", conn_id="aws_prod", prefix="x/")
    assert info.value.retryable is False
    assert "aws_prod" in str(info.value)


def _blackhole():
    """An endpoint that accepts connections (kernel backlog) and never answers: a hung S3."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    return server


def _client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(connect_timeout=1, read_timeout=1,
                                      retries={"mode": "standard", "max_attempts": 1}))


def test_an_s3_read_timeout_during_upload_is_retryable_not_a_local_read_error(tmp_path):
    """A regression test (promise 5: transient errors retry): botocore's ReadTimeoutError
    (and ConnectTimeoutError, SSLError, ProxyConnectionError) subclass OSError through
    requests' exceptions, and upload_one caught OSError before BotoCoreError. An S3 that
    stopped answering was reported as 'cannot read local file (None)', retryable=False: the
    DAG turned that into AirflowFailException("Retrying cannot fix these")."""
    import hashlib

    from extractorov.registry import PendingFile

    path = tmp_path / "RT1_20251008_040000.pdf"
    path.write_bytes(b"%PDF small")
    item = PendingFile(1, path.name, str(path), f"{prefix()}RT1/{path.name}", "RT1", "afinia",
                       10, "application/pdf", hashlib.sha256(b"%PDF small").hexdigest())
    server = _blackhole()
    try:
        host, port = server.getsockname()
        result = storage.upload_one(_client(f"http://{host}:{port}"), "b", item,
                                    conn_id="aws_prod")
    finally:
        server.close()
    assert result.status == "error"
    assert result.retryable is True, result.error
    assert "cannot read local file" not in (result.error or "")


def test_an_s3_read_timeout_in_preflight_is_a_retryable_preflight_error():
    """A regression test (promise 5): transient errors in preflight raise
    S3PreflightError(retryable=True) whose message says the task is retried. A read timeout
    escaped as a raw ReadTimeoutError (only EndpointConnectionError was caught;
    ConnectTimeoutError is not one either)."""
    server = _blackhole()
    try:
        host, port = server.getsockname()
        with pytest.raises(errors.S3PreflightError) as info:
            storage.preflight(_client(f"http://{host}:{port}"), "b", conn_id="aws_prod")
    finally:
        server.close()
    assert info.value.retryable is True
    assert "retried" in str(info.value)
