"""Extract, the first step of a company run: ``processed/`` into the registry and a manifest.

A plain function (no Airflow here): scan the landing folder, pair documents with their
request JSON, quarantine what cannot be filed, register the rest as ``pending`` and write
the run manifest (:mod:`extractorov.manifest`) that ``load_db`` reads. Idempotent, and it
returns a small summary of counts (safe for XCom).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from operator import itemgetter
from pathlib import Path
from typing import Any

from psycopg import Connection

from extractorov import firstseen, registry, removal, runsteps, warehouse
from extractorov.companies import Company
from extractorov.errors import QuarantineIncomplete
from extractorov.landing import (
    DOCUMENT_KINDS,
    KEPT_BY_A_DECISION,
    REASON_LOST,
    CompanyFolders,
    FileKind,
    FileName,
    LandingFile,
    NotQuarantined,
    NotRegularFile,
    QuarantinedFile,
    Scan,
    attachment_named_at,
    company_folders,
    final_name,
    followed_json,
    may_name_documents,
    parse_file_name,
    printable,
    quarantine,
    read_quarantine,
    read_regular,
    readmit,
    restate,
    scan,
    sha256_bytes,
    sha256_file,
    shown_name,
)
from extractorov.locks import DEFAULT_WAIT_SECONDS, company_writer
from extractorov.manifest import (
    drop_manifest,
    manifest_path,
    manifest_whole,
    read_manifest,
    write_manifest,
)
from extractorov.pairing import (
    Document,
    JsonMark,
    JsonState,
    Outcome,
    Placement,
    place_documents,
)
from extractorov.progress import Progress
from extractorov.records import (
    MAX_JSON_BYTES,
    InvalidRecord,
    Record,
    attachment_named_in,
    complete_from_known,
    parse_record,
)
from extractorov.registry import RegistryEntry
from extractorov.settings import Settings
from extractorov.spool import EntrySpool, LatestRows, Spool
from extractorov.storage import (
    UnsafeKey,
    company_prefix,
    request_folder,
    s3_key,
    s3_url,
    sgc_of_folder,
    split_key,
)
from extractorov.summaries import ExtractSummary

log = logging.getLogger(__name__)



class Reason(StrEnum):
    """Why a file went to quarantine. The run summary counts these codes; the text
    written next to the file adds what to do. Never a value from the file."""

    NAME_NOT_RECOGNISED = "file name not recognised"
    LIST_FILE = "download manager's list file"
    EMPTY_FILE = "empty file"
    NOT_REGULAR = "not a regular file"
    UNSAFE_NAME = "file name cannot be used in an S3 key"
    UNREADABLE = "cannot read file"
    TOO_LARGE = "request JSON too large"
    INVALID_JSON = "invalid request JSON"
    REQUEST_QUARANTINED = "request JSON quarantined, no real SGC"
    REQUEST_GONE = "request JSON gone, no real SGC"
    """Not a quarantine of its own: the new reason of a document that followed its request
    JSON into quarantine once that JSON is nowhere any more."""


NAME_NOT_RECOGNISED = (
    "it matches none of the bot's patterns ({sgc}_data_{ts}.json, "
    "{sgc}_{ts}.pdf, {sgc}_adjunto_{ts}.{ext} with a 1-10 letter/digit extension, and the "
    "older pqr_data_{sgc}_{ts}.json, pqr_{n}_data_{ts}.json, {sgc}_PQR_{n}_{ts}.pdf)"
)
LIST_FILE = (
    "{empresa}_pqr_data_{ts}.json is the bot's list of a "
    "session's requests (a JSON array), not one request; each request arrives as its own "
    "{sgc}_data_{ts}.json, so nothing in it is lost by leaving it here"
)
EMPTY_FILE = "0 bytes (the bot was stopped while writing it)"
NOT_REGULAR = ("a symbolic link or device; links are never followed: "
               "copy the real file into processed/")
REQUEST_GONE = (
    "it followed its request JSON {json} into quarantine/ (the SGC in the file names, "
    "{sgc}, is the bot's placeholder, so no S3 folder can be known) and that JSON is no "
    "longer in processed/, quarantine/ or the registry (removed on request by "
    "ov_remove_request, or deleted by hand). Which request this file belongs to cannot be "
    "told without it, so it is never re-admitted alone: if its request was removed on "
    "request, delete this file with its reason file; otherwise put that JSON back in "
    "processed/ and run extract with readmit_quarantine=true")
WHY_STALE = (
    "a request JSON that could own it is a temporary file whose writer stopped (unchanged "
    "over ov_orphan_after_hours since first seen; reported as temp_file_stale): finish it or "
    "move it to quarantine/, and the next run files this document with it")
WHY_TIED_JSON_GONE = (
    "a filed document of its SGC is tied to a request JSON that is no longer anywhere (a "
    "quarantined JSON deleted by hand, a registry row deleted): that JSON keeps its place "
    "in the write order, so which request owns this document cannot be told")
WHY_REMOVED = (
    "a request JSON that could own it belongs to a request removed on request "
    "(ov_remove_request) and is back in processed/: trigger the removal of that request "
    "again")

RETIRED_REASONS = (
    "no request JSON with the same SGC number",
    "its request JSON (same SGC in the file name) was quarantined",
    "file name does not match the scraper's patterns",
)
"""Reasons earlier versions quarantined files for that the current rules do not: such
files are moved back to ``processed/`` so an upgrade needs no manual file moves."""


@dataclass
class _Run:
    """What one extract run carries between its phases."""

    company: Company
    settings: Settings
    run_id: str
    folders: CompanyFolders
    summary: ExtractSummary
    entries: EntrySpool
    """Registry entries of the files this run filed (on disk until registered)."""
    latest: LatestRows
    """The newest row and the request JSONs per ``numero_radicado`` (rows on disk until
    the manifest is written)."""

    strings: dict[str, str] = field(default_factory=dict)
    """One string object per SGC (or folder) the run meets, shared by what it holds."""
    not_moved: list[str] = field(default_factory=list)
    """What the operator is told of the first files that could not be quarantined."""
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Documents left in ``processed/``: name → pairing's outcome and reason (recorded with
    when the pipeline first saw them: :mod:`extractorov.firstseen`)."""
    temporary: list[firstseen.Key] = field(default_factory=list)
    registered_keys: dict[str, str] = field(default_factory=dict)
    reties: list[registry.Retie] = field(default_factory=list)
    """Filed documents pairing now gives another request (:func:`_retie`)."""
    """Request JSONs read again (registered by an earlier run, not loaded): name → the key
    of their registry row. A file keeps its one row: a request whose SGC became known since
    follows it through ``registry.follow_sgc`` (load_db), never a second row and object."""
    """The temporary files of the last scan (recorded as first seen too)."""
    removed_left: list[str] = field(default_factory=list)
    removed_names: set[str] = field(default_factory=set)
    """Every file name of the requests removed on request: a removed request JSON keeps its
    place in the write order (:func:`_unread_marks`) wherever its file is (gone)."""
    """Files of requests removed on request that the last scan found in ``processed/`` (not
    filed: :func:`extractorov.removal.removed_names`)."""

    def parse(self, name: str) -> FileName | None:
        return parse_file_name(name, self.settings.bot_timezone)

    def same(self, text: str) -> str:
        return self.strings.setdefault(text, text)

    def reject(self, path: Path, code: Reason, detail: str = "", *,
               request_json: str = "") -> bool:
        """Quarantine with a reason. True when the file is refused: in ``quarantine/``, or
        left in ``processed/`` because it could not be moved there (counted; the task fails
        at the end); False when it vanished meanwhile. ``request_json``: the request JSON a
        document follows into quarantine (:func:`extractorov.landing.followed_json`)."""
        reason = f"{code}: {detail}" if detail else str(code)
        try:
            quarantine(path, reason, self.folders, run_id=self.run_id,
                       request_json=request_json)
        except FileNotFoundError:
            self.vanished(path)
            return False
        except NotQuarantined as exc:
            self.not_quarantined(path, exc)
            return True
        self.summary.files_quarantined += 1
        counts = self.summary.quarantine_reasons
        counts[code.value] = counts.get(code.value, 0) + 1
        log.warning("quarantined %s: %s", shown_name(path.name), reason)
        return True

    def not_quarantined(self, path: Path, exc: NotQuarantined) -> None:
        # Not bad input: an operator must act. The rest of the batch goes on.
        self.summary.files_quarantine_failed += 1
        name = shown_name(path.name)
        if exc.disk_full:
            message = (f"disk full: {name} could not be quarantined; it stays in processed/ "
                       "and is tried again by the next run; free space on the landing volume")
        else:
            message = (f"{name} could not be quarantined ({exc.strerror}); it stays in "
                       "processed/ and is tried again by the next run; check that "
                       "quarantine/ on the landing volume is writable")
        if len(self.not_moved) < 5:
            self.not_moved.append(message)
        log.error("%s", message)

    def vanished(self, path: Path) -> None:
        # Moved away by someone while we ran: nothing to track; a later run sees it if back.
        self.summary.files_vanished += 1
        log.warning("%s disappeared from processed/ during the run; skipped",
                    shown_name(path.name))

    def key(self, folder: str, filename: str) -> str:
        return s3_key(self.settings.base_path, self.company.empresa, folder, filename)


