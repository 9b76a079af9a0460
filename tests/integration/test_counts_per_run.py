"""A run reports what it did, however many tries its tasks took.

A task can die after its work is committed and before Airflow hears of the success
(the worker killed, the network gone): Airflow then runs it again. That try must not
do the work twice, nor report only what it saw itself ("0 inserted, N duplicates" for
rows the run inserted). Each try of ``extract`` and ``load_db`` records its counts in
the transaction that commits its work; the run's report adds up those records.
"""

from __future__ import annotations

import os
import time

import pytest

from extractorov import pipeline, registry, stats, tasks, warehouse
from extractorov.landing import company_folders, read_quarantine
from extractorov.taskfail import NotRetried
from tests.helpers import list_keys, query, seen_hours_ago, write_request
from tests.helpers import task_context as _context
from tests.landing_files import AFINIA, write, write_json, write_pdf

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
    from tests.landing_files import write

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

def _report_of(db, run_id: str, **kwargs) -> stats.RunReport:
    return stats.report_run(db, run_id=run_id, empresa="afinia", dag_id="ov_afinia",
                            logical_date=None, data_interval_start=None,
                            data_interval_end=None, summaries={}, task_states={}, **kwargs)


def test_objects_moved_by_an_upload_that_died_before_recording_are_counted_by_its_retry(
        db, s3, bucket, settings, landing, monkeypatch):
    # Day 1: placeholder request, filed under sin_sgc/R-801/.
    write_pdf(landing, "PQR_3_ERROR", 0, "first scrape")
    write_json(landing, "PQR_3_ERROR", "R-801", 5)
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest, run_id="day-1")
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    # Day 2: the SGC is learned; upload_s3 moves both objects (copy, check, delete), then
    # the worker dies before the outcome is committed (SIGKILL, lost connection).
    write_pdf(landing, "RE801", 86_400, "second scrape")
    write_json(landing, "RE801", "R-801", 86_405)
    extracted = pipeline.extract(db, AFINIA, settings, RUN)
    pipeline.load(db, AFINIA, extracted.manifest, run_id=RUN)
    real = registry.record_moves

    def worker_dies(*args, **kwargs):
        raise ConnectionError("the worker died before recording the moves")

    monkeypatch.setattr(registry, "record_moves", worker_dies)
    with pytest.raises(ConnectionError):
        pipeline.upload(db, s3, AFINIA, settings, run_id=RUN)
    monkeypatch.setattr(registry, "record_moves", real)
    assert not any("/sin_sgc/" in key for key in list_keys(s3, bucket))  # the moves happened
    retried = pipeline.upload(db, s3, AFINIA, settings, run_id=RUN)  # Airflow's retry

    report = _report_of(db, RUN, database_only=False)
    assert (retried.s3_moved, report.s3_moved) == (2, 2), (
        f"the run moved 2 objects; the retry reports {retried.s3_moved}, the run report "
        f"{report.s3_moved}")


def test_files_readmitted_by_a_try_that_died_before_its_commit_count_for_the_run(
        db, settings, landing, monkeypatch):
    # Two files in quarantine from an earlier run (one unknown name, one invalid JSON).
    write(landing, "not-the-bots-file.bin", b"x")
    write(landing, "RE9_data_20251008_040000.json", b"{not json")
    pipeline.extract(db, AFINIA, settings, "day-1")
    folders = company_folders(landing, "afinia")
    assert len(read_quarantine(folders)) == 2
    # The operator triggers readmit_quarantine=true: try 1 moves both back to processed/,
    # validates them, quarantines them again, then dies before its commit.
    real = registry.register_pending

    def worker_dies(*args, **kwargs):
        raise ConnectionError("the worker lost the database before the commit")

    monkeypatch.setattr(registry, "register_pending", worker_dies)
    with pytest.raises(ConnectionError):
        pipeline.extract(db, AFINIA, settings, RUN, readmit_quarantine=True, attempt=1)
    monkeypatch.setattr(registry, "register_pending", real)
    retried = pipeline.extract(db, AFINIA, settings, RUN, readmit_quarantine=True, attempt=2)
    from extractorov import tasks
    report = _report_of(db, RUN, database_only=True,
                        quarantined=tasks._quarantined_by(AFINIA, RUN))
    assert report.files_quarantined == 2  # counted from the reason files
    assert report.files_readmitted == 2, (
        f"the run re-admitted 2 files; its report says {report.files_readmitted} "
        f"(try 2 saw {retried.files_readmitted})")
    # Day 1's extract, the re-admission (recorded as soon as the files moved back) and
    # try 2's extract: what the run did is on record, whatever died when.
    assert query(db, "SELECT step, count(*) FROM data_general.run_steps GROUP BY 1 "
                     "ORDER BY 1") == [("extract", 2), ("readmit", 1)]


