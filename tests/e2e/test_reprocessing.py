"""Reprocessing after a fix (param ``readmit_quarantine``) and what a backfill run does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from extractorov.landing import company_folders
from tests.helpers import query, write_request

pytestmark = pytest.mark.e2e


def _states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def _snapshot(db) -> dict:
    return {
        "rows": query(db, "SELECT numero_radicado, hash_contenido, updated_at "
                          "FROM data_general.ov_afinia ORDER BY 1"),
        "registry": query(db, "SELECT s3_key, upload_status, attempts, updated_at "
                              "FROM data_general.s3_files_registry ORDER BY s3_key"),
    }


def test_readmit_quarantine_validates_every_quarantined_file_again(dags, db, s3, bucket,
                                                                   landing, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    folders = company_folders(landing, "afinia")
    write_request(landing, "afinia", "RE1", "R-1")
    # Two requests the parser refuses today: fecha in a format it does not know, and a
    # blank numero_radicado (still invalid after any parser fix).
    write_request(landing, "afinia", "RE2", "R-2", fecha="el 7 de octubre")
    write_request(landing, "afinia", "RE3", "", pdf=False)
    dag = dags["ov_afinia"]
    first = dag.test(logical_date=datetime(2025, 10, 9, 9, tzinfo=UTC),
                     run_conf={"database_only": True, "readmit_quarantine": False})
    assert str(first.state) == "success"
    quarantined = sorted(p.name for p in folders.quarantine.glob("*.json"))
    assert len(quarantined) == 2

    # "The parser learned the new format": here, the file is corrected in quarantine.
    bad = next(p for p in folders.quarantine.glob("*RE2_data_*.json"))
    bad.write_text(bad.read_text(encoding="utf-8").replace("el 7 de octubre",
                                                           "2025/10/07 14:05"),
                   encoding="utf-8")
    again = dag.test(logical_date=datetime(2025, 10, 10, 9, tzinfo=UTC),
                     run_conf={"database_only": True, "readmit_quarantine": True})
    assert str(again.state) == "success"
    run = query(db, "SELECT files_readmitted, files_quarantined, db_inserted "
                    "FROM data_general.post_processing_runs WHERE run_id = %s", again.run_id)
    assert run == [(2, 1, 1)]  # both tried; R-2 loaded; the blank radicado back in quarantine
    assert query(db, "SELECT numero_radicado FROM data_general.ov_afinia ORDER BY 1") == [
        ("R-1",), ("R-2",)]
    reasons = [p.read_text(encoding="utf-8") for p in folders.quarantine.glob("*.reason.txt")]
    assert len(reasons) == 1 and "numero_radicado is missing or blank" in reasons[0]

    # Off again (the default): nothing moves.
    third = dag.test(logical_date=datetime(2025, 10, 11, 9, tzinfo=UTC),
                     run_conf={"database_only": True, "readmit_quarantine": False})
    assert query(db, "SELECT files_readmitted FROM data_general.post_processing_runs "
                     "WHERE run_id = %s", third.run_id) == [(0,)]


def test_backfill_runs_do_what_a_normal_run_does_and_change_nothing_twice(
        dags, db, s3, bucket, landing, monkeypatch):
    """A run for a past data interval takes what is in processed/ now; once a run has
    handled the files, runs for other past intervals find nothing new."""
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    write_request(landing, "afinia", "RE10", "R-10")
    write_request(landing, "afinia", "RE11", "R-11", adjunto="pdf")
    dag = dags["ov_afinia"]
    past = [datetime(2025, 10, day, 9, tzinfo=UTC) for day in (2, 3, 4)]
    first = dag.test(logical_date=past[0], run_conf={"database_only": False})
    assert str(first.state) == "success"
    assert query(db, "SELECT count(*) FROM data_general.ov_afinia") == [(2,)]
    before = _snapshot(db)
    for logical_date in past[1:]:
        run = dag.test(logical_date=logical_date, run_conf={"database_only": False})
        assert str(run.state) == "success"
        assert _states(run)["upload_s3"] == "success"
        assert query(db, "SELECT files_new, db_inserted, s3_uploaded FROM "
                         "data_general.post_processing_runs WHERE run_id = %s",
                     run.run_id) == [(0, 0, 0)]
    assert _snapshot(db) == before
