"""A request JSON whose ``documento_prueba`` is blank never owns an attachment.

The bot's attachment step downloads only the file *Documento/prueba* names and saves
nothing when it is blank; its JSON step saves the same field. So an attachment written
before such a JSON, and a PDF written before that attachment, are an earlier request's
(one whose JSON step failed): never filed under this one, whatever the SGC.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from extractorov.landing import FileKind
from extractorov.pairing import (
    WHY_NAMES_NO_ATTACHMENT,
    Document,
    JsonMark,
    JsonState,
    Outcome,
    place_documents,
)
from extractorov.records import attachment_named, attachment_named_in
from extractorov.settings import BOGOTA

T0 = datetime(2025, 10, 8, 4, 0, tzinfo=BOGOTA)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def pdf(sgc: str, seconds: int) -> Document:
    return Document(f"{sgc}_{seconds}.pdf", FileKind.DETALLE, at(seconds))


def adj(sgc: str, seconds: int) -> Document:
    return Document(f"{sgc}_adjunto_{seconds}.jpg", FileKind.ADJUNTO, at(seconds))


def json_(sgc: str, seconds: int, folder: str, attachment: bool | None,
          state: JsonState = JsonState.LOADED) -> JsonMark:
    return JsonMark(f"{sgc}_data_{seconds}.json", at(seconds), state,
                    folder if state is JsonState.LOADED else None, attachment=attachment)


@pytest.mark.parametrize(("value", "named"), [
    ("3f2a9c1e-6b7d-4e2f-9a10-5c3b2d1e0f9a.pdf", True),
    ("evidencia 2.jpg", True),
    ("", False),
    ("   \n", False),
    (None, None),
    (7, None),
])
def test_documento_prueba_says_whether_the_page_named_an_evidence_file(value, named) -> None:
    assert attachment_named({"numero_radicado": "R-1", "documento_prueba": value}) is named


@pytest.mark.parametrize("radicado", ["", "  ", None, True])
def test_a_blank_field_on_a_page_that_no_longer_showed_the_request_says_nothing(
        radicado) -> None:
    # Every field blank: the elements were not found at the JSON step (the page changed
    # after the attachment step), so the blank documento_prueba is no evidence.
    assert attachment_named({"numero_radicado": radicado, "documento_prueba": ""}) is None
    assert attachment_named({"documento_prueba": ""}) is None


def test_a_json_without_the_field_or_not_an_object_says_nothing() -> None:
    assert attachment_named({"numero_radicado": "R-1"}) is None
    assert attachment_named_in(b"") is None
    assert attachment_named_in(b'[{"numero_radicado": "R-1", "documento_prueba": ""}]') is None


@pytest.mark.parametrize(("cut", "named"), [
    # The bot writes documento_prueba before numero_radicado (indent=2), then goes on.
    ('{\n  "documento_prueba": "",\n  "cuerpo_reclamacion": "x",\n  "numero_radicado": "R-3",'
     '\n  "estado_solicitud": "Fina', False),
    ('{\n  "documento_prueba": "a.pdf",\n  "numero_radicado": "R-3",\n  "est', True),
    ('{\n  "documento_prueba": "",\n  "numero_radicado": 2025001,\n  "est', False),
    # Not whole: the radicado cut inside its value, or never written.
    ('{\n  "documento_prueba": "",\n  "numero_radicado": "R-', None),
    ('{\n  "documento_prueba": "",\n  "numero_radicado": 20250', None),
    ('{\n  "documento_prueba": "",\n  "cuerpo_reclamacion": "dijo \\"numero_radicado\\": '
     '\\"R-9\\" en', None),
    ('{\n  "documento_prueba": "a.p', None),
])
def test_a_cut_short_json_says_what_its_whole_fields_say(cut, named) -> None:
    assert attachment_named_in(cut.encode()) is named
    assert attachment_named_in(b'{"numero_radicado": 17, "documento_prueba": ""}') is False


class TestRealSgc:
    def test_an_earlier_requests_pdf_and_attachment_are_not_tied_to_it(self) -> None:
        # PDF at 0, attachment at 4, JSON step failed. R-3: PDF step failed, no
        # attachment named, JSON at 60.
        docs = [pdf("RE9", 0), adj("RE9", 4)]
        r3 = json_("RE9", 60, "RE9", attachment=False)
        placed = place_documents("RE9", docs, [r3])
        # R-2's JSON may still arrive (copied out of order): they wait for it.
        assert {(p.outcome, p.request_json) for p in placed.values()} == {
            (Outcome.WAITING, None)}
        # Once they have waited ov_orphan_after_hours, or a JSON over 30 minutes later shows
        # the bot went on, they keep the SGC's folder, tied to no request.
        waited = [Document(d.name, d.kind, d.timestamp, waited_out=True) for d in docs]
        went_on = [r3, json_("RE9", 3600, "RE9", attachment=True)]
        for documents, marks in ((waited, [r3]), (docs, went_on)):
            placed = place_documents("RE9", documents, marks)
            assert {n: (p.outcome, p.folder, p.request_json) for n, p in placed.items()} == {
                d.name: (Outcome.FOLDER, "RE9", None) for d in docs}

    def test_the_earlier_requests_own_json_arriving_late_takes_them(self) -> None:
        docs = [pdf("RE9", 0), adj("RE9", 4)]
        r2 = json_("RE9", 8, "RE9", attachment=True)
        placed = place_documents("RE9", docs, [r2, json_("RE9", 60, "RE9", attachment=False)])
        assert {p.request_json for p in placed.values()} == {r2.name}

    def test_its_own_pdf_after_the_earlier_attachment_stays_its_own(self) -> None:
        docs = [pdf("RE9", 0), adj("RE9", 4), pdf("RE9", 50)]
        mark = json_("RE9", 60, "RE9", attachment=False)
        placed = place_documents("RE9", docs, [mark])
        assert placed[docs[2].name].request_json == mark.name
        assert [placed[d.name].request_json for d in docs[:2]] == [None, None]

    @pytest.mark.parametrize("attachment", [True, None])
    def test_a_json_naming_one_or_not_known_keeps_the_bots_order(self, attachment) -> None:
        docs = [pdf("RE9", 0), adj("RE9", 4)]
        mark = json_("RE9", 8, "RE9", attachment=attachment)
        placed = place_documents("RE9", docs, [mark])
        assert {p.request_json for p in placed.values()} == {mark.name}

    def test_a_quarantined_json_naming_none_ties_no_attachment(self) -> None:
        docs = [Document(d.name, d.kind, d.timestamp, waited_out=True)
                for d in (pdf("RE9", 0), adj("RE9", 4))]
        mark = json_("RE9", 60, "", attachment=False, state=JsonState.QUARANTINED)
        placed = place_documents("RE9", docs, [mark])
        assert {(p.outcome, p.folder, p.request_json) for p in placed.values()} == {
            (Outcome.FOLDER, "RE9", None)}


class TestPlaceholder:
    def test_an_earlier_requests_pdf_and_attachment_are_undecided(self) -> None:
        sgc = "PQR_4_ERROR"
        docs = [pdf(sgc, 0), adj(sgc, 4)]
        placed = place_documents(sgc, docs, [json_(sgc, 10, "sin_sgc/R-3", attachment=False)])
        assert {(p.outcome, p.why) for p in placed.values()} == {
            (Outcome.UNDECIDED, WHY_NAMES_NO_ATTACHMENT)}

    def test_its_own_pdf_after_the_earlier_attachment_is_still_its_own(self) -> None:
        sgc = "PQR_4_ERROR"
        docs = [pdf(sgc, 0), adj(sgc, 4), pdf(sgc, 50)]
        mark = json_(sgc, 55, "sin_sgc/R-3", attachment=False)
        placed = place_documents(sgc, docs, [mark])
        assert placed[docs[2].name].folder == "sin_sgc/R-3"
        assert {placed[d.name].outcome for d in docs[:2]} == {Outcome.UNDECIDED}

    def test_a_json_naming_one_owns_its_pdf_and_attachment(self) -> None:
        sgc = "PQR_4_ERROR"
        docs = [pdf(sgc, 0), adj(sgc, 4)]
        placed = place_documents(sgc, docs, [json_(sgc, 8, "sin_sgc/R-2", attachment=True)])
        assert {p.folder for p in placed.values()} == {"sin_sgc/R-2"}


def test_only_the_bots_own_json_says_the_bot_went_on() -> None:
    """A bot document whose own JSON is not there yet waits for it; a detail-writer JSON of
    the SGC written later (that writer runs apart from the bot) does not end the wait."""
    doc = pdf("RE9", 0)
    earlier = json_("RE9", -600, "RE9", attachment=True)
    detail = JsonMark(f"pqr_data_RE9_{3600}.json", at(3600), JsonState.LOADED, "RE9")
    placed = place_documents("RE9", [doc], [earlier, detail])
    assert placed[doc.name].outcome is Outcome.WAITING
    bot_later = json_("RE9", 3600, "RE9", attachment=True)
    placed = place_documents("RE9", [doc], [earlier, bot_later])
    assert placed[doc.name].outcome is Outcome.FOLDER and placed[doc.name].request_json is None
