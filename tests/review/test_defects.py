"""Reproductions of defects found by the hostile review. Each FAILS on today's code."""

from __future__ import annotations

import time

import pytest

from tests.helpers import list_keys, query, seen_hours_ago
from tests.landing_files import (
    AFINIA,
    prefix,
    registry_keys,
    run_all,
    stamp,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration


def test_attachment_of_a_request_whose_json_never_came_is_not_filed_with_the_next_request(
        db, s3, bucket, settings, landing):
    """Promise 2. The bot writes PDF → attachment → JSON per request. Request A (row 4 of a
    page, SGC unreadable) gets its PDF and attachment written, then the bot is killed before
    A's JSON. After the restart, request B (another customer, row 4 again: PQR_4_ERROR) has
    a PDF and no attachment. Certain facts: B's PDF (t=60) was written AFTER A's attachment
    (t=2), so that attachment cannot be B's (B's attachment would follow B's PDF).

    Today the pairing counts only documents of the attachment's own kind, finds one
    attachment before B's JSON and files A's attachment into B's folder sin_sgc/R-B/."""
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
    """Promise 2, same rule from the other side: B's PDF and attachment fall in the second of
    A's JSON (the contract's own 'rival PDF in that second' case). The PDFs are held back
    (two PDFs before A's JSON), but B's attachment (after B's PDF) is filed into A's folder,
    although a PDF was written between it and A's PDF."""
    write_pdf(landing, "PQR_4_ERROR", 0, "A")
    write_json(landing, "PQR_4_ERROR", "R-A", 5)
    write_pdf(landing, "PQR_4_ERROR", 5.2, "B")  # same second as A's JSON (stamp rounds)
    b_adj = write_adjunto(landing, "PQR_4_ERROR", 5.6, "customer B's evidence")
    write_json(landing, "PQR_4_ERROR", "R-B", 9)
    run_all(db, s3, settings, "run-1")
    keys = registry_keys(db)
    assert keys.get(b_adj) != f"{prefix()}sin_sgc/R-A/{b_adj}", (
        "customer B's attachment was filed with customer A")


def test_rescrape_with_a_blank_fecha_does_not_erase_the_loaded_date(db, s3, bucket, settings,
                                                                    landing):
    """Promise 6 / contract: 'blank fecha is a known bot failure (element not rendered)'; 'a
    later extraction with the date completes the row'. The reverse: a later re-scrape whose
    page failed to render the date is a newer extraction with a different content hash, so it
    is classified *updated* and overwrites the known fecha with NULL (data lost)."""
    write_pdf(landing, "RE700", 0, "x")
    write_json(landing, "RE700", "R-700", 5, fecha="2025/10/07 14:05")
    run_all(db, s3, settings, "run-1")
    write_json(landing, "RE700", "R-700", 86_400, fecha="")  # re-scrape, date not rendered
    _, loaded, _ = run_all(db, s3, settings, "run-2")
    [(fecha,)] = query(db, "SELECT fecha FROM data_general.ov_afinia")
    assert fecha is not None, f"a blank re-scrape erased fecha ({loaded})"


def test_rescrape_that_misses_the_sgc_keeps_the_request_in_one_folder(db, s3, bucket, settings,
                                                                      landing):
    """Promises 1/3. A request first scraped with its real SGC RE800 (folder RE800/). A later
    re-scrape of the same request (same numero_radicado) fails to read the SGC (PQR_2_ERROR).
    Today the newer extraction is 'updated': the row's numero_reclamo_sgc becomes NULL and the
    re-scrape's files go to sin_sgc/R-800/: one request in two folders, and the table forgets
    its SGC. The known SGC of the radicado should win (or the re-scrape be filed under it)."""
    first = [write_pdf(landing, "RE800", 0, "x"), write_json(landing, "RE800", "R-800", 5)]
    run_all(db, s3, settings, "run-1")
    again = [write_pdf(landing, "PQR_2_ERROR", 86_400, "y"),
             write_json(landing, "PQR_2_ERROR", "R-800", 86_405)]
    run_all(db, s3, settings, "run-2")
    [(sgc,)] = query(db, "SELECT numero_reclamo_sgc FROM data_general.ov_afinia")
    keys = registry_keys(db)
    folders = {keys[n].rsplit("/", 1)[0] for n in first + again}
    assert (sgc, folders) == ("RE800", {f"{prefix()}RE800"})


def test_a_stale_temporary_file_is_not_in_progress_for_ever_without_a_report(
        db, s3, bucket, settings, landing):
    """Promise 1 ('in progress *while being written*', 'nothing silent'). A '.part' request JSON
    left by a killed writer 100 hours ago is counted 'in progress' by every run, for ever; its
    real-SGC documents wait for it (JSON 'still being written'); reconcile reports the
    documents but never the temporary file itself, which nobody is told to look at. Expected:
    a temp file older than ov_orphan_after_hours is reported (or quarantined with a reason)."""
    from extractorov import reconcile
    from tests.landing_files import write

    old = time.time() - 100 * 3600
    write(landing, f"RE900_data_{stamp(5)}.json.part", b'{"numero_radicado": "R-9', mtime=old)
    seen_hours_ago(db, landing, "afinia", f"RE900_data_{stamp(5)}.json.part", hours=100)
    run_all(db, s3, settings, "run-1")
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1")
    assert any(".part" in f.detail for f in report.findings), [
        (f.kind, f.detail) for f in report.findings]
