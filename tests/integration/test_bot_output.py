"""The bot's real output, through extract → load → upload (→ reconcile), on real services.

Each test writes files the way the bot's own writers do (documents first, the
request JSON last, seconds apart; placeholders; blank fields; older writers)
and checks where every file ends: the bucket and registry, ``quarantine/``
with its reason, or ``processed/`` counted as waiting.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from extractorov import pipeline, reconcile
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders
from extractorov.settings import BOGOTA
from tests.helpers import list_keys, query, seen_hours_ago

pytestmark = pytest.mark.integration

AFINIA = COMPANIES["afinia"]
OLD = datetime(2025, 10, 8, 4, 0, tzinfo=BOGOTA)


def stamp(seconds: int) -> str:
    return (OLD + timedelta(seconds=seconds)).strftime("%Y%m%d_%H%M%S")


def bot_request(landing: Path, sgc: str, radicado: str, start: int, *, adjunto: str | None = "jpg",
                empresa: str = "afinia", **fields) -> dict[str, str]:
    """PDF at ``start``, attachment 2 s later, JSON 5 s later: the bot's order."""
    processed = company_folders(landing, empresa).processed
    processed.mkdir(parents=True, exist_ok=True)
    names = {"pdf": f"{sgc}_{stamp(start)}.pdf", "json": f"{sgc}_data_{stamp(start + 5)}.json"}
    if adjunto:
        names["adjunto"] = f"{sgc}_adjunto_{stamp(start + 2)}.{adjunto}"
    record = {
        "record_number": 4, "sgc_number": sgc, "extraction_timestamp": stamp(start + 5),
        "page_url": "https://caribemar.facture.co/x", "page_title": "Detalle",
        "nic": "1234567", "fecha": "2025/10/07 14:05", "documento_identidad": "1045678901",
        "nombres_apellidos": "María José Núñez Peña", "lectura": "12345",
        "correo_electronico": "maria.nunez@example.com", "telefono": "", "celular": "3001234567",
        "tipo_pqr": "Reclamo", "canal_respuesta": "Correo", "documento_prueba": "x.jpg",
        "cuerpo_reclamacion": "Cobro excesivo 🙂\r\nSegunda línea", "numero_radicado": radicado,
        "estado_solicitud": "Finalizado", "numero_reclamo_sgc": "" if "PQR" in sgc else sgc,
    }
    record.update(fields)
    for kind, name in names.items():
        path = processed / name
        if kind == "json":
            path.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        else:
            path.write_bytes(f"%PDF-1.4 {kind} {radicado}".encode())
        when = OLD.timestamp()
        os.utime(path, (when, when))
    return names


def run_all(db, s3, settings, run_id: str, company=AFINIA):
    extracted = pipeline.extract(db, company, settings, run_id)
    loaded = pipeline.load(db, company, extracted.manifest)
    uploaded = pipeline.upload(db, s3, company, settings, run_id=run_id)
    return extracted, loaded, uploaded


def keys_by_name(db) -> dict[str, str]:
    return dict(query(db, "SELECT filename, s3_key FROM data_general.s3_files_registry "
                          "WHERE upload_status = 'uploaded'"))


PREFIX = "oficina-virtual/afinia/raw_data/"


def test_unrelated_requests_sharing_a_placeholder_are_never_merged(db, s3, bucket, settings,
                                                                     landing):
    first = bot_request(landing, "PQR_4_ERROR", "R-1001", 0)
    second = bot_request(landing, "PQR_4_ERROR", "R-1002", 20, adjunto="PDF")
    extracted, loaded, uploaded = run_all(db, s3, settings, "run-1")
    assert (extracted.files_waiting, loaded.db_inserted, uploaded.s3_uploaded) == (0, 2, 6)
    keys = keys_by_name(db)
    for names, radicado in ((first, "R-1001"), (second, "R-1002")):
        for name in names.values():
            assert keys[name] == f"{PREFIX}sin_sgc/{radicado}/{name}"
    assert set(list_keys(s3, bucket)) == set(keys.values())
    assert query(db, "SELECT numero_radicado, numero_reclamo_sgc, extras->>'sgc_placeholder' "
                     "FROM data_general.ov_afinia ORDER BY 1") == [
        ("R-1001", None, "PQR_4_ERROR"), ("R-1002", None, "PQR_4_ERROR")]
    assert extracted.incomplete_fields == {"numero_reclamo_sgc": 2}

    # A re-scrape of R-1001 the next day gets another placeholder: same folder, a duplicate.
    again = bot_request(landing, "PQR_2_20251009_040000", "R-1001", 86_400)
    extracted, loaded, _ = run_all(db, s3, settings, "run-2")
    assert (loaded.db_inserted, loaded.db_duplicates) == (0, 1)
    keys = keys_by_name(db)
    assert {keys[name] for name in again.values()} == {
        f"{PREFIX}sin_sgc/R-1001/{name}" for name in again.values()}


