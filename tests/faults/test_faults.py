"""Fault injection against real PostgreSQL and a moto S3 server (behind a fault proxy).

Each test breaks something at the worst moment, reruns, and checks the
invariants: every valid landing file is in its table, the registry and the
bucket exactly once, with a matching SHA-256; nothing is lost.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from devtools.sample import generate_landing
from extractorov import errors, locks, pipeline, registry, runtime
from extractorov import manifest as run_manifest
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders
from tests.faults.proxy import FaultProxy
from tests.helpers import list_keys, query

AFINIA = COMPANIES["afinia"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def proxy(moto_server, bucket, monkeypatch):
    """aws_default now points at the fault proxy; few client retries keep outages short."""
    fault = FaultProxy(moto_server.port).start()
    conn = json.loads(moto_server.conn_json(retries={"mode": "standard", "max_attempts": 3}))
    conn["extra"]["endpoint_url"] = fault.endpoint
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    yield fault
    fault.stop()


@pytest.fixture
def sample(landing):
    return generate_landing(landing, companies=["afinia"], days=2, requests_per_day=15)


def _prepare(db, settings):
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    return extracted


def assert_invariants(db, s3, bucket, landing, proxy: FaultProxy | None = None) -> int:
    """Every valid landing file: one registry row, one object, same SHA-256, its row loaded."""
    files = sorted(company_folders(landing, "afinia").processed.iterdir())
    rows = query(db, "SELECT filename, s3_key, upload_status, file_hash FROM "
                     "data_general.s3_files_registry WHERE empresa = 'afinia'")
    by_name: dict[str, list] = {}
    for row in rows:
        by_name.setdefault(row[0], []).append(row)
    objects = list_keys(s3, bucket, "oficina-virtual/afinia/")
    assert set(objects) == {r[1] for r in rows}, "bucket and registry disagree"
    for path in files:
        assert len(by_name.get(path.name, [])) == 1, f"{path.name} registered != once"
        _, key, status, digest = by_name[path.name][0]
        content = path.read_bytes()
        assert status in {"uploaded", "pre_existing"}, (path.name, status)
        assert digest == hashlib.sha256(content).hexdigest()
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(content).digest()).decode()
        if proxy is not None:
            assert proxy.put_ok[key] <= 1, f"{key} written more than once"
    radicados = {json.loads(p.read_text())["numero_radicado"]
                 for p in files if p.name.endswith(".json")}
    loaded = {r for (r,) in query(db, "SELECT numero_radicado FROM data_general.ov_afinia")}
    assert radicados == loaded
    return len(files)


def test_s3_goes_away_mid_upload_then_comes_back(db, settings, landing, sample, proxy, bucket):
    _prepare(db, settings)
    client = runtime.s3_client()
    proxy.after_put_ok = lambda key: sum(proxy.put_ok.values()) >= 20 and proxy.go_down()
    with pytest.raises(errors.UploadIncomplete) as failure:
        pipeline.upload(db, client, AFINIA, settings, run_id="run-1")
    assert failure.value.retryable
    assert failure.value.summary.s3_errors > 0
    # The registry never claims an object S3 does not have.
    uploaded = {k for (k,) in query(db, "SELECT s3_key FROM data_general.s3_files_registry "
                                        "WHERE upload_status = 'uploaded'")}
    proxy.after_put_ok = None
    proxy.stop()
    proxy.start()  # same port: S3 is back
    s3 = runtime.s3_client()
    assert uploaded <= set(list_keys(s3, bucket))
    pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")
    n = assert_invariants(db, s3, bucket, landing, proxy)
    print(f"fault survived: S3 unreachable after 20 PUTs; {n} files, 0 lost")


def test_throttling_is_retried_not_counted_as_failure(db, settings, landing, sample, proxy,
                                                       bucket):
    _prepare(db, settings)
    proxy.throttle_every = 3  # every 3rd request answers 503 SlowDown (twice per key at most)
    summary = pipeline.upload(db, runtime.s3_client(), AFINIA, settings, run_id="run-1")
    assert summary.s3_errors == 0 and proxy.injected > 5
    assert query(db, "SELECT max(attempts) FROM data_general.s3_files_registry") == [(1,)]
    proxy.throttle_every = 0
    n = assert_invariants(db, runtime.s3_client(), bucket, landing, proxy)
    print(f"fault survived: {proxy.injected} SlowDown answers; {n} files, 0 lost")


def _terminate(conn: psycopg.Connection, dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))


def test_database_dies_mid_load(db, warehouse, settings, landing, sample, bucket, monkeypatch):
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    dsn = warehouse.dsn(warehouse.current_db)
    original = run_manifest.row_blocks
    seen = {"n": 0}

    def dying(path):
        for block in original(path):  # the rows stream into COPY block by block
            seen["n"] += 1
            if seen["n"] == 3:
                _terminate(db, dsn)
            yield block

    monkeypatch.setattr(run_manifest, "ROWS_BLOCK_BYTES", 512)
    monkeypatch.setattr(run_manifest, "row_blocks", dying)
    with pytest.raises(errors.LoadFailed, match="rolled back"):
        pipeline.load(db, AFINIA, extracted.manifest)
    assert seen["n"] >= 3
    monkeypatch.setattr(run_manifest, "row_blocks", original)
    with runtime.warehouse_connection() as conn:
        assert query(conn, "SELECT count(*) FROM data_general.ov_afinia") == [(0,)]
        rerun = pipeline.extract(conn, AFINIA, settings, "day-1")  # the task is retried
        loaded = pipeline.load(conn, AFINIA, rerun.manifest)
        assert loaded.db_inserted == sample.requests
        pipeline.upload(conn, runtime.s3_client(), AFINIA, settings, run_id="day-1")
        n = assert_invariants(conn, runtime.s3_client(), bucket, landing)
    print(f"fault survived: database connection killed mid-load; {n} files, 0 lost")


def test_database_dies_mid_upload(db, warehouse, settings, landing, sample, proxy, bucket,
                                  monkeypatch):
    _prepare(db, settings)
    dsn = warehouse.dsn(warehouse.current_db)
    original = registry.record_upload_results
    calls = {"n": 0}

    def dying(conn, results, run_id):
        calls["n"] += 1
        if calls["n"] == 1:  # the PUTs of this batch succeeded; their registry write dies
            _terminate(conn, dsn)
        return original(conn, results, run_id)

    monkeypatch.setattr(registry, "record_upload_results", dying)
    with pytest.raises(psycopg.OperationalError):
        pipeline.upload(db, runtime.s3_client(), AFINIA, settings, run_id="run-1")
    monkeypatch.setattr(registry, "record_upload_results", original)
    with runtime.warehouse_connection() as conn:
        retry = pipeline.upload(conn, runtime.s3_client(), AFINIA, settings, run_id="run-1")
        assert retry.s3_errors == 0
        n = assert_invariants(conn, runtime.s3_client(), bucket, landing, proxy)
    print(f"fault survived: database connection killed between upload batches; {n} files")


def test_task_killed_between_put_and_registry_commit(db, settings, landing, sample, proxy,
                                                     bucket):
    _prepare(db, settings)
    script = """
