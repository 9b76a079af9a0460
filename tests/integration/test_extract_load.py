"""extract and load_db against a real PostgreSQL, through PostgresHook."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest

from extractorov import errors, pipeline, warehouse
from extractorov import manifest as run_manifest
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders
from extractorov.settings import Settings
from tests.helpers import query, seen_hours_ago, write_request
from tests.landing_files import run_all, write_json, write_pdf

AFINIA = COMPANIES["afinia"]
AIRE = COMPANIES["aire"]
PERSONAL = ("María José Núñez Peña", "maria.nunez@example.com", "1045678901", "3001234567")


def _run(db, settings, company=AFINIA, run_id="run-1"):
    extracted = pipeline.extract(db, company, settings, run_id)
    loaded = pipeline.load(db, company, extracted.manifest)
    return extracted, loaded


def test_schema_is_created_from_the_company_registry_once(db):
    applied = warehouse.ensure_schema(db)
    assert applied == ["001_base.sql", "002_reconcile.sql", "003_registry_fillfactor.sql",
                       "004_bot_output.sql", "005_alerts.sql", "006_review.sql",
                       "007_loaded_marks.sql", "008_run_steps.sql",
                       "009_one_folder_per_request.sql", "010_quarantine_states.sql",
                       "011_review_shown.sql", "012_alert_outbox.sql", "013_first_seen.sql",
                       "014_retention.sql", "015_removals.sql", "016_flat_runs.sql",
                       "017_reconcile_windows.sql", "018_request_of_a_document.sql",
                       "company_table.sql:ov_afinia", "company_002_blank_fields.sql:ov_afinia",
                       "company_003_radicado_not_blank.sql:ov_afinia",
                       "company_table.sql:ov_aire", "company_002_blank_fields.sql:ov_aire",
                       "company_003_radicado_not_blank.sql:ov_aire"]
    assert warehouse.ensure_schema(db) == []  # idempotent
    afinia_columns = {r[0] for r in query(
        db, "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'data_general' AND table_name = 'ov_afinia'")}
    aire_columns = {r[0] for r in query(
        db, "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'data_general' AND table_name = 'ov_aire'")}
    assert {"finalizar", "adjuntar_archivo", "comentarios", "extras", "hash_registro"} <= (
        afinia_columns)
    assert "comentarios" not in aire_columns
    assert {"numero_radicado", "numero_reclamo_sgc", "fecha", "extras"} <= aire_columns


@pytest.mark.parametrize("empresa", sorted(COMPANIES))
def test_table_columns_are_exactly_what_the_loader_writes(db, empresa):
    """The request columns are named in records.py (fields), company_table.sql (DDL) and
    its migrations: adding a field in one place only fails here, on the real table."""
    company = COMPANIES[empresa]
    warehouse.ensure_schema(db)
    columns = [r[0] for r in query(
        db, "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'data_general' AND table_name = %s ORDER BY ordinal_position",
        company.table)]
    bookkeeping = {"id", "created_at", "updated_at"}
    assert set(columns) - bookkeeping == set(warehouse.load_columns(company))
    assert len(columns) == len(set(columns))


def test_every_sql_file_is_a_migration_and_applied_in_order():
    """The sql/ folder is the migration list: no hand-kept list to forget a file in."""
    from importlib import resources

    files = sorted(e.name for e in resources.files("extractorov").joinpath("sql").iterdir()
                   if e.name.endswith(".sql"))
    assert sorted(warehouse.BASE_MIGRATIONS + warehouse.COMPANY_MIGRATIONS) == files
    assert list(warehouse.BASE_MIGRATIONS) == sorted(warehouse.BASE_MIGRATIONS)
    assert warehouse.COMPANY_MIGRATIONS[0] == "company_table.sql"


def test_extract_registers_every_file_of_valid_requests_as_pending(db, settings, landing):
    written = write_request(landing, "afinia", "RE2210202542239", "20251000001", adjunto="jpg")
    written += write_request(landing, "afinia", "63643842", "20251000002")
    summary = pipeline.extract(db, AFINIA, settings, "run-1")

    assert (summary.files_new, summary.files_registered, summary.records) == (5, 5, 2)
    rows = query(db, "SELECT filename, s3_key, file_hash, upload_status, upload_source, "
                     "file_size, content_type, numero_reclamo_sgc FROM "
                     "data_general.s3_files_registry ORDER BY filename")
    assert len(rows) == 5
    by_name = {r[0]: r for r in rows}
    for path in written:
        _, key, digest, status, source, size, _, sgc = by_name[path.name]
        assert key == f"oficina-virtual/afinia/raw_data/{sgc}/{path.name}"
        assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
        assert (status, source, size) == ("pending", "bot", path.stat().st_size)
    assert by_name["RE2210202542239_adjunto_20251008_093221.jpg"][6] == "image/jpeg"

    # The XCom summary carries counts and a path, never personal data.
    xcom = json.dumps(asdict(summary), ensure_ascii=False)
    assert not any(value in xcom for value in PERSONAL)


def test_load_classifies_inserted_updated_duplicate(db, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1", "20251008_090000")
    write_request(landing, "afinia", "RE2", "R-2", "20251008_090100")
    write_request(landing, "afinia", "RE3", "R-3", "20251008_090200")
    _, first = _run(db, settings, run_id="day-1")
    assert (first.db_inserted, first.db_updated, first.db_duplicates) == (3, 0, 0)
    before = dict(query(db, "SELECT numero_radicado, updated_at FROM data_general.ov_afinia"))

    # Next day: R-1 re-scraped with only bot metadata changed, R-2 changed, R-4 new.
    write_request(landing, "afinia", "RE1", "R-1", "20251009_090000", record_number=7,
                  page_title="otra")
    write_request(landing, "afinia", "RE2", "R-2", "20251009_090100",
                  estado_solicitud="Cerrado", comentarios="respuesta enviada")
    write_request(landing, "afinia", "RE4", "R-4", "20251009_090200")
    extracted, second = _run(db, settings, run_id="day-2")

    assert extracted.files_handled_before == 6
    assert (second.db_inserted, second.db_updated, second.db_duplicates) == (1, 1, 1)
    rows = {r[0]: r[1:] for r in query(
        db, "SELECT numero_radicado, estado_solicitud, comentarios, updated_at, record_number "
            "FROM data_general.ov_afinia")}
    assert rows["R-2"][:2] == ("Cerrado", "respuesta enviada")
    assert rows["R-2"][2] > before["R-2"]
    assert rows["R-1"][2] == before["R-1"]  # duplicate: untouched
    assert rows["R-1"][3] == 1
    assert len(rows) == 4


def test_hash_registro_keeps_the_old_formula(db, settings, landing):
    write_request(landing, "aire", "63643842", "AIR-2025-0000001", fecha="2025/10/07 14:05",
                  tipo_pqr="Queja", nic="7654321", documento_identidad="22334455")
    _run(db, settings, company=AIRE)
    [(stored,)] = query(db, "SELECT hash_registro FROM data_general.ov_aire")
    expected = hashlib.sha256(
        b"AIR-2025-0000001|2025-10-07T14:05:00|Queja|7654321|22334455").hexdigest()
    assert stored == expected


def test_latest_extraction_wins_within_one_run(db, settings, landing):
    write_request(landing, "afinia", "RE9", "R-9", "20251008_090000", estado_solicitud="Abierto")
    write_request(landing, "afinia", "RE9", "R-9", "20251009_100000", estado_solicitud="Finalizado")
    extracted, loaded = _run(db, settings)
    assert (extracted.records_found, extracted.records, extracted.records_superseded) == (2, 1, 1)
    assert loaded.db_inserted == 1
    assert query(db, "SELECT estado_solicitud, archivo_origen FROM data_general.ov_afinia") == [
        ("Finalizado", "RE9_data_20251009_100000.json")]
    # Both JSON files are known and marked loaded: neither is processed again.
    again, _ = _run(db, settings, run_id="run-2")
    assert (again.files_new, again.files_handled_before) == (0, 4)


def test_unknown_keys_and_tablas_are_kept_in_extras(db, settings, landing):
    write_request(landing, "afinia", "RE5", "R-5", tabla_historial="2025-10-01 Radicado",
                  campo_nuevo={"a": 1}, finalizar="Sí")
    _run(db, settings)
    [(extras, finalizar)] = query(db, "SELECT extras, finalizar FROM data_general.ov_afinia")
    assert extras == {"tabla_historial": "2025-10-01 Radicado", "campo_nuevo": {"a": 1}}
    assert finalizar == "Sí"


def test_fecha_is_bogota_time(db, settings, landing):
    write_request(landing, "aire", "555", "A-5", fecha="2025/10/07 23:30")
    _run(db, settings, company=AIRE)
    [(utc,)] = query(db, "SELECT to_char(fecha AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') "
                         "FROM data_general.ov_aire")
    assert utc == "2025-10-08 04:30"


def test_extract_quarantines_bad_files_with_reasons_and_keeps_the_rest(db, settings, landing):
    processed = company_folders(landing, "afinia").processed
    write_request(landing, "afinia", "GOOD1", "R-100")
    write_request(landing, "afinia", "NORAD", "", pdf=True)  # blank radicado: JSON and its PDF
    (processed / "BROKEN_data_20251008_093221.json").write_text("{not json", encoding="utf-8")
    write_request(landing, "afinia", "BADDATE", "R-101", fecha="ayer por la tarde", pdf=False)
    (processed / "ORPHAN_20251008_093221.pdf").write_bytes(b"%PDF-1.4 orphan")
    (processed / "notas del operador.txt").write_text("hola")
    (processed / "GOOD1_adjunto_20251008_093222.pdf").write_bytes(b"")
    os.symlink("/etc/passwd", processed / "LINK_data_20251008_093221.json")

    summary = pipeline.extract(db, AFINIA, settings, "run-q")
    quarantine = company_folders(landing, "afinia").quarantine
    reasons = {p.name.removesuffix(".reason.txt"): p.read_text()
               for p in quarantine.glob("*.reason.txt")}
    assert set(reasons) == {
        "NORAD_data_20251008_093221.json",
        "BROKEN_data_20251008_093221.json", "BADDATE_data_20251008_093221.json",
        "notas del operador.txt",
        "GOOD1_adjunto_20251008_093222.pdf", "LINK_data_20251008_093221.json",
    }
    assert "numero_radicado is missing or blank" in reasons["NORAD_data_20251008_093221.json"]
    assert "invalid JSON at line 1" in reasons["BROKEN_data_20251008_093221.json"]
    assert "fecha is not a date" in reasons["BADDATE_data_20251008_093221.json"]
    assert "not recognised" in reasons["notas del operador.txt"]
    assert "empty file" in reasons["GOOD1_adjunto_20251008_093222.pdf"]
    assert "symbolic link" in reasons["LINK_data_20251008_093221.json"]
    assert os.path.exists("/etc/passwd")  # the link moved, never its target
    for text in reasons.values():
        assert "run_id: run-q" in text
        assert not any(value in text for value in PERSONAL)

    assert summary.files_quarantined == 6
    assert (summary.records, summary.files_waiting) == (1, 1)
    # NORAD's PDF is filed under its real SGC although its JSON was quarantined; the orphan
    # PDF waits in processed/ for a JSON (never quarantined for arriving first).
    assert sorted(os.listdir(processed)) == ["GOOD1_20251008_093221.pdf",
                                             "GOOD1_data_20251008_093221.json",
                                             "NORAD_20251008_093221.pdf",
                                             "ORPHAN_20251008_093221.pdf"]
    assert query(db, "SELECT filename, s3_key, metadata->>'request_json_status' "
                     "FROM data_general.s3_files_registry ORDER BY filename") == [
        ("GOOD1_20251008_093221.pdf",
         "oficina-virtual/afinia/raw_data/GOOD1/GOOD1_20251008_093221.pdf", None),
        ("GOOD1_data_20251008_093221.json",
         "oficina-virtual/afinia/raw_data/GOOD1/GOOD1_data_20251008_093221.json", None),
        ("NORAD_20251008_093221.pdf",
         "oficina-virtual/afinia/raw_data/NORAD/NORAD_20251008_093221.pdf", "quarantined"),
    ]


def test_companion_of_an_earlier_request_is_registered_under_its_sgc(db, settings, landing):
    # The request JSON was handled yesterday; today's re-scrape writes its PDF first.
    write_request(landing, "aire", "777", "A-77", pdf=False)
    _run(db, settings, company=AIRE)
    late = company_folders(landing, "aire").processed / "777_20251009_080000.pdf"
    late.write_bytes(b"%PDF-1.4 late")
    os.utime(late, (1_700_000_000, 1_700_000_000))
    # Its own JSON may still come (a re-scrape's is written last): it waits for it.
    waiting = pipeline.extract(db, AIRE, settings, "run-early")
    assert (waiting.files_waiting, waiting.files_registered) == (1, 0)
    seen_hours_ago(db, landing, "aire", late.name, hours=73)  # none came
    summary = pipeline.extract(db, AIRE, settings, "run-late")
    assert (summary.files_new, summary.files_quarantined, summary.files_registered) == (1, 0, 1)
    assert query(db, "SELECT s3_key FROM data_general.s3_files_registry WHERE filename = %s",
                 late.name) == [(f"oficina-virtual/aire/raw_data/777/{late.name}",)]


def test_a_placeholder_document_newer_than_every_json_waits(db, settings, landing):
    # PQR_1_ERROR is shared by unrelated requests: a PDF written after the only JSON with
    # that placeholder belongs to a request whose JSON is not written yet.
    write_request(landing, "aire", "PQR_1_ERROR", "A-77", pdf=False, ts="20251008_122537")
    _run(db, settings, company=AIRE)
    late = company_folders(landing, "aire").processed / "PQR_1_ERROR_20251009_080000.pdf"
    late.write_bytes(b"%PDF-1.4 late")
    os.utime(late, (1_700_000_000, 1_700_000_000))
    summary = pipeline.extract(db, AIRE, settings, "run-late")
    assert (summary.files_new, summary.files_waiting, summary.files_registered) == (0, 1, 0)
    assert late.exists()


def test_files_still_being_written_wait_for_the_next_run(db, settings, landing):
    paths = write_request(landing, "afinia", "FRESH", "R-200")
    for path in paths:
        os.utime(path)  # modified just now
    fresh = Settings(**{**asdict(settings), "settle_seconds": 300})
    summary = pipeline.extract(db, AFINIA, fresh, "run-fresh")
    assert (summary.files_in_progress, summary.files_new, summary.files_quarantined) == (2, 0, 0)
    assert all(p.exists() for p in paths)
    assert pipeline.extract(db, AFINIA, settings, "run-later").files_registered == 2


def test_a_json_registered_but_not_loaded_is_processed_again(db, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1")
    first = pipeline.extract(db, AFINIA, settings, "run-1")  # load_db never ran (crash)
    second = pipeline.extract(db, AFINIA, settings, "run-2")
    assert (first.records, second.records) == (1, 1)
    assert second.files_handled_before == 1  # the PDF, already registered
    loaded = pipeline.load(db, AFINIA, second.manifest)
    assert loaded.db_inserted == 1
    assert pipeline.extract(db, AFINIA, settings, "run-3").records == 0


def test_upgrading_keeps_which_request_jsons_were_loaded(db, settings, landing, monkeypatch):
    """A database of before migration 007, where the mark was ``db_loaded_at`` in the
    registry: after the upgrade a JSON loaded before is still handled (not read again),
    one registered but not loaded is read again."""
    monkeypatch.setattr(warehouse, "BASE_MIGRATIONS",
                        tuple(m for m in warehouse.BASE_MIGRATIONS if m < "007"))
    warehouse.ensure_schema(db, [AFINIA])
    monkeypatch.undo()
    loaded_json = write_request(landing, "afinia", "RE1", "R-1", pdf=False)[0]
    unloaded_json = write_request(landing, "afinia", "RE2", "R-2", pdf=False)[0]
    for path, loaded_at in ((loaded_json, "now()"), (unloaded_json, "NULL")):
        db.execute("INSERT INTO data_general.s3_files_registry (filename, local_path, "
                   "s3_bucket, s3_key, empresa, file_type, upload_status, db_loaded_at) "
                   f"VALUES (%s, %s, %s, %s, 'afinia', 'json', 'uploaded', {loaded_at})",
                   (path.name, str(path), settings.bucket, f"k/{path.name}"))
    db.commit()
    assert warehouse.ensure_schema(db, [AFINIA]) == [
        m for m in warehouse.BASE_MIGRATIONS if m >= "007"]
    assert query(db, "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                     "'data_general' AND column_name = 'db_loaded_at'") == [(0,)]
    assert query(db, "SELECT filename FROM data_general.s3_files_loaded") == [
        (loaded_json.name,)]
    again = pipeline.extract(db, AFINIA, settings, "run-2")
    assert (again.records, again.files_handled_before) == (1, 1)  # R-2 read again, R-1 not
    assert pipeline.load(db, AFINIA, again.manifest).json_files_loaded == 1
    assert query(db, "SELECT count(*) FROM data_general.s3_files_loaded") == [(2,)]
    assert pipeline.extract(db, AFINIA, settings, "run-3").records == 0


def test_a_json_registered_again_is_not_loaded_until_its_load_commits(db, settings, landing):
    """An operator deletes a loaded JSON's registry row (as the CHANGED_LOCALLY finding
    says to): the next extract reads it again, and if that run's load_db never commits,
    the run after reads it again too (no mark of the deleted row speaks for it)."""
    json_file = write_request(landing, "afinia", "RE1", "R-1", pdf=False)[0]
    _run(db, settings)
    db.execute("DELETE FROM data_general.s3_files_registry WHERE filename = %s",
               (json_file.name,))
    db.commit()
    assert pipeline.extract(db, AFINIA, settings, "run-2").records == 1  # load_db crashed
    again = pipeline.extract(db, AFINIA, settings, "run-3")
    assert again.records == 1
    assert pipeline.load(db, AFINIA, again.manifest).json_files_loaded == 1
    assert pipeline.extract(db, AFINIA, settings, "run-4").records == 0


def test_a_failed_batch_leaves_nothing_half_written(db, settings, landing):
    for n in range(5):
        write_request(landing, "afinia", f"RE{n}", f"R-{n}", f"20251008_09000{n}")
    extracted = pipeline.extract(db, AFINIA, settings, "run-1")
    rows = _rows_file(extracted.manifest)
    lines = rows.read_text(encoding="utf-8").splitlines()
    fields = lines[3].split("\t")
    fields[warehouse.load_columns(AFINIA).index("record_number")] = "not a number"
    lines[3] = "\t".join(fields)  # fails inside COPY
    rows.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(errors.LoadFailed, match="rolled back") as failure:
        pipeline.load(db, AFINIA, extracted.manifest)
    assert not any(value in str(failure.value) for value in PERSONAL)
    assert query(db, "SELECT count(*) FROM data_general.ov_afinia") == [(0,)]
    assert query(db, "SELECT count(*) FROM data_general.s3_files_loaded") == [(0,)]


def _rows_file(manifest: str, part: str = "rows") -> Path:
    header = json.loads(Path(manifest).read_text(encoding="utf-8").splitlines()[0])
    return Path(manifest).with_name(header[part])


HOSTILE_TEXT = "tab\there, line\nbreak, cr\r, back\\slash, \\N, \\., \"quoted\", ñandú 😀"


def test_every_character_reaches_the_table_through_the_staging_rows(db, settings, landing):
    """extract writes COPY text; escapes must give back exactly what the JSON held."""
    write_request(landing, "afinia", "RE1", "R-1", cuerpo_reclamacion=HOSTILE_TEXT,
                  comentarios="\\N", tabla_pagos=[{"valor": HOSTILE_TEXT, "n": 12}],
                  telefono="")
    _, loaded = _run(db, settings)
    assert loaded.db_inserted == 1
    [(cuerpo, comentarios, telefono, extras)] = query(
        db, "SELECT cuerpo_reclamacion, comentarios, telefono, extras "
            "FROM data_general.ov_afinia")
    assert (cuerpo, comentarios, telefono) == (HOSTILE_TEXT, "\\N", None)
    assert extras == {"tabla_pagos": [{"valor": HOSTILE_TEXT, "n": 12}]}
    # Loading the same file again is a duplicate: the stored row hashes as the parsed one.
    write_request(landing, "afinia", "RE1", "R-1", "20251009_093221",
                  cuerpo_reclamacion=HOSTILE_TEXT, comentarios="\\N",
                  tabla_pagos=[{"valor": HOSTILE_TEXT, "n": 12}], telefono="")
    _, again = _run(db, settings, run_id="run-2")
    assert (again.db_inserted, again.db_updated, again.db_duplicates) == (0, 0, 1)


def test_staged_file_names_come_back_exactly(db):
    names = ['a_data_20251008_093221.json', 'we"ird,{}\\name.json', "ñ 😀.json", "tab\tname"]
    line = "R-1\t" + warehouse._copy_field(warehouse._text_array(names)) + "\n"
    assert warehouse.stage_keys(db, [line.encode()]) == 1
    assert [n for (n,) in query(db, warehouse.STAGED_FILES.as_string(db))] == names


def test_load_streams_the_rows_extract_wrote_without_parsing_them(db, settings, landing,
                                                                   monkeypatch):
    for n in range(3):
        write_request(landing, "afinia", f"RE{n}", f"R-{n}", f"20251008_09000{n}")
    extracted = pipeline.extract(db, AFINIA, settings, "run-1")

    def no_python_per_record(*args, **kwargs):
        raise AssertionError("load_db parsed or formatted a record in Python")

    from extractorov.records import Record
    monkeypatch.setattr(Record, "from_manifest", no_python_per_record)
    monkeypatch.setattr(warehouse, "stage_row", no_python_per_record)
    monkeypatch.setattr(run_manifest, "ROWS_BLOCK_BYTES", 100)  # a row spans several blocks
    loaded = pipeline.load(db, AFINIA, extracted.manifest)
    assert (loaded.db_inserted, loaded.json_files_loaded) == (3, 3)
    assert query(db, "SELECT count(*) FROM data_general.ov_afinia") == [(3,)]


def test_a_manifest_of_the_previous_format_still_loads(db, settings, landing):
    """A run extracted before an upgrade is loaded after it (format 1: JSON lines)."""
    from extractorov.records import parse_record

    write_request(landing, "afinia", "RE1", "R-1", cuerpo_reclamacion=HOSTILE_TEXT)
    extracted = pipeline.extract(db, AFINIA, settings, "run-1")
    path = company_folders(landing, "afinia").processed / "RE1_data_20251008_093221.json"
    record = parse_record(path.read_bytes(), company=AFINIA, file_name=path.name)
    _rows_file(extracted.manifest).unlink()
    _rows_file(extracted.manifest, "keys").unlink()
    with open(extracted.manifest, "w", encoding="utf-8") as out:
        out.write(json.dumps({"empresa": "afinia", "bucket": settings.bucket, "records": 1})
                  + "\n")
        out.write(json.dumps({"record": record.to_manifest(), "files": [path.name]}) + "\n")
    loaded = pipeline.load(db, AFINIA, extracted.manifest)
    assert (loaded.db_inserted, loaded.json_files_loaded) == (1, 1)
    assert query(db, "SELECT cuerpo_reclamacion FROM data_general.ov_afinia") == [
        (HOSTILE_TEXT,)]


def test_a_truncated_rows_file_loads_nothing(db, settings, landing):
    for n in range(3):
        write_request(landing, "afinia", f"RE{n}", f"R-{n}", f"20251008_09000{n}")
    extracted = pipeline.extract(db, AFINIA, settings, "run-1")
    rows = _rows_file(extracted.manifest)
    rows.write_text("".join(rows.read_text(encoding="utf-8").splitlines(True)[:2]),
                    encoding="utf-8")
    with pytest.raises(errors.LoadFailed, match="hold 2 records, its header says 3"):
        pipeline.load(db, AFINIA, extracted.manifest)
    assert query(db, "SELECT count(*) FROM data_general.ov_afinia") == [(0,)]
    assert query(db, "SELECT count(*) FROM data_general.s3_files_loaded") == [(0,)]
    # Also when the batch takes the upsert (a request already in the table).
    keys = _rows_file(extracted.manifest, "keys")
    first_key = keys.read_text(encoding="utf-8").splitlines(True)[0]
    db.execute("INSERT INTO data_general.ov_afinia (numero_radicado, hash_registro, "
               "hash_contenido) VALUES (%s, 'x', 'x')", (first_key.split("\t")[0],))
    db.commit()
    with pytest.raises(errors.LoadFailed, match="hold 2 records, its header says 3"):
        pipeline.load(db, AFINIA, extracted.manifest)
    assert query(db, "SELECT count(*) FROM data_general.ov_afinia") == [(1,)]


def test_a_batch_of_new_requests_is_copied_straight_in_others_are_upserted(
        db, settings, landing, monkeypatch):
    """Same rows and counts either way; only a batch with a known or repeated radicado
    pays for the staging table."""
    staged = []
    original = warehouse.stage
    monkeypatch.setattr(warehouse, "stage", lambda *a: staged.append(1) or original(*a))
    write_request(landing, "afinia", "RE1", "R-1", "20251008_090000")
    _, first = _run(db, settings, run_id="day-1")
    assert (first.db_inserted, staged) == (1, [])
    write_request(landing, "afinia", "RE2", "R-2", "20251009_090000")
    write_request(landing, "afinia", "RE1", "R-1", "20251009_090100", estado_solicitud="Cerrado")
    _, second = _run(db, settings, run_id="day-2")
    assert (second.db_inserted, second.db_updated, staged) == (1, 1, [1])


def test_same_sgc_in_both_companies_stays_in_each_prefix(db, settings, landing):
    write_request(landing, "afinia", "12345678", "R-1")
    write_request(landing, "aire", "12345678", "R-1")
    _run(db, settings, AFINIA)
    _run(db, settings, AIRE)
    keys = sorted(k for (k,) in query(db, "SELECT s3_key FROM data_general.s3_files_registry"))
    assert [k.split("/")[1] for k in keys] == ["afinia", "afinia", "aire", "aire"]
    assert query(db, "SELECT count(*) FROM data_general.ov_afinia") == [(1,)]
    assert query(db, "SELECT count(*) FROM data_general.ov_aire") == [(1,)]


def test_marking_loaded_skips_files_marked_before_and_keeps_the_rest_of_the_load(db):
    """mark_loaded tries a plain insert first: a file already marked (a re-scrape read
    again, a rerun) must neither fail the load nor lose the other files' marks."""
    from psycopg import sql

    from extractorov import registry

    warehouse.ensure_schema(db)

    def marked():
        return {r[0] for r in query(db, "SELECT filename FROM data_general.s3_files_loaded "
                                        "WHERE empresa = 'afinia' AND s3_bucket = 'b'")}

    with db.cursor() as cur:  # the staged names, as load_db's query gives them
        cur.execute("CREATE TEMP TABLE names (filename text)")
        cur.execute("INSERT INTO names VALUES ('a.json'), ('b.json')")
    names = sql.SQL("SELECT filename FROM names")
    assert registry.mark_loaded(db, "afinia", "b", names) == 2
    with db.cursor() as cur:
        cur.execute("INSERT INTO names VALUES ('c.json')")
    assert registry.mark_loaded(db, "afinia", "b", names) == 1  # a and b marked before
    db.commit()
    assert marked() == {"a.json", "b.json", "c.json"}
    assert registry.mark_loaded(db, "afinia", "b", names) == 0
    db.commit()
    assert marked() == {"a.json", "b.json", "c.json"}


