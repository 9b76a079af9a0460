"""A regression test: a request JSON registered but not loaded yet, read again by the next run
after its request's real SGC became known, gets a second registry row under another key:
one local file, two rows, two objects in two folders, and a question to a human that the
pipeline caused itself."""

from __future__ import annotations

import json

import pytest

from extractorov import pipeline, reconcile
from extractorov.landing import company_folders
from tests.helpers import list_keys, query
from tests.landing_files import AFINIA, prefix, record

pytestmark = pytest.mark.integration

REGISTRY = "data_general.s3_files_registry"


def _write(landing, name: str, rec: dict) -> None:
    path = company_folders(landing, "afinia").processed / name
    path.write_text(json.dumps(rec, ensure_ascii=False), encoding="utf-8")


def test_a_reread_request_json_keeps_its_one_registry_row_and_one_folder(
        db, s3, bucket, settings, landing):
    # Day 1: the portal did not render the SGC (the bot writes its placeholder). extract
    # files the JSON under sin_sgc/R-801/; its load_db does not happen (the warehouse was
    # down, or the run's load_db waits behind another run's).
    _write(landing, "PQR_4_ERROR_data_20251008_090000.json",
           record("PQR_4_ERROR", "R-801", "20251008_090000", fecha=""))
    pipeline.extract(db, AFINIA, settings, "day-1")
    # Day 2: a re-scrape with the real SGC. extract reads the day-1 JSON again (registered,
    # not loaded: "files_reread") and completes its blank SGC from the day-2 copy.
    _write(landing, "RE801_data_20251009_090000.json",
           record("RE801", "R-801", "20251009_090000"))
    day2 = pipeline.extract(db, AFINIA, settings, "day-2")
    assert day2.files_reread == 1
    pipeline.load(db, AFINIA, day2.manifest, run_id="day-2")
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-2")
    checked = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")

    rows = query(db, f"SELECT filename, s3_key FROM {REGISTRY} ORDER BY id")
    names = [name for name, _ in rows]
    # One local file is one registry row (the run report, the stats page and retention
    # count rows) ...
    assert len(names) == len(set(names)), rows
    # ... and one request is one folder: no object of R-801 left under sin_sgc/.
    keys = sorted(list_keys(s3, bucket))
    assert not [k for k in keys if k.startswith(prefix() + "sin_sgc/")], keys
    # Nobody is asked to sort out a split the pipeline made itself.
    assert [f.kind for f in checked.needs_human] == []
