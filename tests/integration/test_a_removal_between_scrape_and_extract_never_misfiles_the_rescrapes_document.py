"""A regression test: ``remove_{empresa}`` removes "what is there when it runs (a re-scrape filed
after the listing goes too)". It waits for the company's writer pool, so it can run right
after the bot's ``scrape`` and before that run's ``extract`` (scrape is not a writer). It
then finds the re-scrape's request JSON in processed/ (by its content) and deletes it, but
not the detail PDF the bot wrote for it seconds before (its name ties it to nothing yet).
With the bot's placeholder SGC, the next ``extract`` files that PDF (the removed customer's
detail page) under the next request's folder: another customer's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from extractorov import pipeline, removal
from tests.helpers import query
from tests.landing_files import AFINIA, remove_request, write_json, write_pdf

pytestmark = pytest.mark.integration


def test_a_removal_between_scrape_and_extract_never_misfiles_the_rescrapes_document(
        db, s3, bucket, settings, landing):
    # Day 1: R-1 (the portal shows no SGC: placeholder PQR_4_ERROR) is filed and loaded.
    write_pdf(landing, "PQR_4_ERROR", 0, "detalle de R-1, día 1")
    write_json(landing, "PQR_4_ERROR", "R-1", 5)
    day1 = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, day1.manifest, run_id="day-1")
    # Day 2, the bot's scrape: R-1 again (its detail PDF, then its JSON), then R-2 (whose
    # detail PDF failed: only its JSON).
    rescrape_pdf = write_pdf(landing, "PQR_4_ERROR", 86_400, "detalle de R-1, día 2")
    write_json(landing, "PQR_4_ERROR", "R-1", 86_405)
    write_json(landing, "PQR_4_ERROR", "R-2", 86_412)
    # The approved removal of R-1 takes the writer slot before day 2's extract.
    _, outcome = remove_request(db, s3, settings, "R-1")
    assert outcome.status == "completed"
    # Day 2's extract.
    pipeline.extract(db, AFINIA, settings, "day-2")
    rows = query(db, "SELECT filename, s3_key FROM data_general.s3_files_registry")
    # R-1's detail PDF is never filed in R-2's folder.
    assert not [k for name, k in rows if name == rescrape_pdf and "/R-2/" in k], rows


def test_a_removal_between_scrape_and_extract_leaves_nothing_of_the_rescrape(
        db, s3, bucket, settings, landing):
    """The same with the bot's usual output (a real SGC of its own): nothing is misfiled,
    but the re-scrape's detail PDF (the removed customer's data) stays in processed/,
    waiting for a JSON the removal deleted, while the removal says ``completed``."""
    write_pdf(landing, "RE77", 0, "detalle de R-77, día 1")
    write_json(landing, "RE77", "R-77", 5)
    day1 = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, day1.manifest, run_id="day-1")
    rescrape_pdf = write_pdf(landing, "RE77", 86_400, "detalle de R-77, día 2")
    write_json(landing, "RE77", "R-77", 86_405)
    _, outcome = remove_request(db, s3, settings, "R-77")
    assert outcome.status == "completed"
    pipeline.extract(db, AFINIA, settings, "day-2")
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    assert not (processed / rescrape_pdf).exists()


def test_a_rescrape_written_after_the_approved_listing_is_left_to_the_next_run(
        db, s3, bucket, settings, landing):
    """An answer is applied only to what was shown: the form listed day 1's files; a
    re-scrape written while the approval waited is not removed (it was not shown), nor
    recorded as removed: the next run files it whole (its PDF with its JSON), and a new
    removal lists and removes it."""
    write_pdf(landing, "RE77", 0, "detalle de R-77, día 1")
    day1_json = write_json(landing, "RE77", "R-77", 5)
    day1 = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, day1.manifest, run_id="day-1")
    shown = removal.find(db, s3, AFINIA, settings, "R-77").as_dict()
    db.rollback()
    removal.record_decision(db, "afinia", "R-77", run_id="rm-1", approved=True,
                            decided_by="reviewer", decided_at=datetime.now(UTC),
                            reason="supresión pedida por el titular", shown=shown)
    # While the approval waited, the bot scraped R-77 again.
    rescrape = [write_pdf(landing, "RE77", 86_400, "detalle de R-77, día 2"),
                write_json(landing, "RE77", "R-77", 86_405)]
    outcome = removal.remove(db, s3, AFINIA, settings, "R-77", run_id="rm-1")
    assert outcome.status == "completed" and outcome.kept["after_listing"] == 2
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    assert not (processed / day1_json).exists()
    assert all((processed / name).exists() for name in rescrape)
    [(kept,)] = query(db, "SELECT kept FROM data_general.request_removals")
    assert sorted(kept["after_listing"]) == sorted(f"processed/{n}" for n in rescrape)
    assert query(db, "SELECT count(*) FROM data_general.removed_files WHERE filename = "
                     "ANY(%s)", rescrape) == [(0,)]
    # The next run files the re-scrape whole; a new removal lists it.
    pipeline.extract(db, AFINIA, settings, "day-2")
    rows = query(db, "SELECT filename, s3_key FROM data_general.s3_files_registry "
                     "ORDER BY filename")
    assert sorted(name for name, _ in rows) == sorted(rescrape)
    assert all("/RE77/" in key for _, key in rows), rows
    again = removal.find(db, s3, AFINIA, settings, "R-77")
    db.rollback()
    assert sorted(f.path.name for f in again.local) == sorted(rescrape)