def test_a_run_that_reads_again_another_runs_unloaded_jsons_does_not_count_them_as_new(
        db, settings, landing):
    """Two runs of one company (a backfill next to the scheduled run; Airflow does not count
    a backfill's runs in max_active_runs): run A's load_db is retried (backoff) and run B's
    extract takes the pool slot meanwhile."""
    from tests.helpers import write_request

    write_request(landing, "afinia", "RE1", "R-1")
    write_request(landing, "afinia", "RE2", "R-2", ts="20251008_101010")
    run_a, run_b = "scheduled__2025-10-09T09:00:00+00:00", "backfill__2025-10-08T09:00:00+00:00"
    a = pipeline.extract(db, AFINIA, settings, run_a)
    b = pipeline.extract(db, AFINIA, settings, run_b)
    pipeline.load(db, AFINIA, a.manifest, run_id=run_a)
    pipeline.load(db, AFINIA, b.manifest, run_id=run_b)
    report_a = _report_of(db, run_a, database_only=True)
    report_b = _report_of(db, run_b, database_only=True)
    assert (report_a.files_new, report_a.files_registered) == (4, 4)
    # "New is what this run filed (registered or quarantined)" (extract._extract).
    assert report_b.files_registered == 0
    assert report_b.files_new == 0, (
        f"run B filed nothing (registered {report_b.files_registered}) but reports "
        f"{report_b.files_new} new files; the two runs together report "
        f"{report_a.files_new + report_b.files_new} new files for 4")


class _InsertHook:
    """A connection whose record_run INSERT first lets another callback run (deterministic
    interleaving of two record_run calls on two connections)."""

    def __init__(self, conn, before_insert):
        self._conn, self._before = conn, before_insert

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def cursor(self, *a, **k):
        real = self._conn.cursor(*a, **k)
        hook = self

        class Cur:
            def __enter__(self):
                real.__enter__()
                return self

            def __exit__(self, *exc):
                return real.__exit__(*exc)

            def __getattr__(self, name):
                return getattr(real, name)

            def execute(self, statement, *args, **kwargs):
                if str(statement).lstrip().startswith("INSERT INTO") and hook._before:
                    callback, hook._before = hook._before, None
                    callback()
                return real.execute(statement, *args, **kwargs)

        return Cur()


def test_two_report_stats_of_one_run_at_once_record_every_try(db):
    """Two report_stats of the same run at once (two connections, the row not there yet)
    both record the run's totals, every try included: the counts come from what each try
    recorded with its commit (``run_steps``), not from a read-modify-write of the row."""
    from extractorov import runsteps, runtime

    warehouse.ensure_schema(db)
    db.commit()
    run_id = "scheduled__2025-10-09"
    for attempt, (new, inserted) in (("1", (5, 2)), ("2", (7, 3))):
        runsteps.record(db, run_id, "afinia", runsteps.EXTRACT, attempt, {"files_new": new})
        runsteps.record(db, run_id, "afinia", runsteps.LOAD_DB, attempt,
                        {"db_inserted": inserted})
    db.commit()
    args = dict(run_id=run_id, empresa="afinia", dag_id="ov_afinia", logical_date=None,
                data_interval_start=None, data_interval_end=None, database_only=True,
                summaries={}, task_states={})

    def other_report():
        with runtime.warehouse_connection() as other:
            stats.report_run(other, **args)

    stats.report_run(_InsertHook(db, other_report), **args)
    [(files_new, inserted, attempts)] = query(
        db, "SELECT files_new, db_inserted, attempts FROM data_general.post_processing_runs")
    assert attempts == {"extract": ["1", "2"], "load_db": ["1", "2"]}
    assert (files_new, inserted) == (12, 5)


