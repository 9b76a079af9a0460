"""The dormant detail writer (``pqr_detail_extractor`` in the bot's source) with a blank
SGC: ``pqr_data__{ts}.json`` written first, then ``_PQR_{n}_{ts}.pdf``, 2 s or more before
the next request. Its names are recognised (SGC part ``""``, a placeholder) and its PDFs
go with the JSON written before them, only when that is certain."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from extractorov.extract import _sgc_candidates
from extractorov.landing import FileKind, FileName, parse_file_name
from extractorov.pairing import Document, JsonMark, JsonState, Outcome, place_documents
from extractorov.records import is_placeholder_sgc
from extractorov.settings import BOGOTA

T0 = datetime(2025, 10, 8, 4, 0, tzinfo=BOGOTA)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def pdf(seconds: int, n: int = 1) -> Document:
    return Document(f"_PQR_{n}_{seconds}.pdf", FileKind.DETALLE, at(seconds))


def adj(seconds: int) -> Document:
    return Document(f"_adjunto_{seconds}.jpg", FileKind.ADJUNTO, at(seconds))


def json_(seconds: int, folder: str, state: JsonState = JsonState.LOADED) -> JsonMark:
    return JsonMark(f"pqr_data__{seconds}.json", at(seconds), state,
                    folder if state is JsonState.LOADED else None)


@pytest.mark.parametrize(("name", "kind"), [
    ("pqr_data__20251008_122537.json", FileKind.DATA),
    ("_PQR_4_20251008_122537.pdf", FileKind.DETALLE),
    ("_PQR_12_20251008_122537.PDF", FileKind.DETALLE),
])
def test_its_names_with_a_blank_sgc_are_recognised(name: str, kind: FileKind) -> None:
    parsed = parse_file_name(name)
    assert parsed == FileName(kind=kind, sgc="", timestamp=datetime(2025, 10, 8, 12, 25, 37,
                                                                    tzinfo=BOGOTA),
                              extension=name.rsplit(".", 1)[1].lower())
    assert is_placeholder_sgc(parsed.sgc)
    assert parsed.sgc in _sgc_candidates(name)


def test_its_names_with_a_real_sgc_are_unchanged() -> None:
    assert parse_file_name("pqr_data_RE9_20251008_122537.json").sgc == "RE9"
    assert parse_file_name("RE9_PQR_3_20251008_122537.pdf").sgc == "RE9"
    assert parse_file_name("PQR_4_PQR_4_20251008_122537.pdf").sgc == "PQR_4"


def test_each_pdf_goes_with_the_json_written_before_it() -> None:
    docs = [pdf(4, 1), pdf(34, 2), pdf(62, 3)]
    jsons = [json_(0, "sin_sgc/R1"), json_(30, "sin_sgc/R2"), json_(60, "sin_sgc/R3")]
    placed = place_documents("", docs, jsons)
    assert {d: (p.outcome, p.folder) for d, p in placed.items()} == {
        "_PQR_1_4.pdf": (Outcome.FOLDER, "sin_sgc/R1"),
        "_PQR_2_34.pdf": (Outcome.FOLDER, "sin_sgc/R2"),
        "_PQR_3_62.pdf": (Outcome.FOLDER, "sin_sgc/R3")}


def test_a_pdf_within_the_second_of_its_json_is_its_own() -> None:
    placed = place_documents("", [pdf(30)], [json_(0, "sin_sgc/R1"), json_(30, "sin_sgc/R2")])
    assert placed["_PQR_1_30.pdf"].folder == "sin_sgc/R2"


def test_a_pdf_before_every_json_waits() -> None:
    placed = place_documents("", [pdf(4)], [json_(10, "sin_sgc/R1")])
    assert placed["_PQR_1_4.pdf"].outcome is Outcome.WAITING


def test_two_pdfs_after_one_json_are_never_guessed() -> None:
    # The second request's JSON is lost: its PDF must not join the first request's.
    placed = place_documents("", [pdf(4, 1), pdf(40, 2)], [json_(0, "sin_sgc/R1")])
    assert {p.outcome for p in placed.values()} == {Outcome.UNDECIDED}


def test_an_attachment_after_the_pdf_is_not_one_request() -> None:
    placed = place_documents("", [pdf(4), adj(6)], [json_(0, "sin_sgc/R1")])
    assert {p.outcome for p in placed.values()} == {Outcome.UNDECIDED}


def test_a_pdf_over_30_minutes_after_its_json_is_undecided() -> None:
    placed = place_documents("", [pdf(31 * 60)], [json_(0, "sin_sgc/R1")])
    assert placed["_PQR_1_1860.pdf"].outcome is Outcome.UNDECIDED


def test_two_jsons_in_one_second_are_never_guessed() -> None:
    jsons = [json_(0, "sin_sgc/R1"), JsonMark("pqr_data__0b.json", at(0), JsonState.LOADED,
                                              "sin_sgc/R2")]
    placed = place_documents("", [pdf(4)], jsons)
    assert placed["_PQR_1_4.pdf"].outcome is Outcome.UNDECIDED


@pytest.mark.parametrize(("state", "outcome"), [(JsonState.WRITING, Outcome.WAITING),
                                                (JsonState.QUARANTINED, Outcome.QUARANTINE)])
def test_its_json_being_written_or_quarantined(state: JsonState, outcome: Outcome) -> None:
    placed = place_documents("", [pdf(4)], [json_(0, "", state)])
    assert placed["_PQR_1_4.pdf"].outcome is outcome


def test_an_undated_pdf_is_undecided() -> None:
    doc = Document("_PQR_1_x.pdf", FileKind.DETALLE, None)
    assert place_documents("", [doc], [json_(0, "sin_sgc/R1")])[doc.name].outcome is (
        Outcome.UNDECIDED)
