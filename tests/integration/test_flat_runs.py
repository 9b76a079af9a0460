"""A daily run reads what the day's files need of the registry, not the company's history.

A year of runs leaves ~900,000 registry rows per company; retention has taken most of their
local files out of ``processed/``. extract asks the registry about the names it scanned and,
for pairing, about the names with its new documents' SGC parts (a request JSON registered
a month ago still names its request's folder); load_db and the run report are keyed to the
run's own files. Asserted through PostgreSQL's own count of the registry rows the run read
(``pg_stat_user_tables``), and through the results, which history must not change.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench import history
from extractorov import pipeline, registry, stats, warehouse
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders
from extractorov.storage import company_prefix
from tests.helpers import query, seen_hours_ago, write_request

pytestmark = pytest.mark.integration

AFINIA = COMPANIES["afinia"]
HISTORY = 12_000
"""History requests (30,000 files): enough that a read of the history cannot hide in the
bound below, small enough to write in a second."""
BOUND = 500
"""Registry rows a run of a few files may read: its own rows, the rows of its SGC parts
and index pages' worth of slack; a read of the history is 30,000."""


def _registry_rows_read(db) -> int:
    """Rows of the registry read so far (sequential and index scans), as PostgreSQL counts
    them once this session's statistics are flushed."""
    db.commit()
    with db.cursor() as cur:
        cur.execute("SELECT pg_stat_force_next_flush()")
    db.commit()
    with db.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("""SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0)
                       FROM pg_stat_user_tables
                       WHERE relid = 'data_general.s3_files_registry'::regclass""")
        read = int(cur.fetchone()[0])
    db.commit()
    return read


def _first_day(db, settings, landing, s3):
    """A request with SGC S-100 handled and then removed from processed/ by retention."""
    write_request(landing, "afinia", "S-100", "R-100", ts="20251001_080000")
    pipeline.load(db, AFINIA, pipeline.extract(db, AFINIA, settings, "run-0").manifest,
                  run_id="run-0")
    pipeline.upload(db, s3, AFINIA, settings, run_id="run-0")
    processed = company_folders(landing, "afinia").processed
    for path in processed.iterdir():
        path.unlink()  # as retention does once delivered: its registry rows stay


def _morning(landing):
    """The day's files: two new requests, and a re-scraped PDF of S-100 (whose JSON left
    processed/ a month ago)."""
    write_request(landing, "afinia", "S-200", "R-200", ts="20251101_080000", adjunto="png")
    write_request(landing, "afinia", "S-201", "R-201", ts="20251101_080100")
    processed = company_folders(landing, "afinia").processed
    late = processed / "S-100_20251101_090000.pdf"
    late.write_bytes(b"%PDF-1.4\n% re-scraped\n%%EOF\n")
    return late.name


def _waited_for_its_json(db, landing, name: str) -> None:
    """The re-scraped PDF has waited ov_orphan_after_hours for a JSON of its own."""
    seen_hours_ago(db, landing, "afinia", name, hours=73)


@pytest.mark.parametrize("requests", [0, HISTORY])
def test_a_run_reads_the_rows_of_its_own_files_whatever_the_history(
        db, settings, landing, bucket, s3, requests):
    warehouse.ensure_schema(db)
    db.commit()
    _first_day(db, settings, landing, s3)
    processed = company_folders(landing, "afinia").processed
    written = history.fill(db, AFINIA, bucket, settings.base_path, processed, requests,
                           end=datetime(2025, 10, 31, tzinfo=UTC), keep_days=30)
    assert written == history.files_of(requests)
    late_pdf = _morning(landing)
    _waited_for_its_json(db, landing, late_pdf)

    before = _registry_rows_read(db)
    extracted = pipeline.extract(db, AFINIA, settings, "run-1")
    after_extract = _registry_rows_read(db)
    loaded = pipeline.load(db, AFINIA, extracted.manifest, run_id="run-1")
    after_load = _registry_rows_read(db)
    uploaded = pipeline.upload(db, s3, AFINIA, settings, run_id="run-1")
    after_upload = _registry_rows_read(db)
    report = stats.report_run(
        db, run_id="run-1", empresa="afinia", dag_id="ov_afinia", logical_date=None,
        data_interval_start=None, data_interval_end=None, database_only=False,
        summaries={}, task_states={})
    after_report = _registry_rows_read(db)

    # The same results with or without a history.
    assert (extracted.files_found, extracted.files_new, extracted.files_handled_before,
            extracted.files_waiting, extracted.files_quarantined, extracted.files_registered,
            extracted.records) == (6, 6, 0, 0, 0, 6, 2)
    assert (loaded.db_inserted, loaded.db_updated, loaded.json_files_loaded) == (2, 0, 2)
    assert (uploaded.files, uploaded.s3_uploaded, uploaded.s3_errors) == (6, 6, 0)
    assert (report.s3_uploaded, report.files_new, report.files_registered) == (6, 6, 6)
    prefix = company_prefix(settings.base_path, "afinia")
    # The re-scraped PDF joins its SGC's folder, named by a JSON registered a month ago
    # and gone from processed/ since (tied to no request: that JSON was written before it,
    # so it is an earlier scrape's, and an SGC folder may hold more than one request).
    assert query(db, "SELECT s3_key, metadata ->> 'request_json' FROM "
                     "data_general.s3_files_registry WHERE filename = %s", late_pdf) == [
        (f"{prefix}S-100/{late_pdf}", None)]
    # What each step read of the registry follows the run's files, not the history.
    if requests:
        assert after_extract - before < BOUND, after_extract - before
        assert after_load - after_extract < BOUND, after_load - after_extract
        assert after_upload - after_load < BOUND, after_upload - after_load
        assert after_report - after_upload < BOUND, after_report - after_upload
        # The count is able to see a read of the history: the full load of old reads it.
        registry.all_known_files(db, "afinia", bucket)
        assert _registry_rows_read(db) - after_report >= written


