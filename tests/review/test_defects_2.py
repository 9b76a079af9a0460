"""Hostile review, round 2: each test reproduces a defect and FAILS on today's code.

Real services only: PostgreSQL through PostgresHook (``db``), moto S3 over HTTP through
S3Hook (``s3``/``bucket``), a temporary landing folder.
"""

from __future__ import annotations

import contextlib
import os
import time

import pytest

from extractorov import errors, pipeline, reconcile, stats, storage, warehouse
from extractorov.landing import company_folders
from tests.helpers import query, seen_hours_ago, write_request
from tests.landing_files import AFINIA, prefix

pytestmark = pytest.mark.integration


def _run(run_id: str, **counts):
    base = dict(run_id=run_id, empresa="afinia", dag_id="ov_afinia", logical_date=None,
                data_interval_start=None, data_interval_end=None, database_only=False,
                upload={}, task_states={})
    return stats.build_run_report(extract={"files_new": counts.get("files_new", 0)},
                                  load={"db_inserted": counts.get("db_inserted", 0)}, **base)


class _InsertHook:
    """A connection whose record_run INSERT first lets another callback run (deterministic
    interleaving of two record_run calls on two connections)."""

    def __init__(self, conn, before_insert):
        self._conn, self._before = conn, before_insert

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def cursor(self, *a, **k):
        real = self._conn.cursor(*a, **k)
        hook = self

        class Cur:
            def __enter__(self):
                real.__enter__()
                return self

            def __exit__(self, *exc):
                return real.__exit__(*exc)

            def __getattr__(self, name):
                return getattr(real, name)

            def execute(self, statement, *args, **kwargs):
                if str(statement).lstrip().startswith("INSERT INTO") and hook._before:
                    callback, hook._before = hook._before, None
                    callback()
                return real.execute(statement, *args, **kwargs)

        return Cur()


def test_two_report_stats_of_one_run_at_once_record_every_try(db):
    """Two report_stats of the same run at once (two connections, the row not there yet)
    both record the run's totals, every try included: the counts come from what each try
    recorded with its commit (``run_steps``), not from a read-modify-write of the row."""
    from extractorov import runsteps, runtime

    warehouse.ensure_schema(db)
    db.commit()
    run_id = "scheduled__2025-10-09"
    for attempt, (new, inserted) in (("1", (5, 2)), ("2", (7, 3))):
        runsteps.record(db, run_id, "afinia", runsteps.EXTRACT, attempt, {"files_new": new})
        runsteps.record(db, run_id, "afinia", runsteps.LOAD_DB, attempt,
                        {"db_inserted": inserted})
    db.commit()
    args = dict(run_id=run_id, empresa="afinia", dag_id="ov_afinia", logical_date=None,
                data_interval_start=None, data_interval_end=None, database_only=True,
                summaries={}, task_states={})

    def other_report():
        with runtime.warehouse_connection() as other:
            stats.report_run(other, **args)

    stats.report_run(_InsertHook(db, other_report), **args)
    [(files_new, inserted, attempts)] = query(
        db, "SELECT files_new, db_inserted, attempts FROM data_general.post_processing_runs")
    assert attempts == {"extract": ["1", "2"], "load_db": ["1", "2"]}
    assert (files_new, inserted) == (12, 5)


def test_a_stale_temp_file_is_subtracted_from_the_new_files(db, settings, landing):
    """Promise 9: a stale .part is counted waiting. It is also subtracted from files_new,
    which never counted it: one new request (JSON + PDF) reports files_new 1, and a run
    with only a stale .part reports files_new -1 on the stats page."""
    write_request(landing, "afinia", "ST1", "R-ST1")
    part = company_folders(landing, "afinia").processed / "ST1_20251008_093222.pdf.part"
    part.write_bytes(b"%PDF half")
    old = time.time() - (settings.orphan_after_hours + 1) * 3600
    os.utime(part, (old, old))
    seen_hours_ago(db, landing, "afinia", part.name, hours=settings.orphan_after_hours + 1)
    summary = pipeline.extract(db, AFINIA, settings, "day-1")
    assert summary.files_waiting == 1
    assert summary.files_new == 2  # the JSON and the PDF

    pipeline.load(db, AFINIA, summary.manifest)
    again = pipeline.extract(db, AFINIA, settings, "day-2")
    assert again.files_new >= 0


def test_a_bucket_row_whose_object_changed_then_vanished_is_never_reported(
        db, s3, bucket, settings, landing):
    """Promise 1: a registry row without a local copy whose object disappears is reported by
    reconcile as object_missing (needs a human). If the object was first replaced by one of
    another size, reconcile turns the row 'pending' (object_different, once); from then on
    the row is skipped: the deletion is never reported and the row stays pending for ever
    (files_to_upload never queues it)."""
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