def extract(conn: Connection, company: Company, settings: Settings, run_id: str, *,
            readmit_quarantine: bool = False, attempt: int | str | None = None,
            wait_seconds: float = DEFAULT_WAIT_SECONDS) -> ExtractSummary:
    """Scan the landing folder, validate, quarantine, register, write the run manifest.

    A file that cannot be quarantined (a full disk) stays in ``processed/``; the rest of
    the batch is filed and registered, then :class:`QuarantineIncomplete` is raised (it
    carries the summary) so an operator frees space.

    ``readmit_quarantine``: first move every quarantined file back to ``processed/``
    (e.g. after the parser learned a new ``fecha`` format); each is validated again and
    one that fails again returns to quarantine with its new reason.

    Phases: re-admit files retired rules quarantined → classify → read the
    request JSONs → place the PDFs and attachments with their requests →
    register and write the manifest. Files the registry already has (and, for
    request JSONs, already loaded) are skipped without being read, so the cost
    follows new data only.

    Holds the company's writer exclusion throughout (:mod:`extractorov.locks`): no other
    step moves, registers or uploads the company's files while this one reads them;
    :class:`~extractorov.errors.CompanyBusy` after ``wait_seconds``.

    ``attempt`` (the task's try number; default: the run's next) names this try's record
    in ``data_general.run_steps``, written with the registry rows. A try that finds an
    earlier try of the same run committed, with a manifest no ``load_db`` loaded yet (a
    retry after the worker died past the commit), returns that try's counts and keeps its
    manifest rather than scanning again: the run reports what it did, once.
    """
    started = time.monotonic()
    # A missing landing, company or processed/ folder fails at once (never re-created).
    folders = company_folders(settings.landing_root, company.empresa).require()
    warehouse.ensure_schema(conn)
    conn.commit()
    path = manifest_path(settings, company, run_id)
    with company_writer(conn, company, f"extract of {run_id}", wait_seconds=wait_seconds):
        committed = _committed_not_loaded(conn, company, run_id, path)
        if committed is not None:
            return committed
        if attempt is None:
            attempt = len(runsteps.recorded(conn, run_id, company.empresa,
                                            runsteps.EXTRACT)) + 1
            conn.commit()
        with (contextlib.closing(EntrySpool()) as entries,
              contextlib.closing(LatestRows()) as latest):
            run = _Run(company, settings, run_id, folders, ExtractSummary(), entries, latest)
            _extract(run, conn, path, readmit_quarantine=readmit_quarantine,
                     attempt=str(attempt), started=started)
    if run.summary.files_quarantine_failed or run.summary.manifest_failed:
        raise QuarantineIncomplete(run.summary, run.not_moved)
    return run.summary


def _committed_not_loaded(conn: Connection, company: Company, run_id: str, manifest: Path
                          ) -> ExtractSummary | None:
    """The counts of this run's last extract try when it committed and no load_db loaded
    its manifest yet (which is still there, written by that try)."""
    tries = runsteps.recorded(conn, run_id, company.empresa, runsteps.EXTRACT)
    loads = {r.attempt for r in runsteps.recorded(conn, run_id, company.empresa,
                                                  runsteps.LOAD_DB)}
    conn.commit()
    if not tries or tries[-1].attempt in loads:
        return None
    last = tries[-1]
    if last.counts.get("files_quarantine_failed"):
        return None  # it left files it could not quarantine: this try tries them again
    try:
        found = read_manifest(manifest, company)
        header = found.header
        if str(header.get("attempt")) != last.attempt or header.get("run_id") != run_id:
            return None
        if not manifest_whole(found):
            # load_db refused it ("truncated or edited files") and said to rerun extract:
            # doing so must mend it, so this try scans again (its JSONs are registered and
            # not loaded: they are read again into a new manifest).
            log.warning("extract: the manifest of try %s of this run does not hold what its "
                        "header says (truncated or edited files): scanning again",
                        last.attempt)
            return None
    except (OSError, ValueError, KeyError):
        return None  # gone or damaged: scan again
    log.info("extract: try %s of this run committed its work (registry rows and manifest) "
             "and no load_db has loaded its manifest yet: returning its counts instead of "
             "scanning again (files that arrived since wait for the next run)", last.attempt)
    known = {f.name for f in fields(ExtractSummary)}
    return ExtractSummary(**{k: v for k, v in last.counts.items() if k in known})