def test_documents_wait_for_their_json_and_are_filed_by_the_run_that_sees_it(
        db, s3, bucket, settings, landing):
    names = bot_request(landing, "RE500", "R-500", 0)
    processed = company_folders(landing, "afinia").processed
    json_path = processed / names["json"]
    json_path.rename(processed / (names["json"] + ".part"))  # the bot is still writing it
    os.utime(processed / (names["json"] + ".part"))  # (now: a live writer touches its file)
    extracted, _, uploaded = run_all(db, s3, settings, "run-1")
    assert (extracted.files_waiting, extracted.files_quarantined, uploaded.s3_uploaded) == (
        2, 0, 0)
    assert not company_folders(landing, "afinia").quarantine.exists()

    (processed / (names["json"] + ".part")).rename(json_path)
    extracted, _, uploaded = run_all(db, s3, settings, "run-2")
    assert (extracted.files_waiting, uploaded.s3_uploaded) == (0, 3)
    assert set(keys_by_name(db)) == set(names.values())


def test_a_quarantined_json_still_files_its_real_sgc_documents(db, s3, bucket, settings,
                                                                 landing):
    real = bot_request(landing, "RE600", "", 0)  # every field blank but the SGC: no radicado
    fake = bot_request(landing, "PQR_6_ERROR", "", 30)
    _, _, uploaded = run_all(db, s3, settings, "run-1")
    quarantine = company_folders(landing, "afinia").quarantine
    reasons = {p.name.removesuffix(".reason.txt"): p.read_text()
               for p in quarantine.glob("*.reason.txt")}
    assert set(reasons) == {real["json"], *fake.values()}
    assert "numero_radicado is missing or blank" in reasons[real["json"]]
    assert "placeholder" in reasons[fake["pdf"]]
    rows = query(db, "SELECT filename, s3_key, metadata->>'request_json_status' "
                     "FROM data_general.s3_files_registry ORDER BY 1")
    assert rows == sorted((real[k], f"{PREFIX}RE600/{real[k]}", "quarantined")
                          for k in ("pdf", "adjunto"))
    assert uploaded.s3_uploaded == 2


def test_blank_fecha_loads_as_null_and_a_later_extraction_completes_it(db, s3, bucket,
                                                                        settings, landing):
    bot_request(landing, "RE700", "R-700", 0, fecha="")
    extracted, loaded, _ = run_all(db, s3, settings, "run-1")
    assert (extracted.records_incomplete, extracted.incomplete_fields) == (1, {"fecha": 1})
    assert query(db, "SELECT fecha FROM data_general.ov_afinia") == [(None,)]
    bot_request(landing, "RE700", "R-700", 86_400, fecha="2025/10/07 14:05")
    _, loaded, _ = run_all(db, s3, settings, "run-2")
    assert loaded.db_updated == 1
    [(fecha,)] = query(db, "SELECT fecha FROM data_general.ov_afinia")
    assert fecha == datetime(2025, 10, 7, 14, 5, tzinfo=BOGOTA)


def test_attachments_of_any_extension_keep_their_name_and_get_a_content_type(
        db, s3, bucket, settings, landing):
    expected = {"JPG": "image/jpeg", "gif": "image/gif", "zip": "application/zip",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "msg": "application/vnd.ms-outlook", "bin": "application/octet-stream",
                "qwe123": "application/octet-stream"}
    names = {ext: bot_request(landing, f"RE8{i}", f"R-8{i}", i * 20, adjunto=ext)["adjunto"]
             for i, ext in enumerate(expected)}
    run_all(db, s3, settings, "run-1")
    keys = keys_by_name(db)
    for ext, name in names.items():
        head = s3.head_object(Bucket=bucket, Key=keys[name])
        assert (keys[name].rsplit("/", 1)[1], head["ContentType"]) == (name, expected[ext])


def test_older_writers_and_the_list_file(db, s3, bucket, settings, landing):
    processed = company_folders(landing, "afinia").processed
    processed.mkdir(parents=True, exist_ok=True)
    base = {"numero_radicado": "R-900", "fecha": "07-10-2025 14:05", "numero_reclamo_sgc": "RE900",
            "sgc_number": "RE900"}
    files = {
        f"pqr_data_RE900_{stamp(5)}.json": json.dumps(base),
        f"RE900_PQR_3_{stamp(0)}.pdf": "%PDF old writer",
        f"pqr_3_data_{stamp(40)}.json": json.dumps({**base, "numero_radicado": "R-901",
                                                    "numero_reclamo_sgc": "",
                                                    "sgc_number": ""}),
        f"afinia_pqr_data_{stamp(60)}.json": json.dumps([base]),
    }
    for name, text in files.items():
        (processed / name).write_text(text, encoding="utf-8")
        os.utime(processed / name, (OLD.timestamp(), OLD.timestamp()))
    _, loaded, _ = run_all(db, s3, settings, "run-1")
    keys = keys_by_name(db)
    assert keys == {
        f"pqr_data_RE900_{stamp(5)}.json": f"{PREFIX}RE900/pqr_data_RE900_{stamp(5)}.json",
        f"RE900_PQR_3_{stamp(0)}.pdf": f"{PREFIX}RE900/RE900_PQR_3_{stamp(0)}.pdf",
        f"pqr_3_data_{stamp(40)}.json": f"{PREFIX}sin_sgc/R-901/pqr_3_data_{stamp(40)}.json",
    }
    reason = (company_folders(landing, "afinia").quarantine
              / f"afinia_pqr_data_{stamp(60)}.json.reason.txt").read_text()
    assert "list file" in reason
    assert loaded.db_inserted == 2