def test_an_invalid_bucket_name_is_a_clear_configuration_error(s3):
    """Promise 5: configuration errors fail at once with a message naming the connection.
    A bucket Variable with a space (a typo) makes botocore refuse the request before it is
    sent: preflight lets ParamValidationError escape, so the task is retried for nothing and
    the message names neither the Variable nor the connection."""
    with pytest.raises(errors.S3PreflightError) as info:
        storage.preflight(s3, "extractorov data", conn_id="aws_prod", prefix="x/")
    assert info.value.retryable is False
    assert "aws_prod" in str(info.value)


def test_an_object_deleted_between_listing_and_head_does_not_crash_reconcile(
        db, s3, bucket, settings, landing):
    """Promises 1/2: reconcile reports and repairs; a human deleting a stray object (the
    README's advice) while reconcile runs makes HEAD answer 404 after the listing. The raw
    ClientError escapes: every finding and repair of that run is rolled back."""
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


MB = 1024 * 1024


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
    """Promise 5 (transient errors retry): botocore's ReadTimeoutError (and
    ConnectTimeoutError, SSLError, ProxyConnectionError) subclass OSError through requests'
    exceptions, and upload_one catches OSError before BotoCoreError. An S3 that stops
    answering is reported as 'cannot read local file (None)', retryable=False: the DAG turns
    that into AirflowFailException("Retrying cannot fix these")."""
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
    """Promise 5: transient errors in preflight raise S3PreflightError(retryable=True) whose
    message says the task is retried. A read timeout escapes as a raw ReadTimeoutError
    (only EndpointConnectionError is caught; ConnectTimeoutError is not one either)."""
    server = _blackhole()
    try:
        host, port = server.getsockname()
        with pytest.raises(errors.S3PreflightError) as info:
            storage.preflight(_client(f"http://{host}:{port}"), "b", conn_id="aws_prod")
    finally:
        server.close()
    assert info.value.retryable is True
    assert "retried" in str(info.value)


def test_a_large_file_changed_in_place_during_its_multipart_upload_is_not_uploaded(
        db, s3, bucket, settings, landing):
    """Promise 3: a file changed between extract and upload is never uploaded with the wrong
    content nor recorded 'uploaded' with a mismatching hash. _multipart hashes each part in
    one read and sends it from a second read of the file; the whole-file check compares the
    FIRST reads. A same-size rewrite between the two reads (the bot rewriting the file) is
    sent, completed, recorded 'uploaded' with metadata file-hash = the registered hash, while
    the object holds other bytes. Only a server that verifies the part checksum stops it;
    the moto server the tests use does not (nor do several S3-compatible stores)."""
    import hashlib

    processed = company_folders(landing, "afinia").processed
    paths = write_request(landing, "afinia", "MP1", "R-MP1", pdf=False)
    pdf = processed / "MP1_20251008_093220.pdf"
    block = os.urandom(MB)
    with pdf.open("wb") as out:
        for n in range(70):
            out.write(block[:-1] + bytes([n]))
    os.utime(pdf, (paths[0].stat().st_mtime,) * 2)
    extracted = pipeline.extract(db, AFINIA, settings, "mp-1")
    pipeline.load(db, AFINIA, extracted.manifest)

    class RewritesDuringPart2:
        def __init__(self, real):
            self._real = real

        def __getattr__(self, name):
            return getattr(self._real, name)

        def upload_part(self, **kwargs):
            if kwargs["PartNumber"] == 2:  # part 2 hashed, not yet sent
                fd = os.open(pdf, os.O_WRONLY)
                os.pwrite(fd, b"rewritten" * 100, 9 * MB)
                os.close(fd)
            return self._real.upload_part(**kwargs)

    with contextlib.suppress(errors.UploadIncomplete):
        pipeline.upload(db, RewritesDuringPart2(s3), AFINIA, settings, run_id="mp-1")
    key = f"{prefix()}MP1/{pdf.name}"
    [(status, digest)] = query(db, "SELECT upload_status, file_hash FROM "
                                   "data_general.s3_files_registry WHERE s3_key = %s", key)
    objects = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
    stored = None
    if objects:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]._raw_stream.read()
        stored = hashlib.sha256(body).hexdigest()
    # Either refused, or what S3 holds is exactly the registered file (each part is sent
    # from the very bytes that were hashed): never an object whose bytes differ from the
    # registry's hash.
    assert stored in (None, digest), (status, stored == digest)
    assert (status == "uploaded") is (stored == digest)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
