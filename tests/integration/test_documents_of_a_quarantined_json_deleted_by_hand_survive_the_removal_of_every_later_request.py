"""Probe of review 14 (passes): the documents tied to a quarantined request JSON that a
person deleted by hand keep that tie, and every later request of their SGC can be
removed on request without taking them.

Review 13's session (``RE1``: request A's PDF, attachment and blank-radicado JSON,
quarantined; R-B a minute later with failed PDF and attachment steps), then, in this
order: R-B's titular asks for supresión (removed), the operator deletes A's quarantined
JSON by hand (README: retention's warning), a later request R-C of ``RE1`` arrives (a run
asks pairing again about ``RE1``), and R-C's titular asks for supresión too. The gone
JSON is an unsure mark in ``extract`` and in the removal (its documents' rows name it),
R-B's removed JSON another (``removed_names``): nothing may re-tie A's documents or
delete them.
"""

from __future__ import annotations

import pytest

from extractorov import landing as landing_mod
from tests.helpers import list_keys, query
from tests.landing_files import (
    prefix,
    remove_request,
    run_all,
    write_adjunto,
    write_json,
    write_pdf,
)

pytestmark = pytest.mark.integration


def _ties(db, *names: str) -> dict[str, tuple]:
    rows = query(db, "SELECT filename, numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = ANY(%s)",
                 list(names))
    return {name: (radicado, tie) for name, radicado, tie in rows}


def test_documents_of_a_quarantined_json_deleted_by_hand_survive_the_removal_of_every_later_request(
        db, s3, bucket, settings, landing):
    a_pdf = write_pdf(landing, "RE1", 0, "detalle de A")
    a_adj = write_adjunto(landing, "RE1", 3, "cédula de A")
    a_json = write_json(landing, "RE1", "", 5)  # blank radicado: quarantined
    write_json(landing, "RE1", "R-B", 60)  # R-B: PDF and attachment steps failed
    run_all(db, s3, settings, "day-1")
    assert _ties(db, a_pdf, a_adj) == {a_pdf: (None, a_json), a_adj: (None, a_json)}
    remove_request(db, s3, settings, "R-B")
    folders = landing_mod.company_folders(landing, "afinia")
    [entry] = [e for e in landing_mod.read_quarantine(folders) if e.original_name == a_json]
    entry.path.unlink()
    entry.reason_path.unlink()
    c_pdf = write_pdf(landing, "RE1", 3600, "detalle de R-C")
    write_json(landing, "RE1", "R-C", 3605)
    run_all(db, s3, settings, "day-2")
    assert _ties(db, a_pdf, a_adj) == {a_pdf: (None, a_json), a_adj: (None, a_json)}
    remove_request(db, s3, settings, "R-C")
    keys = list_keys(s3, bucket)
    for name in (a_pdf, a_adj):
        assert prefix() + "RE1/" + name in keys, f"request A's {name} was deleted"
    assert prefix() + "RE1/" + c_pdf not in keys, "R-C's own PDF was not removed"
    assert _ties(db, a_pdf, a_adj) == {a_pdf: (None, a_json), a_adj: (None, a_json)}
