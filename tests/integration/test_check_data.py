"""Hostile review, round 3: attacks that held (they pass on today's code and stay as
regression tests)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from extractorov import pipeline, tasks
from extractorov.landing import company_folders
from tests.helpers import query, write_request
from tests.landing_files import AFINIA

pytestmark = pytest.mark.integration


def _check(extracted, loaded) -> dict:
    from collections import defaultdict
    from types import SimpleNamespace

    context = {"run_id": "manual__checks",
               "outlet_events": defaultdict(lambda: SimpleNamespace(extra=None))}
    return tasks.check_data(AFINIA, asdict(extracted), asdict(loaded), context)


def test_check_data_passes_a_run_with_zero_records(db, settings, landing):
    extracted = pipeline.extract(db, AFINIA, settings, "empty")
    loaded = pipeline.load(db, AFINIA, extracted.manifest)
    assert _check(extracted, loaded)["failed"] == []


def test_check_data_passes_a_rescrape_with_one_radicado_in_two_jsons(db, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1", ts="20251008_093221")
    write_request(landing, "afinia", "RE1", "R-1", ts="20251008_101500",
                  estado_solicitud="Cerrado")
    write_request(landing, "afinia", "RE2", "R-2")
    extracted = pipeline.extract(db, AFINIA, settings, "rescrape")
    loaded = pipeline.load(db, AFINIA, extracted.manifest)
    assert (extracted.records_found, loaded.records) == (3, 2)
    assert _check(extracted, loaded)["failed"] == []


def test_check_data_passes_a_cleared_run_and_a_cleared_check_alone(db, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1")
    write_request(landing, "afinia", "RE2", "R-2")
    first = pipeline.extract(db, AFINIA, settings, "run-1")
    loaded = pipeline.load(db, AFINIA, first.manifest)
    assert _check(first, loaded)["failed"] == []
    # load_db cleared alone: its manifest was loaded and committed, so it reports what the
    # run loaded and loads nothing again.
    again = pipeline.load(db, AFINIA, first.manifest)
    assert (again.db_inserted, again.db_duplicates, again.json_files_loaded) == (2, 0, 2)
    assert _check(first, again)["failed"] == []
    # The whole run cleared: extract finds the JSONs loaded, the manifest is empty.
    cleared = pipeline.extract(db, AFINIA, settings, "run-1")
    reloaded = pipeline.load(db, AFINIA, cleared.manifest)
    assert reloaded.records == 0
    assert _check(cleared, reloaded)["failed"] == []
    # check_data cleared alone after that: it reads the same XComs, same answer.
    assert _check(cleared, reloaded)["failed"] == []


def test_readmit_leaves_symlinks_taken_names_and_orphan_reasons_alone(db, settings, landing):
    folders = company_folders(landing, "afinia")
    write_request(landing, "afinia", "RE1", "R-1")
    write_request(landing, "afinia", "RE3", "", pdf=False, ts="20251008_093300")
    pipeline.extract(db, AFINIA, settings, "first")
    (bad,) = folders.quarantine.glob("RE3_data_*.json")
    # A reason file without its file, and a symlink in quarantine with a reason file.
    (folders.quarantine / "GONE_data_20251008_093221.json.reason.txt").write_text(
        "file: GONE_data_20251008_093221.json\nreason: x\n")
    target = landing / "outside.json"
    target.write_text("{}")
    (folders.quarantine / "LNK_data_20251008_093221.json").symlink_to(target)
    (folders.quarantine / "LNK_data_20251008_093221.json.reason.txt").write_text(
        "file: LNK_data_20251008_093221.json\nreason: not a regular file\n")
    # The original name of the quarantined JSON taken in processed/ meanwhile.
    taken = folders.processed / bad.name
    taken.write_text("other bytes")
    summary = pipeline.extract(db, AFINIA, settings, "readmit", readmit_quarantine=True)
    assert summary.files_readmitted == 0
    assert bad.exists() and (folders.quarantine / "LNK_data_20251008_093221.json").is_symlink()
    assert target.read_text() == "{}"
    # The new file of that name was validated (and refused) on its own, beside the old one.
    assert not taken.exists()
    assert (folders.quarantine / (bad.name + ".1")).read_text() == "other bytes"
    assert query(db, "SELECT count(*) FROM data_general.s3_files_registry "
                     "WHERE filename LIKE 'GONE%%' OR filename LIKE 'LNK%%'") == [(0,)]


def test_an_unreachable_warehouse_is_retried_and_its_password_stays_out(landing, monkeypatch):
    """psycopg OperationalError during extract (database down): a transient error, raised as
    itself so Airflow retries it; the message names host and port, never the password."""
    import json
    import socket
    from types import SimpleNamespace

    import psycopg

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_OV_POSTGRES", json.dumps({
        "conn_type": "postgres", "host": "127.0.0.1", "port": port, "login": "ov",
        "password": "Sup3r-Secret-Pw", "schema": "warehouse"}))
    context = {"run_id": "r", "ti": SimpleNamespace(try_number=1),
               "params": {"readmit_quarantine": False}}
    with pytest.raises(psycopg.OperationalError) as failed:
        tasks.extract(AFINIA, context)
    assert tasks.airflow_error(failed.value) is failed.value  # retried with backoff
    assert "Sup3r-Secret-Pw" not in str(failed.value)