def _extract(run: _Run, conn: Connection, manifest: Path, *, readmit_quarantine: bool,
             attempt: str, started: float) -> None:
    company, settings, summary = run.company, run.settings, run.summary
    log.info("extract: scanning %s", run.folders.processed)
    found = _scan(run, conn)
    # Read once: the re-admission and the placing of documents both need it.
    quarantined = read_quarantine(run.folders)
    quarantined = _readmit_quarantined(run, conn, found, quarantined,
                                       everything=readmit_quarantine)
    summary.files_reason_lost = sum(entry.reason_lost for entry in quarantined)
    if summary.files_reason_lost:
        log.warning("extract: %d files in quarantine/ have lost their reason file (missing, "
                    "empty or unreadable): listed as '%s'; a run with "
                    "readmit_quarantine=true validates them again", summary.files_reason_lost,
                    REASON_LOST)
    if summary.files_readmitted:
        # Recorded now, not with the try's commit: the files are back in processed/ and
        # their reasons gone, so nothing else would tell a later try of the run.
        runsteps.record(conn, run.run_id, company.empresa, runsteps.READMIT, attempt,
                        {"files_readmitted": summary.files_readmitted})
        conn.commit()
        found = _scan(run, conn)
    summary.files_in_progress = len(found.in_progress)
    if found.stale:
        # Not "in progress" for ever: left for a human, and reported by ov_s3_reconcile.
        log.warning("extract: %d temporary files unchanged since first seen over %g hours "
                    "ago (a writer stopped): left in processed/, reported by ov_s3_reconcile",
                    len(found.stale), settings.orphan_after_hours)
    summary.files_found = len(found.files) + len(found.not_regular)
    refused = {path.name: run.reject(path, Reason.NOT_REGULAR, NOT_REGULAR)
               for path in found.not_regular}
    unread = _unread_marks(run, found, refused)
    unread_docs = _unread_documents(run, found)
    log.info("extract: %d files in processed/", len(found.files))
    # What the registry knows of the scanned names only, streamed in their order (never
    # the company's history: a year holds ~900,000 rows; nor one answer a file of
    # processed/ held at once); pairing asks about the new documents' SGC parts below.
    with contextlib.closing(registry.known_in_order(
            conn, company.empresa, settings.bucket, (f.name for f in found.files))) as known:
        new_jsons, new_docs, empty_jsons = _classify(run, found.files, known)
    log.info("extract: %d files handled by earlier runs (skipped unread)",
             summary.files_handled_before)
    # A backlog is hundreds of thousands of names: each phase lets go of what it is done
    # with, so the manifest and the registering do not hold the scan's names too.
    found.files = []
    marks = _Marks(run.same)
    for file, parsed, set_aside in empty_jsons:
        marks.put(parsed.sgc, JsonMark(file.name, parsed.timestamp,
                                       JsonState.QUARANTINED if set_aside else JsonState.UNSURE))
    progress = Progress("extract", summary.files_new)
    _read_requests(run, conn, new_jsons, marks, progress)
    new_jsons.clear()
    _place_documents(run, conn, new_docs, unread, unread_docs, quarantined, marks, progress)
    new_docs.clear()
    marks.clear()
    progress.update(summary.files_new, force=summary.files_new > 0)
    # "New" is what this run filed (registered or quarantined); a waiting document is
    # counted as waiting, run after run, until its request JSON files it.
    summary.files_new -= summary.files_waiting
    # Not filed either: left in processed/ (a full disk), counted by the try that files it.
    summary.files_new -= summary.files_quarantine_failed
    summary.files_waiting += len(found.stale)

    summary.records = len(run.latest)
    summary.records_superseded = summary.records_found - len(run.latest)
    for latest in run.latest.index.values():
        if latest.incomplete:
            summary.records_incomplete += 1
            for name in latest.incomplete:
                summary.incomplete_fields[name] = summary.incomplete_fields.get(name, 0) + 1
    summary.bytes_new = run.entries.bytes_total
    _record_waiting(run, conn)
    try:
        write_manifest(manifest, company, settings, run.latest, run_id=run.run_id,
                        attempt=attempt)
        summary.manifest = str(manifest)
    except OSError as exc:
        # Bad input is not the cause and the rest of the batch still goes: its files are
        # registered below; its request JSONs stay not loaded, so the next run reads them
        # again. The task then fails, not retried: someone must free space.
        drop_manifest(manifest)
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        message = ((f"disk full: the run manifest could not be written to "
                    f"{manifest.parent}; free space on the landing volume" if full else
                    f"the run manifest could not be written to {manifest.parent} "
                    f"({exc.strerror}); check that the landing volume is writable")
                   + f" ({len(run.latest)} request(s) are loaded by the next run instead)")
        log.error("%s", message)
        run.not_moved.insert(0, message)
        summary.manifest_failed = True
    if run.reties:
        # Before the registering: a document tied to a JSON registered now takes its
        # request with the others filed before their JSON.
        summary.files_retied = registry.retie_documents(conn, company.empresa,
                                                        settings.bucket, run.reties)
        log.info("extract: %d filed document(s) tied anew to their request (their own "
                 "JSON, or another request's documents, arrived after them)",
                 summary.files_retied)
    log.info("extract: registering %d files as pending", len(run.entries))
    summary.files_registered = registry.register_pending(
        conn, _with_progress("extract (register)", run.entries))
    summary.seconds = round(time.monotonic() - started, 3)
    runsteps.record(conn, run.run_id, company.empresa, runsteps.EXTRACT, attempt,
                    asdict(summary))
    conn.commit()
    if summary.files_waiting:
        log.info("extract: %d documents wait in processed/ for their request JSON; a later "
                 "run files them (ov_s3_reconcile reports any that wait over %g hours)",
                 summary.files_waiting, settings.orphan_after_hours)