def test_bot_clock_zone_comes_from_settings(db, s3, bucket, settings, landing):
    bot_request(landing, "RE950", "R-950", 0)
    utc = replace(settings, bot_timezone=ZoneInfo("UTC"))
    run_all(db, s3, utc, "run-1")
    [(extraction,)] = query(db, "SELECT extraction_timestamp FROM data_general.ov_afinia")
    assert extraction == datetime(2025, 10, 8, 4, 0, 5, tzinfo=ZoneInfo("UTC"))


def test_upgrade_readmits_files_quarantined_by_retired_rules(db, s3, bucket, settings, landing):
    """Quarantine left by earlier versions is repaired by one normal run."""
    folders = company_folders(landing, "afinia")
    names = bot_request(landing, "RE990", "R-990", 0, adjunto="gif")
    lonely = bot_request(landing, "RE991", "R-991", 60)
    folders.quarantine.mkdir(parents=True)
    old_reasons = {
        names["pdf"]: "no request JSON with the same SGC number in processed/ or in the "
                      "registry (orphan file)",
        names["adjunto"]: "file name does not match the scraper's patterns ({sgc}_data_{ts}"
                          ".json, {sgc}_{ts}.pdf, {sgc}_adjunto_{ts}.{ext})",
        lonely["pdf"]: "no request JSON with the same SGC number in processed/ or in the "
                       "registry (orphan file)",
        "RE992_20251008_040000.pdf": "its request JSON (same SGC in the file name) was "
                                     "quarantined",
        "RE993_data_20251008_040000.json": "invalid request JSON: fecha is not a date",
    }
    (folders.processed / "RE992_20251008_040000.pdf").write_bytes(b"%PDF")
    (folders.processed / "RE993_data_20251008_040000.json").write_text("{}")
    (folders.processed / lonely["json"]).unlink()  # RE991's JSON is gone: its PDF stays put
    (folders.processed / lonely["adjunto"]).unlink()
    for name, reason in old_reasons.items():
        os.replace(folders.processed / name, folders.quarantine / name)
        (folders.quarantine / f"{name}.reason.txt").write_text(
            f"file: {name}\nreason: {reason}\nrun_id: old\nquarantined_at: 2025-10-08\n")
    # RE992's JSON was quarantined for a reason that still holds: it stays; the PDF comes
    # back (and, its SGC being real, is filed although its JSON is in quarantine).
    (folders.quarantine / "RE992_data_20251008_040005.json").write_text("{")
    (folders.quarantine / "RE992_data_20251008_040005.json.reason.txt").write_text(
        "file: RE992_data_20251008_040005.json\nreason: invalid request JSON: invalid JSON at "
        "line 1 column 2\nrun_id: old\nquarantined_at: 2025-10-08\n")

    extracted, _, uploaded = run_all(db, s3, settings, "run-upgrade")
    assert extracted.files_readmitted == 3
    assert set(keys_by_name(db)) == {*names.values(), "RE992_20251008_040000.pdf"}
    left = sorted(p.name for p in folders.quarantine.iterdir())
    assert left == sorted([lonely["pdf"], f"{lonely['pdf']}.reason.txt",
                           "RE993_data_20251008_040000.json",
                           "RE993_data_20251008_040000.json.reason.txt",
                           "RE992_data_20251008_040005.json",
                           "RE992_data_20251008_040005.json.reason.txt"])
    assert uploaded.s3_errors == 0


def test_reconcile_reports_documents_waiting_too_long_and_accepts_sin_sgc_objects(
        db, s3, bucket, settings, landing):
    bot_request(landing, "PQR_4_ERROR", "R-1", 0)
    run_all(db, s3, settings, "run-1")
    lonely = company_folders(landing, "afinia").processed / f"RE1234_{stamp(0)}.pdf"
    lonely.write_bytes(b"%PDF lonely")
    hours_ago = time.time() - 80 * 3600
    os.utime(lonely, (hours_ago, hours_ago))
    seen_hours_ago(db, landing, "afinia", lonely.name, hours=80)  # first seen 80 h ago
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1")
    kinds = {f.kind: f for f in report.findings}
    assert set(kinds) == {"document_waiting"}
    assert lonely.name in kinds["document_waiting"].detail and kinds["document_waiting"].needs_human
    assert lonely.exists()
    # Younger than ov_orphan_after_hours: not a finding yet.
    report = reconcile.reconcile(db, s3, AFINIA, replace(settings, orphan_after_hours=100),
                                 run_id="rec-2")
    assert report.findings == []
