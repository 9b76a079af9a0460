"""A document whose folder changes twice before its object moves (back to the folder it
was first filed in) keeps its object.

Real SGC ``RE900``; the story of ``test_documents_filed_before_the_rest_of_a_backlog_
arrives_stay_their_own_requests`` (R-2: PDF +0 s, attachment +4 s, JSON +8 s; R-3: PDF +60 s,
attachment +62 s, JSON +64 s; no bot step failing; a backlog reaching ``processed/`` in two
batches, out of write order). Day 1 (full run) files R-2's two documents under ``RE900/``
tied to R-3 and uploads them. Day 2 is a ``database_only`` run (README, "Trigger"): a
re-scrape of R-3 shows its corrected SGC RE7 (``RE7_data_….json``); ``load`` runs
``registry.follow_sgc``: R-3's rows, R-2's two documents among them, take ``RE7/…`` with
``moving_from`` = ``RE900/…``; the move waits for an upload. Day 3 (full run) brings the
rest of the backlog: ``extract._retie`` gives R-2's documents to R-2's JSON, whose folder is
``RE900``: their key becomes ``RE900/…`` again while ``moving_from`` stays ``RE900/…``
(``COALESCE(r.moving_from, r.s3_key)``). The upload's ``move_object`` finds the "new" key
taken by the very object it moves, checks it, and deletes the "old" key: the object.
The registry says ``uploaded``; the bucket has no R-2 detail page or ID scan.
"""

from __future__ import annotations

import pytest

from extractorov import pipeline
from tests.helpers import list_keys, query
from tests.landing_files import (
    AFINIA,
    prefix,
    run_all,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration


def test_a_document_moved_back_to_its_first_folder_keeps_its_object(
        db, s3, bucket, settings, landing):
    r2 = [write_pdf(landing, "RE900", 0, "detalle de R-2"),
          write_adjunto(landing, "RE900", 4, "cédula de R-2")]
    write_json(landing, "RE900", "R-3", 64)
    run_all(db, s3, settings, "day-1")
    write_json(landing, "RE7", "R-3", 86400)  # R-3 scraped again: its corrected SGC
    extracted = pipeline.extract(db, AFINIA, settings, "day-2")  # database_only=true
    pipeline.load(db, AFINIA, extracted.manifest)
    assert sorted(query(db, "SELECT s3_key, moving_from FROM data_general.s3_files_registry "
                            "WHERE filename = ANY(%s)", r2)) == [
        (prefix() + "RE7/" + n, prefix() + "RE900/" + n) for n in sorted(r2)]
    write_json(landing, "RE900", "R-2", 8)
    write_pdf(landing, "RE900", 60, "detalle de R-3")
    write_adjunto(landing, "RE900", 62, "cédula de R-3")
    run_all(db, s3, settings, "day-3")
    rows = query(db, "SELECT filename, numero_radicado, s3_key, upload_status, moving_from "
                     "FROM data_general.s3_files_registry WHERE filename = ANY(%s) ORDER BY 1",
                 r2)
    keys = list_keys(s3, bucket)
    missing = [(name, key, status) for name, _, key, status, _ in rows if key not in keys]
    assert missing == [], f"registered as in the bucket, not there: {missing} ({rows})"
