"""A removal on request deletes every version of the request's documents, also those a
later run re-tied to it and moved out of another request's folder.

The story of ``test_documents_filed_before_the_rest_of_a_backlog_arrives_stay_their_own_
requests`` with a placeholder SGC (unrelated customers share ``PQR_4_ERROR``): day 1 files
R-2's detail PDF and ID scan into R-3's folder ``sin_sgc/R-3/`` and uploads them; day 2
(the rest of the backlog) re-ties them to R-2 and the upload moves them
(``storage.move_object``: copy, then ``delete_object`` of the old key). With versioning on
(README: "Versioning on the bucket is recommended, as in the seed"), the delete leaves the
old bytes as a noncurrent version under ``sin_sgc/R-3/`` and a delete marker.

R-2's titular asks for the supresión. ``removal._objects`` lists the versions of the
folders of R-2's own keys, ``sin_sgc/R-2/`` and its SGC's; the old key's folder
``sin_sgc/R-3/`` is in none of them once the move is recorded (``moving_from`` cleared; the
row keeps only ``retied_from``, a JSON name). R-2's detail page and ID scan stay in the
bucket, in another customer's folder, after the removal says it is complete; they go only
if R-3's titular asks for a removal too (the whole ``sin_sgc/R-3/`` folder).
"""

from __future__ import annotations

import pytest

from tests.landing_files import (
    prefix,
    remove_request,
    run_all,
    write_adjunto,
    write_json,
    write_pdf,
)
from tests.removal_world import enable_versioning

pytestmark = pytest.mark.integration

SGC = "PQR_4_ERROR"


def _versions(s3, bucket):
    found = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        found += [(v["Key"], "version") for v in page.get("Versions", [])]
        found += [(m["Key"], "delete marker") for m in page.get("DeleteMarkers", [])]
    return found


def test_removing_a_request_deletes_every_version_of_its_re_tied_documents(
        db, s3, bucket, settings, landing):
    enable_versioning(s3, bucket)
    r2_pdf = write_pdf(landing, SGC, 0, "detalle de R-2")
    r2_adjunto = write_adjunto(landing, SGC, 4, "cédula de R-2")
    write_json(landing, SGC, "R-3", 64)
    run_all(db, s3, settings, "day-1")
    write_json(landing, SGC, "R-2", 8)
    write_pdf(landing, SGC, 60, "detalle de R-3")
    write_adjunto(landing, SGC, 62, "cédula de R-3")
    run_all(db, s3, settings, "day-2")
    keys = {k for k, kind in _versions(s3, bucket) if kind == "version"}
    assert {prefix() + "sin_sgc/R-2/" + n for n in (r2_pdf, r2_adjunto)} <= keys  # moved
    remove_request(db, s3, settings, "R-2")
    left = sorted((k, kind) for k, kind in _versions(s3, bucket)
                  if k.rsplit("/", 1)[-1] in (r2_pdf, r2_adjunto))
    assert left == [], f"R-2's documents left in the bucket after its removal: {left}"


def test_removing_a_request_deletes_every_version_of_files_that_followed_its_new_sgc(
        db, s3, bucket, settings, landing):
    """The same for a request's new SGC (``registry.follow_sgc``, README "one folder per
    request"): R-1 filed under ``RE1/``; weeks later the portal shows its corrected SGC RE7
    and the upload moves R-1's files to ``RE7/``; R-1's removal leaves the old versions in
    ``RE1/`` (the folder of whichever request gets SGC RE1 next)."""
    enable_versioning(s3, bucket)
    pdf = write_pdf(landing, "RE1", 0, "detalle de R-1")
    json_name = write_json(landing, "RE1", "R-1", 8)
    run_all(db, s3, settings, "day-1")
    write_pdf(landing, "RE7", 40 * 86400, "detalle de R-1, SGC corregido")
    write_json(landing, "RE7", "R-1", 40 * 86400 + 9)
    run_all(db, s3, settings, "day-40")
    keys = {k for k, kind in _versions(s3, bucket) if kind == "version"}
    assert {prefix() + "RE7/" + n for n in (pdf, json_name)} <= keys  # moved
    remove_request(db, s3, settings, "R-1")
    left = sorted((k, kind) for k, kind in _versions(s3, bucket)
                  if k.rsplit("/", 1)[-1] in (pdf, json_name))
    assert left == [], f"R-1's files left in the bucket after its removal: {left}"
