"""A removal weighs a request JSON being copied under rsync's hidden temporary name as
``extract`` does: the documents written before it are never tied to the next request.

Review 8's out-of-order backlog with the bot's placeholder ``PQR_4_ERROR``: R-1's request
JSON (+60 s; its PDF step failed, PASO 3's own try, and its ``documento_prueba`` named
nothing) was filed by an earlier run (``sin_sgc/R-1/``). A backlog of earlier files is
copied into ``processed/`` with rsync (the data contract names rsync's
``.x_data_{ts}.json.Xy12Ab``): R-2's detail PDF (+45 s) has arrived; R-2's JSON (+52 s) is
being copied, or the copy was cut (the host rebooted, the copy was killed) and its hidden
temporary file stayed (``temp_file_stale`` after ``ov_orphan_after_hours``). ``extract``
gives pairing that entry as a mark (``landing.final_name``): R-2's PDF waits, as it
should. Meanwhile R-1's titular asks for the supresión.

``removal._documents_by_pairing`` strips only the leading dots and the suffixes of
``IN_PROGRESS_SUFFIXES`` from an entry of ``processed/``: ``.name.XXXXXX`` does not parse,
so the removal's pairing has no mark for R-2's JSON; the stretch that R-1's JSON closes is
R-2's PDF alone, "one request", and R-2's detail page (its only copy, in ``processed/``,
not registered) is listed and deleted with R-1. The companion test with ``.part`` (which
the removal does strip) keeps it.
"""

from __future__ import annotations

import pytest

from extractorov.landing import company_folders
from tests.helpers import list_keys, query
from tests.landing_files import remove_request, run_all, stamp, write, write_json, write_pdf

pytestmark = pytest.mark.integration

REASON = ("the removal's pairing reads a hidden copy-tool temporary name (.x_data_{ts}.json."
          "Xy12Ab) as no mark, unlike extract's (landing.final_name): another customer's "
          "waiting document written before it is tied to the removed request and deleted")


def _backlog_while_copying(db, s3, settings, landing, temporary: str,
                           sgc: str = "PQR_4_ERROR") -> str:
    write_json(landing, sgc, "R-1", 60, documento_prueba="")
    run_all(db, s3, settings, "day-1")
    p2 = write_pdf(landing, sgc, 45, "detalle de R-2")
    # R-2's JSON, part copied: the copy tool's temporary name, a cut-short body.
    write(landing, temporary.format(name=f"{sgc}_data_{stamp(52)}.json"),
          '{"record_number": 4, "numero_radicado": "R-2", ')
    run_all(db, s3, settings, "day-2")
    folders = company_folders(landing, "afinia")
    assert (folders.processed / p2).exists(), "extract holds R-2's PDF back (baseline)"
    assert not query(db, "SELECT 1 FROM data_general.s3_files_registry WHERE filename = %s",
                     p2)
    return p2


def _still_somewhere(s3, bucket, landing, name: str) -> bool:
    folders = company_folders(landing, "afinia")
    quarantined = ({p.name for p in folders.quarantine.iterdir()}
                   if folders.quarantine.exists() else set())
    return ((folders.processed / name).exists() or name in quarantined
            or any(k.endswith("/" + name) for k in list_keys(s3, bucket)))


def test_a_removal_keeps_a_document_held_back_by_a_json_being_written_as_part(
        db, s3, bucket, settings, landing):
    """Baseline (passes): the same files, the JSON copied as ``x_data_{ts}.json.part``."""
    p2 = _backlog_while_copying(db, s3, settings, landing, "{name}.part")
    shown, outcome = remove_request(db, s3, settings, "R-1")
    assert outcome.status == "completed"
    assert f"processed/{p2}" not in shown["local"], shown
    assert _still_somewhere(s3, bucket, landing, p2), f"R-2's {p2} is gone from every view"


@pytest.mark.parametrize("sgc", ["PQR_4_ERROR", "RE7"])
def test_a_removal_keeps_a_document_held_back_by_a_json_rsync_is_copying(
        db, s3, bucket, settings, landing, sgc):
    """Also with a real SGC two requests share (an SGC folder may hold more than one)."""
    p2 = _backlog_while_copying(db, s3, settings, landing, ".{name}.Xy12Ab", sgc)
    shown, outcome = remove_request(db, s3, settings, "R-1")
    assert outcome.status == "completed"
    assert _still_somewhere(s3, bucket, landing, p2), f"R-2's {p2} is gone from every view"
    assert f"processed/{p2}" not in shown["local"], shown
