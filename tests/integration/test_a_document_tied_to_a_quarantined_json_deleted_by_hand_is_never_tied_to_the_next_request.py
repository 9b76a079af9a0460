"""A document filed with a quarantined request JSON keeps that JSON's place in the write
order after a person deletes the JSON by hand.

The bot (``Jeampauldev/ExtractorMerc``, ``afinia_pqr_processor.py``) writes per request the
detail PDF (PASO 3), the attachment (PASO 4, only when *Documento/prueba* names one), the
JSON last (PASO 5), each step in a ``try`` of its own: the bot goes on when one fails.

One session, real SGC ``RE1`` shared by two requests (an SGC folder may hold more than one:
data contract):

* request A: its detail PDF, its attachment (a customer's proof), then its JSON, written
  while the portal's page stopped showing the request (``numero_radicado`` blank): the
  JSON is quarantined; A's documents go to ``RE1/`` tied to that quarantined JSON
  (``FOLDER_JSON_QUARANTINED``), as the data contract says.
* request R-B, a minute later: its page names an evidence file, but its PDF step and its
  attachment step both fail (a page that does not print does not download either); its
  JSON is written.

Weeks later ``retention`` warns ``N file(s) have been in quarantine/ for over … days``
and the README's answer is "re-admit, fix, or delete each with its ``.reason.txt``": the
operator deletes A's JSON (it holds no request: its radicado is blank). The next run that
sees a file of ``RE1`` (here another request, R-C) asks pairing again for the documents
of ``RE1``: A's JSON is now in no input (not in ``processed/``, not registered, not in
``quarantine/``, not removed on request), so A's PDF and attachment are "the documents
before R-B's JSON", one request's shape, and are **re-tied to R-B** (``numero_radicado``
R-B): another customer's attachment filed with R-B. R-B's titular asks for supresión: the
removal deletes A's PDF and attachment (every version) — LOST.

The registry row of each of A's documents still says which JSON it was tied to
(``metadata.request_json``, ``request_json_status: quarantined``): pairing had that input
and did not use it — it concluded from the JSON's absence.
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

REASON = ("a request JSON deleted by hand from quarantine/ (as the README's answer to "
          "retention's warning says) is in no pairing input: the documents tied to it are "
          "re-tied to the next request JSON of their SGC, and that request's removal "
          "deletes them")


def _ties(db, *names: str) -> dict[str, tuple]:
    rows = query(db, "SELECT filename, numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = ANY(%s)",
                 list(names))
    return {name: (radicado, tie) for name, radicado, tie in rows}


def _session(db, s3, settings, landing, *, delete: bool = True) -> tuple[str, str, str]:
    a_pdf = write_pdf(landing, "RE1", 0, "detalle de A")
    a_adj = write_adjunto(landing, "RE1", 3, "cédula de A")
    a_json = write_json(landing, "RE1", "", 5)  # the page stopped showing A: quarantined
    # R-B: its PDF and attachment steps failed; its JSON (names an evidence file) is written.
    write_json(landing, "RE1", "R-B", 60)
    run_all(db, s3, settings, "day-1")
    # Baseline (holds): A's documents are filed in RE1/, tied to A's quarantined JSON.
    ties = _ties(db, a_pdf, a_adj)
    assert ties == {a_pdf: (None, a_json), a_adj: (None, a_json)}, ties
    # The operator deletes A's quarantined JSON with its reason file (README: retention's
    # warning "re-admit, fix, or delete each with its .reason.txt").
    folders = landing_mod.company_folders(landing, "afinia")
    [entry] = [e for e in landing_mod.read_quarantine(folders) if e.original_name == a_json]
    if delete:
        entry.path.unlink()
        entry.reason_path.unlink()
    # A later request of the same SGC: the next run asks pairing again about RE1.
    write_pdf(landing, "RE1", 3600, "detalle de R-C")
    write_json(landing, "RE1", "R-C", 3605)
    run_all(db, s3, settings, "day-2")
    return a_pdf, a_adj, a_json


def test_a_document_tied_to_a_quarantined_json_still_there_stays_tied_to_it(
        db, s3, bucket, settings, landing):
    """The baseline (holds): with A's JSON still in quarantine/, day 2 leaves the tie."""
    a_pdf, a_adj, a_json = _session(db, s3, settings, landing, delete=False)
    assert _ties(db, a_pdf, a_adj) == {a_pdf: (None, a_json), a_adj: (None, a_json)}


def test_a_document_tied_to_a_quarantined_json_deleted_by_hand_is_never_tied_to_the_next_request(
        db, s3, bucket, settings, landing):
    a_pdf, a_adj, _ = _session(db, s3, settings, landing)
    ties = _ties(db, a_pdf, a_adj)
    for name in (a_pdf, a_adj):
        assert ties[name][0] != "R-B", f"{name} (request A's) is tied to R-B: {ties}"


def test_removing_the_next_request_keeps_documents_of_a_quarantined_json_deleted_by_hand(
        db, s3, bucket, settings, landing):
    a_pdf, a_adj, _ = _session(db, s3, settings, landing)
    remove_request(db, s3, settings, "R-B")
    keys = list_keys(s3, bucket)
    for name in (a_pdf, a_adj):
        assert prefix() + "RE1/" + name in keys, f"request A's {name} was deleted"
