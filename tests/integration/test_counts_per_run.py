"""A run reports what it did, however many tries its tasks took.

A task can die after its work is committed and before Airflow hears of the success
(the worker killed, the network gone): Airflow then runs it again. That try must not
do the work twice, nor report only what it saw itself ("0 inserted, N duplicates" for
rows the run inserted). Each try of ``extract`` and ``load_db`` records its counts in
the transaction that commits its work; the run's report adds up those records.
"""

from __future__ import annotations

import pytest

from extractorov import pipeline, stats
from tests.helpers import query, write_request
from tests.review._common import AFINIA

pytestmark = pytest.mark.integration

RUN = "scheduled__2025-10-09T09:00:00+00:00"


def _report(db, **summaries) -> stats.RunReport:
    return stats.report_run(db, run_id=RUN, empresa="afinia", dag_id="ov_afinia",
                            logical_date=None, data_interval_start=None,
                            data_interval_end=None, database_only=True,
                            summaries=summaries, task_states={})


def test_a_load_retried_after_its_commit_reports_the_rows_the_run_inserted(
        db, settings, landing):
    for n in range(3):
        write_request(landing, "afinia", f"RE{n}", f"R-{n}")
    extracted = pipeline.extract(db, AFINIA, settings, RUN, attempt=1)
    first = pipeline.load(db, AFINIA, extracted.manifest, run_id=RUN)
    # The worker died after the commit: Airflow runs load_db again with the same manifest.
    retried = pipeline.load(db, AFINIA, extracted.manifest, run_id=RUN)
    assert (retried.db_inserted, retried.db_duplicates) == (3, 0) == (
        first.db_inserted, first.db_duplicates)
    report = _report(db, load_db={"db_inserted": 0, "db_duplicates": 3})  # the retry's XCom
    assert (report.db_inserted, report.db_duplicates, report.records_found) == (3, 0, 3)
    assert query(db, "SELECT count(*) FROM data_general.ov_afinia") == [(3,)]


def test_an_extract_retried_after_its_commit_reports_the_files_the_run_filed(
        db, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1", adjunto="jpg")
    write_request(landing, "afinia", "RE2", "R-2")
    first = pipeline.extract(db, AFINIA, settings, RUN, attempt=1)
    assert (first.files_new, first.files_registered, first.records_found) == (5, 5, 2)
    # The worker died after the registry commit; meanwhile the bot wrote one more request.
    write_request(landing, "afinia", "RE3", "R-3", ts="20251008_101010")
    retried = pipeline.extract(db, AFINIA, settings, RUN, attempt=2)
    assert (retried.files_new, retried.files_registered, retried.records_found) == (5, 5, 2)
    assert retried.manifest == first.manifest
    loaded = pipeline.load(db, AFINIA, retried.manifest, run_id=RUN)
    assert loaded.db_inserted == 2
    report = _report(db, extract={"files_new": 0})  # what the retry's XCom would say
    assert (report.files_new, report.files_registered, report.records_found,
            report.db_inserted) == (5, 5, 2, 2)
    # The late request was left for the next run, which files it.
    later = pipeline.extract(db, AFINIA, settings, "scheduled__2025-10-10T09:00:00+00:00")
    assert later.files_registered == 2


def test_a_cleared_run_adds_what_its_new_tries_did(db, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1")
    first = pipeline.extract(db, AFINIA, settings, RUN, attempt=1)
    pipeline.load(db, AFINIA, first.manifest, run_id=RUN)
    write_request(landing, "afinia", "RE2", "R-2", ts="20251008_101010")
    again = pipeline.extract(db, AFINIA, settings, RUN, attempt=2)  # the run cleared
    pipeline.load(db, AFINIA, again.manifest, run_id=RUN)
    report = _report(db)
    assert (report.files_new, report.records_found, report.db_inserted) == (4, 2, 2)


def test_files_quarantined_by_a_try_that_died_before_its_commit_count_for_the_run(
        db, settings, landing, monkeypatch):
    from extractorov import registry, tasks
    from tests.review._common import write

    write_request(landing, "afinia", "RE1", "R-1")
    write(landing, "not-the-bots-file.bin", b"x")
    real = registry.register_pending

    def worker_dies(*args, **kwargs):
        raise ConnectionError("the worker lost the database before the commit")

    monkeypatch.setattr(registry, "register_pending", worker_dies)
    with pytest.raises(ConnectionError):
        pipeline.extract(db, AFINIA, settings, RUN, attempt=1)  # quarantined, then died
    monkeypatch.setattr(registry, "register_pending", real)
    retried = pipeline.extract(db, AFINIA, settings, RUN, attempt=2)
    assert retried.files_quarantined == 0  # already in quarantine/: not this try's
    report = _report(db, load_db=None)
    assert report.files_quarantined == 0  # what the recorded tries say
    report = stats.report_run(db, run_id=RUN, empresa="afinia", dag_id="ov_afinia",
                              logical_date=None, data_interval_start=None,
                              data_interval_end=None, database_only=True, summaries={},
                              task_states={}, quarantined=tasks._quarantined_by(AFINIA, RUN))
    assert (report.files_quarantined, report.files_new, report.files_registered) == (1, 3, 2)
