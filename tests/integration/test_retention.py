"""Retention of what has been delivered (issue 22): a local file leaves ``processed/`` only
once its object is verified in the bucket and its upload is ``ov_local_retention_days``
old; archived or deleted per ``ov_local_retention``, recorded in the registry, counted in
the run report, settled by the next run after a kill. Real PostgreSQL, moto S3 over HTTP
and real files throughout; time passes through ``now`` (no clock is waited for).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from extractorov import pipeline, reconcile, retention, stats
from extractorov.landing import company_folders
from tests.helpers import list_keys, query, write_request
from tests.landing_files import AFINIA

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LATER = datetime.now(UTC) + timedelta(days=31)
"""A month after today's uploads: past the default ov_local_retention_days (30)."""
REGISTRY = "data_general.s3_files_registry"


def _deliver(db, s3, settings, landing, *, requests: int = 1, run_id: str = "day-1",
             first: int = 0) -> list[Path]:
    """``requests`` requests (JSON + PDF each) extracted, loaded and uploaded."""
    paths: list[Path] = []
    for n in range(first, first + requests):
        paths += write_request(landing, "afinia", f"RE{n:04d}", f"R-{n:04d}",
                               ts=f"20251008_09{n // 60 % 60:02d}{n % 60:02d}")
    extracted = pipeline.extract(db, AFINIA, settings, run_id)
    pipeline.load(db, AFINIA, extracted.manifest, run_id=run_id)
    pipeline.upload(db, s3, AFINIA, settings, run_id=run_id)
    return paths


def _retain(db, s3, settings, *, run_id: str = "day-31", now: datetime = LATER, **kwargs):
    return retention.run(db, s3, AFINIA, settings, run_id=run_id, now=now, **kwargs)


def _rows(db) -> dict[str, tuple]:
    return {name: rest for name, *rest in query(
        db, f"""SELECT filename, local_removal, local_path, local_removed_from,
                       local_removal_run_id, local_retention_note
                FROM {REGISTRY} ORDER BY filename""")}


def _processed(landing) -> list[str]:
    folder = company_folders(landing, "afinia").processed
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _archived(landing) -> list[str]:
    return [str(p.relative_to(company_folders(landing, "afinia").root))
            for p in retention.archived_files(company_folders(landing, "afinia"))]


# --------------------------------------------------------------------------- removal


def test_a_verified_old_file_is_archived_and_the_registry_says_where_it_is(
        db, s3, bucket, settings, landing):
    paths = _deliver(db, s3, settings, landing)
    [(month,)] = query(db, f"""SELECT DISTINCT to_char(uploaded_at AT TIME ZONE
                                'America/Bogota', 'YYYY-MM') FROM {REGISTRY}""")
    contents = {p.name: p.read_bytes() for p in paths}
    summary = _retain(db, s3, settings)
    assert (summary.local_archived, summary.local_deleted, summary.local_held) == (2, 0, 0)
    assert _processed(landing) == []
    assert _archived(landing) == sorted(f"archive/{month}/{p.name}" for p in paths)
    rows = _rows(db)
    for path in paths:
        removal, local_path, removed_from, run_id, note = rows[path.name]
        assert (removal, removed_from, run_id, note) == ("archived", str(path), "day-31", None)
        assert local_path == str(company_folders(landing, "afinia").root / "archive" / month
                                 / path.name)
        assert Path(local_path).read_bytes() == contents[path.name]
    facts = query(db, f"SELECT metadata -> 'retention' FROM {REGISTRY} LIMIT 1")[0][0]
    assert {"etag", "file-hash"} <= set(facts["verified_by"])
    assert facts["done"] == "archived" and facts["run_id"] == "day-31"
    # Nothing else notices: the next extract finds nothing new, the hourly check nothing.
    again = pipeline.extract(db, AFINIA, settings, "day-32")
    assert (again.files_new, again.files_registered) == (0, 0)
    checked = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    assert checked.needs_human == [] and checked.upload.get("files", 0) == 0


