"""A regression test (hostile-review-4.md).

the bot writes a request's detail PDF first and its JSON last (seconds apart,
minutes when an attachment download is retried), and ``extract`` may run while it is still
writing (``scrape`` goes on after ``ov_landing_wait_minutes`` with what is settled; a bot on
its Windows scheduled task writes at 04:00 and hourly). The data contract says such a
document **waits** ("the run that sees the JSON files it").

With a real SGC whose request was scraped before (a re-scrape: common, the portal lists a
request for weeks), ``_place_real`` does not wait: with no JSON at or after the PDF it files
it at once into the folder of the earlier scrape, *tied to no request* (the finding-12
outcome, meant for a document whose JSON was never written). Ten seconds later the JSON
arrives, but the PDF is registered already and never looked at again: the request's own
detail page stays untied for ever, depending only on when the run happened (the same files
read a minute later tie it). So the titular's supresión (``ov_remove_request``) lists that
page as "not tied to the request" and KEEPS it in the bucket: a request's data survives its
removal (Ley 1581), and a corrected SGC of the request does not take it along."""

from __future__ import annotations

import pytest

from extractorov import removal
from tests.helpers import list_keys, query
from tests.landing_files import (
    prefix,
    remove_request,
    run_all,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration

DAY = 5 * 86400  # the re-scrape, five days after the first scrape


def _rescrape_read_mid_write(db, s3, settings, landing) -> tuple[str, str]:
    write_pdf(landing, "RE1", 0, "detalle de R-1, primera lectura")
    write_json(landing, "RE1", "R-1", 8)
    run_all(db, s3, settings, "day-1")
    # Day 5: the bot re-reads R-1. Its detail PDF is written; the attachment download is
    # being retried, the JSON is not written yet, and the run starts.
    pdf = write_pdf(landing, "RE1", DAY, "detalle de R-1, segunda lectura")
    run_all(db, s3, settings, "day-5-a")
    # The attachment is saved at last (stamped when its step began), then the JSON.
    write_adjunto(landing, "RE1", DAY + 4, "evidencia de R-1")
    json_ = write_json(landing, "RE1", "R-1", DAY + 75, estado_solicitud="En trámite")
    run_all(db, s3, settings, "day-5-b")
    return pdf, json_


def test_a_rescrapes_detail_pdf_read_before_its_json_is_tied_to_its_request(
        db, s3, bucket, settings, landing):
    pdf, json_ = _rescrape_read_mid_write(db, s3, settings, landing)
    rows = query(db, "SELECT numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = %s", pdf)
    assert rows == [("R-1", json_)], rows


def test_removing_a_request_takes_its_rescrapes_detail_pdf_read_before_its_json(
        db, s3, bucket, settings, landing):
    pdf, _ = _rescrape_read_mid_write(db, s3, settings, landing)
    key = prefix() + "RE1/" + pdf
    assert key in list_keys(s3, bucket)  # delivered (holds)
    _, outcome = remove_request(db, s3, settings, "R-1")
    assert outcome.as_dict()["status"] == removal.COMPLETED, outcome.as_dict()  # (holds)
    assert key not in list_keys(s3, bucket), "R-1's detail page is still in the bucket"