def test_deleting_a_bucket_row_takes_its_loaded_mark_and_no_other(db):
    """delete_bucket_row (a human says an object was removed on purpose) clears the mark
    of the name it deletes: a row registered later under that name starts unloaded."""
    from extractorov import registry

    warehouse.ensure_schema(db)
    for name, local in (("a.json", None), ("b.json", "/landing/b.json")):
        db.execute("INSERT INTO data_general.s3_files_registry (filename, local_path, "
                   "s3_bucket, s3_key, empresa) VALUES (%s, %s, 'bkt', %s, 'afinia')",
                   (name, local, f"raw/{name}"))
        db.execute("INSERT INTO data_general.s3_files_loaded (empresa, s3_bucket, filename) "
                   "VALUES ('afinia', 'bkt', %s)", (name,))
    rows = dict(query(db, "SELECT filename, id FROM data_general.s3_files_registry"))
    assert registry.delete_bucket_row(db, rows["b.json"]) is False  # has its local file
    assert registry.delete_bucket_row(db, rows["a.json"]) is True
    db.commit()
    assert query(db, "SELECT filename FROM data_general.s3_files_loaded") == [("b.json",)]
    assert query(db, "SELECT filename FROM data_general.s3_files_registry") == [("b.json",)]


def test_marks_stay_in_the_callers_transaction_on_an_idle_connection(db):
    """Found in review: mark_loaded's savepoint (psycopg's conn.transaction()) committed
    on its own when no transaction was open, so the caller's rollback kept the marks."""
    from psycopg import sql

    from extractorov import registry

    warehouse.ensure_schema(db)
    db.commit()  # idle: no transaction open, autocommit off (as PostgresHook gives it)
    assert not db.autocommit
    assert registry.mark_loaded(db, "afinia", "b", sql.SQL("VALUES ('a.json'), ('b.json')")) == 2
    db.rollback()
    assert query(db, "SELECT count(*) FROM data_general.s3_files_loaded") == [(0,)]
    # The fallback (a name marked before) too, and a commit keeps what it marked.
    registry.mark_loaded(db, "afinia", "b", sql.SQL("VALUES ('a.json')"))
    db.commit()
    assert registry.mark_loaded(db, "afinia", "b", sql.SQL("VALUES ('a.json'), ('c.json')")) == 1
    db.rollback()
    assert query(db, "SELECT filename FROM data_general.s3_files_loaded") == [("a.json",)]