import os, signal, sys
from extractorov import pipeline, runtime
from extractorov.companies import COMPANIES
client = runtime.s3_client()
count = {"n": 0}
def kill_after_put(**_):
    count["n"] += 1
    if count["n"] == 7:
        os.kill(os.getpid(), signal.SIGKILL)  # the PUT succeeded; its registry row is not written
client.meta.events.register("after-call.s3.PutObject", kill_after_put)
with runtime.warehouse_connection() as conn:
    pipeline.upload(conn, client, COMPANIES["afinia"], runtime.settings_from_variables(),
                    run_id="run-1")
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT)])}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            timeout=120, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()[-2000:]
    s3 = runtime.s3_client()
    assert len(list_keys(s3, bucket)) >= 7
    assert query(db, "SELECT count(*) FROM data_general.s3_files_registry "
                     "WHERE upload_status = 'uploaded'") == [(0,)]
    summary = pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")  # Airflow's retry
    assert summary.s3_errors == 0 and summary.s3_pre_existing == 0
    n = assert_invariants(db, s3, bucket, landing, proxy)
    print(f"fault survived: process SIGKILLed after 7 PUTs, before any registry commit; {n} files")


def test_local_file_deleted_before_upload(db, settings, landing, sample, proxy, bucket):
    _prepare(db, settings)
    victim = next(company_folders(landing, "afinia").processed.glob("*.pdf"))
    content = victim.read_bytes()
    victim.unlink()
    with pytest.raises(errors.UploadIncomplete, match="local file is missing") as failure:
        pipeline.upload(db, runtime.s3_client(), AFINIA, settings, run_id="run-1")
    assert not failure.value.retryable  # a human must put it back
    assert query(db, "SELECT upload_status FROM data_general.s3_files_registry "
                     "WHERE filename = %s", victim.name) == [("error",)]
    victim.write_bytes(content)  # the operator restores it
    pipeline.upload(db, runtime.s3_client(), AFINIA, settings, run_id="run-2")
    n = assert_invariants(db, runtime.s3_client(), bucket, landing, proxy)
    print(f"fault survived: local file deleted before upload, restored; {n} files")


def test_two_uploads_at_once_never_write_twice(db, settings, landing, sample, proxy, bucket):
    _prepare(db, settings)
    results: dict[str, object] = {}

    def run(name: str) -> None:
        with runtime.warehouse_connection() as conn:
            try:
                results[name] = pipeline.upload(conn, runtime.s3_client(), AFINIA, settings,
                                                run_id=name)
            except Exception as exc:  # collected and asserted below
                results[name] = exc

    threads = [threading.Thread(target=run, args=(f"run-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    summaries = sorted((r.files for r in results.values()), reverse=True)
    assert summaries[0] == sample.by_company["afinia"] and summaries[1] == 0
    assert query(db, "SELECT max(attempts) FROM data_general.s3_files_registry") == [(1,)]
    n = assert_invariants(db, runtime.s3_client(), bucket, landing, proxy)

    # A second upload that cannot wait says who writes the company now.
    with runtime.warehouse_connection() as holder:
        locks.acquire(holder, AFINIA, "upload_s3 of run-holder")
        with pytest.raises(errors.CompanyBusy,
                           match="afinia is being written by upload_s3 of run-holder"):
            pipeline.upload(db, runtime.s3_client(), AFINIA, settings, run_id="x",
                            wait_seconds=0)
        locks.release(holder, AFINIA)
    print(f"fault survived: two concurrent uploads; {n} files, each written once")