def test_known_files_answers_for_the_names_asked_as_the_full_load_did(
        db, settings, landing, bucket, s3):
    warehouse.ensure_schema(db)
    db.commit()
    _first_day(db, settings, landing, s3)
    processed = company_folders(landing, "afinia").processed
    history.fill(db, AFINIA, bucket, settings.base_path, processed, 2_000,
                 end=datetime(2025, 10, 31, tzinfo=UTC), keep_days=30)
    every = registry.all_known_files(db, "afinia", bucket)
    asked = ["S-100_data_20251001_080000.json", "S-100_20251001_080000.pdf",
             "H0000002_data_" + next(n for n in every if n.startswith("H0000002_data_"))[14:],
             "H0001999_adjunto_20250101_000000.png", "not-registered.json"]
    known = registry.known_files(db, "afinia", bucket, asked)
    db.commit()
    assert known == {name: every[name] for name in asked if name in every}
    assert len(known) == 3
    assert known["S-100_data_20251001_080000.json"].loaded
    assert not known["S-100_20251001_080000.pdf"].loaded
    # Pairing's question: the names with an SGC part, whatever folder or age.
    parts = registry.files_with_sgc_parts(db, "afinia", bucket, ["S-100", "H0000002"])
    db.commit()
    assert parts == {name: info for name, info in every.items()
                     if name.startswith(("S-100_", "H0000002_"))}
    assert len(parts) == 2 + 3
    assert registry.json_sgcs_named(db, "afinia", bucket, ["S-100", "S-999"]) == {"S-100"}
    db.commit()


NAMES = [
    "S-300_data_20251001_080000.json", "S-300_20251001_075950.pdf",
    "S-300_adjunto_20251001_075955.png", "pqr_data_S-300_20251001_080001.json",
    "S-300_PQR_7_20251001_080002.pdf", "S-3000_data_20251001_080000.json",
    "PQR_4_ERROR_data_20251001_090000.json", "PQR_4_ERROR_20251001_085950.pdf",
    "pqr_12_data_20251001_090000.json", "pqr_12_20251001_085959.pdf",
    "pqr_data__20251001_100000.json", "_PQR_3_20251001_100005.pdf",
]


def test_the_sgc_part_lookup_finds_every_name_with_that_part_of_every_pattern(db, bucket):
    """Pairing's keyed lookup returns every registered name whose parsed SGC part is asked
    for (the detail writer's blank part and the bot's placeholders included): what
    iterating over the whole registry found before."""
    from extractorov.landing import parse_file_name

    warehouse.ensure_schema(db)
    with db.cursor() as cur:
        for n, name in enumerate(NAMES):
            cur.execute("""INSERT INTO data_general.s3_files_registry
                           (filename, s3_bucket, s3_key, empresa, file_type)
                           VALUES (%s, %s, %s, 'afinia', %s)""",
                        (name, bucket, f"k/{n}/{name}", name.rpartition(".")[2]))
    db.commit()
    parts = {parse_file_name(name).sgc for name in NAMES}
    assert parts == {"S-300", "S-3000", "PQR_4_ERROR", "pqr_12", ""}
    for part in parts:
        found = registry.files_with_sgc_parts(db, "afinia", bucket, [part])
        wanted = {name for name in NAMES if parse_file_name(name).sgc == part}
        assert wanted <= set(found), part
    every = registry.files_with_sgc_parts(db, "afinia", bucket, parts)
    assert set(every) == set(NAMES)
    assert registry.files_with_sgc_parts(db, "afinia", bucket, ["S-999"]) == {}
    assert registry.files_with_sgc_parts(db, "afinia", "another-bucket", parts) == {}
    db.commit()