def _scan(run: _Run, conn: Connection) -> Scan:
    """``processed/`` now. A temporary file is a dead writer's (stale) once the pipeline
    first saw it, unchanged, over ``ov_orphan_after_hours`` ago: never by its modification
    time, which a copied backlog keeps (:mod:`extractorov.firstseen`)."""
    found = scan(run.folders.processed, settle_seconds=run.settings.settle_seconds,
                 stale_seconds=0)
    # Files of requests removed on request (ov_remove_request) are never filed again.
    removed = removal.removed_names(conn, run.company.empresa)
    run.removed_names = removed
    run.removed_left = []
    if removed and (left := [f for f in found.files if f.name in removed]):
        found.files = [f for f in found.files if f.name not in removed]
        run.removed_left = [f.name for f in left]
        log.warning("extract: %d file(s) of requests removed on request are in processed/: "
                    "not filed; trigger %s for their request again to delete them",
                    len(left), removal.DAG_ID)
    run.temporary = firstseen.split_stale(conn, run.company.empresa, found,
                                          limit_seconds=run.settings.orphan_after_hours * 3600)
    return found


def _record_waiting(run: _Run, conn: Connection) -> None:
    """Record the documents this run left waiting (first seen, outcome, reason) and drop
    the rows of every file no longer waiting; committed with the registry rows."""
    if not run.folders.processed.is_dir():
        return  # not mounted, say: what was seen waiting stays recorded
    verdicts: dict[firstseen.Key, tuple[str, str]] = {}
    for filename, verdict in run.waiting.items():
        try:
            size = (run.folders.processed / filename).lstat().st_size
        except FileNotFoundError:
            continue
        verdicts[firstseen.key(filename, size)] = verdict
    firstseen.observe(conn, run.company.empresa, verdicts, now=datetime.now(UTC),
                      verdicts=verdicts)
    firstseen.keep_only(conn, run.company.empresa, [*verdicts, *run.temporary])
    run.waiting.clear()


def _readmit_quarantined(run: _Run, conn: Connection, found: Scan,
                         quarantined: list[QuarantinedFile], *, everything: bool = False,
                         ) -> list[QuarantinedFile]:
    """Move back files quarantined for reasons the current rules retired (``everything``:
    every quarantined file); return the quarantine that is left (the count goes to
    ``files_readmitted``).

    Documents come back once a request JSON with their SGC part is anywhere
    (``processed/``, the registry, ``quarantine/``); then the normal rules place
    them. Request JSONs and other names the old patterns refused come back at once.

    A document that followed its request JSON into quarantine (placeholder SGC:
    :func:`extractorov.landing.followed_json`) comes back only with that JSON: when it
    comes back too, or is in ``processed/`` or the registry already. One whose JSON is
    nowhere any more (removed on request, deleted by hand) stays, its reason restated
    (:data:`REQUEST_GONE`): pairing never concludes from a JSON's absence, and without it
    the document would go with the next request's JSON.
    """
    tz = run.settings.bot_timezone
    on_disk = {f.name for f in found.files}
    on_disk.update(n for raw in (*found.in_progress, *(f.name for f in found.stale),
                                 *(p.name for p in found.not_regular), *found.vanished,
                                 *run.removed_left)
                   if (n := final_name(raw, tz)) is not None)
    back: set[str] = set()
    # The registry is asked only about the request JSONs quarantined documents followed.
    followed = sorted({name for entry in quarantined if (name := followed_json(entry))})
    in_registry = (registry.registered_names(conn, run.company.empresa, run.settings.bucket,
                                             followed) if followed else set())

    def present(json_name: str) -> bool:
        return json_name in back or json_name in on_disk or json_name in in_registry

    moved: set[Path] = set()
    if everything:
        # Not what this same run quarantined: a cleared or retried try has validated it
        # again already (and would count it twice).
        this_run = printable(run.run_id)
        # Nor what a person decided is not to be delivered (a review set it aside).
        candidates = [entry for entry in quarantined if entry.run_id != this_run
                      and KEPT_BY_A_DECISION not in entry.reason]
        for entry in candidates:  # every file that follows no other one first
            if not followed_json(entry) and readmit(entry, run.folders):
                moved.add(entry.path)
                back.add(final_name(entry.original_name, tz) or entry.original_name)
        for entry in candidates:  # then each document with its request JSON, if it is there
            if (followed_json(entry) and present(followed_json(entry))
                    and readmit(entry, run.folders)):
                moved.add(entry.path)
        run.summary.files_readmitted = len(moved)
        log.info("extract: readmit_quarantine=true: %d of %d quarantined files moved back to "
                 "processed/ to be validated again", len(moved), len(quarantined))
    else:
        retired: list[tuple[QuarantinedFile, FileName]] = []
        for entry in quarantined:
            if entry.reason.startswith(RETIRED_REASONS):
                parsed = run.parse(entry.original_name)
                if parsed is not None and parsed.kind is not FileKind.LISTA:
                    retired.append((entry, parsed))  # else still refused: it stays
        wanted = {parsed.sgc for _, parsed in retired if parsed.kind in DOCUMENT_KINDS}
        json_sgcs: set[str] = set()
        if wanted:
            registered = registry.files_with_sgc_parts(conn, run.company.empresa,
                                                       run.settings.bucket, wanted)
            for raw in (*on_disk, *registered, *(q.original_name for q in quarantined)):
                if wanted.isdisjoint(_sgc_candidates(raw)):
                    continue
                parsed = run.parse(raw)
                if parsed is not None and parsed.kind is FileKind.DATA:
                    json_sgcs.add(parsed.sgc)
        for entry, parsed in retired:
            if parsed.kind in DOCUMENT_KINDS and parsed.sgc not in json_sgcs:
                continue
            if readmit(entry, run.folders):
                moved.add(entry.path)
                back.add(final_name(entry.original_name, tz) or entry.original_name)
                log.info("re-admitted %s from quarantine/ (quarantined by a retired rule)",
                         shown_name(entry.original_name))
        run.summary.files_readmitted = len(moved)
    left = [q for q in quarantined if q.path not in moved]
    return _restate_orphans(run, left, present)