def test_a_stale_temp_file_is_subtracted_from_the_new_files(db, settings, landing):
    """A regression test (promise 9): a stale .part is counted waiting. It was also
    subtracted from files_new, which never counted it: one new request (JSON + PDF)
    reported files_new 1, and a run with only a stale .part files_new -1 on the stats
    page."""
    write_request(landing, "afinia", "ST1", "R-ST1")
    part = company_folders(landing, "afinia").processed / "ST1_20251008_093222.pdf.part"
    part.write_bytes(b"%PDF half")
    old = time.time() - (settings.orphan_after_hours + 1) * 3600
    os.utime(part, (old, old))
    seen_hours_ago(db, landing, "afinia", part.name, hours=settings.orphan_after_hours + 1)
    summary = pipeline.extract(db, AFINIA, settings, "day-1")
    assert summary.files_waiting == 1
    assert summary.files_new == 2  # the JSON and the PDF

    pipeline.load(db, AFINIA, summary.manifest)
    again = pipeline.extract(db, AFINIA, settings, "day-2")
    assert again.files_new >= 0


def test_a_cleared_readmit_run_counts_each_file_once(db, settings, landing):
    """A regression test: a cleared run with ``readmit_quarantine=true`` re-cycled the
    still-invalid files and the tries were summed: 2 re-admitted / 2 quarantined for one
    file. Each file counts once per run."""
    write_request(landing, "afinia", "RE1", "R-1")
    write_request(landing, "afinia", "RE3", "", pdf=False)  # invalid under any parser
    pipeline.extract(db, AFINIA, settings, "first")
    folders = company_folders(landing, "afinia")
    assert len(list(folders.quarantine.glob("*.json"))) == 1

    run_id = "manual__readmit"
    for attempt in (1, 2):  # the run, then the same run cleared (extract's new try)
        summary = pipeline.extract(db, AFINIA, settings, run_id, readmit_quarantine=True,
                                   attempt=attempt)
        pipeline.load(db, AFINIA, summary.manifest)
        stats.report_run(db, run_id=run_id, empresa="afinia", dag_id="ov_afinia",
                         logical_date=None, data_interval_start=None,
                         data_interval_end=None, database_only=True, summaries={},
                         task_states={})
    assert len(list(folders.quarantine.glob("*.json"))) == 1
    assert query(db, "SELECT files_readmitted, files_quarantined FROM "
                     "data_general.post_processing_runs WHERE run_id = %s", run_id) == [(1, 1)]


def test_the_s3_event_after_a_partly_failed_upload_counts_the_whole_run(
        db, s3, bucket, settings, landing, monkeypatch):
    """A regression test: the S3 Asset event after a partly failed, then cleared upload
    carried only the last try's counts (1 of 5). The event counts the whole run."""
    write_request(landing, "afinia", "RE1", "R-1")
    write_request(landing, "afinia", "RE2", "R-2", adjunto="jpg")
    big = company_folders(landing, "afinia").processed / "RE2_adjunto_20251008_093221.jpg"
    big.write_bytes(b"x" * 4096)
    extracted = pipeline.extract(db, AFINIA, settings, "run-a")
    pipeline.load(db, AFINIA, extracted.manifest)
    run_id = "manual__2025-10-09T09:00:00+00:00"
    # First try: a size limit below the attachment (a wrong Variable): 4 files up, 1 error.
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_MAX_FILE_GIB", str(1024 / 1024**3))
    first = _context(run_id)
    with pytest.raises(NotRetried):
        tasks.upload_s3(AFINIA, first)
    assert dict(first["outlet_events"]) == {}  # a failed task emits no event
    # The operator fixes the Variable and clears the task.
    monkeypatch.delenv("AIRFLOW_VAR_OV_S3_MAX_FILE_GIB")
    second = _context(run_id, try_number=2)
    tasks.upload_s3(AFINIA, second)
    (event,) = second["outlet_events"].values()
    assert event.extra["s3_uploaded"] == 5  # 2 JSON + 2 PDF + 1 attachment, this run
