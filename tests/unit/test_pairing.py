"""Which request owns a PDF or attachment: the rules of ``extractorov.pairing``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from extractorov.landing import FileKind
from extractorov.pairing import (
    Document,
    JsonMark,
    JsonState,
    Outcome,
    Placement,
    place_documents,
)
from extractorov.settings import BOGOTA

T0 = datetime(2025, 10, 8, 4, 0, tzinfo=BOGOTA)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def pdf(sgc: str, seconds: int) -> Document:
    return Document(f"{sgc}_{seconds}.pdf", FileKind.DETALLE, at(seconds))


def adj(sgc: str, seconds: int) -> Document:
    return Document(f"{sgc}_adjunto_{seconds}.jpg", FileKind.ADJUNTO, at(seconds))


def loaded(sgc: str, seconds: int, folder: str) -> JsonMark:
    return JsonMark(f"{sgc}_data_{seconds}.json", at(seconds), JsonState.LOADED, folder)


class TestPlaceholder:
    """``PQR_4_ERROR`` is shared by unrelated requests: only the write order ties files."""

    def test_three_requests_sharing_a_placeholder_each_get_their_own_documents(self) -> None:
        sgc = "PQR_4_ERROR"
        docs = [pdf(sgc, 0), adj(sgc, 3), pdf(sgc, 20), pdf(sgc, 40), adj(sgc, 42)]
        jsons = [loaded(sgc, 5, "sin_sgc/R1"), loaded(sgc, 25, "sin_sgc/R2"),
                 loaded(sgc, 45, "sin_sgc/R3")]
        placed = place_documents(sgc, docs, jsons)
        assert {name: (p.outcome, p.folder) for name, p in placed.items()} == {
            docs[0].name: (Outcome.FOLDER, "sin_sgc/R1"),
            docs[1].name: (Outcome.FOLDER, "sin_sgc/R1"),
            docs[2].name: (Outcome.FOLDER, "sin_sgc/R2"),
            docs[3].name: (Outcome.FOLDER, "sin_sgc/R3"),
            docs[4].name: (Outcome.FOLDER, "sin_sgc/R3"),
        }

    def test_a_document_newer_than_every_json_waits(self) -> None:
        placed = place_documents("PQR_4_ERROR", [pdf("PQR_4_ERROR", 60)],
                                 [loaded("PQR_4_ERROR", 5, "sin_sgc/R1")])
        assert placed["PQR_4_ERROR_60.pdf"].outcome is Outcome.WAITING

    def test_two_pdfs_before_one_json_are_never_guessed(self) -> None:
        # The first request's JSON was never written (bot killed); either PDF may be the
        # second request's.
        docs = [pdf("PQR_7_ERROR", 0), pdf("PQR_7_ERROR", 30)]
        placed = place_documents("PQR_7_ERROR", docs, [loaded("PQR_7_ERROR", 35, "sin_sgc/R9")])
        assert {p.outcome for p in placed.values()} == {Outcome.UNDECIDED}

    def test_written_within_the_second_of_its_json(self) -> None:
        placed = place_documents("PQR_1_ERROR", [pdf("PQR_1_ERROR", 10)],
                                 [loaded("PQR_1_ERROR", 10, "sin_sgc/A"),
                                  loaded("PQR_1_ERROR", 20, "sin_sgc/B")])
        assert placed["PQR_1_ERROR_10.pdf"].folder == "sin_sgc/A"

    def test_same_second_with_a_rival_is_undecided(self) -> None:
        # Two PDFs up to the second of one JSON: one of them is the next request's.
        docs = [pdf("PQR_1_ERROR", 8), pdf("PQR_1_ERROR", 10)]
        placed = place_documents("PQR_1_ERROR", docs, [loaded("PQR_1_ERROR", 10, "sin_sgc/A"),
                                                       loaded("PQR_1_ERROR", 20, "sin_sgc/B")])
        assert {p.outcome for p in placed.values()} == {Outcome.UNDECIDED}

    def test_json_over_30_minutes_later_is_undecided(self) -> None:
        placed = place_documents("PQR_1_ERROR", [pdf("PQR_1_ERROR", 0)],
                                 [loaded("PQR_1_ERROR", 31 * 60, "sin_sgc/A")])
        assert placed["PQR_1_ERROR_0.pdf"].outcome is Outcome.UNDECIDED

    def test_registered_documents_count_as_rivals(self) -> None:
        known = pdf("PQR_2_ERROR", 0)
        new = pdf("PQR_2_ERROR", 2)
        placed = place_documents("PQR_2_ERROR", [new, known],
                                 [loaded("PQR_2_ERROR", 5, "sin_sgc/A")])
        assert placed[new.name].outcome is Outcome.UNDECIDED

    @pytest.mark.parametrize(("state", "outcome"), [
        (JsonState.WRITING, Outcome.WAITING), (JsonState.QUARANTINED, Outcome.QUARANTINE)])
    def test_owner_being_written_or_quarantined(self, state: JsonState, outcome: Outcome) -> None:
        mark = JsonMark("PQR_3_ERROR_data_5.json", at(5), state)
        placed = place_documents("PQR_3_ERROR", [pdf("PQR_3_ERROR", 0)], [mark])
        assert placed["PQR_3_ERROR_0.pdf"].outcome is outcome

    def test_a_real_sgc_read_into_the_json_field_is_the_folder(self) -> None:
        placed = place_documents("PQR_1_20251008_040000", [pdf("PQR_1_20251008_040000", 0)],
                                 [loaded("PQR_1_20251008_040000", 5, "RE77")])
        assert placed["PQR_1_20251008_040000_0.pdf"].folder == "RE77"


class TestRealSgc:
    def test_goes_with_its_own_json(self) -> None:
        placed = place_documents("RE1", [pdf("RE1", 0)], [loaded("RE1", 5, "RE1")])
        assert (placed["RE1_0.pdf"].outcome, placed["RE1_0.pdf"].folder) == (Outcome.FOLDER,
                                                                             "RE1")

    def test_a_rescrape_pdf_before_its_json_goes_to_the_known_folder(self) -> None:
        """Once it has waited ov_orphan_after_hours for its own JSON: tied to no request."""
        waited = Document("RE1_86400.pdf", FileKind.DETALLE, at(86_400), waited_out=True)
        placed = place_documents("RE1", [waited], [loaded("RE1", 5, "RE1")])
        assert placed["RE1_86400.pdf"] == Placement(Outcome.FOLDER, "RE1")

    def test_a_json_of_its_sgc_written_long_after_it_is_another_scrapes(self) -> None:
        """The bot writes a request's JSON within minutes of its documents: a JSON of the
        SGC written a day later is another scrape's (another request's, perhaps), so it
        gives the folder and never the request; and the document's own JSON can no longer
        come (the bot went on), so it does not wait."""
        day_later = loaded("RE1", 86_400, "RE1")
        placed = place_documents("RE1", [pdf("RE1", 3_600)], [loaded("RE1", 5, "RE1"),
                                                              day_later])
        assert placed["RE1_3600.pdf"] == Placement(Outcome.FOLDER, "RE1")
        placed = place_documents("RE1", [pdf("RE1", 3_600)], [day_later])
        assert placed["RE1_3600.pdf"] == Placement(Outcome.FOLDER, "RE1")
        within = loaded("RE1", 3_600 + 15, "RE1")
        placed = place_documents("RE1", [pdf("RE1", 3_600)], [within, day_later])
        assert placed["RE1_3600.pdf"] == Placement(Outcome.FOLDER, "RE1", within.name)

    def test_a_rescrape_pdf_waits_for_its_own_json_on_first_sight(self) -> None:
        """A regression test: a re-scrape's PDF read before its JSON was written was filed
        at once to the earlier scrape's folder tied to no request, and the JSON written a
        minute later never tied it (its request's removal kept it; a run two minutes later
        would have tied it). It now waits; the JSON, when it comes, ties it."""
        placed = place_documents("RE1", [pdf("RE1", 86_400)], [loaded("RE1", 5, "RE1")])
        assert placed["RE1_86400.pdf"].outcome is Outcome.WAITING
        own = loaded("RE1", 86_475, "RE1")  # its attachment's download took a minute
        placed = place_documents("RE1", [pdf("RE1", 86_400), adj("RE1", 86_403)],
                                 [loaded("RE1", 5, "RE1"), own])
        assert placed["RE1_86400.pdf"] == Placement(Outcome.FOLDER, "RE1", own.name)
        assert placed["RE1_adjunto_86403.jpg"] == Placement(Outcome.FOLDER, "RE1", own.name)

    def test_a_pdf_long_before_the_next_json_with_nothing_between_is_undecided(self) -> None:
        """A regression test: R-2's PDF (its JSON step failed), then R-3's JSON a minute
        later (R-3's PDF step failed): R-2's PDF was tied to R-3 and left with R-3's
        removal. The same files come from one request whose attachment step failed slowly:
        which request owns the PDF cannot be told, so it waits for a human (as with a
        placeholder SGC), never guessed."""
        later = loaded("RE1", 60, "RE1")
        placed = place_documents("RE1", [pdf("RE1", 0)], [later])
        assert placed["RE1_0.pdf"].outcome is Outcome.UNDECIDED
        soon = loaded("RE1", 20, "RE1")
        placed = place_documents("RE1", [pdf("RE1", 0)], [soon])
        assert placed["RE1_0.pdf"] == Placement(Outcome.FOLDER, "RE1", soon.name)

    def test_waits_while_its_json_is_being_written(self) -> None:
        writing = JsonMark("RE1_data_9.json", at(9), JsonState.WRITING)
        placed = place_documents("RE1", [pdf("RE1", 0)], [loaded("RE1", -100, "RE1"), writing])
        assert placed["RE1_0.pdf"].outcome is Outcome.WAITING

    def test_waits_with_no_json_at_all(self) -> None:
        assert place_documents("RE1", [pdf("RE1", 0)], [])["RE1_0.pdf"].outcome is (
            Outcome.WAITING)

    def test_a_json_quarantined_still_files_a_real_sgc(self) -> None:
        mark = JsonMark("RE1_data_5.json", at(5), JsonState.QUARANTINED)
        placed = place_documents("RE1", [adj("RE1", 0)], [mark])
        assert (placed["RE1_adjunto_0.jpg"].outcome, placed["RE1_adjunto_0.jpg"].folder) == (
            Outcome.FOLDER_JSON_QUARANTINED, "RE1")

    def test_an_older_writer_pdf_follows_a_json_that_named_its_sgc(self) -> None:
        # pqr_3_data_… (placeholder name) carried RE5 in its field; RE5_PQR_3_….pdf is RE5's.
        older = Document("RE5_PQR_3_20251008_090000.pdf", FileKind.DETALLE, at(0))
        placed = place_documents("RE5", [older], [], folders_named=frozenset({"RE5"}))
        # On first sight: its writer names no JSON RE5_…, so none is to come.
        assert placed[older.name] == Placement(Outcome.FOLDER, "RE5")

    def test_a_bot_pdf_waits_for_its_own_json_though_a_placeholder_json_named_its_sgc(
            self) -> None:
        """A regression test: a placeholder-named JSON (PQR_{n}_{ts}_data_…) of an earlier
        scrape carried RE5 in numero_reclamo_sgc; a re-scrape's RE5_….pdf read before its
        own RE5_data_… JSON was filed at once, tied to no request, and its removal kept
        it. It waits for its JSON like any re-scrape's document."""
        placed = place_documents("RE5", [pdf("RE5", 0)], [], folders_named=frozenset({"RE5"}))
        assert placed["RE5_0.pdf"].outcome is Outcome.WAITING
        waited = Document("RE5_0.pdf", FileKind.DETALLE, at(0), waited_out=True)
        placed = place_documents("RE5", [waited], [], folders_named=frozenset({"RE5"}))
        assert placed["RE5_0.pdf"] == Placement(Outcome.FOLDER, "RE5")

    def test_an_attachment_before_the_pdf_tied_to_a_json_is_another_requests(self) -> None:
        """A regression test: R-2's PDF and attachment (its JSON never written), then R-3's
        PDF and JSON: R-2's attachment was tied to R-3 (one of each kind), though the bot
        writes a request's PDF before its attachment."""
        own = loaded("RE1", 75, "RE1")
        placed = place_documents("RE1", [pdf("RE1", 0), adj("RE1", 10), pdf("RE1", 60)],
                                 [own])
        assert placed["RE1_60.pdf"] == Placement(Outcome.FOLDER, "RE1", own.name)
        # Never R-3's; R-2's own JSON may still arrive (a backlog copied out of order): they
        # wait for it, and once they have waited they keep the SGC's folder, tied to none.
        assert {placed[n].outcome for n in ("RE1_adjunto_10.jpg", "RE1_0.pdf")} == {
            Outcome.WAITING}
        waited = [Document(d.name, d.kind, d.timestamp, waited_out=True)
                  for d in (pdf("RE1", 0), adj("RE1", 10))]
        placed = place_documents("RE1", [*waited, pdf("RE1", 60)], [own])
        assert placed["RE1_adjunto_10.jpg"] == Placement(Outcome.FOLDER, "RE1")
        assert placed["RE1_0.pdf"] == Placement(Outcome.FOLDER, "RE1")
        # Its own attachment, after its PDF, stays its own.
        placed = place_documents("RE1", [pdf("RE1", 60), adj("RE1", 70)], [own])
        assert placed["RE1_adjunto_70.jpg"] == Placement(Outcome.FOLDER, "RE1", own.name)

    def test_a_detail_writer_pdf_with_a_real_sgc_follows_the_json_written_before_it(
            self) -> None:
        """A regression test: the detail writer writes pqr_data_{sgc}_… first, then
        {sgc}_PQR_{n}_….pdf; its PDF was paired as if the JSON came last (tied to the next
        request of the SGC)."""
        first = JsonMark("pqr_data_RE1_20251008_090000.json", at(0), JsonState.LOADED, "RE1")
        second = JsonMark("pqr_data_RE1_20251008_090100.json", at(60), JsonState.LOADED,
                          "RE1")
        pdf_900 = Document("RE1_PQR_1_20251008_090005.pdf", FileKind.DETALLE, at(5))
        pdf_901 = Document("RE1_PQR_2_20251008_090105.pdf", FileKind.DETALLE, at(65))
        placed = place_documents("RE1", [pdf_900, pdf_901], [first, second])
        assert placed[pdf_900.name] == Placement(Outcome.FOLDER, "RE1", first.name)
        assert placed[pdf_901.name] == Placement(Outcome.FOLDER, "RE1", second.name)


@pytest.mark.parametrize("name", [
    "RE1_data_20251008_090000.json", "RE1_20251008_090000.pdf", "RE1_20251008_090000.PDF",
    "RE1_adjunto_20251008_090000.JPG", "RE1_adjunto_20251008_090000.qwe123",
    "PQR_4_ERROR_data_20251008_090000.json", "PQR_4_ERROR_adjunto_20251008_090000.pdf",
    "PQR_4_20251008_085959_20251008_090000.pdf", "pqr_3_data_20251008_090000.json",
    "pqr_data_RE9_20251008_090000.json", "RE9_PQR_3_20251008_090000.pdf",
    "pqr_data__20251008_090000.json", "_PQR_4_20251008_090000.pdf",
    # A request JSON's name holds what the portal's list showed; its content names it.
    "X_data_Y_data_20251008_090000.json", "HX13#?%+&=;'\"_data_20251008_090000.json",
])
def test_the_cheap_sgc_filter_never_misses_a_parsed_sgc(name: str) -> None:
    from extractorov.extract import _sgc_candidates
    from extractorov.landing import parse_file_name

    parsed = parse_file_name(name)
    assert parsed is not None
    assert parsed.sgc in _sgc_candidates(name)


@pytest.mark.parametrize("name", [
    "RE9_PQR_3_PQR_4_20251008_090000.pdf", "Ñandú_adjunto_20251008_090000.gif",
    # The detail writer names attachments after the customer's own file:
    "RE5_Cédula_María_Núñez_1045678901.pdf_20251008_093221.pdf",
    "RE5_adjunto_20251008_093221.1045678901",  # "cedula.1045678901": no extension
])
def test_a_name_with_text_the_bot_never_writes_in_its_sgc_part_is_not_the_bots(
        name: str) -> None:
    from extractorov.landing import parse_file_name, shown_name

    assert parse_file_name(name) is None
    assert shown_name(name) == (
        f"<a file name that is not the bot's own ({len(name)} characters)>")


def test_a_key_shows_its_folders_and_its_file_name_as_a_landing_name_shows() -> None:
    from extractorov.landing import shown_key

    bot = "oficina-virtual/afinia/raw_data/RE1/RE1_data_20251008_090000.json"
    assert shown_key(bot) == bot
    customers = "Zoraida Quinones CC 1099887766.pdf"
    assert shown_key(f"oficina-virtual/afinia/raw_data/RE1/{customers}") == (
        "oficina-virtual/afinia/raw_data/RE1/<a file name that is not the bot's own "
        f"({len(customers)} characters)>")
    assert "1099887766" not in shown_key(customers)


def test_an_attachment_before_a_rival_pdf_is_not_filed_with_the_next_request() -> None:
    # A's PDF and attachment, A's JSON never written (bot killed); B's PDF and JSON later.
    sgc = "PQR_4_ERROR"
    docs = [pdf(sgc, 0), adj(sgc, 2), pdf(sgc, 60)]
    placed = place_documents(sgc, docs, [loaded(sgc, 65, "sin_sgc/B")])
    assert {p.outcome for p in placed.values()} == {Outcome.UNDECIDED}


def test_an_attachment_written_before_its_pdf_is_not_one_request() -> None:
    sgc = "PQR_4_ERROR"
    placed = place_documents(sgc, [adj(sgc, 0), pdf(sgc, 2)], [loaded(sgc, 5, "sin_sgc/A")])
    assert {p.outcome for p in placed.values()} == {Outcome.UNDECIDED}


def test_undated_request_jsons_place_a_document_the_same_whatever_order_they_come_in():
    """Two JSONs of one SGC whose names carry no real moment: the document's folder
    follows their names, not the order a run happened to read them in."""
    valid = JsonMark("S1_data_20251399_000000.json", None, JsonState.LOADED, "S1")
    refused = JsonMark("S1_data_20251399_999999.json", None, JsonState.QUARANTINED)
    document = Document("S1_20251008_040000.pdf", FileKind.DETALLE, at(0))
    placements = [place_documents("S1", [document], jsons)[document.name]
                  for jsons in ([valid, refused], [refused, valid])]
    assert placements[0] == placements[1]
    assert placements[0].outcome is Outcome.FOLDER and placements[0].request_json == valid.name


class TestAJsonWhoseFateIsNotKnown:
    """A JSON seen but gone or unreadable, or whose writer stopped (``UNSURE``), still marks
    where its request ends: a document it could own stays in ``processed/`` as *undecided*
    (reported once it has waited ``ov_orphan_after_hours``), with the mark's reason."""

    def test_a_placeholder_stretch_never_runs_past_it_to_the_next_request(self) -> None:
        sgc = "PQR_4_ERROR"
        docs = [pdf(sgc, 0), adj(sgc, 300)]
        jsons = [JsonMark(f"{sgc}_data_10.json", at(10), JsonState.UNSURE),
                 loaded(sgc, 310, "sin_sgc/R-B")]
        placed = place_documents(sgc, docs, jsons)
        assert placed[docs[0].name].outcome is Outcome.UNDECIDED
        assert (placed[docs[1].name].outcome, placed[docs[1].name].folder) == (
            Outcome.FOLDER, "sin_sgc/R-B")

    def test_a_document_with_a_real_sgc_waits_rather_than_follow_an_older_scrape(self) -> None:
        docs = [pdf("RE9", 100)]
        jsons = [loaded("RE9", 5, "RE9"), JsonMark("RE9_data_110.json", at(110),
                                                   JsonState.UNSURE)]
        assert place_documents("RE9", docs, jsons)[docs[0].name].outcome is Outcome.UNDECIDED

    def test_its_reason_is_the_marks_own(self) -> None:
        sgc = "PQR_4_ERROR"
        docs = [pdf(sgc, 0)]
        jsons = [JsonMark(f"{sgc}_data_5.json", at(5), JsonState.UNSURE, why="its writer stopped"),
                 loaded(sgc, 12, "sin_sgc/R-B")]
        assert place_documents(sgc, docs, jsons)[docs[0].name] == Placement(
            Outcome.UNDECIDED, why="its writer stopped")

    def test_one_being_written_keeps_its_documents_waiting(self) -> None:
        docs = [pdf("RE9", 100)]
        jsons = [loaded("RE9", 5, "RE9"), JsonMark("RE9_data_110.json", at(110),
                                                   JsonState.WRITING)]
        assert place_documents("RE9", docs, jsons)[docs[0].name].outcome is Outcome.WAITING


class TestTheBotsTimingWithinARequest:
    """The bot stamps each step as it starts: the PDF, the attachment step, the JSON."""

    def test_a_pdf_seconds_before_its_request_json_is_its_own(self) -> None:
        placed = place_documents("PQR_4_ERROR", [pdf("PQR_4_ERROR", 0)],
                                 [loaded("PQR_4_ERROR", 20, "sin_sgc/R1")])
        assert placed["PQR_4_ERROR_0.pdf"].folder == "sin_sgc/R1"

    def test_a_pdf_minutes_before_a_json_with_no_attachment_between_waits(self) -> None:
        placed = place_documents("PQR_4_ERROR", [pdf("PQR_4_ERROR", 0)],
                                 [loaded("PQR_4_ERROR", 120, "sin_sgc/R1")])
        assert placed["PQR_4_ERROR_0.pdf"].outcome is Outcome.UNDECIDED

    def test_a_slow_attachment_download_keeps_the_request_together(self) -> None:
        docs = [pdf("PQR_4_ERROR", 0), adj("PQR_4_ERROR", 8)]
        placed = place_documents("PQR_4_ERROR", docs,
                                 [loaded("PQR_4_ERROR", 600, "sin_sgc/R1")])
        assert {p.folder for p in placed.values()} == {"sin_sgc/R1"}

    def test_a_pdf_long_before_the_attachment_step_waits(self) -> None:
        docs = [pdf("PQR_4_ERROR", 0), adj("PQR_4_ERROR", 300)]
        placed = place_documents("PQR_4_ERROR", docs,
                                 [loaded("PQR_4_ERROR", 310, "sin_sgc/R1")])
        assert {p.outcome for p in placed.values()} == {Outcome.UNDECIDED}
