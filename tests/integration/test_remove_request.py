"""One request, found or removed everywhere: the plain functions on the real services
(PostgreSQL, moto S3 over HTTP with versioning on), the approval given by calling
:func:`extractorov.removal.record_decision` (what the approval task does once Airflow
hands it the answer); tests/e2e/test_remove_request_dag.py answers through the REST API.

The world (tests/removal_world.py): request R-1 in its table row, registry, three S3 keys
with five versions and a delete marker, processed/, quarantine/, the archive, a loaded
manifest and one still to be loaded, a loaded mark, findings and a first sighting; R-2
shares its SGC folder, R-3 is elsewhere, and an object put by hand in the folder is
nobody's known.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from extractorov import locks, pipeline, reconcile, registry, removal, runtime
from extractorov.errors import CompanyBusy
from extractorov.landing import company_folders
from tests import removal_world as w
from tests.helpers import query, write_request
from tests.integration.test_one_writer_per_company import Gate, Runner, pause_after

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WHEN = datetime(2025, 10, 20, 15, 0, tzinfo=UTC)
REASON = "captured by mistake"


def approve(db, s3, settings, run_id: str = "rm-1", *, approved: bool = True,
            by: str | None = "reviewer") -> int:
    """What the approval task records once the form is answered (the form showed
    :func:`removal.find`)."""
    shown = removal.find(db, s3, w.AFINIA, settings, w.RADICADO).as_dict()
    db.rollback()
    return removal.record_decision(db, "afinia", w.RADICADO, run_id=run_id, approved=approved,
                                   decided_by=by, decided_at=WHEN, reason=REASON, shown=shown,
                                   requested_by="operator")


def remove(db, s3, settings, run_id: str = "rm-1", **kwargs) -> removal.Outcome:
    return removal.remove(db, s3, w.AFINIA, settings, w.RADICADO, run_id=run_id, **kwargs)


def audit(db) -> list[tuple]:
    return query(db, "SELECT id, status, decided_by, reason, requested_by, runs, attempts, "
                     "completed_at IS NOT NULL FROM data_general.request_removals ORDER BY id")


def test_listing_names_every_place_of_the_request_as_counts_and_keys_and_changes_nothing(
        db, s3, bucket, settings, landing):
    world = w.build(db, s3, bucket, settings, landing)
    before = w.everything(db, s3, bucket, landing)

    listing = removal.find(db, s3, w.AFINIA, settings, w.RADICADO)
    db.rollback()
    found = listing.as_dict()

    assert removal.counts_of(found) == {
        "table_rows": 1, "registry_rows": 5, "s3_keys": 3, "s3_versions": 5,
        "s3_delete_markers": 1, "processed_files": 5, "quarantine_files": 1,
        "archive_files": 1, "manifests_rewritten": 1, "manifests_deleted": 1,
        "manifest_rows": 2, "loaded_marks": 1, "findings": 2, "first_seen": 1,
        "not_tied_kept": 3, "runs_kept": 3, "possibly_kept": 0}
    assert {v["key"] for v in found["s3"]} == set(world.a_keys.values())
    # The SGC folder holds R-2 too, and an object nobody filed: listed as kept, not its own.
    assert set(found["not_tied"]) == world.b_keys | {world.unrelated_key}
    assert sorted(found["local"]) == sorted(
        [f"processed/{p.name}" for p in world.a_day1 + world.a_day2]
        + [f"quarantine/{world.quarantined}", f"archive/2025-10/{world.archived_a.name}"])
    manifests = {m["file"].rsplit("/", 1)[-1].rsplit("-", 1)[0]:
                 (m["rows"], m["of"], m["action"]) for m in found["manifests"]}
    assert manifests == {"day-1": (1, 3, "delete"), "day-2": (1, 2, "rewrite")}
    assert found["loaded_marks"] == [world.a_day1[0].name]
    assert set(found["runs"]) == {"day-1", "day-2", "check-1"}
    assert found["folders"] == ["RE1", "sin_sgc/R-1"]
    # Counts and keys only: no field value in what a form, a log or XCom shows.
    text = json.dumps(found, ensure_ascii=False) + "\n".join(removal.describe(found))
    assert not [p for p in w.PERSONAL if p in text]
    assert w.everything(db, s3, bucket, landing) == before


def test_an_approved_removal_removes_every_copy_and_records_who_when_why_and_what(
        db, s3, bucket, settings, landing):
    world = w.build(db, s3, bucket, settings, landing)
    removal_id = approve(db, s3, settings)
    assert audit(db) == [(removal_id, "approved", "reviewer", REASON, "operator", ["rm-1"], 0,
                          False)]

    outcome = remove(db, s3, settings)

    assert (outcome.status, outcome.attempts, outcome.already) == ("completed", 1, False)
    assert outcome.removed == {
        "table_rows": 1, "registry_rows": 5, "s3_keys": 3, "s3_versions": 5,
        "s3_delete_markers": 1, "processed_files": 5, "quarantine_files": 1,
        "archive_files": 1, "manifests_rewritten": 1, "manifests_deleted": 1,
        "manifest_rows": 2, "loaded_marks": 1, "findings": 2, "first_seen": 1}
    assert outcome.kept == {"not_tied": 3, "runs": 3}
    w.assert_removed(db, s3, bucket, settings, landing, world)
    [(rid, status, by, reason, requested, runs, attempts, done)] = audit(db)
    assert (rid, status, by, reason, requested, runs, attempts, done) == (
        removal_id, "completed", "reviewer", REASON, "operator", ["rm-1"], 1, True)
    [(shown, removed, kept, decided_at)] = query(
        db, "SELECT shown, removed, kept, decided_at FROM data_general.request_removals")
    assert removal.counts_of(shown)["s3_versions"] == 5 and decided_at == WHEN
    assert {v["key"] for v in removed["s3"]} == set(world.a_keys.values())
    assert set(kept["not_tied"]) == world.b_keys | {world.unrelated_key}
    assert not [p for p in w.PERSONAL if p in json.dumps([shown, removed, kept],
                                                         ensure_ascii=False)]

    # The loaded day-1 manifest is gone whole; day 2's, still to be loaded, kept R-2's row:
    # its load_db now updates R-2 and cannot bring R-1 back.
    assert not Path(world.day1_manifest).exists()
    assert not list(Path(world.day1_manifest).parent.glob("day-1-*"))
    keys = pipeline.manifest_keys(db, w.AFINIA, world.day2_manifest)
    assert keys.radicados == ["R-2"]
    loaded = pipeline.load(db, w.AFINIA, world.day2_manifest, run_id="day-2")
    assert (loaded.records, loaded.db_updated) == (1, 1)
    assert query(db, "SELECT numero_radicado, estado_solicitud FROM data_general.ov_afinia "
                     "ORDER BY 1") == [("R-2", "En trámite"), ("R-3", "Finalizado")]

    # A rerun of the same run (a cleared task) finds it done and does nothing.
    again = remove(db, s3, settings)
    assert (again.status, again.already, again.removal_id) == ("completed", True, removal_id)


def test_a_rejected_removal_removes_nothing(db, s3, bucket, settings, landing):
    w.build(db, s3, bucket, settings, landing)
    before = w.everything(db, s3, bucket, landing)

    approve(db, s3, settings, approved=False)
    with pytest.raises(removal.NotApproved, match="no approved removal"):
        remove(db, s3, settings)

    assert w.everything(db, s3, bucket, landing) == before
    assert [row[1:4] for row in audit(db)] == [("rejected", "reviewer", REASON)]
    # Nobody answered in time: rejected too, nobody named.
    approve(db, s3, settings, run_id="rm-2", approved=False, by=None)
    assert [row[1:3] for row in audit(db)] == [("rejected", "reviewer"), ("rejected", None)]
    assert query(db, "SELECT count(*) FROM data_general.removed_files") == [(0,)]


KILL_AFTER_DELETES = """
import os, signal
from extractorov import removal, runtime
from extractorov.companies import COMPANIES
client = runtime.s3_client()
deleted = {"n": 0}
def kill_after(**_):
    deleted["n"] += 1
    if deleted["n"] == 2:  # two versions deleted; the audit row is not completed
        os.kill(os.getpid(), signal.SIGKILL)
