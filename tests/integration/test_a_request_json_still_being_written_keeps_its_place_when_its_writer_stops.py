"""A regression test: a request JSON whose writer stopped (``….json.part``: a copy cut short) is a
"being written" mark for pairing only until ``ov_orphan_after_hours`` after it was first
seen. From then on it is *stale* and extract drops it from pairing altogether, so the
document written before it (its own detail PDF, bot's placeholder SGC) is paired with the
next request JSON in write order and filed in that other customer's folder, in the same
run that reports the stale file to a human."""

from __future__ import annotations

import pytest

from extractorov import pipeline
from tests.helpers import query, seen_hours_ago
from tests.landing_files import AFINIA, record, stamp, write, write_json, write_pdf

pytestmark = pytest.mark.integration


def test_a_request_json_still_being_written_keeps_its_place_when_its_writer_stops(
        db, s3, bucket, settings, landing):
    import json

    # R-1 (placeholder SGC): its detail PDF, then its JSON, whose copy stopped midway.
    pdf = write_pdf(landing, "PQR_4_ERROR", 0, "detalle de R-1")
    partial = json.dumps(record("PQR_4_ERROR", "R-1", stamp(5)))[:60]
    temp = write(landing, f"PQR_4_ERROR_data_{stamp(5)}.json.part", partial).name
    # R-2, next in the session (its detail PDF failed: only its JSON).
    write_json(landing, "PQR_4_ERROR", "R-2", 12)

    first = pipeline.extract(db, AFINIA, settings, "day-1")
    assert first.files_waiting == 1  # R-1's PDF waits for the JSON being written: right
    # Three days later the copy never finished (ov_orphan_after_hours=72).
    seen_hours_ago(db, landing, "afinia", temp, hours=73)
    pipeline.extract(db, AFINIA, settings, "day-4")
    rows = query(db, "SELECT filename, s3_key FROM data_general.s3_files_registry")
    # R-1's detail PDF is never filed in R-2's folder.
    assert not [k for name, k in rows if name == pdf and "/R-2/" in k], rows
