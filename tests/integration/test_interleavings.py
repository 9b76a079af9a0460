"""Steps that interleave: the hourly check and the daily run at 04:00, a file swapped or
changed between the scan and its read, a run cleared or triggered from the CLI.

Each is a regression test: it failed on the code before its fix. They run on real
PostgreSQL and a moto S3 server, through the same functions the tasks call.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from extractorov import errors, pipeline, reconcile, stats, storage
from extractorov import extract as extract_step
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders
from tests.helpers import list_keys, query, write_request

pytestmark = pytest.mark.integration

AFINIA = COMPANIES["afinia"]
PREFIX = "oficina-virtual/afinia/raw_data/"


def run_all(db, s3, settings, run_id: str):
    extracted = pipeline.extract(db, AFINIA, settings, run_id)
    loaded = pipeline.load(db, AFINIA, extracted.manifest)
    uploaded = pipeline.upload(db, s3, AFINIA, settings, run_id=run_id)
    return extracted, loaded, uploaded


def test_a_registry_row_without_local_file_never_blocks_a_company(
        db, s3, bucket, settings, landing):
    # Someone put an object (no SHA-256) in the bucket; reconcile registers it pre_existing,
    # with no local file and no hash. Then the object is deleted (the README's advice for
    # object_different): the row has nothing to upload from.
    stray = f"{PREFIX}RE1/RE1_20251008_040000.pdf"
    s3.put_object(Bucket=bucket, Key=stray, Body=b"%PDF stray")
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1")
    s3.delete_object(Bucket=bucket, Key=stray)
    write_request(landing, "afinia", "RE2", "R-2")

    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-2")
    missing = [f for f in report.findings if f.s3_key == stray]
    assert [(f.kind, f.needs_human) for f in missing] == [("object_missing", True)]
    assert "no local copy" in missing[0].detail
    # The hourly run and the daily run go on with every other file.
    _, _, uploaded = run_all(db, s3, settings, "day-1")
    assert uploaded.s3_errors == 0
    assert {k for k in list_keys(s3, bucket) if "/RE2/" in k} == {
        f"{PREFIX}RE2/RE2_data_20251008_093221.json", f"{PREFIX}RE2/RE2_20251008_093221.pdf"}
    assert query(db, "SELECT upload_status FROM data_general.s3_files_registry "
                     "WHERE s3_key = %s", stray) == [("pre_existing",)]


def test_reconcile_before_extract_never_accepts_a_different_object(
        db, s3, bucket, settings, landing):
    # Both DAGs start at 04:00: reconcile lists a truncated object of a key that the local
    # file of the same name will take, before extract registers that file.
    paths = write_request(landing, "afinia", "RE3", "R-3")
    pdf = paths[1]
    key = f"{PREFIX}RE3/{pdf.name}"
    s3.put_object(Bucket=bucket, Key=key, Body=pdf.read_bytes()[:10],
                  ChecksumAlgorithm="SHA256")
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1", upload=False)

    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    with pytest.raises(errors.UploadIncomplete):
        pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    [(status, error)] = query(db, "SELECT upload_status, last_error FROM "
                                  "data_general.s3_files_registry WHERE s3_key = %s", key)
    assert status == "error" and "different object" in error
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-2", upload=False)
    assert [f.kind for f in report.findings if f.s3_key == key] == ["object_different"]


def test_same_content_found_first_by_reconcile_is_pre_existing(
        db, s3, bucket, settings, landing):
    paths = write_request(landing, "afinia", "RE4", "R-4")
    pdf = paths[1]
    key = f"{PREFIX}RE4/{pdf.name}"
    s3.put_object(Bucket=bucket, Key=key, Body=pdf.read_bytes())  # no checksum, same bytes
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1", upload=False)
    _, _, uploaded = run_all(db, s3, settings, "day-1")
    assert uploaded.s3_errors == 0
    [(status, local, digest)] = query(
        db, "SELECT upload_status, local_path, file_hash FROM data_general.s3_files_registry "
            "WHERE s3_key = %s", key)
    assert (status, local) == ("pre_existing", str(pdf))
    assert digest == hashlib.sha256(pdf.read_bytes()).hexdigest()


def test_a_transient_s3_error_in_preflight_is_retryable(monkeypatch):
    class Flaky:
        def list_objects_v2(self, **_):
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "x"},
                               "ResponseMetadata": {"HTTPStatusCode": 503}}, "ListObjectsV2")

    with pytest.raises(errors.S3PreflightError) as info:
        storage.preflight(Flaky(), "b", conn_id="aws_prod")
    assert info.value.retryable is True
    assert "retried" in str(info.value)

    class Denied:
        def list_objects_v2(self, **_):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "x"},
                               "ResponseMetadata": {"HTTPStatusCode": 403}}, "ListObjectsV2")

    with pytest.raises(errors.S3PreflightError) as info:
        storage.preflight(Denied(), "b", conn_id="aws_prod")
    assert info.value.retryable is False
    assert "aws_prod" in str(info.value) and "retried" not in str(info.value)


def test_an_older_extraction_with_other_content_is_stale_not_duplicate(
        db, s3, bucket, settings, landing):
    write_request(landing, "afinia", "RE8", "R-8", "20251009_090000", estado_solicitud="Cerrado")
    run_all(db, s3, settings, "day-1")
    # An older copy with another state arrives late (a re-run of an old scrape).
    write_request(landing, "afinia", "RE8", "R-8", "20251001_090000",
                  estado_solicitud="Radicado")
    _, loaded, _ = run_all(db, s3, settings, "day-2")
    assert (loaded.db_inserted, loaded.db_updated, loaded.db_duplicates, loaded.db_stale) == (
        0, 0, 0, 1)
    assert query(db, "SELECT estado_solicitud FROM data_general.ov_afinia") == [("Cerrado",)]
    report = stats.build_run_report(
        run_id="day-2", empresa="afinia", dag_id="ov_afinia", logical_date=None,
        data_interval_start=None, data_interval_end=None, database_only=False,
        extract={"records_found": 1}, load=loaded.__dict__, upload={}, task_states={})
    stats.record_run(db, report)
    assert query(db, "SELECT db_stale, db_duplicates FROM data_general.post_processing_runs "
                     "WHERE run_id = 'day-2'") == [(1, 0)]


def test_runs_triggered_from_the_cli_show_on_the_stats_page(db, settings, landing):
    from extractorov import warehouse

    warehouse.ensure_schema(db)
    base = dict(empresa="afinia", dag_id="ov_afinia", data_interval_start=None,
                data_interval_end=None, database_only=False, extract={}, load={}, upload={},
                task_states={})
    for day in range(1, 13):
        stats.record_run(db, stats.build_run_report(
            run_id=f"scheduled__2025-10-{day:02d}", logical_date=datetime(2025, 10, day,
                                                                          tzinfo=UTC), **base))
    stats.record_run(db, stats.build_run_report(run_id="manual__cli", logical_date=None, **base))
    shown = [r["run_id"] for r in stats.recent_runs(db, "afinia", limit=10)]
    assert shown[0] == "manual__cli"


def test_a_symlink_swapped_in_after_the_scan_is_never_read(
        db, s3, bucket, settings, landing, tmp_path, monkeypatch):
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(b"%PDF secret of the worker")
    paths = write_request(landing, "afinia", "RE5", "R-5")
    pdf = paths[1]
    real_scan = extract_step.scan

    def scan_then_swap(*args, **kwargs):
        found = real_scan(*args, **kwargs)
        if args[0] == company_folders(landing, "afinia").processed:
            pdf.unlink()
            os.symlink(secret, pdf)
        return found

    monkeypatch.setattr(extract_step, "scan", scan_then_swap)
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    monkeypatch.setattr(extract_step, "scan", real_scan)
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    assert query(db, "SELECT count(*) FROM data_general.s3_files_registry "
                     "WHERE file_hash = %s", digest) == [(0,)]
    assert extracted.files_quarantined == 1
    pipeline.load(db, AFINIA, extracted.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    assert all(b"secret" not in s3.get_object(Bucket=bucket, Key=k)["Body"].read()
               for k in list_keys(s3, bucket))


def test_size_and_hash_come_from_the_same_read(db, settings, landing, monkeypatch):
    paths = write_request(landing, "afinia", "RE6", "R-6")
    pdf = paths[1]
    real_scan = extract_step.scan

    def scan_then_grow(*args, **kwargs):
        found = real_scan(*args, **kwargs)
        with pdf.open("ab") as handle:
            handle.write(b"more bytes written after the scan")
        return found

    monkeypatch.setattr(extract_step, "scan", scan_then_grow)
    pipeline.extract(db, AFINIA, settings, "day-1")
    [(size, digest)] = query(db, "SELECT file_size, file_hash FROM data_general.s3_files_registry "
                                 "WHERE filename = %s", pdf.name)
    data = pdf.read_bytes()
    assert (size, digest) == (len(data), hashlib.sha256(data).hexdigest())


def _report(db, run_id: str, **summaries):
    return stats.report_run(db, run_id=run_id, empresa="afinia", dag_id="ov_afinia",
                            logical_date=None, data_interval_start=None,
                            data_interval_end=None, database_only=True,
                            summaries=summaries, task_states={})


def test_clearing_a_whole_run_keeps_what_it_did(db, s3, bucket, settings, landing):
    """Clearing a run (its extract's next try finds everything handled) and rerunning
    report_stats never wipes what the run did: the report adds up the tries' records."""
    write_request(landing, "afinia", "RE10", "R-10")
    write_request(landing, "afinia", "RE11", "R-11")
    (company_folders(landing, "afinia").processed / "junk.bin").write_bytes(b"x")
    run_id = "scheduled__2025-10-09"
    first = pipeline.extract(db, AFINIA, settings, run_id, attempt=1)
    pipeline.load(db, AFINIA, first.manifest)
    _report(db, run_id)
    _report(db, run_id)  # report_stats retried: same counts
    cleared = pipeline.extract(db, AFINIA, settings, run_id, attempt=2)  # the run cleared
    assert (cleared.files_new, cleared.records_found) == (0, 0)
    pipeline.load(db, AFINIA, cleared.manifest)
    _report(db, run_id)
    assert query(db, "SELECT files_found, files_new, files_quarantined, records_found, "
                     "db_inserted, attempts FROM data_general.post_processing_runs") == [
        (4, 4, 1, 2, 2, {"extract": ["1", "2"], "load_db": ["1", "2"]})]


def test_a_database_only_backlog_uploaded_by_reconcile_is_counted_once(
        db, s3, bucket, settings, landing):
    write_request(landing, "afinia", "RE60", "R-60", adjunto="png")
    extracted = pipeline.extract(db, AFINIA, settings, "manual__db-only")
    pipeline.load(db, AFINIA, extracted.manifest)
    stats.record_run(db, stats.build_run_report(
        run_id="manual__db-only", empresa="afinia", dag_id="ov_afinia", logical_date=None,
        data_interval_start=None, data_interval_end=None, database_only=True,
        extract=None, load=None, upload=None, task_states={"upload_s3": "skipped"}))
    # The hourly check runs before the next daily run: it uploads the backlog.
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="scheduled__reconcile-05")
    rows = query(db, "SELECT dag_id, s3_uploaded FROM data_general.post_processing_runs "
                     "ORDER BY dag_id")
    assert rows == [("ov_afinia", 0), ("ov_s3_reconcile", 3)]
    [(total,)] = query(db, "SELECT count(*) FROM data_general.s3_files_registry "
                           "WHERE upload_status = 'uploaded'")
    assert sum(n for _, n in rows) == total == len(list_keys(s3, bucket))
    shown = stats.recent_runs(db, "afinia")
    assert {r["dag_id"] for r in shown} == {"ov_afinia", "ov_s3_reconcile"}