def _restate_orphans(run: _Run, left: list[QuarantinedFile],
                     present: Callable[[str], bool]) -> list[QuarantinedFile]:
    """Restate (:data:`REQUEST_GONE`) the reason of each quarantined document whose request
    JSON, the one it followed, is nowhere any more: not in ``quarantine/`` (``left``), nor
    ``present`` in ``processed/`` or the registry. Once per document."""
    tz = run.settings.bot_timezone
    in_quarantine = {final_name(entry.original_name, tz) or entry.original_name
                     for entry in left}
    restated = 0
    for index, entry in enumerate(left):
        json_name = followed_json(entry)
        if (not json_name or entry.reason.startswith(Reason.REQUEST_GONE.value)
                or json_name in in_quarantine or present(json_name)):
            continue
        parsed = run.parse(entry.original_name)
        detail = REQUEST_GONE.format(json=shown_name(json_name),
                                     sgc=(printable(parsed.sgc) or "blank") if parsed else "?")
        try:
            left[index] = restate(entry, f"{Reason.REQUEST_GONE}: {detail}")
        except OSError as exc:  # it stays in quarantine/ all the same
            log.warning("extract: the reason of %s in quarantine/ could not be restated "
                        "(%s); it stays there", shown_name(entry.original_name), exc.strerror)
            continue
        restated += 1
    if restated:
        log.warning("extract: %d document(s) in quarantine/ followed a request JSON that is "
                    "no longer anywhere (removed on request, or deleted by hand): they stay "
                    "in quarantine/, never re-admitted alone; their reason files say so",
                    restated)
    return left


def _classify(run: _Run, files: list[LandingFile], known: Iterator[registry.KnownFile | None]
              ) -> tuple[list[LandingFile], dict[str, list[str]],
                         list[tuple[LandingFile, FileName, bool]]]:
    """Split new files into request JSONs and the names of documents (by the SGC part of
    their names); refuse what is not the bot's. Parsed names are made again where they
    are used (~7 µs each), not held for a whole backlog; a document is read only by
    name (its size and hash come from its bytes). ``known``: the registry's answer for
    each of ``files``, in their order (:func:`extractorov.registry.known_in_order`)."""
    new_jsons: list[LandingFile] = []
    new_docs: dict[str, list[str]] = {}
    empty_jsons: list[tuple[LandingFile, FileName, bool]] = []
    classify = Progress("extract (classify)", len(files))
    for scanned, (file, seen) in enumerate(zip(files, known, strict=True), start=1):
        classify.update(scanned)
        name = run.parse(file.name)
        if name is None:
            run.reject(file.path, Reason.NAME_NOT_RECOGNISED, NAME_NOT_RECOGNISED)
            continue
        if name.kind is FileKind.LISTA:
            run.reject(file.path, Reason.LIST_FILE, LIST_FILE)
            continue
        if seen is not None and seen.local and (name.kind is not FileKind.DATA or seen.loaded):
            run.summary.files_handled_before += 1
            continue
        if file.size == 0:
            quarantined = run.reject(file.path, Reason.EMPTY_FILE, EMPTY_FILE)
            if name.kind is FileKind.DATA:  # keeps its place in the write order either way
                empty_jsons.append((file, name, quarantined))
            continue
        if name.kind is FileKind.DATA:
            new_jsons.append(file)
            if seen is not None and seen.local:
                run.summary.files_reread += 1  # registered, not loaded: not new here
                if seen.s3_key:
                    run.registered_keys[file.name] = seen.s3_key
        else:
            new_docs.setdefault(run.same(name.sgc), []).append(file.name)
    classify.update(len(files), force=bool(files))
    run.summary.files_new = (len(new_jsons) - run.summary.files_reread
                             + sum(map(len, new_docs.values())))
    return new_jsons, new_docs, empty_jsons


def _parsed(run: _Run, filename: str) -> FileName:
    """The parsed name of a file :func:`_classify` kept (so one it could parse)."""
    name = run.parse(filename)
    assert name is not None
    return name


class _Marks:
    """The request JSONs pairing looks at, by the SGC part of their names.

    One per request JSON of a backlog, so a part with a single JSON (most) holds the
    mark itself rather than a dict of one; SGC strings are shared with the run's.
    """

    __slots__ = ("_by_sgc", "_same")

    def __init__(self, same: Callable[[str], str]) -> None:
        self._by_sgc: dict[str, JsonMark | dict[str, JsonMark]] = {}
        self._same = same

    def put(self, sgc: str, mark: JsonMark, *, keep: bool = False) -> None:
        """Record ``mark`` under ``sgc``; ``keep``: a mark already there for its name wins."""
        current = self._by_sgc.get(sgc)
        if current is None:
            self._by_sgc[self._same(sgc)] = mark
        elif isinstance(current, JsonMark):
            if current.name != mark.name:
                self._by_sgc[sgc] = {current.name: current, mark.name: mark}
            elif not keep:
                self._by_sgc[sgc] = mark
        elif keep:
            current.setdefault(mark.name, mark)
        else:
            current[mark.name] = mark

    def of(self, sgc: str) -> list[JsonMark]:
        current = self._by_sgc.get(sgc)
        if current is None:
            return []
        return [current] if isinstance(current, JsonMark) else list(current.values())

    def folders(self) -> set[str]:
        """The folders the marked request JSONs are filed under."""
        found: set[str] = set()
        for current in self._by_sgc.values():
            for mark in (current,) if isinstance(current, JsonMark) else current.values():
                if mark.folder:
                    found.add(mark.folder)
        return found

    def sgcs(self) -> list[str]:
        """The SGC parts marked so far."""
        return list(self._by_sgc)

    def clear(self) -> None:
        self._by_sgc.clear()


def _read_requests(run: _Run, conn: Connection, new_jsons: list[LandingFile], marks: _Marks,
                   progress: Progress) -> None:
    """Validate each new request JSON; register the good ones, quarantine the rest.

    A complete record is filed as it is read (its row goes to disk); one with blank
    fields waits on disk for the end of the reading, when the run's newest values and
    the table's can complete it (a backlog can hold many: placeholder SGCs).
    """
    with contextlib.closing(Spool[tuple[LandingFile, FileName, Record, str, int]]()) as blanks:
        copies: list[_Copy] = []
        for done, file in enumerate(new_jsons, start=1):
            progress.update(done)
            name = _parsed(run, file.name)
            record, digest, quarantined, size, attachment = _read_record(run, file, name)
            if record is None:
                # Refused, or gone or unreadable while we read it: either way it keeps its
                # place in the write order (pairing never concludes from its absence).
                marks.put(name.sgc, JsonMark(file.name, name.timestamp,
                                             JsonState.QUARANTINED if quarantined
                                             else JsonState.UNSURE, attachment=attachment))
            elif record.incomplete:
                blanks.append((file, name, record, digest, size))
                copies.append((_order_key(record), record.numero_radicado, record.fecha,
                               record.numero_reclamo_sgc))
            else:
                _file_request(run, file, name, record, digest, size, marks)
        known = _known_values(run, conn, copies)
        del copies
        _file_blanks(run, blanks, known, marks)


