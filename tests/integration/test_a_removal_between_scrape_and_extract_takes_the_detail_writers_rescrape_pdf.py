"""A regression test (hostile-review-6.md).

``removal._local_documents`` takes the documents in ``processed/`` that ``extract`` would
file with one of the removed request's JSONs waiting there, and with a real SGC keeps
only "a document written at or before the JSON" — the bot's order (JSON last). The
detail writer (``pqr_detail_extractor``: ``pqr_data_{sgc}_{ts}.json`` FIRST, then
``{sgc}_PQR_{n}_{ts}.pdf``; review 5 finding 2 gave it its JSON-first pairing,
``pairing._place_detail_writer``) writes its PDF AFTER its JSON, so the removal's own
check drops the very PDF pairing gives the request.

Story: R-77 (SGC ``RE77``, saved by the detail writer) is filed and loaded on day 1. On
day 2 the writer scrapes it again (JSON, then PDF 4 s later); the approved removal of R-77
runs after the scrape and before ``extract`` (it waits only for the writer pool). It
deletes the re-scrape's JSON but leaves its detail PDF in ``processed/`` and says
``completed``; the next ``extract`` holds it as *undecided* (its owner is a removed JSON)
for ever: the removed customer's detail page survives the removal (Ley 1581). The bot's
own order (``test_a_removal_between_scrape_and_extract_leaves_nothing_of_the_rescrape``)
holds.
"""

from __future__ import annotations

import json

import pytest

from extractorov import pipeline
from tests.landing_files import AFINIA, record, remove_request, stamp, write

pytestmark = pytest.mark.integration


def _detail_writer_request(landing, radicado: str, at: float) -> tuple[str, str]:
    json_name = f"pqr_data_RE77_{stamp(at)}.json"
    write(landing, json_name, json.dumps(record("RE77", radicado, stamp(at)),
                                         ensure_ascii=False, indent=2))
    pdf_name = f"RE77_PQR_1_{stamp(at + 4)}.pdf"
    write(landing, pdf_name, f"%PDF-1.4 detalle de {radicado}")
    return json_name, pdf_name


def test_a_removal_between_scrape_and_extract_takes_the_detail_writers_rescrape_pdf(
        db, s3, bucket, settings, landing):
    _detail_writer_request(landing, "R-77", 0)
    day1 = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, day1.manifest, run_id="day-1")
    _, rescrape_pdf = _detail_writer_request(landing, "R-77", 86_400)
    _, outcome = remove_request(db, s3, settings, "R-77")
    assert outcome.status == "completed"
    pipeline.extract(db, AFINIA, settings, "day-2")
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    assert not (processed / rescrape_pdf).exists(), "R-77's re-scraped detail page survived"
