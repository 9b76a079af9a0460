"""Which request does a PDF or attachment belong to? Pure rules, no I/O.

The bot writes, for each request, the detail PDF first, then the attachment,
then the request JSON **last**, each stamped with its own clock reading, so the
three stamps of one request differ by seconds (minutes when an attachment
download is retried). The file names share an SGC part, which is the request's
real SGC or one of the bot's placeholders (``PQR_4_ERROR``,
``PQR_{n}_{YYYYMMDD_HHMMSS}``, an older bot's ``pqr_{n}``) that unrelated
requests share.

* **Real SGC**: the SGC identifies the request's folder. A document goes with the
  first JSON of its SGC written at or after it; with none yet, it **waits** for one
  (a re-scrape's JSON is written last, maybe minutes later): once it has waited
  ``ov_orphan_after_hours`` since the pipeline first saw it (:attr:`Document.waited_out`),
  it goes to the folder of an earlier JSON of the SGC, tied to no request. When only a
  JSON of another name carries the SGC (the older writer's ``pqr_{n}_data_…``), no JSON
  of its own name is to come: it goes to that folder, tied to no request, at once. With
  no JSON of its SGC anywhere, or one still being written, it waits.
* **Placeholder**: the documents written since the previous JSON with the same
  placeholder, up to and including the second of the next one (the JSON is written
  last, possibly within its documents' second; the next request cannot start within
  it), belong to that next JSON only if they can be one request: at most one detail
  PDF and one attachment (none when the JSON names no attachment: what was written up to
  an attachment is then an earlier request's), the PDF not after the attachment, none over
  :data:`MAX_DOCUMENT_TO_JSON` before the JSON. Otherwise they all wait (and
  ``ov_s3_reconcile`` reports them once they have waited too long): a document is
  never guessed into another customer's folder.

* **The detail writer's blank SGC** (``pqr_data__{ts}.json``, ``_PQR_{n}_{ts}.pdf``: the
  SGC part is ``""``). That writer (``pqr_detail_extractor``) saves the JSON **first**,
  then the attachments, then the PDF, and pauses 2 s before the next request, so the
  rule is the mirror of the one above: the documents written at or after a JSON with the
  blank SGC, and before the next such JSON's second, belong to it only if they can be one
  request (at most one detail PDF and one attachment, the attachment not after the PDF,
  none over :data:`MAX_DOCUMENT_TO_JSON` after the JSON); otherwise they wait.

A document whose request JSON was quarantined still goes to its folder when the
SGC is real (as the old uploader did); with a placeholder it follows the JSON
into quarantine, since nothing names its folder.

Every request JSON the pipeline can see is a mark, whatever its state (read, refused,
quarantined, being written, a temporary file whose writer stopped, a link, gone while
read): pairing never concludes from a JSON's absence. A JSON whose fate is not known
(``UNSURE``) keeps the documents it could own in ``processed/`` as *undecided*.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from extractorov.landing import FileKind
from extractorov.records import is_placeholder_sgc

MAX_DOCUMENT_TO_JSON = timedelta(minutes=30)
"""Longest wait seen between a placeholder request's first document and its JSON
(attachment retries take up to 30 s an attempt); past it the pairing is not certain."""
MAX_PDF_TO_NEXT_STEP = timedelta(seconds=20)
"""The bot stamps each step when it starts: the detail PDF, then the attachment step, then
the JSON. Between the PDF's stamp and the next step's lies only the printing of one page
and, with no attachment, a look for one (seconds). A PDF stamped longer before the
attachment, or before the JSON when there is no attachment, may be another request's whose
JSON was never written (the bot killed, or its JSON step failed: each step is in a
``try`` of its own and the bot goes on): the next request's tab must open and load before
its JSON, which takes longer. Which request owns it cannot be told, so it waits."""

JSON_FIRST_SGC = ""
"""The SGC part of the detail writer's names when the portal's SGC field was blank: its
JSON comes before its documents (see the module's docstring)."""


class JsonState(StrEnum):
    LOADED = "loaded"
    """Valid: its request has a folder."""
    QUARANTINED = "quarantined"
    WRITING = "writing"
    """Still being written (temp suffix or modified within the settle time)."""
    UNSURE = "unsure"
    """Seen, but its fate is not known: it vanished while the run read it, it could not be
    read or quarantined, its writer stopped before finishing it (a stale temporary file),
    or it belongs to a request removed on request. It keeps its place in the write order:
    a document it could own stays in ``processed/`` as *undecided* (reported by
    ``ov_s3_reconcile`` once it has waited ``ov_orphan_after_hours``), never filed under
    another request (pairing never concludes from a JSON's absence)."""


@dataclass(frozen=True, slots=True)
class JsonMark:
    """A request JSON as far as pairing cares: when, and where its request is filed."""

    name: str
    timestamp: datetime | None
    state: JsonState
    folder: str | None = None
    """Folder under ``raw_data/`` (``LOADED`` only)."""
    why: str = ""
    """``UNSURE`` only: why its fate is not known (no personal data), said of the documents
    it holds back."""
    attachment: bool | None = None
    """Whether its record names an evidence file (``documento_prueba``:
    :func:`extractorov.records.attachment_named`). ``False``: its request has no attachment,
    so an attachment written before it is an earlier request's, and so is a PDF written
    before that attachment (the bot writes PDF, attachment, JSON). ``None``: not known."""


@dataclass(frozen=True, slots=True)
class Document:
    name: str
    kind: FileKind
    timestamp: datetime | None
    waited_out: bool = False
    """The pipeline first saw it over ``ov_orphan_after_hours`` ago: a JSON that was to be
    written after it would have been. Until then no outcome a later JSON could change is
    taken (a run's timing never changes where a document goes)."""


class Outcome(StrEnum):
    FOLDER = "folder"
    """Upload to :attr:`Placement.folder`."""
    FOLDER_JSON_QUARANTINED = "folder_json_quarantined"
    """Upload to the real SGC's folder although the request JSON was quarantined."""
    QUARANTINE = "quarantine"
    """Placeholder SGC and its JSON was quarantined: no folder can be known."""
    WAITING = "waiting"
    """No JSON yet (or still being written): stays in ``processed/`` for a later run."""
    UNDECIDED = "undecided"
    """Several requests could own it: stays in ``processed/``, never guessed."""


@dataclass(frozen=True)
class Placement:
    outcome: Outcome
    folder: str | None = None
    request_json: str | None = None
    why: str = ""
    """For waiting/undecided documents: a reason for the log (no personal data)."""


def place_documents(sgc: str, documents: Iterable[Document], jsons: Iterable[JsonMark],
                    *, folders_named: frozenset[str] = frozenset()) -> dict[str, Placement]:
    """Place every document of one file-name SGC part; key: document name.

    ``documents`` are every document with that SGC part the pipeline knows (new
    and registered: both count as rivals); ``jsons`` every request JSON with it
    (this run's, the registry's, those being written, the quarantined ones).
    ``folders_named`` are the folders any valid JSON resolved to (a JSON named
    ``PQR_1_ERROR_data_…`` can carry the real SGC in its ``numero_reclamo_sgc``).
    """
    marks = sorted((m for m in jsons if m.timestamp is not None),
                   key=lambda m: (m.timestamp, m.name))
    # By name, not by the order the caller met them: a placement never depends on
    # which JSON a run happened to read first.
    undated = sorted((m for m in jsons if m.timestamp is None), key=lambda m: m.name)
    docs = list(documents)
    if sgc == JSON_FIRST_SGC:
        return _place_after_json(docs, marks)
    if is_placeholder_sgc(sgc):
        return _place_placeholder(docs, marks)
    # Each writer's documents by its own order: the detail writer's (JSON first), the
    # bot's (JSON last).
    detail = [d for d in docs if is_detail_writer_document(d.name)]
    placed = _place_detail_writer(sgc, detail, marks, folders_named)
    main = [d for d in docs if not is_detail_writer_document(d.name)]
    placed.update((d.name, _place_real(sgc, d, marks, undated, folders_named)) for d in main)
    return _one_request_each(main, placed, [*marks, *undated])


_DETAIL_WRITER_DOCUMENT = re.compile(r"_PQR_[0-9]+_[0-9]{8}_[0-9]{6}\.pdf\Z", re.I)


def is_detail_writer_document(name: str) -> bool:
    """``{sgc}_PQR_{n}_{ts}.pdf``: the detail writer's PDF (and an older bot's)."""
    return _DETAIL_WRITER_DOCUMENT.search(name) is not None


def is_detail_writer_json(name: str) -> bool:
    """``pqr_data_{sgc}_{ts}.json``: the detail writer's request JSON."""
    return name.startswith("pqr_data_")


def _place_detail_writer(sgc: str, docs: list[Document], marks: list[JsonMark],
                         folders_named: frozenset[str]) -> dict[str, Placement]:
    """The detail writer writes a request's JSON *first*, then its PDF: a PDF goes with
    the newest of its JSONs (``pqr_data_{sgc}_…``) written at or before it, by the same
    rule as the blank-SGC names (:func:`_place_after_json`); its folder is the real SGC's.
    With none before it, none is to come: it goes to the SGC's folder, tied to no request,
    when a JSON of the SGC (or one naming it: an older bot's ``pqr_{n}_data_…``) says
    where; else it waits."""
    if not docs:
        return {}
    own_jsons = [m for m in marks if is_detail_writer_json(m.name)]
    own = _place_after_json(docs, own_jsons)
    known = folders_named or any(m.state in (JsonState.LOADED, JsonState.QUARANTINED)
                                 for m in marks)
    placed: dict[str, Placement] = {}
    for doc in docs:
        placement = own[doc.name]
        if placement.outcome is Outcome.QUARANTINE:  # a real SGC: its folder is known
            placement = Placement(Outcome.FOLDER_JSON_QUARANTINED, sgc,
                                  placement.request_json)
        elif placement.outcome is Outcome.WAITING and placement.why == _NO_JSON_BEFORE:
            # Its JSON is written first, but a copied backlog may bring the PDF first (byte
            # order): it waits for it as the bot's documents do, until it has waited
            # ov_orphan_after_hours or a later JSON of this writer shows it went on.
            went_on = any(m.timestamp and doc.timestamp and m.timestamp > doc.timestamp
                          for m in own_jsons)
            if not known:
                placement = Placement(Outcome.WAITING, why="no request JSON with this SGC yet")
            elif doc.waited_out or went_on or not marks:
                # (No JSON of the SGC's name at all, only one of another name that carried
                # it: an older bot's PDF, whose pqr_{n}_data_… JSON is that one.)
                placement = Placement(Outcome.FOLDER, sgc)
            else:
                placement = Placement(Outcome.WAITING, why=WHY_OWN_JSON_TO_COME)
        placed[doc.name] = placement
    return placed


def _one_request_each(docs: list[Document], placed: dict[str, Placement],
                      marks: list[JsonMark]) -> dict[str, Placement]:
    """A request is written detail PDF first, then its attachment, then its JSON, the PDF
    within :data:`MAX_PDF_TO_NEXT_STEP` of the next step (the rule the placeholder
    stretches follow): of the documents tied to one JSON, that request's are its last
    detail PDF, if the request's next step came within that time, and an attachment written
    at or after that PDF (the last one), unless the JSON names no attachment
    (:attr:`JsonMark.attachment`): then no attachment is its, nor a PDF written at or before
    one. Any other (a second PDF or attachment, an
    attachment written before the PDF, a PDF long before the next step: another request
    of the SGC whose JSON was never written) keeps the SGC's folder, tied to no request
    (which one owns it cannot be told), once it has waited ``ov_orphan_after_hours`` or a
    later JSON shows the bot went on: until then its own JSON may still arrive, and it
    waits."""
    written = {m.name: m for m in marks}
    by_owner: dict[str, list[Document]] = {}
    for doc in docs:
        placement = placed[doc.name]
        # Every placement that gives a request, whatever its JSON's state.
        if placement.request_json and placement.folder:
            by_owner.setdefault(placement.request_json, []).append(doc)
    for owner, group in by_owner.items():
        group.sort(key=lambda d: (d.timestamp is None, d.timestamp or _EPOCH, d.name))
        pdfs = [d for d in group if d.kind is FileKind.DETALLE]
        attachments = [d for d in group if d.kind is FileKind.ADJUNTO]
        mark = written.get(owner)
        if attachments and mark is not None and mark.attachment is False:
            # Its JSON names no attachment: the attachments, and the PDFs written before
            # the last of them, are an earlier request's (its JSON step failed).
            pdfs = [d for d in pdfs if not _not_before(attachments[-1], d)]
            attachments = []
        own: set[str] = set()
        attachment = attachments[-1] if attachments else None
        if attachment and pdfs and not _not_before(attachment, pdfs[-1]):
            attachment = None  # written before the request's PDF: another request's
        if attachment:
            own.add(attachment.name)
        undecided: str | None = None
        if pdfs:
            next_step = (attachment.timestamp if attachment
                         else mark.timestamp if mark is not None else None)
            if _within(pdfs[-1].timestamp, next_step, MAX_PDF_TO_NEXT_STEP):
                own.add(pdfs[-1].name)
            else:
                # Its own request's attachment step failing slowly, or the next request's
                # JSON after this one's JSON step failed: which cannot be told.
                undecided = pdfs[-1].name
        for doc in group:
            if doc.name == undecided:
                placed[doc.name] = Placement(Outcome.UNDECIDED, why=WHY_PDF_LONG_BEFORE)
            elif doc.name in own:
                continue
            elif doc.waited_out or _went_on(doc, marks):
                placed[doc.name] = Placement(Outcome.FOLDER, placed[doc.name].folder)
            else:
                # Not this JSON's: its own may still arrive (a backlog copied out of order
                # brings a later request's JSON first). Filing it now, tied to no request,
                # would decide on first sight what that JSON changes: it waits, as a
                # document with no JSON after it does (_place_real).
                placed[doc.name] = Placement(Outcome.WAITING, why=WHY_OWN_JSON_TO_COME)
    return placed


def _went_on(doc: Document, marks: list[JsonMark]) -> bool:
    """A bot JSON of the SGC, loaded or quarantined, written over
    :data:`MAX_DOCUMENT_TO_JSON` after ``doc``: the bot went on past the time its own JSON
    could have been written."""
    if doc.timestamp is None:
        return False
    last = doc.timestamp + MAX_DOCUMENT_TO_JSON
    return any(m.timestamp is not None and m.timestamp > last
               and m.state in (JsonState.LOADED, JsonState.QUARANTINED)
               and not is_detail_writer_json(m.name) for m in marks)


WHY_PDF_LONG_BEFORE = (
    "the request JSON of its SGC that follows it came over 20 s after it with no attachment "
    "between: it may be that request's (a slow attachment step that saved nothing) or an "
    "earlier request's whose JSON step failed, so which request owns it cannot be told")


def _within(first: datetime | None, then: datetime | None, most: timedelta) -> bool:
    if first is None or then is None:
        return True  # undated: not judged by time
    return then - first <= most


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _not_before(later: Document, earlier: Document) -> bool:
    if later.timestamp is None or earlier.timestamp is None:
        return True  # undated: as before, not judged by time
    return later.timestamp >= earlier.timestamp


def _place_real(sgc: str, doc: Document, marks: list[JsonMark], undated: list[JsonMark],
                folders_named: frozenset[str]) -> Placement:
    def own_time(mark: JsonMark) -> bool:
        """Could be its own JSON: one the bot writes ({sgc}_data_…, never the detail
        writer's pqr_data_{sgc}_…), at or after it, within MAX_DOCUMENT_TO_JSON."""
        if is_detail_writer_json(mark.name):
            return False
        if mark.timestamp is None or doc.timestamp is None:
            return True
        return doc.timestamp <= mark.timestamp <= doc.timestamp + MAX_DOCUMENT_TO_JSON

    pending = [m for m in (*marks, *undated) if m.state in _NOT_KNOWN and own_time(m)]
    if pending:  # an unsure one first: the document is then reported if it stays so
        return _owned_by(min(pending, key=lambda m: m.state is not JsonState.UNSURE))
    known = (JsonState.LOADED, JsonState.QUARANTINED)
    # Its own JSON: the first of its SGC written at or after it (the bot writes a request's
    # documents first, its JSON last), within MAX_DOCUMENT_TO_JSON.
    def tie(mark: JsonMark) -> Placement | None:
        if mark.state is JsonState.LOADED:
            return Placement(Outcome.FOLDER, mark.folder, mark.name)
        if mark.state is JsonState.QUARANTINED:
            return Placement(Outcome.FOLDER_JSON_QUARANTINED, sgc, mark.name)
        return None

    for mark in marks:
        if own_time(mark) and (placement := tie(mark)):
            return placement
    # Any other JSON of the SGC is another scrape's (or the other writer's): it gives the
    # folder, never the request (an SGC folder may hold more than one request; a removal
    # or a new SGC of that request must not take another's document). The newest before
    # it, else the first after its own JSON's time.
    earlier = [m for m in marks if m.state in known and doc.timestamp
               and m.timestamp and m.timestamp < doc.timestamp]
    beyond = [m for m in marks if m.state in known and doc.timestamp
              and m.timestamp and m.timestamp > doc.timestamp + MAX_DOCUMENT_TO_JSON]
    other = earlier[-1] if earlier else beyond[0] if beyond else None
    if other is None:
        for mark in undated:  # a JSON whose name holds no valid moment: as before, its own
            if placement := tie(mark):
                return placement
    folder = (None if other is None else other.folder if other.state is JsonState.LOADED
              else sgc)
    if folder is None and sgc in folders_named:
        # Only a JSON of another name carries this SGC (a placeholder-named JSON whose
        # numero_reclamo_sgc holds it): its own, named {sgc}_data_…, may still come.
        folder = sgc
    if folder is None:
        return Placement(Outcome.WAITING, why="no request JSON with this SGC yet")
    # (The detail writer's JSONs give a folder but never say the bot went on: that writer
    # runs apart from the bot, as in _went_on.)
    if not (doc.waited_out or any(not is_detail_writer_json(m.name) for m in beyond)):
        # Its own JSON may not be written yet (a re-scrape's comes last, minutes later):
        # filing it now, tied to no request, would decide on first sight what that JSON
        # changes (its request, its removal, its next SGC). A JSON of the SGC written
        # after its own JSON's time says the bot went on without it: no need to wait.
        return Placement(Outcome.WAITING, why=WHY_OWN_JSON_TO_COME)
    return Placement(Outcome.FOLDER, folder)


WHY_OWN_JSON_TO_COME = ("no request JSON of its SGC written at or after it yet (its SGC's "
                        "folder is known): it waits for its own, and goes to that folder "
                        "tied to no request once it has waited ov_orphan_after_hours")


_UNDATED = Placement(Outcome.UNDECIDED, why="the time stamp in its name is not a valid "
                                            "moment, so its request cannot be told")
"""A document of a time-ordered rule (placeholder, detail writer) whose name has no valid
time stamp."""


def _dated(item: JsonMark | Document) -> datetime:
    """The time of a mark or document already sorted out as dated (:func:`place_documents`
    passes only dated marks; the undated documents are set aside before any comparison)."""
    if item.timestamp is None:
        raise ValueError(f"{item.name}: an undated file cannot be placed by time")
    return item.timestamp


def _place_placeholder(docs: list[Document], marks: list[JsonMark]) -> dict[str, Placement]:
    """Split the documents by the JSON that closes their stretch of time, then judge each
    stretch as a whole: it is one request's only if it holds at most one detail PDF and one
    attachment, the PDF not after the attachment, all within 30 minutes of the JSON."""
    stamps = [_dated(m) for m in marks]
    stretches: dict[int, list[Document]] = {}
    placed: dict[str, Placement] = {}
    for doc in docs:
        if doc.timestamp is None:
            placed[doc.name] = _UNDATED
            continue
        # The JSON is written last, possibly within the same second as its documents.
        stretches.setdefault(bisect.bisect_left(stamps, doc.timestamp), []).append(doc)
    for index, stretch in stretches.items():
        if index == len(marks):
            why = "no request JSON with this placeholder written after it yet"
            placed.update((d.name, Placement(Outcome.WAITING, why=why)) for d in stretch)
            continue
        owner = marks[index]
        attachments = [d for d in stretch if d.kind is FileKind.ADJUNTO]
        if attachments and owner.attachment is False:
            # Its JSON names no attachment: the attachments, and what was written before the
            # last of them, are an earlier request's whose JSON was never written.
            last = max(_dated(d) for d in attachments)
            earlier = [d for d in stretch if _dated(d) <= last]
            placed.update((d.name, Placement(Outcome.UNDECIDED, why=WHY_NAMES_NO_ATTACHMENT))
                          for d in earlier)
            stretch = [d for d in stretch if _dated(d) > last]
        why = _not_one_request(stretch, owner)
        for doc in stretch:
            placed[doc.name] = _owned_by(owner) if not why else Placement(Outcome.UNDECIDED,
                                                                           why=why)
    return placed


WHY_NAMES_NO_ATTACHMENT = (
    "the next request JSON with this placeholder names no attachment (documento_prueba "
    "blank), so an attachment before it, and what was written before that attachment, "
    "belong to an earlier request whose JSON was never written: which one cannot be told")


def _not_one_request(stretch: list[Document], owner: JsonMark) -> str:
    """Why the documents before ``owner`` may not all be its request's ("" if they are)."""
    pdfs = [d for d in stretch if d.kind is FileKind.DETALLE]
    attachments = [d for d in stretch if d.kind is FileKind.ADJUNTO]
    if len(pdfs) > 1 or len(attachments) > 1:
        return ("several documents of one kind with this placeholder were written before the "
                "same JSON: they belong to more than one request")
    if pdfs and attachments and _dated(pdfs[0]) > _dated(attachments[0]):
        return ("the attachment was written before the detail PDF, which the bot never does "
                "within one request")
    assert owner.timestamp is not None
    if pdfs and pdfs[0].timestamp is not None:
        next_step = attachments[0].timestamp if attachments else owner.timestamp
        if next_step is not None and next_step - pdfs[0].timestamp > MAX_PDF_TO_NEXT_STEP:
            return ("the detail PDF was written over 20 s before the request's next step: "
                    "it may belong to an earlier request whose JSON was never written")
    if any(owner.timestamp - d.timestamp > MAX_DOCUMENT_TO_JSON for d in stretch
           if d.timestamp is not None):
        return "the next request JSON with this placeholder was written over 30 minutes later"
    return ""


_NO_JSON_BEFORE = "no request JSON with a blank SGC written before it yet"


def _place_after_json(docs: list[Document], marks: list[JsonMark]) -> dict[str, Placement]:
    """The detail writer's order: each document goes with the newest JSON written at or
    before its second (the next request's JSON comes 2 s or more after this one's PDF), if
    the documents after that JSON can be one request."""
    stamps = [_dated(m) for m in marks]
    stretches: dict[int, list[Document]] = {}
    placed: dict[str, Placement] = {}
    for doc in docs:
        if doc.timestamp is None:
            placed[doc.name] = _UNDATED
            continue
        stretches.setdefault(bisect.bisect_right(stamps, doc.timestamp) - 1, []).append(doc)
    for index, stretch in stretches.items():
        if index < 0:
            placed.update((d.name, Placement(Outcome.WAITING, why=_NO_JSON_BEFORE))
                          for d in stretch)
            continue
        owner = marks[index]
        why = _not_one_request_after(stretch, owner, marks)
        for doc in stretch:
            placed[doc.name] = _owned_by(owner) if not why else Placement(Outcome.UNDECIDED,
                                                                           why=why)
    return placed


def _not_one_request_after(stretch: list[Document], owner: JsonMark,
                           marks: list[JsonMark]) -> str:
    """Why the documents after ``owner`` may not all be its request's ("" if they are)."""
    if sum(m.timestamp == owner.timestamp for m in marks) > 1:
        return ("two request JSONs with a blank SGC were written within the same second: "
                "which one a document follows cannot be told")
    pdfs = [d for d in stretch if d.kind is FileKind.DETALLE]
    attachments = [d for d in stretch if d.kind is FileKind.ADJUNTO]
    if len(pdfs) > 1 or len(attachments) > 1:
        return ("several documents of one kind with a blank SGC were written after the same "
                "JSON: they belong to more than one request")
    if pdfs and attachments and _dated(attachments[0]) > _dated(pdfs[0]):
        return ("the attachment was written after the detail PDF, which the detail writer "
                "never does within one request")
    assert owner.timestamp is not None
    if any(d.timestamp - owner.timestamp > MAX_DOCUMENT_TO_JSON for d in stretch
           if d.timestamp is not None):
        return "the document was written over 30 minutes after the request JSON before it"
    return ""


def possible_owners(sgc: str, document: Document, jsons: Iterable[JsonMark]) -> list[str]:
    """Names of the request JSONs of ``jsons`` (those with the document's SGC part, in any
    state: loaded, quarantined, being written, unsure) that the rules above could give
    ``document`` to: with a real SGC every one (its own request's, or an earlier scrape's);
    with a placeholder those written at or after it (the JSON comes last); with the detail
    writer's blank SGC those written at or before it (the JSON comes first). A document
    with none waits for its request JSON; one with some waits for a run to file it, or for
    a decision pairing cannot make alone."""
    def when(mark: JsonMark) -> bool:
        if mark.timestamp is None or document.timestamp is None:
            return True  # no order to go by: it could
        if sgc == JSON_FIRST_SGC:
            return mark.timestamp <= document.timestamp
        if is_placeholder_sgc(sgc):
            return mark.timestamp >= document.timestamp
        return True
    return sorted(mark.name for mark in jsons if when(mark))


_NOT_KNOWN = frozenset({JsonState.WRITING, JsonState.UNSURE})
"""JSON states that say nothing yet about where a document goes: it waits."""
_WHY_WRITING = "its request JSON is still being written"
WHY_UNSURE = ("a request JSON that could own it vanished or could not be read or quarantined "
              "while this run looked")
"""The reason an ``UNSURE`` mark without its own :attr:`JsonMark.why` gives."""


def _owned_by(owner: JsonMark) -> Placement:
    if owner.state is JsonState.WRITING:
        return Placement(Outcome.WAITING, why=_WHY_WRITING)
    if owner.state is JsonState.UNSURE:
        return Placement(Outcome.UNDECIDED, why=owner.why or WHY_UNSURE)
    if owner.state is JsonState.QUARANTINED:
        return Placement(Outcome.QUARANTINE, request_json=owner.name)
    return Placement(Outcome.FOLDER, owner.folder, owner.name)