def test_an_archived_copy_is_what_the_hourly_check_uploads_again_if_the_object_goes(
        db, s3, bucket, settings, landing):
    """The reason to archive: after a bucket incident the local copy is still there, and
    every reader of local_path (reconcile, upload) finds it in archive/."""
    paths = _deliver(db, s3, settings, landing)
    _retain(db, s3, settings)
    key = next(k for k in list_keys(s3, bucket) if k.endswith(paths[1].name))
    s3.delete_object(Bucket=bucket, Key=key)
    checked = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    assert checked.upload["s3_uploaded"] == 1 and checked.needs_human == []
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == _archived_bytes(
        landing, paths[1].name)


def _archived_bytes(landing, name: str) -> bytes:
    [path] = [p for p in retention.archived_files(company_folders(landing, "afinia"))
              if p.name == name]
    return path.read_bytes()


def test_delete_mode_deletes_the_local_copy_and_clears_local_path(
        db, s3, bucket, settings, landing):
    paths = _deliver(db, s3, settings, landing)
    summary = _retain(db, s3, dataclasses.replace(settings, local_retention="delete"))
    assert (summary.local_archived, summary.local_deleted) == (0, 2)
    assert _processed(landing) == [] and _archived(landing) == []
    for path in paths:
        removal, local_path, removed_from, *_ = _rows(db)[path.name]
        assert (removal, local_path, removed_from) == ("deleted", None, str(path))
    assert query(db, f"SELECT count(*) FROM {REGISTRY} WHERE local_deleted_at IS NULL") == [
        (0,)]
    # The hourly check sees a row with no local copy and its object: nothing to say.
    assert reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1").findings == []


def test_keep_removes_nothing(db, s3, bucket, settings, landing):
    paths = _deliver(db, s3, settings, landing)
    summary = _retain(db, s3, dataclasses.replace(settings, local_retention="keep"),
                      now=LATER + timedelta(days=400))
    assert (summary.local_archived, summary.local_deleted, summary.local_held) == (0, 0, 0)
    assert _processed(landing) == sorted(p.name for p in paths)
    assert {r[0] for r in _rows(db).values()} == {None}


def test_a_file_younger_than_the_retention_period_stays(db, s3, bucket, settings, landing):
    paths = _deliver(db, s3, settings, landing)
    summary = _retain(db, s3, settings, now=datetime.now(UTC) + timedelta(days=29))
    assert summary.local_archived == 0
    assert _processed(landing) == sorted(p.name for p in paths)


# --------------------------------------------------------------------------- never removed


@pytest.mark.parametrize("damage", ["object deleted", "object overwritten, same size",
                                    "local file changed after the upload"])
def test_an_unverified_file_is_never_removed(db, s3, bucket, settings, landing, damage):
    """The registry says 'uploaded' in every case: retention does not believe it."""
    paths = _deliver(db, s3, settings, landing)
    pdf = paths[1]
    key = next(k for k in list_keys(s3, bucket) if k.endswith(pdf.name))
    if damage == "object deleted":
        s3.delete_object(Bucket=bucket, Key=key)
        why = retention.OBJECT_MISSING
    elif damage == "object overwritten, same size":
        body = pdf.read_bytes()
        s3.put_object(Bucket=bucket, Key=key, Body=body[:-1] + b"X")  # no file-hash metadata
        why = retention.OBJECT_DIFFERS
    else:
        pdf.write_bytes(pdf.read_bytes()[:-1] + b"X")
        why = retention.LOCAL_CHANGED
    summary = _retain(db, s3, dataclasses.replace(settings, local_retention="delete"))
    assert summary.local_held == 1 and summary.held_reasons == {why: 1}
    assert summary.local_deleted == 1  # its request JSON was verified
    assert _processed(landing) == [pdf.name]
    removal, local_path, _, _, note = _rows(db)[pdf.name]
    assert (removal, local_path, note) == (None, str(pdf), why)
    # Looked at again by a later run (not the same day), after the files never looked at:
    # still not verified, still there.
    again = _retain(db, s3, dataclasses.replace(settings, local_retention="delete"),
                    now=LATER + timedelta(days=1), run_id="day-32")
    assert again.local_held == 1 and _processed(landing) == [pdf.name]


