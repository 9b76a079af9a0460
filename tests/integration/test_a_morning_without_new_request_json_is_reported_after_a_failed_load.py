"""A regression test: the 06:00 check reports a successful morning run that read "no new request
JSON" (the bot did not run). It reads the run report's ``records_found``, which also counts
request JSONs an earlier run registered and did not load, read again by this run
(``files_reread``). So the morning after a day whose ``load_db`` failed (a warehouse
outage), a bot that did not run at all looks like a normal morning: no alert."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from extractorov import alerts, pipeline, stats
from extractorov.companies import COMPANIES
from extractorov.settings import BOGOTA
from tests.helpers import write_request
from tests.landing_files import AFINIA

pytestmark = pytest.mark.integration


def _every_run_succeeded(*, dag_id: str, logical_dates: list, states: list | None = None) -> int:
    return 1


def test_a_morning_without_new_request_json_is_reported_after_a_failed_load(
        db, s3, bucket, settings, landing, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_OV_EXPECT_QUIET", "")
    # Day 1: the bot wrote a request; extract filed it; load_db failed (warehouse outage).
    write_request(landing, "afinia", "RE1", "R-1", "20251209_023000")
    pipeline.extract(db, AFINIA, settings, "scheduled__day-1")
    # Day 2 (2025-12-10): the bot did not run. The scheduled run re-reads R-1's JSON.
    day = date(2025, 12, 10)
    logical = alerts.morning_logical_date(day)
    run_id = f"scheduled__{logical.isoformat()}"
    extracted = pipeline.extract(db, AFINIA, settings, run_id)
    assert extracted.files_new == 0 and extracted.files_reread == 1  # nothing new
    pipeline.load(db, AFINIA, extracted.manifest, run_id=run_id)
    stats.report_run(db, run_id=run_id, empresa="afinia", dag_id=AFINIA.dag_id,
                     logical_date=logical, data_interval_start=logical,
                     data_interval_end=logical, database_only=True,
                     summaries={}, task_states={"extract": "success", "load_db": "success"})
    # The 06:00 check (aire's morning was a normal one).
    with db.cursor() as cur:
        cur.execute("INSERT INTO data_general.post_processing_runs (run_id, empresa, dag_id, "
                    "logical_date, database_only, status, records_found) VALUES "
                    "(%s, 'aire', 'ov_aire', %s, false, 'success', 5)", (run_id, logical))
    db.commit()
    states = alerts.check_morning_runs(db, _every_run_succeeded,
                                       now=datetime(2025, 12, 10, 6, tzinfo=BOGOTA),
                                       run_id="check-6", companies=COMPANIES.values())
    assert states["afinia"] == alerts.NO_NEW_JSON, states