client.meta.events.register("after-call.s3.DeleteObject", kill_after)
with runtime.warehouse_connection() as conn:
    removal.remove(conn, client, COMPANIES["afinia"], runtime.settings_from_variables(),
                   "R-1", run_id="rm-1")
"""


def test_a_rerun_after_a_kill_midway_finishes_the_removal_in_one_audit_row(
        db, s3, bucket, settings, landing):
    world = w.build(db, s3, bucket, settings, landing)
    removal_id = approve(db, s3, settings)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT)])}
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_DELETES], env=env,
                            capture_output=True, timeout=180, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-3000:]

    # Killed among the S3 deletions: rows and files are gone, versions are left.
    assert audit(db)[0][1] == "removing"
    left = [k for k, _ in w.versions(s3, bucket) if k in world.a_keys.values()]
    assert 0 < len(left) < 6
    assert query(db, "SELECT count(*) FROM data_general.ov_afinia WHERE numero_radicado = "
                     "'R-1'") == [(0,)]
    # Runs meanwhile (the exclusion died with the process) bring nothing back: a copy of a
    # file put back in processed/ is not filed, the objects left are not registered.
    shutil.copy2(world.archived_b, company_folders(landing, "afinia").processed
                 / world.a_day1[0].name)
    extracted = pipeline.extract(db, w.AFINIA, settings, "day-3")
    assert extracted.files_new == 0
    pipeline.load(db, w.AFINIA, extracted.manifest, run_id="day-3")
    report = reconcile.reconcile(db, s3, w.AFINIA, settings, run_id="check-2")
    assert not [f for f in report.findings if f.s3_key in world.a_keys.values()]
    assert query(db, "SELECT count(*) FROM data_general.s3_files_registry WHERE s3_key = "
                     "ANY(%s)", list(world.a_keys.values())) == [(0,)]

    outcome = remove(db, s3, settings)  # the task's retry

    assert (outcome.removal_id, outcome.status, outcome.attempts) == (removal_id, "completed", 2)
    w.assert_removed(db, s3, bucket, settings, landing, world)
    [(_, status, by, _, _, runs, attempts, done)] = audit(db)
    assert (status, by, runs, attempts, done) == ("completed", "reviewer", ["rm-1"], 2, True)
    # What the killed attempt planned is recorded as removed, the versions it deleted too.
    [(removed,)] = query(db, "SELECT removed FROM data_general.request_removals")
    assert removal.counts_of(removed)["s3_versions"] == 5


def test_a_request_without_sgc_goes_with_its_whole_folder_and_no_neighbour(
        db, s3, bucket, settings, landing):
    w.enable_versioning(s3, bucket)
    from tests.landing_files import run_all, write_json, write_pdf
    write_pdf(landing, "PQR_3_ERROR", 0, "nine")
    write_json(landing, "PQR_3_ERROR", "R-9", 5)
    write_pdf(landing, "PQR_4_ERROR", 100, "ninety")
    write_json(landing, "PQR_4_ERROR", "R-90", 105)
    run_all(db, s3, settings, "day-1")
    own, neighbour = f"{w.PREFIX}sin_sgc/R-9/", f"{w.PREFIX}sin_sgc/R-90/"
    s3.put_object(Bucket=bucket, Key=f"{own}loose-note.txt", Body=b"put by hand")
    before_neighbour = w.versions(s3, bucket, neighbour)
    assert len(w.versions(s3, bucket, own)) == 3 and len(before_neighbour) == 2

    shown = removal.find(db, s3, w.AFINIA, settings, "R-9").as_dict()
    db.rollback()
    assert removal.counts_of(shown)["s3_keys"] == 3 and shown["not_tied"] == []
    removal.record_decision(db, "afinia", "R-9", run_id="rm-9", approved=True,
                            decided_by="reviewer", decided_at=WHEN, reason=REASON,
                            shown=shown)
    outcome = removal.remove(db, s3, w.AFINIA, settings, "R-9", run_id="rm-9")

    assert outcome.removed["s3_keys"] == 3 and outcome.removed["registry_rows"] == 2
    assert w.versions(s3, bucket, own) == []
    assert w.versions(s3, bucket, neighbour) == before_neighbour
    assert query(db, "SELECT numero_radicado FROM data_general.ov_afinia") == [("R-90",)]


def test_nothing_comes_back_from_a_copy_left_behind_but_a_new_scrape_is_filed(
        db, s3, bucket, settings, landing):
    world = w.build(db, s3, bucket, settings, landing)
    approve(db, s3, settings)
    remove(db, s3, settings)
    processed = company_folders(landing, "afinia").processed
    # A backup put back: the request's JSON in processed/, its object at its old key.
    (processed / world.a_day1[0].name).write_bytes(world.archived_b.read_bytes())
    s3.put_object(Bucket=bucket, Key=world.a_keys["json"], Body=b"{}")

    extracted = pipeline.extract(db, w.AFINIA, settings, "day-4")
    pipeline.load(db, w.AFINIA, extracted.manifest, run_id="day-4")
    reconcile.reconcile(db, s3, w.AFINIA, settings, run_id="check-4")

    assert (processed / world.a_day1[0].name).exists()  # not filed, not deleted by a run
    assert query(db, "SELECT count(*) FROM data_general.s3_files_registry WHERE filename = %s "
                     "OR s3_key = %s", world.a_day1[0].name, world.a_keys["json"]) == [(0,)]
    assert ("R-1",) not in query(db, "SELECT numero_radicado FROM data_general.ov_afinia")
    # A second removal of the same request finds both copies (by the names and keys the
    # first one recorded) and removes them.
    found = removal.find(db, s3, w.AFINIA, settings, w.RADICADO)
    db.rollback()
    assert [f.shown for f in found.local] == [f"processed/{world.a_day1[0].name}"]
    assert {v.key for v in found.versions} == {world.a_keys["json"]}

    # The bot scrapes the request again (the portal still shows it): new names, filed.
    write_request(landing, "afinia", "RE1", w.RADICADO, "20251021_080000")
    extracted = pipeline.extract(db, w.AFINIA, settings, "day-5")
    pipeline.load(db, w.AFINIA, extracted.manifest, run_id="day-5")
    assert ("R-1",) in query(db, "SELECT numero_radicado FROM data_general.ov_afinia")


class Crash(BaseException):
    """The removal process dies here (its session, and its exclusion, with it)."""


def test_a_run_cannot_refile_a_file_the_removal_is_deleting(
        db, s3, bucket, settings, landing, monkeypatch):
    """The removal has removed the rows and not yet the files: a run meanwhile waits (the
    exclusion); and if the removal dies right there, the run files none of the request's
    files left in processed/ and registers none of its objects. A later approved run of
    the same request finishes the same removal."""
    world = w.build(db, s3, bucket, settings, landing)
    removal_id = approve(db, s3, settings)
    reached, go = threading.Event(), threading.Event()
    original = removal._delete_rows

    def rows_then_stop(*args, **kwargs):
        original(*args, **kwargs)
        if threading.current_thread().name == "removal":
            reached.set()
            assert go.wait(60)
            raise Crash

    monkeypatch.setattr(removal, "_delete_rows", rows_then_stop)

    def run_removal():
        with runtime.warehouse_connection() as conn:
            return remove(conn, s3, settings)

    remover = Runner("removal", run_removal)
    assert reached.wait(60)
    with pytest.raises(CompanyBusy, match=r"afinia is being written by removal of request R-1 "
                                          r"\(rm-1\)"):
        pipeline.extract(db, w.AFINIA, settings, "day-3", wait_seconds=0)
    go.set()
    remover.join()
    assert isinstance(remover.error, Crash)

    processed = company_folders(landing, "afinia").processed
    assert (processed / world.a_day1[0].name).exists()  # not removed yet
    extracted = pipeline.extract(db, w.AFINIA, settings, "day-3")
    assert extracted.files_new == 0
    pipeline.load(db, w.AFINIA, extracted.manifest, run_id="day-3")
    pipeline.upload(db, s3, w.AFINIA, settings, run_id="day-3")
    reconcile.reconcile(db, s3, w.AFINIA, settings, run_id="check-3")
    names = [p.name for p in world.a_day1 + world.a_day2]
    assert registry.registered_names(db, "afinia", bucket, names) == set()
    assert ("R-1",) not in query(db, "SELECT numero_radicado FROM data_general.ov_afinia")

    # The next approved run of the request takes the removal cut short and finishes it.
    assert approve(db, s3, settings, run_id="rm-2") == removal_id
    outcome = remove(db, s3, settings, run_id="rm-2")
    assert (outcome.removal_id, outcome.status, outcome.attempts) == (removal_id, "completed", 2)
    w.assert_removed(db, s3, bucket, settings, landing, world)
    assert [row[1:3] + row[5:7] for row in audit(db)] == [
        ("completed", "reviewer", ["rm-1", "rm-2"], 2)]


def test_the_removal_waits_for_a_run_filing_the_request_and_removes_what_it_filed(
        db, s3, bucket, settings, landing, monkeypatch):
    """A run's extract is filing a re-scrape of the request when the removal is approved:
    the removal waits for the company's exclusion, then removes the request with what the
    run filed, and the run's load_db (its manifest rewritten) cannot insert it again."""
    world = w.build(db, s3, bucket, settings, landing)
    rescrape = write_request(landing, "afinia", "RE1", w.RADICADO, "20251010_090000")
    gate = Gate()
    pause_after(monkeypatch, gate, registry, "register_pending", "registered", {"run-3"})
    waiting = threading.Event()
    try_acquire = locks.try_acquire

    def noted(conn, company, holder):
        got = try_acquire(conn, company, holder)
        if not got and threading.current_thread().name == "removal":
            waiting.set()
        return got

    monkeypatch.setattr(locks, "try_acquire", noted)

    def run_extract():
        with runtime.warehouse_connection() as conn:
            return pipeline.extract(conn, w.AFINIA, settings, "run-3")

    def run_removal():
        with runtime.warehouse_connection() as conn:
            return remove(conn, s3, settings, wait_seconds=60)

    extract = Runner("run-3", run_extract)
    assert gate.wait_until("run-3", "registered")
    removal_id = approve(db, s3, settings)
    remover = Runner("removal", run_removal)
    assert waiting.wait(30)  # it asked for the exclusion and waits
    assert audit(db)[0][1] == "approved"  # nothing started
    assert ("R-1",) in query(db, "SELECT numero_radicado FROM data_general.ov_afinia")
    gate.release("run-3", "registered")
    extract.join()
    remover.join()
    assert extract.error is None and remover.error is None, (extract.error, remover.error)

    assert remover.result.status == "completed" and remover.result.removal_id == removal_id
    assert registry.registered_names(db, "afinia", bucket, [p.name for p in rescrape]) == set()
    assert not [p for p in rescrape if p.exists()]
    loaded = pipeline.load(db, w.AFINIA, extract.result.manifest, run_id="run-3")
    assert loaded.records == 1  # R-2's re-scrape of day 2 (read again: its load had not run)
    w.assert_removed(db, s3, bucket, settings, landing, world)