def test_a_held_file_goes_once_it_is_verified_again(db, s3, bucket, settings, landing):
    paths = _deliver(db, s3, settings, landing)
    key = next(k for k in list_keys(s3, bucket) if k.endswith(paths[1].name))
    s3.delete_object(Bucket=bucket, Key=key)
    assert _retain(db, s3, settings).local_held == 1
    same_day = _retain(db, s3, settings, run_id="day-31b", now=LATER + timedelta(hours=2))
    assert same_day.local_held == 0 and same_day.local_archived == 0  # not looked at again
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")  # uploads it again
    later = _retain(db, s3, settings, run_id="day-32", now=LATER + timedelta(days=1))
    assert later.local_archived == 1 and later.local_held == 0 and _processed(landing) == []
    assert _rows(db)[paths[1].name][4] is None  # the note went with the hold


def _open_question(db, *, subject: str, s3_key: str | None = None) -> None:
    with db.cursor() as cur:
        cur.execute(
            """INSERT INTO data_general.reconcile_findings
               (run_id, empresa, kind, s3_key, subject, cause, detail, repaired, needs_human,
                open)
               VALUES ('check-1', 'afinia', 'object_different', %s, %s, 'c', 'd', false,
                       true, true)""", (s3_key, subject))
    db.commit()


@pytest.mark.parametrize("about", ["its S3 key", "its request (numero_radicado)"])
def test_a_file_with_an_open_question_is_never_removed(db, s3, bucket, settings, landing,
                                                       about):
    paths = _deliver(db, s3, settings, landing, requests=2)
    key = next(k for k in list_keys(s3, bucket) if k.endswith(paths[1].name))
    if about == "its S3 key":
        _open_question(db, subject=key, s3_key=key)
        kept = {paths[1].name}
    else:
        _open_question(db, subject="R-0000")
        kept = {paths[0].name, paths[1].name}
    summary = _retain(db, s3, settings)
    assert summary.local_held_by_question == len(kept)
    assert summary.local_archived == 4 - len(kept) and summary.local_held == 0
    assert set(_processed(landing)) == kept
    # Once answered and closed, the next run archives it.
    db.execute("UPDATE data_general.reconcile_findings SET open = false")
    db.commit()
    assert _retain(db, s3, settings, run_id="day-32").local_archived == len(kept)
    assert _processed(landing) == []


def test_a_request_json_whose_record_is_not_loaded_is_never_removed(
        db, s3, bucket, settings, landing):
    paths = _deliver(db, s3, settings, landing)
    db.execute("DELETE FROM data_general.s3_files_loaded")
    db.commit()
    summary = _retain(db, s3, settings)
    assert summary.local_archived == 1  # the PDF
    assert _processed(landing) == [paths[0].name]


def test_a_file_not_uploaded_is_never_removed(db, s3, bucket, settings, landing):
    write_request(landing, "afinia", "RE7", "R-7")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest, run_id="day-1")  # database_only
    summary = _retain(db, s3, settings, now=LATER + timedelta(days=400))
    assert summary.local_archived == summary.local_held == 0
    assert len(_processed(landing)) == 2


def test_database_only_removes_no_local_copy(db, s3, bucket, settings, landing):
    _deliver(db, s3, settings, landing)
    summary = retention.run(db, None, AFINIA, settings, run_id="day-31", now=LATER)
    assert summary.s3_skipped and summary.local_archived == 0
    assert len(_processed(landing)) == 2


# --------------------------------------------------------------------------- archive purge


def test_an_archived_copy_is_deleted_after_its_own_period_verified_again(
        db, s3, bucket, settings, landing):
    paths = _deliver(db, s3, settings, landing)
    _retain(db, s3, settings)
    key = next(k for k in list_keys(s3, bucket) if k.endswith(paths[1].name))
    s3.delete_object(Bucket=bucket, Key=key)  # the JSON's object stays
    early = _retain(db, s3, settings, run_id="day-60", now=LATER + timedelta(days=59))
    assert early.local_deleted == 0
    purged = _retain(db, s3, settings, run_id="day-92", now=LATER + timedelta(days=61))
    assert (purged.local_deleted, purged.local_archive_purged, purged.local_held) == (1, 1, 1)
    assert [Path(p).name for p in _archived(landing)] == [paths[1].name]
    json_row, pdf_row = _rows(db)[paths[0].name], _rows(db)[paths[1].name]
    assert tuple(json_row[:3]) == ("deleted", None, str(paths[0]))
    assert pdf_row[0] == "archived" and pdf_row[4] == retention.OBJECT_MISSING


