"""Documents with a placeholder SGC (``PQR_4_ERROR``) are filed with their own request and
never merged with another's: across runs, while a JSON is still being written, after a
JSON left ``processed/``, when a placeholder JSON names a real SGC (bot-shaped input,
real PostgreSQL + moto S3)."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from extractorov.landing import company_folders
from tests.helpers import list_keys, query, seen_hours_ago
from tests.landing_files import (
    AFINIA,
    AIRE,
    OLD,
    prefix,
    registry_keys,
    run_all,
    state,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration


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
    # The re-scrape's PDF waits for its own RE777_data_… JSON (it may still come); once it
    # has waited ov_orphan_after_hours, it goes to the folder the placeholder JSON named.
    assert real_late not in registry_keys(db)
    seen_hours_ago(db, landing, e, real_late, hours=73)
    run_all(db, s3, settings, "run-2", company)
    keys = registry_keys(db)
    for n in [*docs, j, real_late]:
        assert keys[n] == f"{prefix(e)}RE777/{n}"
    for n in other:
        assert keys[n] == f"{prefix(e)}sin_sgc/R-B/{n}"
    assert query(db, f"SELECT numero_radicado, numero_reclamo_sgc FROM data_general.ov_{e} "
                     "ORDER BY 1") == [("R-A", "RE777"), ("R-B", None)]


def test_attachment_of_a_request_whose_json_never_came_is_not_filed_with_the_next_request(
        db, s3, bucket, settings, landing):
    """A regression test. The bot writes PDF → attachment → JSON per request. Request A (row 4 of a
    page, SGC unreadable) gets its PDF and attachment written, then the bot is killed before
    A's JSON. After the restart, request B (another customer, row 4 again: PQR_4_ERROR) has
    a PDF and no attachment. Certain facts: B's PDF (t=60) was written AFTER A's attachment
    (t=2), so that attachment cannot be B's (B's attachment would follow B's PDF).

    Before its fix the pairing counted only documents of the attachment's own kind, found
    one attachment before B's JSON and filed A's attachment into B's folder sin_sgc/R-B/
    (promise 2)."""
    a_pdf = write_pdf(landing, "PQR_4_ERROR", 0, "A")
    a_adj = write_adjunto(landing, "PQR_4_ERROR", 2, "customer A's evidence")
    # A's JSON was never written (bot killed). Bot restarts, next request with row 4:
    write_pdf(landing, "PQR_4_ERROR", 60, "B")
    write_json(landing, "PQR_4_ERROR", "R-B", 65)
    run_all(db, s3, settings, "run-1")
    keys = registry_keys(db)
    assert a_pdf not in keys  # the PDFs are correctly left waiting (two before one JSON)
    assert a_adj not in keys, (
        f"customer A's attachment was filed into another request's folder: {keys.get(a_adj)}")
    assert not [k for k in list_keys(s3, bucket) if k.endswith(a_adj)]


def test_attachment_written_in_the_seconds_of_the_previous_json_is_not_merged(
        db, s3, bucket, settings, landing):
    """A regression test, the same rule from the other side (promise 2): B's PDF and
    attachment fall in the second of A's JSON (the contract's own 'rival PDF in that second'
    case). The PDFs are held back (two PDFs before A's JSON), but B's attachment (after B's
    PDF) was filed into A's folder, although a PDF was written between it and A's PDF."""
    write_pdf(landing, "PQR_4_ERROR", 0, "A")
    write_json(landing, "PQR_4_ERROR", "R-A", 5)
    write_pdf(landing, "PQR_4_ERROR", 5.2, "B")  # same second as A's JSON (stamp rounds)
    b_adj = write_adjunto(landing, "PQR_4_ERROR", 5.6, "customer B's evidence")
    write_json(landing, "PQR_4_ERROR", "R-B", 9)
    run_all(db, s3, settings, "run-1")
    keys = registry_keys(db)
    assert keys.get(b_adj) != f"{prefix()}sin_sgc/R-A/{b_adj}", (
        "customer B's attachment was filed with customer A")
