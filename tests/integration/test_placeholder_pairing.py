"""Hostile-review attacks the code survives (bot-shaped input, real PostgreSQL + moto S3)."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict, replace

import pytest

from extractorov import pipeline, reconcile, registry, runtime
from extractorov.landing import company_folders
from tests.helpers import list_keys, query, seen_hours_ago
from tests.landing_files import (
    AFINIA,
    AIRE,
    OLD,
    PERSON,
    prefix,
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


# ----------------------------------------------------------------- promise 2: never merged


def test_placeholder_across_runs_with_a_json_still_being_written(db, s3, bucket, settings,
                                                                 landing):
    """Run 1: A's PDF + attachment, A's JSON still '.part'. Between runs the bot finishes A and
    writes B (same placeholder). Run 2 files each where it belongs; run 3 changes nothing."""
    processed = company_folders(landing, "afinia").processed
    a = [write_pdf(landing, "PQR_4_ERROR", 0, "A"), write_adjunto(landing, "PQR_4_ERROR", 2, "A")]
    a_json = write_json(landing, "PQR_4_ERROR", "R-A", 5)
    (processed / a_json).rename(processed / (a_json + ".part"))
    os.utime(processed / (a_json + ".part"))  # a live writer touches its file
    ex, _, up = run_all(db, s3, settings, "run-1")
    assert (ex.files_waiting, ex.files_in_progress, up.s3_uploaded) == (2, 1, 0)
    (processed / (a_json + ".part")).rename(processed / a_json)
    os.utime(processed / a_json, (OLD.timestamp(), OLD.timestamp()))
    b = [write_pdf(landing, "PQR_4_ERROR", 10, "B"), write_json(landing, "PQR_4_ERROR", "R-B", 15)]
    ex, _, _ = run_all(db, s3, settings, "run-2")
    keys = registry_keys(db)
    assert {n: keys[n] for n in [*a, a_json]} == {
        n: f"{prefix()}sin_sgc/R-A/{n}" for n in [*a, a_json]}
    assert {n: keys[n] for n in b} == {n: f"{prefix()}sin_sgc/R-B/{n}" for n in b}
    before = state(db, s3, bucket, landing)
    run_all(db, s3, settings, "run-3")
    assert state(db, s3, bucket, landing) == before


def test_recent_mtime_json_makes_its_documents_wait(db, s3, bucket, settings, landing):
    """A JSON modified within ov_landing_settle_seconds is 'in progress'; its documents wait."""
    settings = replace(settings, settle_seconds=60)
    pdf = write_pdf(landing, "PQR_3_ERROR", 0, "A")
    name = write_json(landing, "PQR_3_ERROR", "R-A", 5)
    os.utime(company_folders(landing, "afinia").processed / name, None)  # now
    ex, _, up = run_all(db, s3, settings, "run-1")
    assert (ex.files_waiting, ex.files_in_progress, up.s3_uploaded) == (1, 1, 0)
    assert pdf not in registry_keys(db)


def test_registry_json_deleted_from_processed_still_owns_its_documents(db, s3, bucket, settings,
                                                                       landing):
    """A's JSON was loaded and then deleted from processed/; A's late PDF... cannot exist
    (PDF first), but B's files arriving later must not pair with anything before A's JSON."""
    processed = company_folders(landing, "afinia").processed
    a_pdf = write_pdf(landing, "PQR_5_ERROR", 0, "A")
    a_json = write_json(landing, "PQR_5_ERROR", "R-A", 5)
    run_all(db, s3, settings, "run-1")
    (processed / a_json).unlink()
    (processed / a_pdf).unlink()
    b = [write_pdf(landing, "PQR_5_ERROR", 10, "B"), write_adjunto(landing, "PQR_5_ERROR", 12, "B"),
         write_json(landing, "PQR_5_ERROR", "R-B", 15)]
    run_all(db, s3, settings, "run-2")
    keys = registry_keys(db)
    assert {n: keys[n] for n in b} == {n: f"{prefix()}sin_sgc/R-B/{n}" for n in b}
    # and a document stamped before A's (registry-only) JSON pairs with A, not B
    late = write_adjunto(landing, "PQR_5_ERROR", 3, "A late copy")
    run_all(db, s3, settings, "run-3")
    assert registry_keys(db)[late] == f"{prefix()}sin_sgc/R-A/{late}"


@pytest.mark.parametrize("company", [AFINIA, AIRE], ids=lambda c: c.empresa)
def test_placeholder_json_naming_a_real_sgc_files_to_that_sgc(db, s3, bucket, settings, landing,
                                                              company):
    e = company.empresa
    docs = [write_pdf(landing, "PQR_4_ERROR", 0, "A", empresa=e),
            write_adjunto(landing, "PQR_4_ERROR", 2, "A", empresa=e)]
    j = write_json(landing, "PQR_4_ERROR", "R-A", 5, empresa=e, numero_reclamo_sgc="RE777")
    other = [write_pdf(landing, "PQR_4_ERROR", 10, "B", empresa=e),
             write_json(landing, "PQR_4_ERROR", "R-B", 15, empresa=e)]
    real_late = write_pdf(landing, "RE777", 100, "A re-scrape pdf, JSON lost", empresa=e)
    run_all(db, s3, settings, "run-1", company)
    keys = registry_keys(db)
    for n in [*docs, j, real_late]:
        assert keys[n] == f"{prefix(e)}RE777/{n}"
    for n in other:
        assert keys[n] == f"{prefix(e)}sin_sgc/R-B/{n}"
    assert query(db, f"SELECT numero_radicado, numero_reclamo_sgc FROM data_general.ov_{e} "
                     "ORDER BY 1") == [("R-A", "RE777"), ("R-B", None)]


# ---------------------------------------------------------------- promise 3: re-scrapes


def test_placeholder_rescrape_same_folder_and_rerun_keeps_updated_at(db, s3, bucket, settings,
                                                                     landing):
    first = [write_pdf(landing, "PQR_4_ERROR", 0, "A"),
             write_json(landing, "PQR_4_ERROR", "R-1", 5)]
    run_all(db, s3, settings, "run-1")
    [(updated,)] = query(db, "SELECT updated_at FROM data_general.ov_afinia")
    again = [write_pdf(landing, f"PQR_9_{stamp(86_000)}", 86_400, "A2"),
             write_json(landing, f"PQR_9_{stamp(86_000)}", "R-1", 86_405)]
    old = [write_pdf(landing, "pqr_2", 90_000, "A3"), write_json(landing, "pqr_2", "R-1", 90_005)]
    _, loaded, _ = run_all(db, s3, settings, "run-2")
    assert loaded.db_duplicates == 1 and loaded.db_updated == 0
    run_all(db, s3, settings, "run-3")
    keys = registry_keys(db)
    assert {keys[n].rsplit("/", 1)[0] for n in first + again + old} == {
        f"{prefix()}sin_sgc/R-1"}
    assert query(db, "SELECT numero_reclamo_sgc, extras->>'sgc_placeholder', updated_at "
                     "FROM data_general.ov_afinia") == [(None, "PQR_4_ERROR", updated)]


# ---------------------------------------------------------------- promise 4: idempotency


def _mixed_landing(landing):
    write_pdf(landing, "PQR_4_ERROR", 0, "A")
    write_adjunto(landing, "PQR_4_ERROR", 2, "A")
    write_json(landing, "PQR_4_ERROR", "R-A", 5)
    write_pdf(landing, "PQR_6_ERROR", 30, "bad")
    write_json(landing, "PQR_6_ERROR", "", 35)  # blank radicado: both to quarantine
    write_pdf(landing, "RE600", 60, "real")
    write_json(landing, "RE600", "", 65)  # PDF uploaded, JSON quarantined
    write(landing, f"RE610_data_{stamp(90)}.json", b"")  # 0-byte JSON
    write_pdf(landing, "RE610", 85, "real2")
    write_pdf(landing, "RE620", 120, "waits")  # no JSON yet
    write(landing, "Thumbs.db", b"x")
    write_json(landing, "RE630", "R-630", 150, fecha="")


def test_crash_before_register_commit_then_retry_equals_a_clean_run(db, s3, bucket, settings,
                                                                    landing, monkeypatch):
    _mixed_landing(landing)
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


# ------------------------------------------------------------- promise 5: re-admission


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


# --------------------------------------------------------- promise 8: personal data, names


def test_no_personal_data_in_reasons_logs_or_summaries_and_names_cannot_inject_lines(
        db, s3, bucket, settings, landing, caplog):
    caplog.set_level(logging.DEBUG, logger="extractorov")
    caplog.set_level(logging.INFO)
    _mixed_landing(landing)
    # values that fail validation and would be tempting to quote
    write_json(landing, "RE640", "R-640", 200, fecha=PERSON["documento_identidad"])
    write_json(landing, "RE650", "R-650", 210, numero_reclamo_sgc="x" + PERSON["celular"] + "/..")
    write(landing, f"RE660_data_{stamp(220)}.json",
          json.dumps({**PERSON, "numero_radicado": "R-660", PERSON["correo_electronico"]: 1,
                      "nombres_apellidos": PERSON["nombres_apellidos"]}).replace(
              '"numero_radicado"', '"nombres_apellidos": "dup", "numero_radicado"'))
    write(landing, f"RE670_data_{stamp(230)}.json", '{"numero_radicado": "' + "9" * 70 + '"}')
    evil = [f"RE9\nreason: its request JSON (same SGC in the file name) was quarantined"
            f"_{stamp(0)}.pdf", f"RE9\u2028file: ..x_{stamp(1)}.pdf", "x.reason.txt",
            f"RE9\rrun_id: forged_{stamp(2)}.pdf", f"RE9\u0085q_{stamp(3)}.pdf"]
    for n in evil:
        write(landing, n, b"x")
    ex, lo, up = run_all(db, s3, settings, "run-1")
    q = company_folders(landing, "afinia").quarantine
    # "x.reason.txt" is the attacker's own file, quarantined (it has its own reason file;
    # stored as "x.reason.txt~" so that it can never pass for a reason file)
    texts = [p.read_text(encoding="utf-8") for p in q.glob("*.reason.txt")
             if not (q / f"{p.name}.reason.txt").exists()]
    assert (q / "x.reason.txt~.reason.txt").exists()
    blob = "\n".join([*texts, caplog.text, json.dumps(asdict(ex)), json.dumps(asdict(lo)),
                      json.dumps(up.as_dict())])
    for value in PERSON.values():
        assert value not in blob
    for text in texts:
        lines = text.splitlines()
        keys = [line.partition(": ")[0] for line in lines]
        # A document that followed its request JSON into quarantine/ names that JSON in a
        # field of its own (landing.followed_json), after the four.
        assert keys in (["file", "reason", "run_id", "quarantined_at"],
                        ["file", "reason", "run_id", "quarantined_at", "request_json"]), lines
    assert ex.files_readmitted == 0
    ex2, _, _ = run_all(db, s3, settings, "run-2")
    assert ex2.files_readmitted == 0


# ------------------------------------------------------ promise 7: reconcile vs daily upload


class _SlowS3:
    def __init__(self, client, delay):
        self._client, self._delay = client, delay

    def put_object(self, **kwargs):
        time.sleep(self._delay)
        return self._client.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_reconcile_concurrent_with_a_daily_upload(db, s3, bucket, settings, landing):
    for i in range(40):
        write_pdf(landing, "PQR_4_ERROR", i * 60, f"A{i}")
        write_json(landing, "PQR_4_ERROR", f"R-{i}", i * 60 + 5)
    lonely = write_pdf(landing, "RE55", 9_000, "lonely")
    old = time.time() - 100 * 3600
    os.utime(company_folders(landing, "afinia").processed / lonely, (old, old))
    seen_hours_ago(db, landing, "afinia", lonely, hours=100)
    ex = pipeline.extract(db, AFINIA, settings, "daily")
    pipeline.load(db, AFINIA, ex.manifest)
    errors: list[BaseException] = []

    def daily():
        try:
            with runtime.warehouse_connection() as conn:
                pipeline.upload(conn, _SlowS3(runtime.s3_client(), 0.03), AFINIA, settings,
                                run_id="daily", wait_seconds=60)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=daily)
    thread.start()
    time.sleep(0.5)  # the daily upload holds the lock
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec")
    thread.join(60)
    assert not errors
    kinds = sorted(f.kind for f in report.findings)
    assert kinds == ["document_waiting"], kinds
    assert lonely in report.findings[0].detail
    assert query(db, "SELECT count(*) FILTER (WHERE upload_status='uploaded'), count(*) "
                     "FROM data_general.s3_files_registry") == [(80, 80)]
    assert len(list_keys(s3, bucket)) == 80
    assert all("/sin_sgc/R-" in k for k in list_keys(s3, bucket))
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-2")
    assert sorted(f.kind for f in report.findings) == ["document_waiting"]


def test_reconcile_registers_foreign_sin_sgc_objects_and_rejects_off_layout(db, s3, bucket,
                                                                            settings, landing):
    for key in (f"{prefix()}sin_sgc/R-9/x_{stamp(0)}.pdf", f"{prefix()}sin_sgc/y.pdf",
                f"{prefix()}sin_sgc/a/b/c.pdf", f"{prefix()}RE1/../../z.pdf"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec")
    found = sorted((f.kind, f.s3_key) for f in report.findings)
    assert found == sorted([
        ("object_unregistered", f"{prefix()}sin_sgc/R-9/x_{stamp(0)}.pdf"),
        ("object_outside_layout", f"{prefix()}sin_sgc/y.pdf"),
        ("object_outside_layout", f"{prefix()}sin_sgc/a/b/c.pdf"),
        ("object_outside_layout", f"{prefix()}RE1/../../z.pdf"),
    ])
    assert query(db, "SELECT numero_reclamo_sgc FROM data_general.s3_files_registry") == [(None,)]
