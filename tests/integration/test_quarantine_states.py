"""Quarantine and scans in states left by crashes, full disks and older versions, through
``pipeline.extract`` and ``reconcile`` on the real services.

A quarantined request JSON is a mark in the bot's write order (``pairing``): if it drops
out of view, a placeholder PDF written before it is paired with the next request's JSON,
another customer's folder. These tests check that it never drops out of view.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import time

import pytest

from extractorov import pipeline, reconcile, registry, stats, warehouse
from extractorov.landing import company_folders, read_quarantine
from tests.diskfull import fill_the_disk_for_reason_files
from tests.helpers import query, seen_hours_ago, write_request
from tests.landing_files import (
    AFINIA,
    OLD,
    PERSON,
    mixed_landing,
    prefix,
    record,
    registry_keys,
    run_all,
    stamp,
    state,
    write,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration

SIN_SGC = "oficina-virtual/afinia/raw_data/sin_sgc/"


def two_requests_sharing_a_placeholder(landing) -> dict[str, str]:
    """Request A: its PDF, then an invalid JSON (blank numero_radicado). Request B, five
    minutes later: its attachment, then a valid JSON. Same placeholder ``PQR_4_ERROR``."""
    names = {"pdf_a": write_pdf(landing, "PQR_4_ERROR", 0, "A"),
             "json_a": write_json(landing, "PQR_4_ERROR", "", 5),
             "adjunto_b": write_adjunto(landing, "PQR_4_ERROR", 300, "B"),
             "json_b": write_json(landing, "PQR_4_ERROR", "R-B", 310)}
    return names


def where(db, landing, name: str) -> str:
    keys = registry_keys(db)
    folders = company_folders(landing, "afinia")
    if name in keys:
        return keys[name]
    if (folders.processed / name).exists():
        return "processed"
    listed = {q.original_name: q for q in read_quarantine(folders)}
    return f"quarantine: {listed[name].reason}" if name in listed else "nowhere"


@pytest.mark.parametrize("lost", ["empty", "missing"])
def test_a_placeholder_pdf_never_follows_the_next_request_when_its_json_reason_is_lost(
        db, s3, bucket, settings, landing, lost):
    names = two_requests_sharing_a_placeholder(landing)
    folders = company_folders(landing, "afinia")
    # A's JSON was quarantined by a run that could not write its reason (an older version
    # on a full disk, or stopped between its two steps): 0-byte or no reason file.
    folders.quarantine.mkdir(parents=True)
    os.replace(folders.processed / names["json_a"], folders.quarantine / names["json_a"])
    if lost == "empty":
        (folders.quarantine / f"{names['json_a']}.reason.txt").write_bytes(b"")

    extracted, _, uploaded = run_all(db, s3, settings, "run-1")
    assert uploaded.s3_errors == 0
    assert where(db, landing, names["adjunto_b"]) == f"{SIN_SGC}R-B/{names['adjunto_b']}"
    assert where(db, landing, names["json_b"]) == f"{SIN_SGC}R-B/{names['json_b']}"
    # A's PDF follows A's JSON into quarantine: never into B's folder.
    assert where(db, landing, names["pdf_a"]).startswith(
        "quarantine: request JSON quarantined, no real SGC")
    assert where(db, landing, names["json_a"]) == "quarantine: reason lost"
    assert extracted.files_reason_lost == 1


def test_extract_survives_a_full_disk_while_quarantining(db, s3, bucket, settings, landing,
                                                         monkeypatch):
    names = two_requests_sharing_a_placeholder(landing)
    other = {"pdf": write_pdf(landing, "RE77", 600, "C"),
             "json": write_json(landing, "RE77", "R-C", 605)}
    folders = company_folders(landing, "afinia")
    fill_the_disk_for_reason_files(monkeypatch)
    failure = None
    try:
        pipeline.extract(db, AFINIA, settings, "run-1")
    except Exception as exc:  # what it raises is checked below
        failure = exc
    # A's JSON could not be quarantined: it stays in processed/, and so does its PDF (it
    # would follow the JSON); nothing is half-quarantined.
    assert (folders.processed / names["json_a"]).exists()
    assert (folders.processed / names["pdf_a"]).exists()
    assert not folders.quarantine.exists() or os.listdir(folders.quarantine) == []
    # The rest of the batch was filed; then the task fails with a message to act on.
    assert type(failure).__name__ == "QuarantineIncomplete"
    message = str(failure)
    assert "disk full" in message and "free space on the landing volume" in message
    assert f"{names['json_a']} could not be quarantined" in message
    assert "stays in processed/ and is tried again by the next run" in message
    assert failure.summary.files_quarantine_failed == 2
    assert failure.summary.quarantine_reasons == {}
    keys = registry_keys(db)
    assert keys[names["adjunto_b"]] == f"{SIN_SGC}R-B/{names['adjunto_b']}"
    assert keys[other["pdf"]] == f"oficina-virtual/afinia/raw_data/RE77/{other['pdf']}"
    assert names["pdf_a"] not in keys
    assert not any(value in message for value in PERSON.values())  # no personal data

    # With room again, the next run quarantines both, each with its reason.
    monkeypatch.undo()
    extracted, loaded, uploaded = run_all(db, s3, settings, "run-2")
    assert (extracted.files_quarantine_failed, uploaded.s3_errors) == (0, 0)
    assert loaded.db_inserted == 2
    assert where(db, landing, names["json_a"]).startswith("quarantine: invalid request JSON")
    assert where(db, landing, names["pdf_a"]).startswith(
        "quarantine: request JSON quarantined, no real SGC")
    assert where(db, landing, names["adjunto_b"]) == f"{SIN_SGC}R-B/{names['adjunto_b']}"


def test_readmit_quarantine_readmits_a_file_whose_reason_is_lost(db, s3, bucket, settings,
                                                                   landing):
    folders = company_folders(landing, "afinia")
    name = write_json(landing, "RE55", "R-55", 0)
    folders.quarantine.mkdir(parents=True)
    os.replace(folders.processed / name, folders.quarantine / f"{name}.1")  # reason missing
    extracted = pipeline.extract(db, AFINIA, settings, "run-1", readmit_quarantine=True)
    assert extracted.files_readmitted == 1
    assert registry_keys(db)[name] == f"oficina-virtual/afinia/raw_data/RE55/{name}"
    assert os.listdir(folders.quarantine) == []


def test_reconcile_reports_a_quarantined_file_whose_reason_is_lost(db, s3, bucket, settings,
                                                                     landing):
    folders = company_folders(landing, "afinia")
    folders.quarantine.mkdir(parents=True)
    name = f"PQR_4_ERROR_data_{stamp(5)}.json"
    (folders.quarantine / name).write_text(json.dumps(record("PQR_4_ERROR", "", stamp(5))))
    (folders.quarantine / f"{name}.reason.txt").write_bytes(b"")
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1")
    [finding] = [f for f in report.findings if f.kind == "quarantine_reason_lost"]
    assert finding.file_name == name and finding.subject == name
    assert not finding.needs_human
    assert "readmit_quarantine" in finding.detail
    assert report.awaiting_answer == []
    # Still reported by the next check while it is so (the same question, not a new one).
    again = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-2")
    assert [f.question for f in again.findings if f.kind == "quarantine_reason_lost"] == [
        finding.question]


def test_the_detail_writer_with_a_blank_sgc_is_loaded_and_its_pdf_filed(db, s3, bucket,
                                                                          settings, landing):
    """``pqr_detail_extractor`` writes the JSON first, then the PDF, named with the SGC it
    read, blank here: ``pqr_data__{ts}.json``, ``_PQR_{n}_{ts}.pdf``; 2 s between requests."""
    files = {}
    for n, (radicado, start) in enumerate((("R-D1", 0), ("R-D2", 30)), start=1):
        data = record("", radicado, stamp(start), record_number=n, numero_reclamo_sgc="")
        data.pop("sgc_number")
        files[radicado] = (f"pqr_data__{stamp(start)}.json", f"_PQR_{n}_{stamp(start + 4)}.pdf")
        write(landing, files[radicado][0], json.dumps(data, ensure_ascii=False))
        write(landing, files[radicado][1], f"%PDF-1.4 {radicado}")
    extracted, loaded, uploaded = run_all(db, s3, settings, "run-1")
    assert (extracted.files_quarantined, extracted.files_waiting) == (0, 0)
    assert (loaded.db_inserted, uploaded.s3_errors) == (2, 0)
    keys = registry_keys(db)
    for radicado, names in files.items():
        for name in names:
            assert keys[name] == f"{SIN_SGC}{radicado}/{name}"


def test_a_detail_writer_pdf_follows_its_invalid_json_into_quarantine(db, s3, bucket,
                                                                      settings, landing):
    json_name, pdf_name = f"pqr_data__{stamp(0)}.json", f"_PQR_1_{stamp(4)}.pdf"
    write(landing, json_name, json.dumps(record("", "", stamp(0), numero_reclamo_sgc="")))
    write(landing, pdf_name, "%PDF-1.4 D5")
    extracted, _, _ = run_all(db, s3, settings, "run-1")
    assert extracted.files_quarantined == 2
    assert where(db, landing, json_name).startswith("quarantine: invalid request JSON")
    reason = where(db, landing, pdf_name)
    assert reason.startswith("quarantine: request JSON quarantined, no real SGC")
    assert "SGC in the file names (blank) is the bot's placeholder" in reason


def test_a_detail_writer_pdf_without_its_json_waits(db, s3, bucket, settings, landing):
    json_name = f"pqr_data__{stamp(0)}.json"
    data = record("", "R-D3", stamp(0), numero_reclamo_sgc="")
    write(landing, json_name, json.dumps(data, ensure_ascii=False))
    write(landing, f"_PQR_1_{stamp(4)}.pdf", "%PDF-1.4 D3")
    # The next request's PDF, whose JSON is lost: never guessed into R-D3's folder.
    write(landing, f"_PQR_2_{stamp(40)}.pdf", "%PDF-1.4 D4")
    extracted, _, _ = run_all(db, s3, settings, "run-1")
    keys = registry_keys(db)
    assert f"_PQR_2_{stamp(40)}.pdf" not in keys
    assert f"_PQR_1_{stamp(4)}.pdf" not in keys
    assert extracted.files_waiting == 2


def test_reconcile_waiting_scan_survives_a_file_vanishing(db, s3, bucket, settings, landing,
                                                          monkeypatch):
    lonely = write_pdf(landing, "RE1234", 0, "lonely")
    gone = write_pdf(landing, "RE1235", 0, "gone")
    folders = company_folders(landing, "afinia")
    hours_ago = time.time() - 80 * 3600
    for name in (lonely, gone):
        os.utime(folders.processed / name, (hours_ago, hours_ago))
    seen_hours_ago(db, landing, "afinia", lonely, gone, hours=80)
    real = os.scandir

    class Entry:
        def __init__(self, entry):
            self._entry, self.name, self.path = entry, entry.name, entry.path

        def stat(self, *, follow_symlinks=True):
            if self.name == gone:  # moved away by a human between readdir and stat
                (folders.processed / gone).unlink(missing_ok=True)
            return self._entry.stat(follow_symlinks=follow_symlinks)

        def __getattr__(self, attr):
            return getattr(self._entry, attr)

    class Listing:
        def __init__(self, path):
            self._it = real(path)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._it.close()

        def __iter__(self):
            return (Entry(e) for e in self._it)

    monkeypatch.setattr(os, "scandir", lambda path=".": Listing(path)
                        if os.fspath(path) == os.fspath(folders.processed) else real(path))
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1", upload=False)
    assert [f.file_name for f in report.findings if f.kind == "document_waiting"] == [lonely]


def test_the_run_report_records_what_could_not_be_quarantined_and_reasons_lost(db):
    warehouse.ensure_schema(db)
    db.commit()
    report = stats.build_run_report(
        run_id="run-1", empresa="afinia", dag_id="ov_afinia", logical_date=None,
        data_interval_start=None, data_interval_end=None, database_only=False,
        extract={"files_quarantined": 1, "files_quarantine_failed": 2, "files_reason_lost": 3},
        load=None, upload=None, task_states={"extract": "failed"})
    stats.record_run(db, report)
    [run] = stats.recent_runs(db, "afinia")
    assert (run["files_quarantined"], run["files_quarantine_failed"],
            run["files_reason_lost"], run["status"]) == (1, 2, 3, "failed")


def _landing_volume_full(monkeypatch, landing: pathlib.Path) -> None:
    """Every write of file data on the landing volume fails as on a full disk (ENOSPC):
    reason files (os.fdopen) and any other file opened for writing there (Path.open)."""
    root = str(landing)
    real_fdopen, real_open = os.fdopen, pathlib.Path.open

    class NoSpace:
        def __init__(self, handle):
            self._handle = handle

        def write(self, _data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._handle.close()

        def __getattr__(self, name):
            return getattr(self._handle, name)

    def fdopen(fd, mode="r", *args, **kwargs):
        handle = real_fdopen(fd, mode, *args, **kwargs)
        if "w" in mode and os.readlink(f"/proc/self/fd/{fd}").startswith(root):
            return NoSpace(handle)
        return handle

    def path_open(self, mode="r", *args, **kwargs):
        handle = real_open(self, mode, *args, **kwargs)
        if ("w" in mode or "a" in mode) and str(self).startswith(root):
            return NoSpace(handle)
        return handle

    monkeypatch.setattr(os, "fdopen", fdopen)
    monkeypatch.setattr(pathlib.Path, "open", path_open)


def test_on_a_full_landing_volume_extract_files_the_rest_of_the_batch_and_says_disk_full(
        db, settings, landing, monkeypatch):
    """README: a file that cannot be quarantined (the landing volume is full) stays in
    processed/; the run logs 'disk full: …', counts it, files the rest of the batch, then
    fails extract (QuarantineIncomplete, not retried) so that someone frees space."""
    bad = write(landing, "not-the-bots-file.bin", b"x")
    pdf = write_pdf(landing, "RE77", 600, "C")
    write_json(landing, "RE77", "R-C", 605)
    _landing_volume_full(monkeypatch, landing)

    failure = None
    try:
        pipeline.extract(db, AFINIA, settings, "run-1")
    except Exception as exc:
        failure = exc
    monkeypatch.undo()

    assert bad.exists()  # held: the file stays in processed/, whole
    leftovers = sorted(p.name for p in company_folders(landing, "afinia").manifests.iterdir()
                       ) if company_folders(landing, "afinia").manifests.exists() else []
    assert type(failure).__name__ == "QuarantineIncomplete" and pdf in registry_keys(db), (
        f"extract raised {type(failure).__name__}: {failure} (retried as a transient error); "
        f"the rest of the batch was not filed (registry: {sorted(registry_keys(db))}); "
        f"left on the landing volume: {leftovers}")
    assert leftovers == []  # no half-written manifest
    head, details = str(failure).split("\n", 1)
    assert head == ("1 file could not be quarantined and the run manifest could not be "
                    "written: free space on the landing volume, then clear this task")
    assert details.startswith("disk full: the run manifest could not be written")
    # Space is back: the next run files the bad file and loads the request.
    again = pipeline.extract(db, AFINIA, settings, "run-2")
    assert again.files_quarantined == 1 and again.records == 1 and again.files_reread == 1


# -------------------------------------------------------- crash and retry, re-admission


def test_crash_before_register_commit_then_retry_equals_a_clean_run(db, s3, bucket, settings,
                                                                    landing, monkeypatch):
    mixed_landing(landing)
    real = registry.register_pending

    def boom(conn, entries):
        list(entries)
        raise RuntimeError("injected crash after the quarantine moves")

    monkeypatch.setattr(registry, "register_pending", boom)
    with pytest.raises(RuntimeError, match="injected"):
        pipeline.extract(db, AFINIA, settings, "run-1")
    db.rollback()
    monkeypatch.setattr(registry, "register_pending", real)
    run_all(db, s3, settings, "run-1")
    after_retry = state(db, s3, bucket, landing)
    keys = registry_keys(db)
    assert keys[f"RE600_{stamp(60)}.pdf"] == f"{prefix()}RE600/RE600_{stamp(60)}.pdf"
    assert keys[f"RE610_{stamp(85)}.pdf"] == f"{prefix()}RE610/RE610_{stamp(85)}.pdf"
    assert f"PQR_6_ERROR_{stamp(30)}.pdf" in after_retry["quarantine"]
    assert f"RE620_{stamp(120)}.pdf" in after_retry["processed"]
    assert f"PQR_4_ERROR_adjunto_{stamp(2)}.jpg" in keys
    reasons = list(company_folders(landing, "afinia").quarantine.glob("*.reason.txt"))
    assert len(reasons) == len(after_retry["quarantine"])  # one reason each, no duplicates
    run_all(db, s3, settings, "run-2")
    assert state(db, s3, bucket, landing) == after_retry


def _plant(q, stored: str, original: str, reason: str) -> None:
    (q / f"{stored}.reason.txt").write_text(
        f"file: {original}\nreason: {reason}\nrun_id: old\nquarantined_at: 2025-10-08\n")


ORPHAN = "no request JSON with the same SGC number in processed/ or in the registry (orphan file)"


def test_readmission_refuses_traversal_symlinks_and_never_overwrites_or_loops(
        db, s3, bucket, settings, landing, tmp_path):
    folders = company_folders(landing, "afinia")
    write_pdf(landing, "RE1", 0, "x")
    write_json(landing, "RE1", "R-1", 5)
    folders.quarantine.mkdir(parents=True)
    q = folders.quarantine
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "passwd"
    secret.write_text("root:x:0:0")
    # 1. reason file pointing outside the folder (relative and absolute)
    (q / "evil1").write_text("x")
    _plant(q, "evil1", f"../../{outside.name}/RE1_{stamp(9)}.pdf", ORPHAN)
    (q / "evil2").write_text("x")
    _plant(q, "evil2", str(secret), ORPHAN)
    (q / "evil3").write_text("x")
    _plant(q, "evil3", "..", ORPHAN)
    # 2. a symlink quarantined under a retired reason
    (q / f"RE1_{stamp(1)}.pdf").symlink_to(secret)
    _plant(q, f"RE1_{stamp(1)}.pdf", f"RE1_{stamp(1)}.pdf", ORPHAN)
    # 3. a name already taken in processed/
    taken = write_pdf(landing, "RE1", 2, "the one in processed")
    (q / taken).write_bytes(b"quarantined copy")
    _plant(q, taken, taken, ORPHAN)
    # 4. a reason file that is a symlink, to a reason naming a good file
    good = q / f"RE1_{stamp(3)}.pdf"
    good.write_bytes(b"%PDF good")
    (outside / "r.txt").write_text(f"file: RE1_{stamp(3)}.pdf\nreason: {ORPHAN}\n")
    (q / f"RE1_{stamp(3)}.pdf.reason.txt").symlink_to(outside / "r.txt")
    # 5. a genuine retired-reason orphan: comes back once
    genuine = q / f"RE1_adjunto_{stamp(4)}.png"
    genuine.write_bytes(b"png")
    _plant(q, genuine.name, genuine.name, "file name does not match the scraper's patterns")
    before_q = sorted(p.name for p in q.iterdir())
    ex1, _, _ = run_all(db, s3, settings, "run-1")
    assert ex1.files_readmitted == 1
    assert (folders.processed / taken).read_bytes() == b"%PDF-1.4 the one in processed"
    assert secret.read_text() == "root:x:0:0" and not (outside / f"RE1_{stamp(9)}.pdf").exists()
    assert sorted(p.name for p in q.iterdir()) == sorted(
        n for n in before_q if not n.startswith(genuine.name))
    assert registry_keys(db)[genuine.name] == f"{prefix()}RE1/{genuine.name}"
    for run in ("run-2", "run-3"):
        ex, _, _ = run_all(db, s3, settings, run)
        assert (ex.files_readmitted, ex.files_quarantined) == (0, 0)


def test_readmitted_placeholder_document_does_not_loop(db, s3, bucket, settings, landing):
    """A placeholder PDF quarantined under a retired reason, its JSON quarantined (invalid):
    re-admitted once, quarantined again under the current rule, and then left alone."""
    folders = company_folders(landing, "afinia")
    folders.quarantine.mkdir(parents=True)
    q = folders.quarantine
    pdf = f"PQR_8_ERROR_{stamp(0)}.pdf"
    (q / pdf).write_bytes(b"%PDF")
    _plant(q, pdf, pdf, "its request JSON (same SGC in the file name) was quarantined")
    j = f"PQR_8_ERROR_data_{stamp(5)}.json"
    (q / j).write_text("{")
    _plant(q, j, j, "invalid request JSON: invalid JSON at line 1 column 2")
    counts = []
    for run in ("r1", "r2", "r3"):
        ex, _, _ = run_all(db, s3, settings, run)
        counts.append((ex.files_readmitted, ex.files_quarantined))
    assert counts == [(1, 1), (0, 0), (0, 0)]
    assert (q / pdf).exists() and "no real SGC" in (q / f"{pdf}.reason.txt").read_text()


def test_quarantined_placeholder_pair_fixed_and_both_moved_back_is_filed(db, s3, bucket,
                                                                        settings, landing):
    folders = company_folders(landing, "afinia")
    pdf = write_pdf(landing, "PQR_7_ERROR", 0, "F")
    j = write_json(landing, "PQR_7_ERROR", "", 5)
    run_all(db, s3, settings, "run-1")
    q = folders.quarantine
    fixed = (q / j).read_text().replace('"numero_radicado": ""', '"numero_radicado": "R-F"')
    for n in (pdf, j):
        os.replace(q / n, folders.processed / n)
    (folders.processed / j).write_text(fixed)
    os.utime(folders.processed / j, (OLD.timestamp(), OLD.timestamp()))
    run_all(db, s3, settings, "run-2")
    keys = registry_keys(db)
    assert {keys[pdf], keys[j]} == {f"{prefix()}sin_sgc/R-F/{pdf}", f"{prefix()}sin_sgc/R-F/{j}"}


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