def test_the_table_refuses_a_blank_or_repeated_numero_radicado(db):
    """What check_data no longer counts after each load, the table enforces on each write."""
    import psycopg

    warehouse.ensure_schema(db)
    db.commit()
    insert = ("INSERT INTO data_general.ov_afinia (numero_radicado, fecha, hash_registro, "
              "hash_contenido) VALUES (%s, now(), 'h', 'h')")
    for radicado, error in [("  ", psycopg.errors.CheckViolation),
                            (None, psycopg.errors.NotNullViolation)]:
        with pytest.raises(error):
            db.execute(insert, (radicado,))
        db.rollback()
    db.execute(insert, ("R-1",))
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(insert, ("R-1",))
    db.rollback()


def test_rescrape_with_a_blank_fecha_does_not_erase_the_loaded_date(db, s3, bucket, settings,
                                                                    landing):
    """A regression test (promise 6 / contract: 'blank fecha is a known bot failure (element
    not rendered)'; 'a later extraction with the date completes the row'). The reverse: a
    later re-scrape whose page failed to render the date is a newer extraction with a
    different content hash, so it was classified *updated* and overwrote the known fecha
    with NULL (data lost)."""
    write_pdf(landing, "RE700", 0, "x")
    write_json(landing, "RE700", "R-700", 5, fecha="2025/10/07 14:05")
    run_all(db, s3, settings, "run-1")
    write_json(landing, "RE700", "R-700", 86_400, fecha="")  # re-scrape, date not rendered
    _, loaded, _ = run_all(db, s3, settings, "run-2")
    [(fecha,)] = query(db, "SELECT fecha FROM data_general.ov_afinia")
    assert fecha is not None, f"a blank re-scrape erased fecha ({loaded})"
