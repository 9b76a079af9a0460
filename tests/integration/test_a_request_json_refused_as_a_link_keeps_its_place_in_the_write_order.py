"""A regression test: a request JSON that is a symbolic link (a restore with ``cp -s``/``ln -s``, a
sync that keeps links) is refused as "not a regular file" and quarantined, but unlike every
other refused JSON (invalid, empty, too large, unreadable, one that could not be moved) it
gets no mark in the write order of the run that refuses it: ``_extract`` quarantines
``found.not_regular`` without ``marks.put``, and the quarantine list pairing reads was
taken before. So the placeholder PDF written before it is filed, in that same run, under
the next request's folder: another customer's."""

from __future__ import annotations

import json
import os

import pytest

from extractorov import pipeline
from extractorov.landing import company_folders
from tests.helpers import query
from tests.landing_files import AFINIA, record, stamp, write_json, write_pdf

pytestmark = pytest.mark.integration


def test_a_request_json_refused_as_a_link_keeps_its_place_in_the_write_order(
        db, s3, bucket, settings, landing, tmp_path):
    # R-1 (placeholder SGC): its detail PDF, then its JSON, which arrives as a link.
    pdf = write_pdf(landing, "PQR_4_ERROR", 0, "detalle de R-1")
    real = tmp_path / "restored.json"
    real.write_text(json.dumps(record("PQR_4_ERROR", "R-1", stamp(5))), encoding="utf-8")
    link = company_folders(landing, "afinia").processed / f"PQR_4_ERROR_data_{stamp(5)}.json"
    os.symlink(real, link)
    # R-2, next in the session (its detail PDF failed).
    write_json(landing, "PQR_4_ERROR", "R-2", 12)
    pipeline.extract(db, AFINIA, settings, "day-1")
    rows = query(db, "SELECT filename, s3_key FROM data_general.s3_files_registry")
    # R-1's detail PDF is never filed in R-2's folder (it follows R-1's JSON into
    # quarantine/, or waits).
    assert not [k for name, k in rows if name == pdf and "/R-2/" in k], rows
