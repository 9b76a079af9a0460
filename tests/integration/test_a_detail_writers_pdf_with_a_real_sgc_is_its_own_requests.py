"""A regression test (hostile-review-5.md).

The dormant detail writer (``legacy/Legacy_OV/components/pqr_detail_extractor.py`` in
``Jeampauldev/ExtractorMerc``) saves, per request, the JSON ``pqr_data_{sgc}_{ts}.json``
FIRST (``_extract_pqr_data`` calls ``_save_pqr_data``), then its attachments, then the
detail PDF ``{sgc}_PQR_{n}_{ts}.pdf``, and waits 2 s before the next request (data
contract, "What the bot really writes"). The data contract reads these names "as a request
JSON of ``{sgc}`` ... and a detail PDF of ``{sgc}``" and gives the JSON-first rule only to
the blank SGC (``pqr_data__{ts}.json``). With a real SGC the PDF goes through the bot's
JSON-LAST rule (``pairing._place_real``: "the first JSON of its SGC written at or after
it"), so:

* two consecutive requests of the same SGC (R-900 then R-901: an SGC folder may hold more
  than one request): R-900's PDF, written after R-900's JSON and before R-901's, is tied to
  R-901 (``metadata.request_json``, ``numero_radicado`` R-901). R-901's titular asks for
  supresión: the removal deletes R-900's detail page — another customer's document LOST;
* R-901's own PDF (no JSON after it) waits ``ov_orphan_after_hours`` and is then filed tied
  to NO request: a removal of R-901 lists it as not its request's and keeps it (its
  customer's personal data survives a removal reported ``completed``).
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import list_keys, query, seen_hours_ago
from tests.landing_files import prefix, record, remove_request, run_all, stamp, write

pytestmark = pytest.mark.integration



def _request(landing, radicado: str, n: int, at: float) -> tuple[str, str]:
    """One request as the detail writer saves it: JSON first, the PDF 4 s later."""
    json_name = f"pqr_data_RE900_{stamp(at)}.json"
    write(landing, json_name, json.dumps(record("RE900", radicado, stamp(at)),
                                         ensure_ascii=False, indent=2))
    pdf_name = f"RE900_PQR_{n}_{stamp(at + 4)}.pdf"
    write(landing, pdf_name, f"%PDF-1.4 detalle de {radicado}")
    return json_name, pdf_name


def _session(db, s3, settings, landing):
    r900 = _request(landing, "R-900", 1, 0)
    r901 = _request(landing, "R-901", 2, 10)  # 2 s pause, a new tab, the page read
    run_all(db, s3, settings, "day-1")
    seen_hours_ago(db, landing, "afinia", hours=73)  # whatever waited has waited out
    run_all(db, s3, settings, "day-4")
    return r900, r901


def _tie(db, name: str) -> list[tuple]:
    return query(db, "SELECT numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = %s", name)


def test_a_detail_writers_pdf_is_never_tied_to_the_next_request_of_its_sgc(
        db, s3, bucket, settings, landing):
    (_, r900_pdf), (r901_json, _) = _session(db, s3, settings, landing)
    assert _tie(db, r900_pdf) != [("R-901", r901_json)]


def test_a_detail_writers_pdf_is_tied_to_its_own_request(db, s3, bucket, settings, landing):
    _, (r901_json, r901_pdf) = _session(db, s3, settings, landing)
    assert _tie(db, r901_pdf) == [("R-901", r901_json)]


def test_removing_a_request_of_the_detail_writer_keeps_the_other_requests_pdf_and_takes_its_own(
        db, s3, bucket, settings, landing):
    (_, r900_pdf), (_, r901_pdf) = _session(db, s3, settings, landing)
    remove_request(db, s3, settings, "R-901")
    keys = list_keys(s3, bucket)
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    assert prefix() + "RE900/" + r900_pdf in keys or (processed / r900_pdf).exists(), (
        "R-900's detail page is gone")
    assert prefix() + "RE900/" + r901_pdf not in keys, "R-901's detail page survived"