def _file_blanks(run: _Run, blanks: Spool[tuple[LandingFile, FileName, Record, str, int]],
                 known: dict[str, tuple[datetime | None, str | None]], marks: _Marks) -> None:
    for file, name, record, digest, size in blanks:
        if record.numero_radicado in known:
            fecha, sgc = known[record.numero_radicado]
            record = complete_from_known(record, fecha=fecha, numero_reclamo_sgc=sgc)
        _file_request(run, file, name, record, digest, size, marks)


def _file_request(run: _Run, file: LandingFile, name: FileName, record: Record, digest: str,
                  size: int, marks: _Marks) -> None:
    """Register a valid request JSON under its folder and offer its row as the newest."""
    try:
        folder = run.same(request_folder(record.numero_reclamo_sgc, record.numero_radicado))
        key = run.registered_keys.get(file.name) or run.key(folder, file.name)
    except UnsafeKey as exc:
        quarantined = run.reject(file.path, Reason.UNSAFE_NAME, str(exc))
        marks.put(name.sgc, JsonMark(file.name, name.timestamp,
                                     JsonState.QUARANTINED if quarantined else JsonState.UNSURE,
                                     attachment=record.names_attachment))
        return
    metadata: dict[str, Any] = {"kind": name.kind.value,
                                "numero_radicado": record.numero_radicado}
    if record.names_attachment is not None:
        # Kept for later runs' pairing (and removals): a JSON that names no attachment
        # never owns one (pairing.JsonMark.attachment).
        metadata["names_attachment"] = record.names_attachment
    run.entries.append(_entry(run, file.path, name, key, record.numero_reclamo_sgc, digest,
                              size, metadata))
    run.summary.records_found += 1
    sgc = record.numero_reclamo_sgc
    run.latest.offer(record.numero_radicado, _order_key(record),
                     warehouse.stage_row(run.company, record), record.incomplete,
                     record.fecha, sgc and run.same(sgc), file.name)
    marks.put(name.sgc, JsonMark(file.name, name.timestamp, JsonState.LOADED, folder,
                                 attachment=record.names_attachment))


_Copy = tuple[tuple[str, str], str, datetime | None, str | None]
"""What completing blanks needs of a record: order key, radicado, ``fecha``, SGC."""


def _known_values(run: _Run, conn: Connection, blanks: list[_Copy]
                  ) -> dict[str, tuple[datetime | None, str | None]]:
    """``numero_radicado`` → (``fecha``, ``numero_reclamo_sgc``) already known of the requests
    this run read with blanks: this run's newest copy that has them, else the table's.

    Called before the records with blanks are filed: ``run.latest`` then holds each
    radicado's newest complete record, the only complete one that can matter."""
    wanted = {radicado for _, radicado, _, _ in blanks}
    if not wanted:
        return {}
    known: dict[str, tuple[datetime | None, str | None]] = dict.fromkeys(wanted, (None, None))
    for fecha, sgc, radicado in warehouse.known_fecha_and_sgc(conn, run.company, sorted(wanted)):
        known[radicado] = (fecha, sgc)
    copies = list(blanks)
    for radicado in wanted:
        latest = run.latest.index.get(radicado)
        if latest is not None:
            copies.append((latest.order, radicado, latest.fecha, latest.numero_reclamo_sgc))
    for _, radicado, fecha_, sgc_ in sorted(copies, key=itemgetter(0)):  # newest last: wins
        fecha, sgc = known[radicado]
        known[radicado] = (fecha_ or fecha, sgc_ or sgc)
    return {k: v for k, v in known.items() if v != (None, None)}


def _place_documents(run: _Run, conn: Connection, by_sgc: dict[str, list[str]],
                     unread: list[tuple[str, JsonMark]], unread_docs: list[Document],
                     quarantined: list[QuarantinedFile], marks: _Marks,
                     progress: Progress) -> None:
    """File each new PDF and attachment with its request, or leave it waiting.

    ``marks`` holds this run's request JSONs; the registry's, the entries of the scan this
    run did not read (``unread``: :func:`_unread_marks`) and the quarantined ones are added
    here, only for the SGC parts of new documents: the registry is asked only about names
    with those SGC parts, wherever their files are now (a request JSON registered a month
    ago may have left ``processed/`` by retention), never for its whole history.
    """
    # The SGC parts of this run's request JSONs too: a JSON that arrives after documents
    # already filed (a backlog reaching processed/ out of write order) may be theirs.
    by_sgc = {**{sgc: [] for sgc in marks.sgcs() if may_name_documents(sgc)}, **by_sgc}
    if not by_sgc:
        return
    empresa, bucket = run.company.empresa, run.settings.bucket
    prefix = company_prefix(run.settings.base_path, empresa)
    known_docs: dict[str, list[Document]] = {}
    filed: dict[str, tuple[str, registry.KnownFile]] = {}
    registered = registry.files_with_sgc_parts(conn, empresa, bucket, by_sgc.keys())
    for filename, info in registered.items():
        if by_sgc.keys().isdisjoint(_sgc_candidates(filename)):
            continue
        parsed = run.parse(filename)
        if parsed is None or parsed.sgc not in by_sgc:
            continue
        if parsed.kind in DOCUMENT_KINDS:
            known_docs.setdefault(parsed.sgc, []).append(
                Document(filename, parsed.kind, parsed.timestamp))
            # Filed by the pipeline (a local copy, or one retention took since), never a
            # row made from the bucket, nor one a human review decided about.
            if info.s3_key and (info.local or info.local_removed) and not info.reviewed:
                filed[filename] = (parsed.sgc, info)
        elif parsed.kind is FileKind.DATA and info.s3_key:
            where = split_key(prefix, info.s3_key)
            if where is not None:  # this run's reading of the same JSON wins
                marks.put(parsed.sgc, JsonMark(filename, parsed.timestamp, JsonState.LOADED,
                                               run.same(where[0]),
                                               attachment=info.names_attachment), keep=True)
    for sgc, mark in unread:
        if sgc in by_sgc:  # one being written holds its documents back even over a reading
            marks.put(sgc, mark, keep=mark.state is not JsonState.WRITING)
    # Documents still being written (or copied) are rivals too: not filed this run, but
    # they keep their place in the write order (the removal's pairing counts them).
    for doc in unread_docs:
        parsed = run.parse(doc.name)
        if (parsed is not None and parsed.sgc in by_sgc and doc.name not in registered
                and doc.name not in by_sgc[parsed.sgc]):
            known_docs.setdefault(parsed.sgc, []).append(doc)
    # JSONs quarantined by earlier runs still say where (or that nowhere) their documents
    # go; documents there (set aside by a person, or following a JSON) are rivals still:
    # a document's absence never decides a tie, as a JSON's never may (the removal's
    # pairing weighs them too).
    for entry in quarantined:
        final = final_name(entry.original_name, run.settings.bot_timezone)
        parsed = run.parse(final) if final is not None else None
        if final is None or parsed is None or parsed.sgc not in by_sgc:
            continue
        if parsed.kind is FileKind.DATA:
            marks.put(parsed.sgc, JsonMark(final, parsed.timestamp, JsonState.QUARANTINED,
                                           attachment=attachment_named_at(entry.path)),
                      keep=True)
        elif (parsed.kind in DOCUMENT_KINDS and final not in registered
              and final not in by_sgc[parsed.sgc]):
            known_docs.setdefault(parsed.sgc, []).append(
                Document(final, parsed.kind, parsed.timestamp))
    # A request JSON a filed document is tied to keeps its place in the write order while
    # that row names it, even once it is nowhere else (pairing never concludes from a
    # JSON's absence): unsure, and the document keeps its tie (_retie).
    gone = _tied_jsons_gone(run, registered, marks, by_sgc)
    registered.clear()
    # Only a document's own SGC part is ever looked up in it (pairing._place_real).
    folders_named = frozenset(registry.json_sgcs_named(conn, empresa, bucket, by_sgc.keys())
                              | marks.folders())
    done = run.summary.files_new - sum(map(len, by_sgc.values()))
    waited = _waited_out(run, conn, [f for filenames in by_sgc.values() for f in filenames])
    for sgc, filenames in by_sgc.items():
        docs = [(filename, _parsed(run, filename)) for filename in filenames]
        documents = [Document(f, n.kind, n.timestamp, f in waited) for f, n in docs]
        placements = place_documents(sgc, documents + known_docs.get(sgc, []),
                                     marks.of(sgc), folders_named=folders_named)
        for filename, name in docs:
            done += 1
            progress.update(done)
            _file_document(run, filename, name, placements[filename])
        for known in known_docs.get(sgc, ()):
            # A document whose JSON is gone keeps the tie it has: nothing says otherwise.
            if known.name in filed and filed[known.name][1].request_json not in gone:
                _retie(run, prefix, known.name, filed[known.name][1], placements[known.name])


