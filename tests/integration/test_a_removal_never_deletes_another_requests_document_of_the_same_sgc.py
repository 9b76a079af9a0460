"""A regression test: a real-SGC document whose own request JSON is not there is tied to "the
newest earlier scrape of the same SGC" (pairing ``_place_real``): its registry row gets
that request's ``request_json`` and ``numero_radicado``. An SGC folder may hold more than
one request (the removal's own docstring), so a detail PDF of R-2 (SGC RE1) whose JSON the
bot failed to write is recorded as R-1's. Removing R-1 everywhere then deletes R-2's
document: the local file and every S3 version (loss of another customer's data)."""

from __future__ import annotations

import pytest

from extractorov import pipeline
from tests.helpers import list_keys, query, seen_hours_ago
from tests.landing_files import AFINIA, prefix, remove_request, write_json, write_pdf

pytestmark = pytest.mark.integration


def test_a_removal_never_deletes_another_requests_document_of_the_same_sgc(
        db, s3, bucket, settings, landing):
    # R-1 (SGC RE1): detail PDF and JSON, filed, loaded and uploaded.
    write_pdf(landing, "RE1", 0, "detalle de R-1")
    write_json(landing, "RE1", "R-1", 5)
    first = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, first.manifest, run_id="day-1")
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    # Later: R-2, another customer's request under the same SGC; its detail PDF is
    # written, then the bot fails before its JSON (it will come with a later scrape).
    other = write_pdf(landing, "RE1", 3_600, "detalle de R-2")
    # It waits for its own JSON; none came in ov_orphan_after_hours.
    seen_hours_ago(db, landing, "afinia", other, hours=73)
    second = pipeline.extract(db, AFINIA, settings, "day-1b")
    pipeline.load(db, AFINIA, second.manifest, run_id="day-1b")
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1b")
    # Filed in its SGC's folder, tied to no request: which one owns it cannot be told.
    assert query(db, "SELECT numero_radicado, s3_key FROM data_general.s3_files_registry "
                     "WHERE filename = %s", other) == [(None, prefix() + "RE1/" + other)]
    # R-1's titular asks for supresión.
    remove_request(db, s3, settings, "R-1")
    # R-2's detail page is not R-1's data: it is still somewhere (bucket or landing).
    key = prefix() + "RE1/" + other
    local = (landing / "afinia" / "oficina_virtual" / "processed" / other)
    assert key in list_keys(s3, bucket) or local.exists()


def test_another_requests_document_of_the_same_sgc_never_follows_a_request_to_its_new_sgc(
        db, s3, bucket, settings, landing):
    write_pdf(landing, "RE1", 0, "detalle de R-1")
    write_json(landing, "RE1", "R-1", 5)
    first = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, first.manifest, run_id="day-1")
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")
    other = write_pdf(landing, "RE1", 3_600, "detalle de R-2")  # R-2's, JSON not written
    second = pipeline.extract(db, AFINIA, settings, "day-1b")
    pipeline.load(db, AFINIA, second.manifest, run_id="day-1b")
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1b")
    # A later scrape of R-1 shows its SGC corrected to RE9: R-1's files follow it.
    write_json(landing, "RE1", "R-1", 86_400, numero_reclamo_sgc="RE9")
    third = pipeline.extract(db, AFINIA, settings, "day-2")
    pipeline.load(db, AFINIA, third.manifest, run_id="day-2")
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-2")
    keys = list_keys(s3, bucket)
    # R-2's detail page stays in its SGC's folder, never in R-1's new one.
    assert prefix() + "RE9/" + other not in keys, sorted(keys)
