"""A full landing volume while extract quarantines: the run fails with the operator's
message, and its report still counts what extract could not quarantine (``dag.test()``,
real PostgreSQL and moto S3)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from devtools.sample import generate_landing
from extractorov.landing import company_folders
from tests.diskfull import fill_the_disk_for_reason_files
from tests.helpers import query

pytestmark = pytest.mark.e2e


def test_a_full_disk_fails_the_run_and_the_report_counts_the_files_left(
        dags, db, bucket, landing, monkeypatch):
    sample = generate_landing(landing, companies=["aire"], days=1, requests_per_day=3)
    stray = company_folders(landing, "aire").processed / "notes.txt"
    stray.write_text("not the bot's")
    old = datetime(2025, 10, 7, 9, tzinfo=UTC).timestamp()
    os.utime(stray, (old, old))  # settled: scrape does not wait for the folder to be quiet
    fill_the_disk_for_reason_files(monkeypatch)
    run = dags["ov_aire"].test(logical_date=datetime(2025, 10, 12, 9, tzinfo=UTC))
    assert str(run.state) == "failed"
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert (states["extract"], states["report_stats"], states["watcher"]) == (
        "failed", "success", "failed")
    assert stray.exists()
    [(status, failed, quarantined, found)] = query(
        db, "SELECT status, files_quarantine_failed, files_quarantined, files_found "
            "FROM data_general.post_processing_runs")
    assert (status, failed, quarantined) == ("failed", 1, 0)
    assert found == sample.by_company["aire"] + 1  # the bot's files and the stray one