def test_archive_days_zero_keeps_the_archive(db, s3, bucket, settings, landing):
    _deliver(db, s3, settings, landing)
    _retain(db, s3, settings)
    kept = _retain(db, s3, dataclasses.replace(settings, local_archive_days=0),
                   run_id="day-900", now=LATER + timedelta(days=900))
    assert kept.local_deleted == 0 and len(_archived(landing)) == 2


def test_a_deleted_copy_whose_object_goes_missing_is_said_so_by_the_hourly_check(
        db, s3, bucket, settings, landing):
    paths = _deliver(db, s3, settings, landing)
    _retain(db, s3, dataclasses.replace(settings, local_retention="delete"))
    key = next(k for k in list_keys(s3, bucket) if k.endswith(paths[1].name))
    s3.delete_object(Bucket=bucket, Key=key)
    [finding] = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1").needs_human
    assert finding.kind == "object_missing"
    assert "its local copy was deleted by retention on" in finding.detail
    assert "registered from the bucket" not in finding.detail


# --------------------------------------------------------------------------- counts


def test_the_run_report_and_the_stats_page_count_what_retention_did(
        db, s3, bucket, settings, landing):
    from extractorov.ui import data, render

    paths = _deliver(db, s3, settings, landing, requests=2)
    key = next(k for k in list_keys(s3, bucket) if k.endswith(paths[1].name))
    s3.delete_object(Bucket=bucket, Key=key)
    xcom = _retain(db, s3, settings, run_id="day-31").as_dict()
    report = stats.report_run(
        db, run_id="day-31", empresa="afinia", dag_id="ov_afinia", logical_date=None,
        data_interval_start=None, data_interval_end=None, database_only=False,
        summaries={"retention": {**xcom, "local_archived": 0}},  # the record wins
        task_states={"retention": "success"})
    assert (report.local_archived, report.local_held) == (3, 1)
    assert query(db, "SELECT local_archived, local_deleted, local_held FROM "
                     "data_general.post_processing_runs WHERE run_id = 'day-31'") == [(3, 0, 1)]
    assert "local copies archived 3, deleted 0, kept (not verified) 1" in (
        stats.format_run_report(report))
    [run] = stats.recent_runs(db, "afinia")
    assert (run["local_archived"], run["local_held"]) == (3, 1)
    page = render.runs_table([{key: data._json_value(v) for key, v in run.items()}])
    assert 'data-field="local_archived" data-value="3"' in page
    assert "kept, not verified 1" in page


def test_a_retried_try_adds_to_the_run_and_nothing_is_counted_twice(
        db, s3, bucket, settings, landing):
    _deliver(db, s3, settings, landing, requests=3)
    first = _retain(db, s3, settings, run_id="day-31", attempt=1, max_files=2)
    second = _retain(db, s3, settings, run_id="day-31", attempt=2)
    assert (first.local_archived, second.local_archived) == (2, 4)
    assert retention.run_counts(db, "day-31", "afinia")["local_archived"] == 6


# --------------------------------------------------------------------------- bounded


def test_a_backlog_larger_than_a_batch_goes_in_batches_and_over_runs(
        db, s3, bucket, settings, landing, monkeypatch):
    _deliver(db, s3, settings, landing, requests=6)  # 12 files
    fetched: list[int] = []
    original = retention._Step._select

    def spy(self, stage, subjects, after, limit):
        rows = original(self, stage, subjects, after, limit)
        fetched.append(len(rows))
        return rows

    monkeypatch.setattr(retention._Step, "_select", spy)
    first = _retain(db, s3, settings, batch=3, max_files=7)
    assert first.local_archived == 7 and first.local_more_due
    assert max(fetched) <= 3  # never more rows at once than a batch
    second = _retain(db, s3, settings, run_id="day-32", batch=3, max_files=7)
    assert second.local_archived == 5 and not second.local_more_due
    assert _processed(landing) == []


