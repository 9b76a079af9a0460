"""A regression test (hostile-review-7.md).

The older detail writer (``pqr_detail_extractor`` in ``Jeampauldev/ExtractorMerc``) writes
``pqr_data_{sgc}_{ts}.json`` first, then ``{sgc}_PQR_{n}_{ts}.pdf``. Pairing
(``pairing._place_detail_writer``) files a detail-writer PDF with no ``pqr_data_`` JSON
before it **at once**, tied to no request, when any JSON of its SGC says where ("none is to
come"): that holds for the order the writer *wrote* the files, not for the order they
*arrive*. The README supports "a backlog copied with its old times" (first sight, not
mtime) and rsync's temporary names; rsync (and ``cp`` in the C locale) copies a folder in
byte order, where ``RE55_PQR_1_….pdf`` comes before ``pqr_data_RE55_….json`` (``R`` <
``p``). A run between the two (a copy stopped and resumed, ``ov_landing_quiet_minutes``
passed) files the PDF untied; the JSON's request R-2 then never gets it, and R-2's
removal leaves its detail page in the bucket. The bot's own PDF in the same place waits
``ov_orphan_after_hours`` for its JSON; the README: "When a run reads the folder never
changes where a document goes".
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import list_keys, query
from tests.landing_files import (
    prefix,
    record,
    remove_request,
    run_all,
    stamp,
    write,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration



def _session(db, s3, settings, landing, *, pdf_first: bool):
    write_pdf(landing, "RE55", 0, "detalle de R-1")  # the bot's request R-1, filed on day 1
    write_json(landing, "RE55", "R-1", 5)
    run_all(db, s3, settings, "day-1")
    # The detail writer's backlog for R-2 (same SGC), copied in byte order: PDF, then JSON.
    json_name = f"pqr_data_RE55_{stamp(3_600)}.json"
    pdf_name = f"RE55_PQR_1_{stamp(3_604)}.pdf"
    write(landing, pdf_name, "%PDF-1.4 detalle de R-2")
    if pdf_first:
        run_all(db, s3, settings, "day-2")  # the copy stopped between the two files
    write(landing, json_name, json.dumps(record("RE55", "R-2", stamp(3_600)),
                                         ensure_ascii=False, indent=2))
    run_all(db, s3, settings, "day-3")
    return json_name, pdf_name


def _tie(db, pdf_name):
    return query(db, "SELECT numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = %s", pdf_name)


def test_a_detail_writers_pdf_goes_with_its_json_whichever_arrives_first(
        db, s3, bucket, settings, landing):
    json_name, pdf_name = _session(db, s3, settings, landing, pdf_first=True)
    assert _tie(db, pdf_name) == [("R-2", json_name)]


def test_the_same_files_arriving_together_are_tied(db, s3, bucket, settings, landing):
    """The sibling that holds: with both files there, the PDF is R-2's."""
    json_name, pdf_name = _session(db, s3, settings, landing, pdf_first=False)
    assert _tie(db, pdf_name) == [("R-2", json_name)]


def test_removing_a_request_takes_its_detail_pdf_that_arrived_before_its_json(
        db, s3, bucket, settings, landing):
    _, pdf_name = _session(db, s3, settings, landing, pdf_first=True)
    remove_request(db, s3, settings, "R-2")
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    assert prefix() + "RE55/" + pdf_name not in list_keys(s3, bucket), \
        "R-2's detail page survived its removal"
    assert not (processed / pdf_name).exists()
