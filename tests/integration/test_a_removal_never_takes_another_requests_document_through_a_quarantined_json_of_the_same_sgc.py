"""A regression test: a real-SGC document without its own request JSON is tied to no request
(pairing ``_place_real``, docs/reviews/hostile-review-2.md, finding 12) -- but only when the
earlier JSON of the SGC is LOADED. When the newest earlier JSON of the SGC is QUARANTINED,
the document is filed with ``request_json`` = that quarantined JSON
(``FOLDER_JSON_QUARANTINED``), so it is recorded as the earlier request's. Removing that
earlier request (ov_remove_request finds its quarantined JSON by numero_radicado) then
deletes the other customer's document."""

from __future__ import annotations

import pytest

from extractorov import pipeline
from tests.helpers import list_keys, query, seen_hours_ago
from tests.landing_files import AFINIA, prefix, remove_request, stamp, write, write_pdf

pytestmark = pytest.mark.integration


def _run(db, s3, settings, run_id):
    summary = pipeline.extract(db, AFINIA, settings, run_id)
    pipeline.load(db, AFINIA, summary.manifest, run_id=run_id)
    pipeline.upload(db, s3, AFINIA, settings, run_id=run_id)


def test_a_removal_never_takes_another_requests_document_through_a_quarantined_json(
        db, s3, bucket, settings, landing):
    # R-1 (SGC RE1): detail PDF, then its JSON cut short (numero_radicado whole): the JSON
    # is quarantined, the PDF filed in RE1/ (real SGC) with request_json = that JSON.
    write_pdf(landing, "RE1", 0, "detalle de R-1")
    write(landing, f"RE1_data_{stamp(5)}.json",
          '{"numero_radicado": "R-1", "numero_reclamo_sgc": "RE1", "nombres_apellidos": "Zo')
    _run(db, s3, settings, "day-1")
    # Later: R-2, another customer's request with the same SGC; its detail PDF is written,
    # the bot fails before its JSON.
    other = write_pdf(landing, "RE1", 3_600, "detalle de R-2")
    seen_hours_ago(db, landing, "afinia", other, hours=73)  # no JSON of its own came
    _run(db, s3, settings, "day-1b")
    row = query(db, "SELECT numero_radicado, metadata ->> 'request_json' "
                    "FROM data_general.s3_files_registry WHERE filename = %s", other)
    # Which request owns it cannot be told: tied to none (as with a LOADED earlier JSON).
    assert row == [(None, None)], row
    key = prefix() + "RE1/" + other
    assert key in list_keys(s3, bucket)


def test_removing_a_request_with_a_quarantined_json_keeps_another_requests_document(
        db, s3, bucket, settings, landing):
    write_pdf(landing, "RE1", 0, "detalle de R-1")
    write(landing, f"RE1_data_{stamp(5)}.json",
          '{"numero_radicado": "R-1", "numero_reclamo_sgc": "RE1", "nombres_apellidos": "Zo')
    _run(db, s3, settings, "day-1")
    other = write_pdf(landing, "RE1", 3_600, "detalle de R-2")
    seen_hours_ago(db, landing, "afinia", other, hours=73)  # no JSON of its own came
    _run(db, s3, settings, "day-1b")
    key = prefix() + "RE1/" + other
    assert key in list_keys(s3, bucket)
    shown, _ = remove_request(db, s3, settings, "R-1")
    local = landing / "afinia" / "oficina_virtual" / "processed" / other
    assert key in list_keys(s3, bucket) or local.exists(), shown