def _tied_jsons_gone(run: _Run, registered: dict[str, registry.KnownFile], marks: _Marks,
                     by_sgc: dict[str, list[str]]) -> set[str]:
    """The request JSONs filed documents are tied to that no input holds any more; each is
    marked unsure under its SGC part. Returns their names."""
    gone: set[str] = set()
    for info in registered.values():
        name = info.request_json
        if not name or name in gone:
            continue
        parsed = run.parse(name)
        if parsed is None or parsed.sgc not in by_sgc:
            continue
        if all(m.name != name for m in marks.of(parsed.sgc)):
            gone.add(name)
            marks.put(parsed.sgc, JsonMark(name, parsed.timestamp, JsonState.UNSURE,
                                           why=WHY_TIED_JSON_GONE))
    return gone


def _retie(run: _Run, prefix: str, filename: str, info: registry.KnownFile,
           placement: Placement) -> None:
    """A filed document whose request pairing now answers differently (its own JSON, or
    another request's documents, reached ``processed/`` after it: a backlog out of write
    order) takes the new answer (:attr:`_Run.reties`, applied with this run's registering):
    a tie is an answer to the files pairing saw, and it is asked again whenever they change.
    """
    assert info.s3_key is not None
    where = split_key(prefix, info.s3_key)
    if where is None:
        return
    folder = where[0]
    tied = placement.outcome in (Outcome.FOLDER, Outcome.FOLDER_JSON_QUARANTINED)
    request_json = placement.request_json if tied else None
    quarantined = placement.outcome is Outcome.FOLDER_JSON_QUARANTINED
    if (request_json, quarantined and bool(request_json)) == (
            info.request_json, info.json_quarantined and bool(info.request_json)):
        return
    if request_json is None:
        if sgc_of_folder(folder) is None and info.request_json is not None:
            # Filed in a placeholder request's folder (sin_sgc/{radicado}/), which no longer
            # looks like its own: no folder can be known for it. Left as it is and said.
            run.summary.files_retie_unsure += 1
            log.warning("%s: filed under %s/ with a request it may not be: which request "
                        "owns it cannot be told any more (%s); left there, for a person to "
                        "check (counted as files_retie_unsure)", shown_name(filename), folder,
                        placement.why or "the files of its SGC part changed")
            return
        run.reties.append(registry.Retie(info.s3_key, None))
        return
    target = placement.folder
    if target is None or target == folder:
        run.reties.append(registry.Retie(info.s3_key, request_json, quarantined))
        return
    try:
        new_key = run.key(target, filename)
    except UnsafeKey:
        return
    run.reties.append(registry.Retie(info.s3_key, request_json, quarantined, new_key,
                                     sgc_of_folder(target)))


def _waited_out(run: _Run, conn: Connection, filenames: list[str]) -> set[str]:
    """The new documents the pipeline first saw over ``ov_orphan_after_hours`` ago
    (:mod:`extractorov.firstseen`: by first sight, never by modification time)."""
    keys: dict[firstseen.Key, str] = {}
    for filename in filenames:
        try:
            size = (run.folders.processed / filename).lstat().st_size
        except FileNotFoundError:
            continue  # gone: it is not filed either way
        keys[firstseen.key(filename, size)] = filename
    waited = firstseen.waited_out(conn, run.company.empresa, keys,
                                  limit_seconds=run.settings.orphan_after_hours * 3600,
                                  now=datetime.now(UTC))
    return {keys[k] for k in waited}


def _unread_documents(run: _Run, found: Scan) -> list[Document]:
    """The documents of the scan this run does not read (under a temporary name, within the
    settle time, a temporary file whose writer stopped), by their final name
    (:func:`extractorov.landing.final_name`): rivals in pairing, never filed this run."""
    docs: dict[str, Document] = {}
    for raw in (*found.in_progress, *(f.name for f in found.stale)):
        name = final_name(raw, run.settings.bot_timezone)
        parsed = run.parse(name) if name is not None else None
        if name is not None and parsed is not None and parsed.kind in DOCUMENT_KINDS:
            docs.setdefault(name, Document(name, parsed.kind, parsed.timestamp))
    return list(docs.values())


