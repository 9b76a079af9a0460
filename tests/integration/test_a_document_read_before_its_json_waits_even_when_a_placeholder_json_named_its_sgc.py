"""A regression test (hostile-review-5.md).

Review 4 finding 2 made a real-SGC document with no JSON of its SGC at or after it WAIT for
its own JSON (a re-scrape's comes last, maybe minutes later) instead of being filed, tied to
no request, on first sight. The sibling branch of ``pairing._place_real`` was left: "when
only a JSON of another name carries the SGC in its ``numero_reclamo_sgc`` ... it goes to
that folder at once, tied to no request: no JSON of its own name is to come".

The current bot does write such JSONs: it reads the SGC for the file names at PASO 2, right
after the tab loads (``_extract_sgc_number_from_page`` in ``afinia_pqr_processor.py``,
``Jeampauldev/ExtractorMerc``: not found yet → ``PQR_{n}_{YYYYMMDD_HHMMSS}``), and reads
the field ``numero_reclamo_sgc`` again at PASO 5 for the JSON, seconds later, when the page
shows it. So R-77's day-1 scrape is ``PQR_4_{ts}_data_{ts}.json`` carrying ``RE77``, filed
in ``RE77/``. On day 5 the bot reads R-77 again and this time finds the SGC at once: the
detail PDF ``RE77_{ts}.pdf``, a minute in the attachment step, then ``RE77_data_{ts}.json``.
A run that reads the folder in that minute files the PDF in ``RE77/`` tied to NO request
(``numero_radicado`` NULL, no ``request_json``), for ever: the JSON arriving 75 s later
never ties it. Had the run come two minutes later it would be R-77's. R-77's titular asks
for supresión: the removal lists the page as "not tied to the request" and keeps it; its
customer's personal data stays in the bucket after a removal reported ``completed``.
"""

from __future__ import annotations

import pytest

from tests.helpers import list_keys, query
from tests.landing_files import (
    prefix,
    remove_request,
    run_all,
    stamp,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration

DAY5 = 4 * 86400


def _scrapes(db, s3, settings, landing) -> tuple[str, str]:
    placeholder = f"PQR_4_{stamp(-3)}"  # PASO 2 found no SGC yet
    write_json(landing, placeholder, "R-77", 0, numero_reclamo_sgc="RE77")
    run_all(db, s3, settings, "day-1")
    assert query(db, "SELECT s3_key FROM data_general.s3_files_registry") == [
        (f"{prefix()}RE77/{placeholder}_data_{stamp(0)}.json",)]  # holds
    pdf = write_pdf(landing, "RE77", DAY5, "detalle de R-77, día 5")
    run_all(db, s3, settings, "day-5-a")  # the bot is in the attachment step
    own = write_json(landing, "RE77", "R-77", DAY5 + 75)
    run_all(db, s3, settings, "day-5-b")
    return pdf, own


def test_a_document_read_before_its_json_is_its_requests_when_a_placeholder_json_named_its_sgc(
        db, s3, bucket, settings, landing):
    pdf, own = _scrapes(db, s3, settings, landing)
    rows = query(db, "SELECT numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = %s", pdf)
    assert rows in ([], [("R-77", own)]), rows  # still waiting, or its own request's


def test_removing_the_request_takes_its_document_read_before_its_json(
        db, s3, bucket, settings, landing):
    pdf, _ = _scrapes(db, s3, settings, landing)
    run_all(db, s3, settings, "day-5-c")
    remove_request(db, s3, settings, "R-77")
    assert prefix() + "RE77/" + pdf not in list_keys(s3, bucket), "R-77's page survived"
