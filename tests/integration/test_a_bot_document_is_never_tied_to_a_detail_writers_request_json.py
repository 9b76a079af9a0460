"""A regression test (hostile-review-6.md).

Two writers put real-SGC files in one landing folder (data contract, "What the bot really
writes"): the bot, per request detail PDF ``{sgc}_{ts}.pdf`` first, attachment
``{sgc}_adjunto_{ts}.{ext}``, JSON ``{sgc}_data_{ts}.json`` LAST; the detail writer
(``pqr_detail_extractor``, initialised by the same extractor coordinator) JSON
``pqr_data_{sgc}_{ts}.json`` FIRST, then ``{sgc}_PQR_{n}_{ts}.pdf``. Review 5 finding 2
gave each writer's documents its own writer's order (``pairing._place_detail_writer``
pairs the detail writer's PDF only with ``pqr_data_…`` JSONs) — but the bot's documents
still go through ``pairing._place_real`` with EVERY JSON of the SGC as a candidate,
``pqr_data_…`` included, although a bot document's own JSON is never one.

Story: SGC ``RE700`` shared by two requests (an SGC folder may hold more than one). The
bot scrapes R-2: detail PDF at +0 s, attachment (the customer's ID scan) at +4 s, and its
JSON step fails (each step is in a ``try`` of its own; the bot goes on). A minute later
the detail writer saves R-3 of the same SGC: ``pqr_data_RE700_…`` at +60 s, its PDF at
+64 s. ``extract`` ties R-2's PDF and attachment to R-3 (``metadata.request_json`` = R-3's
``pqr_data_`` JSON, ``numero_radicado`` R-3): R-3 now has two detail PDFs, which
``_one_request_each`` never sees (it judges the bot's documents only among themselves).
R-3's titular asks for supresión: the removal deletes R-2's PDF and attachment — another
customer's documents LOST, nothing reports it.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import list_keys, query, seen_hours_ago
from tests.landing_files import (
    prefix,
    record,
    remove_request,
    run_all,
    stamp,
    write,
    write_adjunto,
    write_pdf,
)

pytestmark = pytest.mark.integration



def _session(db, s3, settings, landing):
    r2_pdf = write_pdf(landing, "RE700", 0, "detalle de R-2")
    r2_att = write_adjunto(landing, "RE700", 4, "cédula de R-2")
    # R-2's JSON step failed. The detail writer saves R-3 of the same SGC, JSON first.
    r3_json = f"pqr_data_RE700_{stamp(60)}.json"
    write(landing, r3_json, json.dumps(record("RE700", "R-3", stamp(60)),
                                       ensure_ascii=False, indent=2))
    r3_pdf = f"RE700_PQR_1_{stamp(64)}.pdf"
    write(landing, r3_pdf, "%PDF-1.4 detalle de R-3")
    run_all(db, s3, settings, "day-1")
    seen_hours_ago(db, landing, "afinia", hours=73)  # whatever waited has waited out
    run_all(db, s3, settings, "day-4")
    return r2_pdf, r2_att, r3_json, r3_pdf


def _tie(db, name: str) -> list[tuple]:
    return query(db, "SELECT numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = %s", name)


def test_a_bot_document_is_never_tied_to_a_detail_writers_request_json(
        db, s3, bucket, settings, landing):
    r2_pdf, r2_att, r3_json, _ = _session(db, s3, settings, landing)
    assert _tie(db, r2_pdf) != [("R-3", r3_json)]
    assert _tie(db, r2_att) != [("R-3", r3_json)]


def test_the_detail_writers_pdf_is_tied_to_its_own_request(db, s3, bucket, settings, landing):
    _, _, r3_json, r3_pdf = _session(db, s3, settings, landing)
    assert _tie(db, r3_pdf) == [("R-3", r3_json)]


def test_removing_a_detail_writers_request_keeps_the_bot_documents_of_another_request(
        db, s3, bucket, settings, landing):
    r2_pdf, r2_att, _, r3_pdf = _session(db, s3, settings, landing)
    remove_request(db, s3, settings, "R-3")
    keys = list_keys(s3, bucket)
    processed = landing / "afinia" / "oficina_virtual" / "processed"
    for name in (r2_pdf, r2_att):
        assert prefix() + "RE700/" + name in keys or (processed / name).exists(), (
            f"R-2's {name} is gone")
    assert prefix() + "RE700/" + r3_pdf not in keys, "R-3's detail page survived"