def _unread_marks(run: _Run, found: Scan, refused: dict[str, bool]
                  ) -> list[tuple[str, JsonMark]]:
    """A mark (SGC part, mark) for every entry of the scan with a request JSON's name (also
    once its temporary affixes are off: :func:`extractorov.landing.final_name`) that this
    run does not read: being written (``WRITING``); a temporary file whose writer stopped, a
    file of a request removed on request, a name gone while the folder was listed
    (``UNSURE``); one refused as not a regular file (``QUARANTINED``, ``UNSURE`` if it
    vanished). With the marks of the files read, the registry's and quarantine's, every
    request JSON the run can see keeps its place in the write order, whatever state it is
    in: a document before it is never filed under the next request."""
    marks: list[tuple[str, JsonMark]] = []

    def offer(raw: str, state: JsonState, why: str = "") -> None:
        name = final_name(raw, run.settings.bot_timezone)
        parsed = run.parse(name) if name is not None else None
        if name is not None and parsed is not None and parsed.kind is FileKind.DATA:
            marks.append((run.same(parsed.sgc), JsonMark(name, parsed.timestamp, state,
                                                         why=why)))

    for raw in found.in_progress:
        offer(raw, JsonState.WRITING)
    for file in found.stale:
        offer(file.name, JsonState.UNSURE, WHY_STALE)
    for raw, moved in refused.items():
        offer(raw, JsonState.QUARANTINED if moved else JsonState.UNSURE)
    for raw in found.vanished:
        offer(raw, JsonState.UNSURE)
    # A removed request's JSON, on disk still or long gone: the documents before it were
    # its request's or are undecided, never the next request's.
    for raw in sorted(run.removed_names):
        offer(raw, JsonState.UNSURE, WHY_REMOVED)
    return marks


def _sgc_candidates(filename: str) -> set[str]:
    """What the SGC part of a bot file name can be, by cutting strings (no regex).

    A cheap filter before :func:`parse_file_name`, which costs ~7 µs a name: it
    returns a superset of the SGC part of every name the patterns accept.
    """
    base = filename.rpartition(".")[0]
    head = base[:-16]  # without "_YYYYMMDD_HHMMSS"
    found = {head, head.removesuffix("_data"), head.removesuffix("_adjunto")}
    if "_PQR_" in head:
        found.add(head[:head.rfind("_PQR_")])
        found.add(head[:head.find("_PQR_")])
    if head.startswith("pqr_data_"):
        found.add(head[len("pqr_data_"):])
    return found


def _file_document(run: _Run, filename: str, name: FileName, placement: Placement) -> None:
    path = run.folders.processed / filename
    outcome = placement.outcome
    if outcome in (Outcome.WAITING, Outcome.UNDECIDED):
        run.summary.files_waiting += 1
        run.waiting[filename] = (outcome.value, placement.why)
        log.info("%s waits in processed/: %s", shown_name(filename), placement.why)
        return
    if outcome is Outcome.QUARANTINE:
        run.reject(path, Reason.REQUEST_QUARANTINED, request_json=placement.request_json or "",
                   detail=(
            f"its request JSON "
            f"{printable(placement.request_json or '')} was quarantined and the SGC in the "
            f"file names ({printable(name.sgc) or 'blank'}) is the bot's placeholder, so no S3 "
            "folder can "
            "be known; fix the JSON and move both back to processed/"))
        return
    try:
        digest, size = sha256_file(path)
    except FileNotFoundError:
        run.vanished(path)
        return
    except NotRegularFile:
        run.reject(path, Reason.NOT_REGULAR, NOT_REGULAR)
        return
    except OSError as exc:
        run.reject(path, Reason.UNREADABLE, str(exc.strerror))
        return
    assert placement.folder is not None
    try:
        key = run.key(placement.folder, filename)
    except UnsafeKey as exc:
        run.reject(path, Reason.UNSAFE_NAME, str(exc))
        return
    metadata: dict[str, Any] = {"kind": name.kind.value}
    if placement.request_json:
        metadata["request_json"] = placement.request_json
    if outcome is Outcome.FOLDER_JSON_QUARANTINED:
        metadata["request_json_status"] = "quarantined"
    run.entries.append(_entry(run, path, name, key, sgc_of_folder(placement.folder), digest,
                              size, metadata))


def _with_progress(label: str, items: EntrySpool) -> Iterator[RegistryEntry]:
    progress = Progress(label, len(items))
    for done, item in enumerate(items, start=1):
        progress.update(done)
        yield item
    progress.update(len(items), force=bool(items))


def _read_record(run: _Run, file: LandingFile, name: FileName
                 ) -> tuple[Record | None, str, bool, int, bool | None]:
    """``(record, SHA-256 of its bytes, quarantined, size read, names an attachment)``; no
    record when refused or vanished (a refused JSON still says whether it names an
    attachment when it is a JSON object). Hash and size come from the bytes parsed."""
    try:
        raw = read_regular(file.path, MAX_JSON_BYTES)
    except FileNotFoundError:
        run.vanished(file.path)
        return None, "", False, 0, None
    except NotRegularFile:
        return None, "", run.reject(file.path, Reason.NOT_REGULAR, NOT_REGULAR), 0, None
    except OSError as exc:
        return None, "", run.reject(file.path, Reason.UNREADABLE, str(exc.strerror)), 0, None
    if len(raw) > MAX_JSON_BYTES:
        size = max(file.size, len(raw))
        return None, "", run.reject(file.path, Reason.TOO_LARGE, (
            f"{size / 1024 / 1024:.1f} MiB, over the "
            f"{MAX_JSON_BYTES // 1024 // 1024} MiB limit")), 0, None
    try:
        record = parse_record(raw, company=run.company, file_name=file.name, file_sgc=name.sgc,
                              file_timestamp=name.timestamp,
                              bot_timezone=run.settings.bot_timezone)
    except InvalidRecord as exc:
        return (None, "", run.reject(file.path, Reason.INVALID_JSON, str(exc)), 0,
                attachment_named_in(raw))
    return record, sha256_bytes(raw), False, len(raw), record.names_attachment




def _order_key(record: Record) -> tuple[str, str]:
    ts = record.extraction_timestamp.isoformat() if record.extraction_timestamp else ""
    return ts, record.archivo_origen


def _entry(run: _Run, path: Path, name: FileName, key: str, sgc: str | None,
           digest: str, size: int, metadata: dict[str, Any]) -> RegistryEntry:
    return RegistryEntry(
        filename=path.name,
        local_path=str(path),
        s3_bucket=run.settings.bucket,
        s3_key=key,
        s3_url=s3_url(run.settings.bucket, key),
        numero_reclamo_sgc=sgc,
        empresa=run.company.empresa,
        file_size=size,
        file_type=name.extension,
        content_type=name.content_type,
        file_hash=digest,
        metadata=metadata,
    )