def test_held_files_never_starve_the_others(db, s3, bucket, settings, landing):
    """The oldest due files are kept (objects gone): a run with room for only that many
    leaves them aside for a day, and the next run reaches the files behind them."""
    _deliver(db, s3, settings, landing, requests=4)  # 8 files
    oldest = query(db, f"SELECT s3_key FROM {REGISTRY} ORDER BY uploaded_at, id LIMIT 4")
    for (key,) in oldest:
        s3.delete_object(Bucket=bucket, Key=key)
    first = _retain(db, s3, settings, batch=2, max_files=4)
    assert (first.local_held, first.local_archived) == (4, 0)
    second = _retain(db, s3, settings, run_id="day-31b", batch=2, max_files=4,
                     now=LATER + timedelta(hours=1))
    assert (second.local_held, second.local_archived) == (0, 4)
    assert len(_processed(landing)) == 4
    # Once their objects are back, a day later every kept file is looked at again, in as
    # many batches as the run's share allows.
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    third = _retain(db, s3, settings, run_id="day-32", batch=2, max_files=10,
                    now=LATER + timedelta(days=1))
    assert (third.local_held, third.local_archived) == (0, 4) and _processed(landing) == []


def test_when_s3_cannot_be_asked_nothing_is_held_and_the_step_says_so(
        db, s3, bucket, settings, landing):
    from extractorov.errors import S3PreflightError

    _deliver(db, s3, settings, landing)
    wrong = dataclasses.replace(settings, bucket="bucket-that-does-not-exist")
    db.execute(f"UPDATE {REGISTRY} SET s3_bucket = %s", (wrong.bucket,))
    db.commit()
    with pytest.raises(S3PreflightError, match="does not exist") as failed:
        _retain(db, s3, wrong)
    assert not failed.value.retryable
    assert {row[4] for row in _rows(db).values()} == {None}  # nothing held, nothing moved
    assert len(_processed(landing)) == 2
    assert retention.run_counts(db, "day-31", "afinia")["local_held"] == 0


# --------------------------------------------------------------------------- kills


KILL = """
import os, signal, sys
from datetime import datetime
from extractorov import retention, runtime
from extractorov.companies import COMPANIES
mode, when, seam = sys.argv[1], datetime.fromisoformat(sys.argv[2]), sys.argv[3]
kill = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
if seam == "after the files moved":
    retention._sync_folders = kill          # every file moved or deleted, nothing recorded
else:
    retention._move = retention._delete = kill  # the intent recorded, no file moved yet
settings = runtime.settings_from_variables()
settings = __import__("dataclasses").replace(settings, local_retention=mode)
with runtime.warehouse_connection() as conn:
    retention.run(conn, runtime.s3_client(), COMPANIES["afinia"], settings,
                  run_id="day-31", attempt=1, now=when)
"""