def test_a_manifest_rewrite_cut_short_leaves_the_old_manifest_whole(
        db, s3, bucket, settings, landing, monkeypatch):
    world = w.build(db, s3, bucket, settings, landing)
    approve(db, s3, settings)
    header = Path(world.day2_manifest)
    replace = os.replace

    def no_space_for_the_header(source, target):
        if Path(target) == header:
            raise OSError(28, "No space left on device")
        return replace(source, target)

    monkeypatch.setattr(removal.os, "replace", no_space_for_the_header)
    with pytest.raises(removal.RemovalError, match="free space, then clear the task"):
        remove(db, s3, settings)
    monkeypatch.undo()

    # The old manifest is whole (both requests' rows, as its header says).
    assert sorted(pipeline.manifest_keys(db, w.AFINIA, world.day2_manifest).radicados) == [
        "R-1", "R-2"]
    outcome = remove(db, s3, settings)  # the rerun
    assert (outcome.status, outcome.attempts) == ("completed", 2)
    assert pipeline.manifest_keys(db, w.AFINIA, world.day2_manifest).radicados == ["R-2"]
    w.assert_removed(db, s3, bucket, settings, landing, world)
    # Nothing of R-1 is left in any file of manifests/ (the new files replaced the old).
    for path in header.parent.iterdir():
        assert b"R-1\t" not in path.read_bytes(), path.name


def test_a_removal_cut_short_after_its_last_deletion_is_completed_by_the_next_approval(
        db, s3, bucket, settings, landing, monkeypatch):
    """Everything was removed but the audit row was not marked completed (killed right
    there): nothing is left to list, and the next approved run completes the same row."""
    world = w.build(db, s3, bucket, settings, landing)
    removal_id = approve(db, s3, settings)

    def killed(*args, **kwargs):
        raise Crash

    monkeypatch.setattr(removal, "_complete", killed)
    with pytest.raises(Crash):
        remove(db, s3, settings)
    monkeypatch.undo()

    found = removal.find(db, s3, w.AFINIA, settings, w.RADICADO)
    cut_short = removal.unfinished(db, "afinia", w.RADICADO)
    db.rollback()
    assert not found.removable and cut_short.id == removal_id
    assert approve(db, s3, settings, run_id="rm-2") == removal_id
    outcome = remove(db, s3, settings, run_id="rm-2")
    assert (outcome.status, outcome.attempts, outcome.removed["s3_versions"]) == (
        "completed", 2, 5)
    w.assert_removed(db, s3, bucket, settings, landing, world)
