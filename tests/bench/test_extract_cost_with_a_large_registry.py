"""Promise 9: cost of extract with a ~100k-row registry and 1,000 new files.

Prints timings (no timing assertions); asserts only how many names are parsed."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import pytest

from extractorov import extract as extract_step
from extractorov import pipeline, registry, warehouse
from extractorov.landing import company_folders
from extractorov.registry import RegistryEntry
from tests.landing_files import AFINIA, OLD, write

pytestmark = pytest.mark.integration


def _st(t: int) -> str:
    return (OLD + timedelta(seconds=t)).strftime("%Y%m%d_%H%M%S")


def _entries(bucket: str, n_requests: int):
    for i in range(n_requests):
        placeholder = i % 20 == 0
        sgc = f"PQR_{i % 10}_ERROR" if placeholder else f"45{i:08d}"
        folder = f"sin_sgc/R-{i}" if placeholder else sgc
        t = -10_000_000 + i * 60
        for name, ft in ((f"{sgc}_{_st(t)}.pdf", "pdf"), (f"{sgc}_adjunto_{_st(t + 2)}.jpg", "jpg"),
                         (f"{sgc}_data_{_st(t + 5)}.json", "json")):
            key = f"oficina-virtual/afinia/raw_data/{folder}/{name}"
            yield RegistryEntry(name, f"/gone/{name}", bucket, key, f"s3://{bucket}/{key}",
                                None if placeholder else sgc, "afinia", 10, ft,
                                "application/pdf", "0" * 64, {"kind": "x"})


def test_extract_cost_with_a_large_registry(db, bucket, settings, landing, monkeypatch, capsys):
    warehouse.ensure_schema(db, [AFINIA])
    db.commit()
    t0 = time.monotonic()
    registry.register_pending(db, _entries(bucket, 33_334))
    db.execute("UPDATE data_general.s3_files_registry SET upload_status = 'uploaded' "
               "WHERE file_type = 'json'")
    db.execute("INSERT INTO data_general.s3_files_loaded (empresa, s3_bucket, filename) "
               "SELECT empresa, s3_bucket, filename FROM data_general.s3_files_registry "
               "WHERE file_type = 'json'")
    db.commit()
    seeded = time.monotonic() - t0
    for i in range(334):
        placeholder = i % 20 == 0
        sgc = f"PQR_{i % 10}_ERROR" if placeholder else f"46{i:08d}"
        t = i * 60
        write(landing, f"{sgc}_{_st(t)}.pdf", b"%PDF")
        write(landing, f"{sgc}_adjunto_{_st(t + 2)}.jpg", b"j")
        if i < 332:
            write(landing, f"{sgc}_data_{_st(t + 5)}.json",
                  json.dumps({"numero_radicado": f"N-{i}",
                              "numero_reclamo_sgc": "" if placeholder else sgc}))
    calls = {"n": 0}
    real = extract_step.parse_file_name

    def counting(name, tz=None):
        calls["n"] += 1
        return real(name, tz) if tz is not None else real(name)

    monkeypatch.setattr(extract_step, "parse_file_name", counting)
    t0 = time.monotonic()
    ex = pipeline.extract(db, AFINIA, settings, "cost-1")
    first = time.monotonic() - t0
    parsed_first = calls["n"]
    calls["n"] = 0
    t0 = time.monotonic()
    pipeline.extract(db, AFINIA, settings, "cost-2")
    second = time.monotonic() - t0
    parsed_second = calls["n"]
    calls["n"] = 0
    # a quarantine of 5,000 files (reason files read every run)
    q = company_folders(landing, "afinia").quarantine
    q.mkdir(parents=True, exist_ok=True)
    for i in range(5_000):
        (q / f"junk{i}").write_bytes(b"x")
        (q / f"junk{i}.reason.txt").write_text(f"file: junk{i}\nreason: file name not "
                                               "recognised\nrun_id: x\n")
    write(landing, f"47000001_{_st(99_000)}.pdf", b"%PDF")
    t0 = time.monotonic()
    pipeline.extract(db, AFINIA, settings, "cost-3")
    third = time.monotonic() - t0
    with capsys.disabled():
        print(f"\n[cost] registry rows 100,002 seeded in {seeded:.1f}s; new files {ex.files_new}"
              f" (+{ex.files_waiting} waiting); extract #1 {first:.2f}s parsing "
              f"{parsed_first} names; extract #2 (nothing new) {second:.2f}s parsing "
              f"{parsed_second} names; extract #3 with 5,000 quarantined files and one new PDF "
              f"{third:.2f}s parsing {calls['n']} names")
    assert os.environ  # no timing assertion
    # 1,000 new names + the registry names that share an SGC part with a new document
    # (placeholders: 5% of 33k requests share PQR_0..9_ERROR) must stay far below 100k.
    assert parsed_first < 20_000
