"""A regression test: a real-SGC document "goes with the first JSON of its SGC written at or after
it" (pairing ``_place_real``). When the bot's JSON step failed for R-2 (its detail PDF is
written, its JSON never is) and the next request of the session, R-3, has the same SGC (an
SGC folder may hold more than one request), two detail PDFs precede R-3's JSON with none
in between: one of them is not R-3's. The placeholder rule calls such a stretch undecided
("several documents of one kind ... belong to more than one request"); the real-SGC rule
ties both to R-3 (registry ``request_json`` and ``numero_radicado``), so removing R-3 on
request deletes R-2's detail page, another customer's (a MISFILE, then a LOSS)."""

from __future__ import annotations

import pytest

from extractorov import pipeline
from tests.helpers import list_keys, query
from tests.landing_files import AFINIA, prefix, remove_request, write_json, write_pdf

pytestmark = pytest.mark.integration


def _session(db, s3, settings, landing) -> tuple[str, str]:
    r2_pdf = write_pdf(landing, "RE1", 0, "detalle de R-2")  # R-2's JSON step fails
    r3_pdf = write_pdf(landing, "RE1", 60, "detalle de R-3")
    r3_json = write_json(landing, "RE1", "R-3", 65)
    summary = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, summary.manifest, run_id="day-1")
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    assert query(db, "SELECT metadata ->> 'request_json' FROM data_general.s3_files_registry "
                     "WHERE filename = %s", r3_pdf) == [(r3_json,)]
    return r2_pdf, r3_json


def test_a_document_whose_json_was_never_written_is_not_tied_to_the_next_request(
        db, s3, bucket, settings, landing):
    r2_pdf, _ = _session(db, s3, settings, landing)
    rows = query(db, "SELECT numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = %s", r2_pdf)
    # Either waiting/undecided (no row) or filed tied to no request: never R-3's.
    assert rows in ([], [(None, None)]), rows


def test_removing_the_next_request_keeps_the_document_whose_json_was_never_written(
        db, s3, bucket, settings, landing):
    r2_pdf, _ = _session(db, s3, settings, landing)
    remove_request(db, s3, settings, "R-3")
    local = landing / "afinia" / "oficina_virtual" / "processed" / r2_pdf
    assert prefix() + "RE1/" + r2_pdf in list_keys(s3, bucket) or local.exists()