def test_an_upload_error_names_the_configured_connection(tmp_path):
    """Same pattern as the retryable preflight error above, elsewhere: messages named
    'aws_default' whatever the connection was."""
    from extractorov.registry import PendingFile

    path = tmp_path / "RE1_20251008_040000.pdf"
    path.write_bytes(b"%PDF")

    class Denied:
        def put_object(self, **_):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "x"},
                               "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutObject")

    item = PendingFile(1, path.name, str(path), f"{PREFIX}RE1/{path.name}", "RE1", "afinia", 4,
                       "application/pdf", hashlib.sha256(b"%PDF").hexdigest())
    result = storage.upload_one(Denied(), "b", item, conn_id="aws_prod")
    assert result.status == "error" and "'aws_prod'" in result.error


def test_no_document_is_ever_keyed_by_another_request(db, s3, bucket, settings,
                                                                 landing):
    """Unrelated requests share PQR_4_ERROR; one was cut before its JSON. Every filed
    document sits in the folder of the request whose JSON the bot wrote right after it."""
    import json as jsonlib
    from datetime import timedelta

    from extractorov.settings import BOGOTA

    processed = company_folders(landing, "afinia").processed
    processed.mkdir(parents=True, exist_ok=True)
    start = datetime(2025, 10, 8, 4, 0, tzinfo=BOGOTA)
    owner_of: dict[str, str | None] = {}

    def put(name: str, data: bytes, at: int) -> None:
        path = processed / name
        path.write_bytes(data)
        os.utime(path, ((start + timedelta(seconds=at)).timestamp(),) * 2)

    def ts(at: int) -> str:
        return (start + timedelta(seconds=at)).strftime("%Y%m%d_%H%M%S")

    plan = [("R-A", 0, True), ("R-CUT", 30, False), ("R-B", 60, True), ("R-C", 90, True)]
    for radicado, at, has_json in plan:
        put(f"PQR_4_ERROR_{ts(at)}.pdf", b"%PDF " + radicado.encode(), at)
        put(f"PQR_4_ERROR_adjunto_{ts(at + 2)}.jpg", b"jpg " + radicado.encode(), at + 2)
        owner_of[f"PQR_4_ERROR_{ts(at)}.pdf"] = radicado if has_json else None
        owner_of[f"PQR_4_ERROR_adjunto_{ts(at + 2)}.jpg"] = radicado if has_json else None
        if has_json:
            put(f"PQR_4_ERROR_data_{ts(at + 5)}.json", jsonlib.dumps(
                {"numero_radicado": radicado, "fecha": "2025/10/07 10:00",
                 "numero_reclamo_sgc": "", "sgc_number": "PQR_4_ERROR"}).encode(), at + 5)
    for run in ("day-1", "day-2"):
        run_all(db, s3, settings, run)
    filed = dict(query(db, "SELECT filename, s3_key FROM data_general.s3_files_registry "
                           "WHERE metadata->>'kind' <> 'data'"))
    for name, key in filed.items():
        assert owner_of[name] is not None, f"{name} of the cut request was filed at {key}"
        assert key == f"{PREFIX}sin_sgc/{owner_of[name]}/{name}", key
    # R-CUT's PDF and attachment, and R-B's PDF and attachment (same stretch), wait.
    assert set(filed) == {n for n, o in owner_of.items() if o in {"R-A", "R-C"}}