@pytest.mark.parametrize("mode", ["archive", "delete"])
@pytest.mark.parametrize("seam", ["after the files moved", "before any file moved"])
def test_a_kill_midway_is_settled_by_the_next_run(db, s3, bucket, settings, landing, mode,
                                                    seam):
    """A real SIGKILL of a child process running the step, between its intent and its
    outcome: the registry says what was under way (never a row pointing at a file gone
    without saying so), and the next run completes it (or gives it back and does it),
    counting each file once."""
    paths = _deliver(db, s3, settings, landing)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT)])}
    result = subprocess.run([sys.executable, "-c", KILL, mode, LATER.isoformat(), seam],
                            env=env, capture_output=True, timeout=120, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()[-2000:]
    intent = "archiving" if mode == "archive" else "deleting"
    rows = _rows(db)
    assert {rows[p.name][0] for p in paths} == {intent}  # under way, and saying so
    moved = seam == "after the files moved"
    assert _processed(landing) == ([] if moved else sorted(p.name for p in paths))
    assert retention.run_counts(db, "day-31", "afinia").get(
        "local_archived" if mode == "archive" else "local_deleted", 0) == 0

    summary = _retain(db, s3, dataclasses.replace(settings, local_retention=mode),
                      attempt=2)
    done = "archived" if mode == "archive" else "deleted"
    assert {_rows(db)[p.name][0] for p in paths} == {done}
    assert (summary.local_completed, summary.local_undone) == ((2, 0) if moved else (0, 2))
    assert _processed(landing) == []
    assert len(_archived(landing)) == (2 if mode == "archive" else 0)
    counts = retention.run_counts(db, "day-31", "afinia")
    assert counts["local_archived" if mode == "archive" else "local_deleted"] == 2
    for path in paths:
        local_path = _rows(db)[path.name][1]
        assert (local_path is None) == (mode == "delete")
        assert local_path is None or Path(local_path).is_file()


class _Killed(BaseException):
    """Stands for the process dying at a seam (nothing after it runs but ``finally``)."""


@pytest.mark.parametrize("seam", ["after the files moved", "before any file moved"])
def test_an_archive_purge_cut_midway_is_settled_by_the_next_run(
        db, s3, bucket, settings, landing, monkeypatch, seam):
    paths = _deliver(db, s3, settings, landing)
    _retain(db, s3, settings)
    [(archived_at,)] = query(db, f"SELECT DISTINCT local_removed_at FROM {REGISTRY}")

    def die(*args, **kwargs):
        raise _Killed

    with monkeypatch.context() as patched:
        patched.setattr(retention, "_sync_folders" if seam == "after the files moved"
                        else "_delete", die)
        with pytest.raises(_Killed):
            _retain(db, s3, settings, run_id="day-92", now=LATER + timedelta(days=61))
    assert {_rows(db)[p.name][0] for p in paths} == {"deleting"}
    assert len(_archived(landing)) == (0 if seam == "after the files moved" else 2)
    again = _retain(db, s3, settings, run_id="day-93", now=LATER + timedelta(days=62))
    assert again.local_archive_purged == 2 and _archived(landing) == []
    assert query(db, f"""SELECT DISTINCT local_removal, local_path, local_removed_at,
                                local_deleted_at IS NOT NULL FROM {REGISTRY}""") == [
        ("deleted", None, archived_at, True)]


# --------------------------------------------------------------------------- manifests


def test_a_loaded_manifest_goes_after_its_period_and_an_unloaded_one_never(
        db, s3, bucket, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1")
    loaded = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, loaded.manifest, run_id="day-1")
    write_request(landing, "afinia", "RE2", "R-2", ts="20251009_093221")
    unloaded = pipeline.extract(db, AFINIA, settings, "day-2")  # its load_db never ran
    folder = company_folders(landing, "afinia").manifests
    leftover = folder / "day-0-0000.rows.tmp"  # a write killed before its header
    leftover.write_text("R-0\tpersonal data\n")
    week_ago = (datetime.now(UTC) - timedelta(days=8)).timestamp()
    for path in folder.iterdir():
        os.utime(path, (week_ago, week_ago))

    young = retention.run(db, None, AFINIA, settings, run_id="day-3",
                          now=datetime.now(UTC) - timedelta(days=2))
    assert young.manifests_removed == 0
    summary = retention.run(db, None, AFINIA, settings, run_id="day-9")
    assert (summary.manifests_removed, summary.manifests_unloaded,
            summary.manifest_leftovers_removed) == (1, 1, 1)
    left = sorted(p.name for p in folder.iterdir())
    stem = Path(unloaded.manifest).stem
    assert left == sorted([f"{stem}.jsonl", f"{stem}.keys", f"{stem}.rows"])
    # Loaded later (its requests read again by another run): then it goes too.
    again = pipeline.extract(db, AFINIA, settings, "day-4")
    pipeline.load(db, AFINIA, again.manifest, run_id="day-4")
    later = retention.run(db, None, AFINIA, settings, run_id="day-10")
    assert later.manifests_removed == 1
    assert Path(again.manifest).exists()  # young


# --------------------------------------------------------------------------- quarantine


def test_reason_files_without_their_file_go_after_a_day_quarantined_files_never(
        db, settings, landing):
    folders = company_folders(landing, "afinia")
    folders.quarantine.mkdir(parents=True)
    kept = folders.quarantine / "RE1_data_20251008_093221.json"
    kept.write_text("{")
    (folders.quarantine / f"{kept.name}.reason.txt").write_text("file: x\nreason: y\n")
    orphan = folders.quarantine / "RE2_data_20251008_093221.json.reason.txt"
    orphan.write_text("file: RE2\nreason: y\n")
    fresh = folders.quarantine / "RE3_data_20251008_093221.json.reason.txt"
    fresh.write_text("file: RE3\nreason: y\n")
    temp = folders.quarantine / ".0123456789abcdef.tmp.reason.txt"
    temp.write_text("file: RE4")
    old = (datetime.now(UTC) - timedelta(days=40)).timestamp()
    for path in (kept, kept.with_name(kept.name + ".reason.txt"), orphan, temp):
        os.utime(path, (old, old))
    summary = retention.run(db, None, AFINIA, settings, run_id="day-1")
    assert summary.reasons_removed == 2 and summary.quarantine_old == 1
    assert sorted(p.name for p in folders.quarantine.iterdir()) == sorted(
        [kept.name, kept.name + ".reason.txt", fresh.name])


# --------------------------------------------------------------------------- readers


def test_a_moving_file_whose_objects_are_gone_is_uploaded_again_from_its_archived_copy(
        db, s3, bucket, settings, landing):
    """One reader of local_path: a file following its request to another folder, whose
    object is in neither folder, is sent again from its local copy, here in archive/."""
    from extractorov import registry

    paths = _deliver(db, s3, settings, landing)
    _retain(db, s3, settings)
    old = next(k for k in list_keys(s3, bucket) if k.endswith(paths[1].name))
    new = old.replace("/RE0000/", "/RE0000-B/")
    s3.delete_object(Bucket=bucket, Key=old)
    db.execute(f"UPDATE {REGISTRY} SET s3_key = %s, moving_from = %s WHERE s3_key = %s",
               (new, old, old))
    db.commit()
    [moving] = registry.moving_files(db, "afinia", bucket)
    db.commit()
    assert moving.has_local_copy is True
    summary = pipeline.upload(db, s3, AFINIA, settings, run_id="day-40")
    assert summary.s3_uploaded == 1 and summary.s3_errors == 0
    assert s3.get_object(Bucket=bucket, Key=new)["Body"].read() == _archived_bytes(
        landing, paths[1].name)


# --------------------------------------------------------------------------- the task


def _task_context(run_id: str, *, database_only: bool, try_number: int = 1) -> dict:
    from types import SimpleNamespace

    return {"run_id": run_id, "params": {"database_only": database_only},
            "ti": SimpleNamespace(try_number=try_number)}


def test_the_retention_task_reads_its_variables_and_with_database_only_touches_no_s3(
        db, s3, bucket, settings, landing, monkeypatch):
    from extractorov import tasks

    paths = _deliver(db, s3, settings, landing)
    db.execute(f"UPDATE {REGISTRY} SET uploaded_at = uploaded_at - interval '41 days'")
    db.commit()
    monkeypatch.setenv("AIRFLOW_VAR_OV_LOCAL_RETENTION_DAYS", "40")

    def no_s3(*args, **kwargs):
        raise AssertionError("database_only: no S3 client may be made")

    with monkeypatch.context() as patched:
        patched.setattr(tasks, "s3_client", no_s3)
        skipped = tasks.retention(AFINIA, _task_context("manual-1", database_only=True))
    assert skipped["s3_skipped"] and skipped["local_archived"] == 0
    assert len(_processed(landing)) == 2
    monkeypatch.setenv("AIRFLOW_VAR_OV_LOCAL_RETENTION", "delete")
    done = tasks.retention(AFINIA, _task_context("manual-2", database_only=False))
    assert done["local_deleted"] == 2 and done["mode"] == "delete"
    assert _processed(landing) == [] and {_rows(db)[p.name][0] for p in paths} == {"deleted"}


def test_retention_waits_while_another_step_writes_the_company(
        db, s3, bucket, settings, landing):
    """One writer per company: retention moves files and writes registry rows, so it
    holds the company's writer exclusion; while another step holds it, it changes
    nothing and says who it waits for."""
    from extractorov import locks
    from extractorov.errors import CompanyBusy

    _deliver(db, s3, settings, landing)
    with runtime_connection() as holder:
        locks.acquire(holder, AFINIA, "upload_s3 of backfill__2025-10-03")
        with pytest.raises(CompanyBusy, match="being written by upload_s3 of backfill"):
            _retain(db, s3, settings, wait_seconds=0)
        locks.release(holder, AFINIA)
    assert len(_processed(landing)) == 2
    assert _retain(db, s3, settings).local_archived == 2


def runtime_connection():
    from extractorov import runtime

    return runtime.warehouse_connection()
