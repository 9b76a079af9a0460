"""A request's supresión leaves the ties of the other requests of its SGC as they are, so
their own supresión still finds their documents.

Real SGC ``RE1`` ("an SGC folder may hold more than one request": data contract), one bot
session with no failure: request R-A (detail PDF +0 s, attachment +3 s, JSON +5 s), then
request R-B (PDF +55 s, JSON +60 s). R-A's documents are filed tied to R-A's JSON.

R-B's titular asks for supresión: R-B's JSON joins ``removed_names`` and from then on is
an *unsure* mark in ``extract``'s pairing. An hour later any file of ``RE1`` (here request
R-C) makes the run ask pairing again about ``RE1``: ``pairing._place_real`` lets an unsure
mark inside a document's 30-minute window win over the document's own earlier loaded JSON
(``pending`` first), so R-A's PDF and attachment are *undecided*, and ``extract._retie``
unties them (``metadata.request_json`` and ``numero_radicado`` cleared). R-A's titular then
asks for supresión: the removal finds nothing that names R-A among them, and R-A's ID scan
stays in the bucket. Not a loss nor a misfile (LOW by the review's scale): the documents
stay in ``RE1/``, untied; but R-A's record no longer has them and its supresión misses them.
"""

from __future__ import annotations

import pytest

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

REASON = ("a removed request's JSON is an unsure mark that wins over an earlier request's "
          "own loaded JSON inside the 30-minute window: the next run unties that request's "
          "filed documents, and its own supresión no longer finds them")


def _ties(db, *names: str) -> dict[str, tuple]:
    rows = query(db, "SELECT filename, numero_radicado, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = ANY(%s)",
                 list(names))
    return {name: (radicado, tie) for name, radicado, tie in rows}


def _session(db, s3, settings, landing, *, remove_b: bool = True) -> tuple[str, str, str]:
    a_pdf = write_pdf(landing, "RE1", 0, "detalle de R-A")
    a_adj = write_adjunto(landing, "RE1", 3, "cédula de R-A")
    a_json = write_json(landing, "RE1", "R-A", 5)
    write_pdf(landing, "RE1", 55, "detalle de R-B")
    write_json(landing, "RE1", "R-B", 60)
    run_all(db, s3, settings, "day-1")
    tied = {a_pdf: ("R-A", a_json), a_adj: ("R-A", a_json)}
    assert _ties(db, a_pdf, a_adj) == tied  # baseline: filed with R-A
    if remove_b:
        remove_request(db, s3, settings, "R-B")
        assert _ties(db, a_pdf, a_adj) == tied  # the removal itself keeps the tie
    write_pdf(landing, "RE1", 3600, "detalle de R-C")
    write_json(landing, "RE1", "R-C", 3605)
    run_all(db, s3, settings, "day-2")
    return a_pdf, a_adj, a_json


def test_without_a_neighbours_removal_a_requests_supresion_deletes_its_documents(
        db, s3, bucket, settings, landing):
    """The baseline (holds): with R-B not removed, R-A's supresión takes its documents."""
    a_pdf, a_adj, a_json = _session(db, s3, settings, landing, remove_b=False)
    assert _ties(db, a_pdf, a_adj) == {a_pdf: ("R-A", a_json), a_adj: ("R-A", a_json)}
    remove_request(db, s3, settings, "R-A")
    keys = list_keys(s3, bucket)
    assert [n for n in (a_pdf, a_adj) if prefix() + "RE1/" + n in keys] == []


@pytest.mark.xfail(strict=True, reason=REASON)
def test_removing_a_neighbour_request_never_unties_a_requests_documents(
        db, s3, bucket, settings, landing):
    a_pdf, a_adj, a_json = _session(db, s3, settings, landing)
    ties = _ties(db, a_pdf, a_adj)
    assert ties == {a_pdf: ("R-A", a_json), a_adj: ("R-A", a_json)}, (
        f"R-A's documents lost their tie after R-B's removal: {ties}")


@pytest.mark.xfail(strict=True, reason=REASON)
def test_a_requests_supresion_deletes_its_documents_after_a_neighbours_removal(
        db, s3, bucket, settings, landing):
    a_pdf, a_adj, _ = _session(db, s3, settings, landing)
    remove_request(db, s3, settings, "R-A")
    keys = list_keys(s3, bucket)
    left = [n for n in (a_pdf, a_adj) if prefix() + "RE1/" + n in keys]
    assert left == [], f"R-A's supresión left its documents in the bucket: {left}"


@pytest.mark.xfail(strict=True, reason=REASON)
def test_a_requests_supresion_right_after_a_neighbours_removal_deletes_its_documents(
        db, s3, bucket, settings, landing):
    """No later run needed: the removal's own pairing gives the same unsure mark the lead,
    so R-A's supresión keeps R-A's documents (listed as not tied) even while they are
    still tied to R-A."""
    a_pdf = write_pdf(landing, "RE1", 0, "detalle de R-A")
    a_adj = write_adjunto(landing, "RE1", 3, "cédula de R-A")
    write_json(landing, "RE1", "R-A", 5)
    write_pdf(landing, "RE1", 55, "detalle de R-B")
    write_json(landing, "RE1", "R-B", 60)
    run_all(db, s3, settings, "day-1")
    remove_request(db, s3, settings, "R-B")
    remove_request(db, s3, settings, "R-A")
    keys = list_keys(s3, bucket)
    left = [n for n in (a_pdf, a_adj) if prefix() + "RE1/" + n in keys]
    assert left == [], f"R-A's supresión left its documents in the bucket: {left}"
