"""Large documents: uploads stream from disk, memory stays bounded, a size limit reports.

A regression test: ``upload_one`` read each whole file into memory with 16 workers,
and comparisons read whole remote objects.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from extractorov import errors, pipeline, storage
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders
from tests.helpers import list_keys, query, write_request
from tests.landing_files import prefix

pytestmark = pytest.mark.integration

AFINIA = COMPANIES["afinia"]
MB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]

# Runs only what upload_s3 runs (no Airflow import: its own baseline would hide the
# figure), on the same connection details the hooks use, and prints the peak RSS.
_UPLOAD_AND_MEASURE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import boto3, psycopg
    from extractorov import pipeline
    from extractorov.companies import COMPANIES
    from extractorov.settings import Settings

    args = json.loads(sys.argv[1])
    client = boto3.client("s3", endpoint_url=args["endpoint"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    settings = Settings(landing_root=Path(args["landing"]), bucket=args["bucket"],
                                 upload_workers=16)
    with psycopg.connect(args["dsn"]) as conn:
        summary = pipeline.upload(conn, client, COMPANIES["afinia"], settings, run_id="big")
    # VmHWM: this process's own peak. (ru_maxrss survives exec on Linux: it would count
    # the forking pytest's memory, which grows over a session.)
    hwm_kib = next(int(line.split()[1]) for line in open("/proc/self/status")
                   if line.startswith("VmHWM:"))
    print(json.dumps({"peak_mib": hwm_kib / 1024, "uploaded": summary.s3_uploaded}))
""")


def _big_requests(landing: Path, count: int, size: int) -> list[Path]:
    processed = company_folders(landing, "afinia").processed
    pdfs = []
    for n in range(count):
        paths = write_request(landing, "afinia", f"BIG{n}", f"R-BIG{n}", pdf=False)
        pdf = processed / f"BIG{n}_20251008_093220.pdf"
        label = f"%PDF-1.4 big {n} ".encode()
        block = (label * (MB // len(label) + 1))[:MB]
        with pdf.open("wb") as out:
            for _ in range(size // MB):
                out.write(block)
        os.utime(pdf, (paths[0].stat().st_mtime,) * 2)
        pdfs.append(pdf)
    return pdfs


def test_sixteen_200_mb_files_upload_in_under_300_mb(db, warehouse, moto_server, s3,
                                                      bucket, settings, landing):
    pdfs = _big_requests(landing, 16, 200 * MB)
    extracted = pipeline.extract(db, AFINIA, settings, "big")
    pipeline.load(db, AFINIA, extracted.manifest)
    args = {"endpoint": moto_server.endpoint, "landing": str(landing), "bucket": bucket,
            "dsn": warehouse.dsn(warehouse.current_db)}
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'include'}{os.pathsep}{ROOT}"}
    done = subprocess.run([sys.executable, "-c", _UPLOAD_AND_MEASURE, json.dumps(args)],
                          capture_output=True, text=True, env=env, timeout=900, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nupload of 16 × 200 MiB: peak RSS {result['peak_mib']:.0f} MiB")
    assert result["uploaded"] == 32  # 16 PDFs + 16 JSONs
    assert result["peak_mib"] < 300
    keys = list_keys(s3, bucket)
    for pdf in pdfs:
        assert keys[f"oficina-virtual/afinia/raw_data/{pdf.name.split('_')[0]}/{pdf.name}"] == (
            200 * MB)
    head = s3.head_object(Bucket=bucket, Key=f"oficina-virtual/afinia/raw_data/BIG0/{pdfs[0].name}")
    assert head["Metadata"]["file-hash"] == query(
        db, "SELECT file_hash FROM data_general.s3_files_registry WHERE filename = %s",
        pdfs[0].name)[0][0]


def test_a_multipart_upload_never_overwrites_and_a_rerun_is_idempotent(db, s3, bucket, settings,
                                                                        landing):
    [pdf] = _big_requests(landing, 1, 70 * MB)  # several parts
    extracted = pipeline.extract(db, AFINIA, settings, "big-1")
    pipeline.load(db, AFINIA, extracted.manifest)
    pipeline.upload(db, s3, AFINIA, settings, run_id="big-1")
    key = f"oficina-virtual/afinia/raw_data/BIG0/{pdf.name}"
    # A crash before the registry commit: the retry finds its own object (412, file-hash).
    db.execute("UPDATE data_general.s3_files_registry SET upload_status = 'pending' "
               "WHERE s3_key = %s", (key,))
    db.commit()
    again = pipeline.upload(db, s3, AFINIA, settings, run_id="big-1")
    assert (again.s3_uploaded, again.s3_errors) == (1, 0)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert list_keys(s3, bucket)[key] == 70 * MB


def test_a_file_over_the_size_limit_is_reported_not_uploaded(db, s3, bucket, settings, landing):
    _big_requests(landing, 1, 3 * MB)
    small = replace(settings, max_file_bytes=2 * MB)
    extracted = pipeline.extract(db, AFINIA, small, "limit")
    pipeline.load(db, AFINIA, extracted.manifest)
    with pytest.raises(errors.UploadIncomplete) as info:
        pipeline.upload(db, s3, AFINIA, small, run_id="limit")
    assert "file too large" in str(info.value) and not info.value.retryable
    assert [k.rsplit("/", 1)[1] for k in list_keys(s3, bucket)] == [
        "BIG0_data_20251008_093221.json"]


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


def test_a_large_file_changed_in_place_during_its_multipart_upload_is_not_uploaded(
        db, s3, bucket, settings, landing):
    """A regression test (promise 3: a file changed between extract and upload is never
    uploaded with the wrong content nor recorded 'uploaded' with a mismatching hash).
    _multipart hashed each part in one read and sent it from a second read of the file; the
    whole-file check compared the FIRST reads. A same-size rewrite between the two reads (the
    bot rewriting the file) was sent, completed, recorded 'uploaded' with metadata file-hash
    = the registered hash, while the object held other bytes. Only a server that verifies
    the part checksum stops it; the moto server the tests use does not (nor do several
    S3-compatible stores). The rule: each part is sent from the very bytes that were hashed."""
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
