"""One request, found or removed everywhere (DAG ``ov_remove_request``).

A customer may ask for their data to be deleted (Ley 1581 de 2012, *supresión*), a court
may order it, or a request may have been captured by mistake. :func:`find` lists every
place one request (company + ``numero_radicado``) lives, as counts and keys or paths,
never a field value; :func:`remove`, once a human approved it (:func:`record_decision`),
removes them all, holding the company's writer exclusion, and records what it removed in
``data_general.request_removals`` (``sql/015_removals.sql``).

**Where a request lives** (what :class:`Listing` holds):

* its row in ``data_general.ov_{empresa}``;
* its registry rows: by ``numero_radicado`` (also in ``metadata``), by the names of its
  request JSONs (the row's ``archivo_origen``, the JSONs registered for it, the ones a
  manifest lists for it, the ones in ``processed/`` or ``quarantine/`` that name it), the
  documents filed with those JSONs (``metadata.request_json``), and every row under
  ``sin_sgc/{numero_radicado}/`` (one folder per request);
* its S3 objects **and their versions and delete markers** (``ListObjectVersions``) in the
  folders it may be in: its SGC's, ``sin_sgc/{numero_radicado}/`` and every folder its
  registry rows name. An SGC folder may hold more than one request: there only the keys
  of its registry rows and the objects whose file name is one of its files are its own;
  the others are listed as *not tied to it* and kept (a human may look at them), never
  deleted;
* its files in ``processed/``, ``quarantine/`` (with their reason files) and any archive
  folder under ``{empresa}/oficina_virtual/archive/`` (by file name);
* the run manifests that hold its rows (found by streaming their keys files, never
  loaded whole);
* its loaded marks (``data_general.s3_files_loaded``), the findings about its keys, file
  names or number (``reconcile_findings``) and the first sightings of its files
  (``landing_first_seen``);
* the runs that filed it (kept: ``post_processing_runs`` and ``run_steps`` hold counts
  only, nothing of a request).

**Removing** (:func:`remove`), holding the company's writer exclusion, in an order where a
crash at any point leaves nothing a later run could bring back, and a rerun finishes.
Only what the approval forms showed is removed (:class:`Approved`): what came after the
listing under other names is left to the next run and a new removal.

1. *write-ahead*: what was found (and shown) is added to the audit row (``planned``) and its file
   names and S3 keys to ``data_general.removed_files`` / ``removed_objects``, committed
   before anything is removed. From then on ``extract`` never registers a file of those
   names (:func:`removed_names`: one left in ``processed/`` or ``quarantine/``, or a
   copy put back) and ``ov_s3_reconcile`` never registers an object at those keys
   (:func:`without_removed_objects`);
2. manifests: one no ``load_db`` loaded yet is rewritten without the request's rows and
   keeps the others' (new rows and keys files, fsynced, then the header is swapped with
   one rename: a crash leaves the old manifest or the new one, whole); so is one loaded
   whose run's ``check_data`` has not passed yet (``runsteps.CHECK_DATA``), its header
   noting ``removed_after_load`` (the check subtracts it from the load's count); one
   loaded and checked is deleted whole, header first. This comes before
   the table row goes, so a pending ``load_db`` cannot insert it again;
3. the database, in one transaction: the table row, the registry rows, the loaded marks,
   the findings, the first sightings;
4. the local files (and the reason files of quarantined ones);
5. every version and delete marker of its objects (``DeleteObject`` with each
   ``VersionId``: a delete without one would only add a delete marker on a versioned
   bucket);
6. :func:`find` again: only when nothing removable (and shown) is left is the audit row
   ``completed`` (``removed``: everything planned); otherwise the task fails and its
   retry finishes the work.

Every step is idempotent: a file, object or row already gone is skipped. A rerun after a
crash (the task's retry, a cleared task, or a new approved run for the same request)
takes the same audit row (one unfinished removal per request) and finds what is left
through the write-ahead names and keys. A later **scrape** of the same request by the bot
writes new files (new time stamps in their names): it is filed as usual; that is the
portal still showing it, not a copy left behind.

Every statement that removes a request lives here (registry, loaded marks, findings and
first sightings included): the modules that own those tables never delete a request.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from psycopg import Connection, sql
from psycopg.types.json import Jsonb

from extractorov import findings, firstseen, landing, pairing, runsteps, storage, warehouse
from extractorov.companies import Company
from extractorov.errors import PipelineError
from extractorov.locks import DEFAULT_WAIT_SECONDS, company_writer
from extractorov.records import MAX_JSON_BYTES
from extractorov.settings import (
    LOADED_TABLE,
    REGISTRY_TABLE,
    REMOVAL_AWS_CONN_VARIABLE,
    REMOVAL_DAG_ID,
    SCHEMA,
    Settings,
)
from extractorov.sqlrow import one

log = logging.getLogger(__name__)

DAG_ID = REMOVAL_DAG_ID
AUDIT_TABLE = f"{SCHEMA}.request_removals"
REMOVED_FILES_TABLE = f"{SCHEMA}.removed_files"
REMOVED_OBJECTS_TABLE = f"{SCHEMA}.removed_objects"
ARCHIVE_FOLDER = "archive"
"""``{empresa}/oficina_virtual/archive/``: a retention step may move filed files there
(any depth below it); a request's files are found there by name."""
AWS_CONN_VARIABLE = REMOVAL_AWS_CONN_VARIABLE
SHOWN_PER_LIST = 100
"""Items of each list a form or log shows (the audit row keeps them all)."""

APPROVED, REMOVING, COMPLETED, REJECTED = "approved", "removing", "completed", "rejected"


class RemovalError(PipelineError):
    """A removal that cannot go on: the message says what to do."""


class NotApproved(RemovalError):
    """No approval of this run is recorded for the request: nothing is removed."""

    needs_human = True


class RemovalIncomplete(RemovalError):
    """Something of the request is still there after the removal tried: retried (the
    retry finds what is left and removes it)."""

    retryable = True


# --------------------------------------------------------------------------- finding


@dataclass(frozen=True)
class ObjectVersion:
    """One version (or delete marker) of an S3 object."""

    key: str
    version_id: str
    delete_marker: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "version_id": self.version_id,
                "delete_marker": self.delete_marker}


@dataclass(frozen=True)
class LocalFile:
    """A file of the request on the landing volume."""

    path: Path
    shown: str
    """Its path under ``{empresa}/oficina_virtual/``, as logs may show it."""
    reason_path: Path | None = None
    """A quarantined file's reason file (removed after it)."""
    name: str = ""
    """The name it has (had, for a quarantined one) in ``processed/``; ``""``: its own."""


@dataclass(frozen=True)
class ManifestHit:
    """A run manifest (or a file a manifest write left) holding rows of the request."""

    header: Path | None
    """The header (``*.jsonl``); ``None`` for a rows or keys file no header names."""
    files: tuple[Path, ...]
    """Every file of it (header, rows, keys)."""
    shown: str
    rows: int
    """The request's rows in it."""
    total: int
    """All its rows."""
    action: str
    """``rewrite`` (no load_db loaded it, or its run's ``check_data`` has not passed yet: the
    other requests' rows stay) or ``delete`` (loaded and checked: its rows are in the table;
    or a file no header names)."""
    legacy: bool = False
    """Format 1: one JSON line per record after the header."""
    loaded: bool = False
    """A ``load_db`` loaded it: a rewrite notes the rows it takes (``removed_after_load``),
    which that run's ``check_data`` subtracts from the load's count."""

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.shown, "rows": self.rows, "of": self.total,
                "action": self.action}


@dataclass
class Listing:
    """Every place one request lives: counts and keys or paths, never a field value."""

    empresa: str
    numero_radicado: str
    bucket: str
    table_row: bool = False
    registry_rows: list[tuple[int, str]] = field(default_factory=list)
    """``(id, s3_key)``."""
    names: set[str] = field(default_factory=set)
    """File names that are the request's."""
    keys: set[str] = field(default_factory=set)
    """S3 keys that are the request's (registry rows, moves, earlier removals)."""
    folders: list[str] = field(default_factory=list)
    """The S3 folders looked in (under the company prefix)."""
    versions: list[ObjectVersion] = field(default_factory=list)
    not_tied: list[str] = field(default_factory=list)
    """Keys in those folders that are not the request's (kept)."""
    local: list[LocalFile] = field(default_factory=list)
    manifests: list[ManifestHit] = field(default_factory=list)
    loaded_marks: list[str] = field(default_factory=list)
    findings: list[int] = field(default_factory=list)
    first_seen: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    """Runs that filed it (kept: their records hold counts only)."""
    possibly: list[str] = field(default_factory=list)
    """Documents whose owner pairing could not tell, of the SGC part of one of its request
    JSONs (waiting in ``processed/``, or filed with it before files that changed the answer
    arrived): possibly its own, shown and kept (a person decides), never removed on a guess
    (another customer's, perhaps)."""
    kept_names: set[str] = field(default_factory=set)
    """Documents found through the request (a tie, its folder, a move) that pairing no
    longer gives it, on the files present now: never removed."""
    kept_keys: list[str] = field(default_factory=list)
    """Their keys (now, and where a move not made yet still has them)."""

    @property
    def removable(self) -> bool:
        """Anything of the request to remove."""
        return bool(self.table_row or self.registry_rows or self.versions or self.local
                    or self.manifests or self.loaded_marks or self.findings
                    or self.first_seen)

    def as_dict(self, *, full: bool = False) -> dict[str, Any]:
        """JSON (see :func:`counts_of`): what forms, XCom and logs hold, S3 keys and file
        names as shown (:func:`~extractorov.landing.shown_key`: a name that is not the
        bot's shows as its length); ``full``: the keys and names whole, for the audit row
        (a table)."""
        key = (lambda k: k) if full else landing.shown_key
        name = (lambda n: n) if full else landing.shown_name
        return {
            "empresa": self.empresa,
            "numero_radicado": self.numero_radicado,
            "bucket": self.bucket,
            "table_rows": 1 if self.table_row else 0,
            "registry": [{"id": row_id, "key": key(k)} for row_id, k in self.registry_rows],
            "s3": [{**v.as_dict(), "key": key(v.key)} for v in self.versions],
            "local": [f.shown for f in self.local],
            "manifests": [m.as_dict() for m in self.manifests],
            "loaded_marks": [name(n) for n in self.loaded_marks],
            "findings": list(self.findings),
            "first_seen": [name(n) for n in self.first_seen],
            "folders": list(self.folders),
            "not_tied": [key(k) for k in self.not_tied],
            "runs": list(self.runs),
            "possibly": [name(n) for n in self.possibly],
        }


def counts_of(listing: dict[str, Any]) -> dict[str, int]:
    """The counts of a listing (:meth:`Listing.as_dict`, or a merged one)."""
    s3 = listing.get("s3", [])
    manifests = listing.get("manifests", [])
    local = listing.get("local", [])
    return {
        "table_rows": int(listing.get("table_rows", 0)),
        "registry_rows": len(listing.get("registry", [])),
        "s3_keys": len({v["key"] for v in s3}),
        "s3_versions": sum(not v["delete_marker"] for v in s3),
        "s3_delete_markers": sum(bool(v["delete_marker"]) for v in s3),
        "processed_files": sum(p.startswith("processed/") for p in local),
        "quarantine_files": sum(p.startswith("quarantine/") for p in local),
        "archive_files": sum(p.startswith(f"{ARCHIVE_FOLDER}/") for p in local),
        "manifests_rewritten": sum(m["action"] == "rewrite" for m in manifests),
        "manifests_deleted": sum(m["action"] == "delete" for m in manifests),
        "manifest_rows": sum(int(m["rows"]) for m in manifests),
        "loaded_marks": len(listing.get("loaded_marks", [])),
        "findings": len(listing.get("findings", [])),
        "first_seen": len(listing.get("first_seen", [])),
        "not_tied_kept": len(listing.get("not_tied", [])),
        "runs_kept": len(listing.get("runs", [])),
        "possibly_kept": len(listing.get("possibly", [])),
    }


def removable(listing: dict[str, Any] | None) -> bool:
    """Whether a listing (:meth:`Listing.as_dict`) holds anything to remove."""
    if not listing:
        return False
    return any(v for k, v in counts_of(listing).items() if not k.endswith("_kept"))


_LISTS = ("registry", "s3", "local", "manifests", "loaded_marks", "findings", "first_seen",
          "folders", "not_tied", "runs", "possibly")


def merge(first: dict[str, Any] | None, second: dict[str, Any]) -> dict[str, Any]:
    """Two listings of one request as one (what several attempts found, each item once)."""
    if not first:
        return second
    merged = {**first, "table_rows": max(int(first.get("table_rows", 0)),
                                         int(second.get("table_rows", 0)))}
    for name in _LISTS:
        items = list(first.get(name, []))
        seen = {json.dumps(item, sort_keys=True) for item in items}
        for item in second.get(name, []):
            text = json.dumps(item, sort_keys=True)
            if text not in seen:
                seen.add(text)
                items.append(item)
        merged[name] = items
    # An object found not tied in one attempt and removed as the request's in another is
    # the request's (its name was learned later).
    removed_keys = {v["key"] for v in merged["s3"]}
    merged["not_tied"] = [k for k in merged["not_tied"] if k not in removed_keys]
    return merged


def find(conn: Connection, client: BaseClient, company: Company, settings: Settings,
         numero_radicado: str) -> Listing:
    """Every place the request lives now (reads only; the caller commits or rolls back).

    Also the names and keys earlier (or unfinished) removals of the same request wrote
    ahead (:func:`remove`): what a crash left behind is found through them."""
    radicado = numero_radicado
    if not Path(settings.landing_root).is_dir():
        raise RemovalError(
            f"the landing folder {settings.landing_root} is not there on this worker (not "
            "mounted?): a request's files there could not be found; run the task where "
            "Variable ov_landing_root is mounted", retryable=False)
    listing = Listing(company.empresa, radicado, settings.bucket)
    table = sql.Identifier(SCHEMA, company.table)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT numero_reclamo_sgc, archivo_origen FROM {} "
                            "WHERE numero_radicado = %s").format(table), (radicado,))
        row = cur.fetchone()
        cur.execute(f"""SELECT f.filename FROM {REMOVED_FILES_TABLE} f
                        JOIN {AUDIT_TABLE} a ON a.id = f.removal_id
                        WHERE a.empresa = %s AND a.numero_radicado = %s""",
                    (company.empresa, radicado))
        listing.names.update(name for (name,) in cur)
        cur.execute(f"""SELECT o.s3_key FROM {REMOVED_OBJECTS_TABLE} o
                        JOIN {AUDIT_TABLE} a ON a.id = o.removal_id
                        WHERE a.empresa = %s AND a.numero_radicado = %s AND o.s3_bucket = %s""",
                    (company.empresa, radicado, settings.bucket))
        listing.keys.update(key for (key,) in cur)
    sgc = None
    if row is not None:
        listing.table_row = True
        sgc, source = row
        if source:
            listing.names.add(source)
    folders = landing.company_folders(settings.landing_root, company.empresa)
    waiting = _local_requests(conn, listing, folders, settings)
    hits = _manifests(conn, listing, company, folders)
    _registry_rows(conn, listing, settings)
    _documents_by_pairing(conn, listing, folders, settings, waiting)
    _local_files(listing, folders)
    listing.manifests = hits
    _objects(listing, client, company, settings, sgc)
    _database_rows(conn, listing, settings)
    return listing


def _sin_sgc(radicado: str) -> str | None:
    """``sin_sgc/{numero_radicado}``, the folder that is the request's whole, when the number
    can name one."""
    try:
        return storage.request_folder(None, radicado)
    except storage.UnsafeKey:
        return None


def _registry_rows(conn: Connection, listing: Listing, settings: Settings) -> None:
    """Its registry rows, learning the names of its request JSONs as they are found (a
    document is tied through the JSON it was filed with)."""
    prefix = storage.company_prefix(settings.base_path, listing.empresa)
    own = _sin_sgc(listing.numero_radicado)
    pattern = _like(f"{prefix}{own}/") + "%" if own else None
    rows: dict[int, tuple[str, str, str | None, str | None, str | None]] = {}
    for _ in range(4):  # names found add rows; rows add names (a fixpoint in a few rounds)
        names = sorted(listing.names)
        with conn.cursor() as cur:
            cur.execute(
                f"""SELECT id, filename, s3_key, moving_from, last_run_id, moved_run_id,
                           COALESCE(metadata -> 'moved_from', '[]'::jsonb)
                    FROM {REGISTRY_TABLE}
                    WHERE empresa = %(empresa)s AND s3_bucket = %(bucket)s
                      AND (numero_radicado = %(radicado)s
                           OR metadata ->> 'numero_radicado' = %(radicado)s
                           OR filename = ANY(%(names)s)
                           OR metadata ->> 'request_json' = ANY(%(names)s)
                           OR s3_key = ANY(%(keys)s) OR moving_from = ANY(%(keys)s)
                           OR (%(own)s::text IS NOT NULL
                               AND (s3_key LIKE %(own)s OR moving_from LIKE %(own)s)))""",
                {"empresa": listing.empresa, "bucket": settings.bucket,
                 "radicado": listing.numero_radicado, "names": names,
                 "keys": sorted(listing.keys), "own": pattern})
            for row_id, filename, key, moving_from, last_run, moved_run, left in cur:
                rows[row_id] = (filename, key, moving_from, last_run, moved_run)
                # Keys its object left by moves: their old versions go with it.
                listing.keys.update(k for k in left if isinstance(k, str))
        before = (len(listing.names), len(listing.keys))
        for filename, key, moving_from, _, _ in rows.values():
            listing.names.add(filename)
            listing.keys.add(key)
            if moving_from:
                listing.keys.add(moving_from)
        if (len(listing.names), len(listing.keys)) == before:
            break
    listing.registry_rows = sorted((row_id, r[1]) for row_id, r in rows.items())
    listing.runs = sorted({run for r in rows.values() for run in r[3:] if run}
                          | set(listing.runs))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _request_names_radicado(raw: bytes, radicado: str) -> bool:
    """Whether a request JSON's bytes name this ``numero_radicado`` (also one too damaged
    to parse, when the field is written whole)."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        data = None
    if isinstance(data, dict):
        value = data.get("numero_radicado")
        return value is not None and not isinstance(value, bool | dict | list) and (
            str(value).strip() == radicado)
    pattern = (rb'"numero_radicado"\s*:\s*"\s*' + re.escape(radicado.encode("utf-8"))
               + rb'\s*"')
    return re.search(pattern, raw) is not None


def _request_json_name(name: str, tz: tzinfo) -> str | None:
    """The request JSON an entry is or will be (the one name rule every reader applies:
    :func:`extractorov.landing.final_name`, so a temporary or cut-short copy counts)."""
    final = landing.final_name(name, tz)
    parsed = landing.parse_file_name(final, tz) if final is not None else None
    return final if parsed is not None and parsed.kind is landing.FileKind.DATA else None


def _local_requests(conn: Connection, listing: Listing, folders: landing.CompanyFolders,
                    settings: Settings) -> list[str]:
    """Request JSONs in ``processed/`` (not registered; under their final name or a
    temporary one: a copy being written, or cut short, holds the same personal data) and
    in ``quarantine/`` that name the request: read (they are few: the rest was filed and
    is known by the registry). A temporary copy's final name is listed with it (written
    ahead as removed: the finished copy is never filed). Returns the final names of those
    in ``processed/`` (waiting for ``extract``)."""
    tz = settings.bot_timezone
    candidates: dict[Path, str] = {}
    with contextlib.suppress(FileNotFoundError, NotADirectoryError), \
            os.scandir(folders.processed) as entries:
        for e in entries:
            if e.is_file(follow_symlinks=False) and (final := _request_json_name(e.name, tz)):
                candidates[Path(e.path)] = final
    if candidates:
        with conn.cursor() as cur:
            cur.execute(f"SELECT filename FROM {REGISTRY_TABLE} WHERE empresa = %s "
                        "AND filename = ANY(%s)",
                        (listing.empresa, [p.name for p in candidates]))
            registered = {name for (name,) in cur}
        candidates = {p: final for p, final in candidates.items() if p.name not in registered}
    quarantined = {entry.path: entry.original_name
                   for entry in landing.read_quarantine(folders)
                   if _request_json_name(entry.original_name, tz)}
    for path, final in candidates.items():
        if final in listing.names:  # a copy of a JSON already known to be the request's
            listing.names.add(path.name)
    for path in [*candidates, *quarantined]:
        if path.name in listing.names or quarantined.get(path) in listing.names:
            continue
        try:
            raw = landing.read_regular(path, MAX_JSON_BYTES)
        except OSError:
            continue  # gone, a link, unreadable: not read (a name match still finds it)
        if _request_names_radicado(raw, listing.numero_radicado):
            listing.names.add(quarantined.get(path, path.name))
            if path in candidates:
                listing.names.add(candidates[path])
    return sorted({final for p, final in candidates.items() if p.name in listing.names})


def _documents_by_pairing(conn: Connection, listing: Listing,
                          folders: landing.CompanyFolders, settings: Settings,
                          waiting: list[str]) -> None:
    """The request's documents are those pairing ties to one of its request JSONs **on the
    files present now** (``processed/``, the registry, ``quarantine/``, JSONs being
    written), each writer by its own order: the removal, the one step that deletes, never
    acts on a tie the files no longer give.

    * Documents in ``processed/`` not registered yet that ``extract`` would file with one
      of its JSONs (a re-scrape between the bot's ``scrape`` and ``extract`` wrote its
      detail PDF and attachment before its JSON) are added.
    * Registered documents found through a tie, its folder or a move (:func:`_registry_rows`)
      that pairing now gives another request (a backlog reached ``processed/`` out of write
      order, a move not made yet) are kept (``not_tied``); those whose owner it cannot tell
      any more are kept and shown as possibly its own (``possibly``): a person decides."""
    tz = settings.bot_timezone
    own_jsons = set(waiting) | {
        n for n in listing.names
        if (p := landing.parse_file_name(n, tz)) is not None and p.kind is landing.FileKind.DATA}
    quarantined = landing.read_quarantine(folders)
    for entry in quarantined:
        # The documents that followed one of its JSONs into quarantine/ (a placeholder
        # SGC): found through the request like any other, judged like any other.
        followed = landing.followed_json(entry)
        if followed and followed in own_jsons:
            listing.names.add(entry.original_name)
    docs_named = {n: p for n in listing.names
                  if (p := landing.parse_file_name(n, tz)) is not None
                  and p.kind in landing.DOCUMENT_KINDS}
    sgcs: set[str] = set()
    for name in own_jsons:
        parsed = landing.parse_file_name(name, tz)
        if parsed is not None:
            sgcs.add(parsed.sgc)
    sgcs |= {p.sgc for p in docs_named.values()}
    if not sgcs:
        return
    on_disk: list[str] = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError), \
            os.scandir(folders.processed) as entries:
        on_disk = [e.name for e in entries if not e.is_dir(follow_symlinks=False)]
    patterns = sorted({p for sgc in sgcs for p in (_like(f"{sgc}_") + "%",
                                                   _like(f"pqr_data_{sgc}_") + "%")})
    with conn.cursor() as cur:
        # bool_and: a name registered twice (two buckets) names an attachment only if both
        # rows say so; NULL (not known) when neither says.
        cur.execute(f"SELECT filename, bool_and((metadata ->> 'names_attachment')::boolean), "
                    "min(metadata ->> 'request_json') "
                    f"FROM {REGISTRY_TABLE} WHERE empresa = %s AND filename LIKE ANY(%s) "
                    "GROUP BY filename", (listing.empresa, patterns))
        rows = cur.fetchall()
    registered: dict[str, bool | None] = {name: fact for name, fact, _ in rows}
    tied_to = {tie for _, _, tie in rows if tie}
    marks: dict[str, list[pairing.JsonMark]] = {sgc: [] for sgc in sgcs}
    docs: dict[str, dict[str, pairing.Document]] = {sgc: {} for sgc in sgcs}
    new: dict[str, list[str]] = {sgc: [] for sgc in sgcs}

    def offer(name: str, state: pairing.JsonState, *, unregistered: bool = False,
              path: Path | None = None) -> None:
        parsed = landing.parse_file_name(name, tz)
        if parsed is None or parsed.sgc not in sgcs:
            return
        if parsed.kind is landing.FileKind.DATA:
            # What extract gives pairing of this JSON: a registered one's fact is the
            # registry's (extract does not read it again); any other's, its bytes'.
            attachment = (registered[name] if name in registered
                          else None if path is None else landing.attachment_named_at(path))
            marks[parsed.sgc].append(pairing.JsonMark(name, parsed.timestamp, state, "-",
                                                      attachment=attachment))
        elif parsed.kind in landing.DOCUMENT_KINDS:
            docs[parsed.sgc][name] = pairing.Document(name, parsed.kind, parsed.timestamp)
            if unregistered:
                new[parsed.sgc].append(name)

    # Every name through landing.final_name, as extract reads them: a copy tool's
    # temporary entry (``.x.json.Xy12Ab``, ``x.pdf.part``) keeps its file's place in the
    # write order, being written (or its writer stopped).
    for name in on_disk:
        final = landing.final_name(name, tz)
        if final is None:
            continue
        if final != name:
            offer(final, pairing.JsonState.WRITING)
        else:
            offer(name, pairing.JsonState.LOADED, unregistered=name not in registered,
                  path=folders.processed / name)
    for name in registered.keys() - set(on_disk):
        offer(name, pairing.JsonState.LOADED)
    for entry in quarantined:
        final = landing.final_name(entry.original_name, tz)
        if final is not None:
            offer(final, pairing.JsonState.QUARANTINED, path=entry.path)
    # Request JSONs of requests removed before: each keeps its place in the write order
    # (as extract marks them, unsure), so a stretch never runs past one to this request.
    for name in removed_names(conn, listing.empresa) - own_jsons:
        parsed = landing.parse_file_name(name, tz)
        if (parsed is not None and parsed.kind is landing.FileKind.DATA
                and parsed.sgc in sgcs):
            marks[parsed.sgc].append(pairing.JsonMark(name, parsed.timestamp,
                                                      pairing.JsonState.UNSURE))
    # A request JSON a filed document is tied to keeps its place while that row names it,
    # even once it is nowhere else (as extract marks it: unsure).
    for name in tied_to:
        parsed = landing.parse_file_name(name, tz)
        if (parsed is not None and parsed.sgc in sgcs
                and all(m.name != name for m in marks[parsed.sgc])):
            # (One of this request's own, gone by an earlier attempt: still its own.)
            state = (pairing.JsonState.LOADED if name in own_jsons
                     else pairing.JsonState.UNSURE)
            marks[parsed.sgc].append(pairing.JsonMark(name, parsed.timestamp, state, "-"))
    # Its own request JSONs an earlier attempt of this removal already took (written ahead,
    # gone from every place): still its own, so its documents left are still its.
    for name in own_jsons:
        parsed = landing.parse_file_name(name, tz)
        if (parsed is not None and parsed.sgc in sgcs
                and all(m.name != name for m in marks[parsed.sgc])):
            marks[parsed.sgc].append(pairing.JsonMark(name, parsed.timestamp,
                                                      pairing.JsonState.LOADED, "-"))
    for name, parsed in docs_named.items():  # (registered elsewhere: found by its tie)
        docs[parsed.sgc].setdefault(name, pairing.Document(name, parsed.kind,
                                                           parsed.timestamp))
    not_its: set[str] = set()
    unsure: set[str] = set()
    for sgc in sgcs:
        if not docs[sgc]:
            continue
        # Pairing's answer, applied as it is: it ties a document only to its own JSON, by
        # its writer's order (the bot's JSON last, the detail writer's JSON first).
        placed = pairing.place_documents(sgc, list(docs[sgc].values()), marks[sgc])
        for name in new[sgc]:
            if placed[name].request_json in own_jsons and placed[name].outcome in _FILED:
                listing.names.add(name)
        for name in docs[sgc]:
            # (A name in processed/ not registered yet is found through the request only
            # when an interrupted attempt of this removal wrote it ahead: judged again.)
            if name not in docs_named:
                continue
            answer = placed[name]
            if answer.request_json in own_jsons and answer.outcome in _FILED:
                continue
            if answer.outcome in _FILED and answer.request_json:
                not_its.add(name)  # another request's now
            elif answer.outcome in _FILED:
                not_its.add(name)  # tied to no request: its SGC's folder, kept
            else:
                unsure.add(name)  # which request owns it cannot be told now
    if not_its or unsure:
        _keep_documents(listing, not_its | unsure)
        listing.possibly = sorted(set(listing.possibly) | unsure)


def _keep_documents(listing: Listing, names: set[str]) -> None:
    """Take documents out of what the removal deletes (their names, registry rows and keys,
    wherever their objects are or were): their versions are listed as not tied."""
    listing.names -= names
    keep_keys = set(listing.kept_keys)
    rows = []
    for row_id, key in listing.registry_rows:
        if key.rsplit("/", 1)[-1] in names:
            keep_keys.add(key)
        else:
            rows.append((row_id, key))
    listing.registry_rows = rows
    keep_keys |= {k for k in listing.keys if k.rsplit("/", 1)[-1] in names}
    listing.keys -= keep_keys
    listing.kept_names |= names
    listing.kept_keys = sorted(keep_keys)




_FILED = frozenset({pairing.Outcome.FOLDER, pairing.Outcome.FOLDER_JSON_QUARANTINED,
                    pairing.Outcome.QUARANTINE})


def _local_files(listing: Listing, folders: landing.CompanyFolders) -> None:
    """Its files in ``processed/``, ``quarantine/`` and the archive, by name; in
    ``quarantine/`` also the documents that followed one of its request JSONs there (their
    reason file names it: :func:`~extractorov.landing.followed_json`): with a placeholder
    SGC nothing else ties them to the request."""
    names = listing.names
    quarantined = landing.read_quarantine(folders)
    for entry in quarantined:
        followed = landing.followed_json(entry)
        # (Those pairing no longer gives it were set aside: _documents_by_pairing.)
        if followed and followed in names and entry.original_name not in listing.kept_names:
            names.add(entry.original_name)
    found: list[LocalFile] = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError), \
            os.scandir(folders.processed) as entries:
        for item in entries:
            if item.name in names and not item.is_dir(follow_symlinks=False):
                found.append(LocalFile(Path(item.path),
                                       f"processed/{landing.shown_name(item.name)}"))
    for entry in quarantined:
        if entry.original_name in names:
            found.append(LocalFile(entry.path,
                                   f"quarantine/{landing.shown_name(entry.path.name)}",
                                   entry.reason_path, entry.original_name))
            if entry.run_id:
                listing.runs.append(entry.run_id)
    archive = folders.root / ARCHIVE_FOLDER
    for path in _walk(archive):
        if path.name in names:
            relative = path.relative_to(archive).parent / landing.shown_name(path.name)
            found.append(LocalFile(path, f"{ARCHIVE_FOLDER}/{relative.as_posix()}"))
    listing.local = sorted(found, key=lambda f: f.shown)


def _walk(folder: Path) -> Iterator[Path]:
    """Every file below ``folder`` (links listed, never followed)."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name
        for name in dirs:  # a link to a folder is listed as one, not entered
            if os.path.islink(os.path.join(root, name)):
                yield Path(root) / name


# --------------------------------------------------------------------------- manifests


_MANIFEST_DATA = (".rows", ".keys", ".rows.tmp", ".keys.tmp")


def _manifest_folders(folders: landing.CompanyFolders) -> list[Path]:
    """``manifests/``, and any folder of the archive holding manifests."""
    found = [folders.manifests] if folders.manifests.is_dir() else []
    archive = folders.root / ARCHIVE_FOLDER
    found += sorted({p.parent for p in _walk(archive) if p.name.endswith(".jsonl")})
    return found


def _manifests(conn: Connection, listing: Listing, company: Company,
               folders: landing.CompanyFolders) -> list[ManifestHit]:
    """The manifests holding the request's rows, found by streaming their keys files (the
    request JSON files each key line names are the request's too)."""
    needle = _copy_text(listing.numero_radicado)
    column = warehouse.load_columns(company).index("numero_radicado")
    hits: list[ManifestHit] = []
    for folder in _manifest_folders(folders):
        try:
            names = sorted(p.name for p in folder.iterdir())
        except OSError:
            continue
        named: set[str] = set()
        for name in names:
            if not name.endswith(".jsonl"):
                continue
            header_path = folder / name
            header = _header(header_path)
            if header is None:
                continue
            if "rows" in header and "keys" in header:
                rows_file = folder / Path(str(header["rows"])).name
                keys_file = folder / Path(str(header["keys"])).name
                named |= {rows_file.name, keys_file.name}
                mine, total = _scan_keys(keys_file, needle, listing.names)
                legacy = False
                files: tuple[Path, ...] = (header_path, rows_file, keys_file)
            else:
                mine, total = _scan_legacy(header_path, listing.numero_radicado, listing.names)
                legacy = True
                files = (header_path,)
            if not mine:
                continue
            if header.get("run_id"):
                listing.runs.append(str(header["run_id"]))
            loaded = _loaded(conn, company, header)
            done = loaded and _checked(conn, company, header)
            hits.append(ManifestHit(header_path, files, _shown(folders, header_path), mine,
                                    total, "delete" if done else "rewrite", legacy, loaded))
        for name in names:  # rows and keys files no header names: left by a crash
            if name in named or not name.endswith(_MANIFEST_DATA):
                continue
            path = folder / name
            if ".keys" in name:
                mine, total = _scan_keys(path, needle, listing.names)
            else:
                mine, total = _scan_rows(path, needle, column)
            if mine:
                hits.append(ManifestHit(None, (path,), _shown(folders, path), mine, total,
                                        "delete"))
    return hits


def _shown(folders: landing.CompanyFolders, path: Path) -> str:
    try:
        return path.relative_to(folders.root).as_posix()
    except ValueError:  # pragma: no cover - every manifest folder is under the root
        return path.name


def _header(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            header = json.loads(handle.readline())
    except (OSError, ValueError):
        return None
    return header if isinstance(header, dict) else None


def _copy_text(value: str) -> bytes:
    """``value`` as a field of COPY text (how manifests write it)."""
    return warehouse.key_row(value, []).split("\t", 1)[0].encode("utf-8")


_QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"')


def _scan_keys(path: Path, needle: bytes, names: set[str]) -> tuple[int, int]:
    """``(the request's lines, all lines)`` of a keys file, read line by line; the request
    JSON files its lines name are added to ``names``."""
    mine = total = 0
    prefix = needle + b"\t"
    try:
        with path.open("rb") as handle:
            for line in handle:
                total += 1
                if line.startswith(prefix):
                    mine += 1
                    for quoted in _QUOTED.findall(line[len(prefix):]):
                        names.add(re.sub(rb"\\(.)", rb"\1", quoted).decode("utf-8", "replace"))
    except OSError:
        return 0, 0
    return mine, total


def _scan_rows(path: Path, needle: bytes, column: int) -> tuple[int, int]:
    mine = total = 0
    try:
        with path.open("rb") as handle:
            for line in handle:
                total += 1
                fields = line.rstrip(b"\n").split(b"\t")
                if len(fields) > column and fields[column] == needle:
                    mine += 1
    except OSError:
        return 0, 0
    return mine, total


def _legacy_line_is(line: bytes, radicado: str, names: set[str] | None = None) -> bool:
    """A format-1 manifest line (``{"record": …, "files": […]}``) of this request."""
    if radicado.encode("utf-8") not in line and json.dumps(radicado).encode() not in line:
        return False
    try:
        data = json.loads(line)
        mine = str(data["record"]["numero_radicado"]) == radicado
    except (ValueError, KeyError, TypeError):
        return False
    if mine and names is not None:
        names.update(str(f) for f in data.get("files") or ())
    return mine


def _scan_legacy(path: Path, radicado: str, names: set[str]) -> tuple[int, int]:
    mine = total = 0
    try:
        with path.open("rb") as handle:
            handle.readline()
            for line in handle:
                total += 1
                mine += _legacy_line_is(line, radicado, names)
    except OSError:
        return 0, 0
    return mine, total


def _loaded(conn: Connection, company: Company, header: dict[str, Any]) -> bool:
    """Whether a ``load_db`` committed this manifest (its rows are in the table)."""
    run_id, attempt = header.get("run_id"), header.get("attempt")
    if not run_id or attempt is None:
        return False  # not known: rewriting keeps the other requests' rows either way
    return any(r.attempt == str(attempt) for r in
               runsteps.recorded(conn, str(run_id), company.empresa, runsteps.LOAD_DB))


def _checked(conn: Connection, company: Company, header: dict[str, Any]) -> bool:
    """Whether the manifest's run passed its ``check_data`` (which reads the manifest): until
    then a loaded manifest is rewritten, not deleted, so the check is not failed by a
    removal that ran between the run's ``load_db`` and its ``check_data``."""
    run_id = header.get("run_id")
    return bool(run_id) and bool(runsteps.recorded(conn, str(run_id), company.empresa,
                                                   runsteps.CHECK_DATA))


def _rewrite_manifest(hit: ManifestHit, needle: bytes, radicado: str, removal_id: int) -> None:
    """The manifest without the request's rows, crash-atomically: new rows and keys files
    are written and fsynced, then the header naming them replaces the old one (one rename),
    then the old files go. Before the rename the old manifest is whole; after it, the new
    one; files left by a crash name no header (found and deleted by a rerun)."""
    assert hit.header is not None
    folder = hit.header.parent
    header = _header(hit.header) or {}
    if hit.legacy:  # one file: a copy without the request's lines replaces it
        tmp = folder / f".{hit.header.name}.r{removal_id}.tmp"
        kept = 0
        if "records" in header:
            header["records"] = hit.total - hit.rows
        if hit.loaded:
            header["removed_after_load"] = int(header.get("removed_after_load") or 0) + hit.rows
        try:
            with hit.header.open("rb") as source, tmp.open("wb") as out:
                source.readline()
                out.write(json.dumps(header).encode() + b"\n")
                for line in source:  # streamed
                    if not _legacy_line_is(line, radicado):
                        out.write(line)
                        kept += 1
                out.flush()
                os.fsync(out.fileno())
            if kept != hit.total - hit.rows:  # changed since it was read: read it again
                raise RemovalIncomplete(f"manifest {hit.shown} changed while it was "
                                        "rewritten; the task is retried")
            os.replace(tmp, hit.header)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _sync(folder)
        return
    rows_old = folder / Path(str(header["rows"])).name
    keys_old = folder / Path(str(header["keys"])).name
    stem = hit.header.name.removesuffix(".jsonl")
    rows_new = folder / f"{stem}.r{removal_id}.rows"
    keys_new = folder / f"{stem}.r{removal_id}.keys"
    prefix = needle + b"\t"
    rows_tmp, keys_tmp = Path(f"{rows_new}.tmp"), Path(f"{keys_new}.tmp")
    tmp = folder / f".{stem}.r{removal_id}.header.tmp"
    written = [rows_tmp, keys_tmp, tmp]
    try:
        kept = _write_without(hit, rows_old, keys_old, rows_tmp, keys_tmp, prefix)
        os.replace(rows_tmp, rows_new)
        os.replace(keys_tmp, keys_new)
        written += [p for p in (rows_new, keys_new) if p not in (rows_old, keys_old)]
        header.update({"rows": rows_new.name, "keys": keys_new.name, "records": kept})
        if hit.loaded:
            header["removed_after_load"] = (int(header.get("removed_after_load") or 0)
                                            + hit.total - kept)
        with tmp.open("w", encoding="utf-8") as out:
            out.write(json.dumps(header) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, hit.header)  # the commit point
    except BaseException:  # what this try wrote (copies of the other requests' rows) goes
        for leftover in written:
            with contextlib.suppress(OSError):
                leftover.unlink()
        raise
    _sync(folder)
    for old in (rows_old, keys_old):
        if old not in (rows_new, keys_new):
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
    _sync(folder)


def _write_without(hit: ManifestHit, rows_old: Path, keys_old: Path, rows_tmp: Path,
                   keys_tmp: Path, prefix: bytes) -> int:
    """Copy a manifest's rows and keys without the request's lines, fsynced; return how
    many rows were kept."""
    kept = 0
    with (rows_old.open("rb") as rows_in, keys_old.open("rb") as keys_in,
          rows_tmp.open("wb") as rows_out, keys_tmp.open("wb") as keys_out):
        for key_line in keys_in:  # line for line: the n-th key is the n-th row's
            row_line = rows_in.readline()
            if not row_line:
                raise RemovalError(f"manifest {hit.shown} has fewer rows than keys (a damaged "
                                   "manifest): nothing of it was changed; clear extract of its "
                                   "run or delete it, then clear this task", retryable=False)
            if key_line.startswith(prefix):
                continue
            keys_out.write(key_line)
            rows_out.write(row_line)
            kept += 1
        for out in (rows_out, keys_out):
            out.flush()
            os.fsync(out.fileno())
    return kept


def _delete_manifest(hit: ManifestHit) -> None:
    """Header first (rows and keys without a header are read by nobody, and a rerun finds
    them as files no header names)."""
    for path in hit.files:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    if hit.files:
        _sync(hit.files[0].parent)


def _sync(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- S3 and rows


def _objects(listing: Listing, client: BaseClient, company: Company, settings: Settings,
             sgc: str | None) -> None:
    """Every version and delete marker of its objects, in the folders it may be in."""
    prefix = storage.company_prefix(settings.base_path, company.empresa)
    folders: set[str] = set()
    own = _sin_sgc(listing.numero_radicado)
    if own:
        folders.add(own)
    if sgc:
        with contextlib.suppress(storage.UnsafeKey):
            folders.add(storage.request_folder(sgc, listing.numero_radicado))
    for key in listing.keys:
        where = storage.split_key(prefix, key)
        if where is not None:
            folders.add(where[0])
    listing.folders = sorted(folders)
    versions: list[ObjectVersion] = []
    not_tied: set[str] = set()
    for folder in listing.folders:
        for version in list_versions(client, settings.bucket, f"{prefix}{folder}/",
                                     conn_id=settings.aws_conn_id):
            name = version.key.rsplit("/", 1)[-1]
            if version.key in listing.kept_keys or name in listing.kept_names:
                not_tied.add(version.key)  # pairing gives it another request, or none
            elif folder == own or version.key in listing.keys or name in listing.names:
                versions.append(version)
            else:
                not_tied.add(version.key)
    listing.versions = sorted(set(versions), key=lambda v: (v.key, v.delete_marker,
                                                            v.version_id))
    listing.not_tied = sorted(not_tied)


def list_versions(client: BaseClient, bucket: str, prefix: str, *,
                  conn_id: str) -> list[ObjectVersion]:
    """Every version and delete marker under ``prefix`` (``ListObjectVersions``, 1,000 a
    page; a bucket never versioned answers each object once, version ``null``)."""
    found: list[ObjectVersion] = []
    try:
        for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket,
                                                                         Prefix=prefix):
            for item in page.get("Versions", []):
                found.append(ObjectVersion(item["Key"], item.get("VersionId") or "null"))
            for item in page.get("DeleteMarkers", []):
                found.append(ObjectVersion(item["Key"], item.get("VersionId") or "null",
                                           delete_marker=True))
    except (ClientError, BotoCoreError) as exc:
        raise _s3_error(exc, bucket, conn_id, "s3:ListBucketVersions") from None
    return found


def _s3_error(exc: BaseException, bucket: str, conn_id: str, action: str) -> RemovalError:
    """What to do about an S3 error of the removal; retried only when waiting may help."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in {"AccessDenied", "403"} or status == 403:
            return RemovalError(
                f"Access denied to bucket '{bucket}' for {action} through connection "
                f"'{conn_id}': grant it on the company prefixes (include/aws/iam-policy.json, "
                "statements ExtractorOVRemoval*), then clear the task; nothing more was "
                "removed", retryable=False)
        if status >= 500 or code in {"SlowDown", "Throttling", "RequestTimeout"}:
            return RemovalError(f"S3 is throttling or failing ({code or status}) on bucket "
                                f"'{bucket}' ({action}); the task is retried and finishes the "
                                "removal", retryable=True)
    elif isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError
                    | ConnectionClosedError):
        return RemovalError(f"S3 did not answer ({type(exc).__name__}) for bucket '{bucket}'; "
                            "the task is retried and finishes the removal", retryable=True)
    explained = storage.explain_s3_error(exc, bucket=bucket, conn_id=conn_id)
    explained = explained.split(" Fix the Airflow connection", 1)[0]  # its hint is the upload's
    return RemovalError(f"{explained.rstrip('.')} ({action}); fix it, then clear the task "
                        "(nothing more was removed)", retryable=False)


def _database_rows(conn: Connection, listing: Listing, settings: Settings) -> None:
    """Its loaded marks, findings and first sightings."""
    names = sorted(listing.names)
    keys = sorted(listing.keys | {v.key for v in listing.versions})
    shown = sorted({landing.printable(n) for n in names})
    with conn.cursor() as cur:
        cur.execute(f"SELECT filename FROM {LOADED_TABLE} WHERE empresa = %s "
                    "AND s3_bucket = %s AND filename = ANY(%s) ORDER BY filename",
                    (listing.empresa, settings.bucket, names))
        listing.loaded_marks = [name for (name,) in cur]
        cur.execute(f"""SELECT id FROM {findings.TABLE} WHERE empresa = %s
                        AND (s3_key = ANY(%s) OR subject = ANY(%s) OR subject = ANY(%s)
                             OR (subject = %s AND kind IN ('request_without_file',
                                                           'request_split')))
                        ORDER BY id""",
                    (listing.empresa, keys, keys, shown, listing.numero_radicado))
        listing.findings = [row_id for (row_id,) in cur]
        cur.execute(f"SELECT DISTINCT filename FROM {firstseen.TABLE} WHERE empresa = %s "
                    "AND filename = ANY(%s) ORDER BY filename", (listing.empresa, shown))
        listing.first_seen = [name for (name,) in cur]
        # Documents left waiting whose owner cannot be told, of its JSONs' SGC parts.
        tz = settings.bot_timezone
        parts = {parsed.sgc for n in names if (parsed := landing.parse_file_name(n, tz))
                 is not None and parsed.kind is landing.FileKind.DATA}
        if parts:
            cur.execute(f"SELECT DISTINCT filename FROM {firstseen.TABLE} WHERE empresa = %s "
                        "AND outcome = %s ORDER BY filename",
                        (listing.empresa, firstseen.UNDECIDED))
            listing.possibly = sorted(set(listing.possibly) | {
                name for (name,) in cur
                if name not in listing.names
                and (parsed := landing.parse_file_name(name, tz)) is not None
                and parsed.sgc in parts})
    listing.runs = sorted(set(listing.runs))


# --------------------------------------------------------------------------- what was shown


@dataclass(frozen=True)
class Approved:
    """What the approved listings showed: an answer is applied only to what was shown.

    A removal removes the files, objects and rows its approval forms listed (``shown`` of
    the audit row: every approval's) and those its earlier attempts wrote ahead
    (``planned``): by name, key or row id, compared as shown
    (:func:`~extractorov.landing.shown_name`, :func:`~extractorov.landing.shown_key`), so a
    new version at a listed key, a listed file moved to the archive or a listed request
    JSON registered meanwhile still go. What came after the listing under other names (a
    re-scrape's files written while the approval waited) is left: the next run files it
    and a new removal removes it (the audit row's ``kept.after_listing`` and the log say
    which). The request's table row, its rows in run manifests and the findings about it
    are the request's whatever file they came from: they always go."""

    names: frozenset[str]
    keys: frozenset[str]
    local: frozenset[str]
    registry: frozenset[int]
    everything: bool = False
    """No listing was recorded (an audit row older than this rule): all that is found."""

    @classmethod
    def of(cls, shown: dict[str, Any] | None, planned: dict[str, Any] | None) -> Approved:
        if not shown and not planned:
            return cls(frozenset(), frozenset(), frozenset(), frozenset(), everything=True)
        names: set[str] = set()
        keys: set[str] = set()
        local: set[str] = set()
        registry: set[int] = set()
        for listing, key, name in ((shown or {}, str, str),
                                   (planned or {}, landing.shown_key, landing.shown_name)):
            for row in listing.get("registry", []):
                registry.add(int(row["id"]))
                keys.add(key(row["key"]))
            keys.update(key(v["key"]) for v in listing.get("s3", []))
            local.update(listing.get("local", []))
            names.update(name(n) for n in (*listing.get("loaded_marks", []),
                                           *listing.get("first_seen", [])))
        names.update(k.rsplit("/", 1)[-1] for k in keys)
        names.update(path.rsplit("/", 1)[-1] for path in local)
        return cls(frozenset(names), frozenset(keys), frozenset(local), frozenset(registry))

    def _name(self, name: str) -> bool:
        return landing.shown_name(name) in self.names

    def _key(self, key: str) -> bool:
        return landing.shown_key(key) in self.keys or self._name(key.rsplit("/", 1)[-1])

    def restrict(self, listing: Listing) -> list[str]:
        """Keep in ``listing`` only what was approved; return what was not (as shown)."""
        if self.everything:
            return []
        after: list[str] = []
        names: set[str] = set()
        keys: set[str] = set()
        rows = []
        for row_id, key in listing.registry_rows:
            if row_id in self.registry or self._key(key):
                rows.append((row_id, key))
            else:
                keys.add(key)
                names.add(key.rsplit("/", 1)[-1])
                after.append(f"registry row {row_id}: {landing.shown_key(key)}")
        listing.registry_rows = rows
        local = []
        for file in listing.local:
            name = file.name or file.path.name
            if file.shown in self.local or self._name(name):
                local.append(file)
            else:
                names.add(name)
                after.append(file.shown)
        listing.local = local
        versions = []
        for version in listing.versions:
            if self._key(version.key):
                versions.append(version)
            else:
                keys.add(version.key)
                after.append(f"s3 {landing.shown_key(version.key)}")
        listing.versions = versions
        for attr in ("loaded_marks", "first_seen"):
            kept = [n for n in getattr(listing, attr) if self._name(n)]
            dropped = [n for n in getattr(listing, attr) if not self._name(n)]
            names.update(dropped)
            after += [f"{attr} {landing.shown_name(n)}" for n in dropped]
            setattr(listing, attr, kept)
        listing.names -= {n for n in names if not self._name(n)}
        listing.keys -= {k for k in keys if not self._key(k)}
        return sorted(set(after))


# --------------------------------------------------------------------------- the audit


@dataclass(frozen=True)
class Removal:
    """An audit row of ``data_general.request_removals``."""

    id: int
    status: str
    runs: list[str]
    planned: dict[str, Any] | None
    removed: dict[str, Any] | None
    shown: dict[str, Any] | None = None
    """What the approval forms showed (:meth:`Listing.as_dict`; every approval's)."""


def _row(conn: Connection, where: str, params: tuple[Any, ...], *,
         lock: bool = False) -> Removal | None:
    with conn.cursor() as cur:
        cur.execute(f"SELECT id, status, runs, planned, removed, shown FROM {AUDIT_TABLE} "
                    f"WHERE {where} ORDER BY id DESC LIMIT 1"
                    + (" FOR UPDATE" if lock else ""), params)
        row = cur.fetchone()
    return Removal(*row) if row else None


def unfinished(conn: Connection, empresa: str, numero_radicado: str) -> Removal | None:
    """The request's approved removal not completed yet (at most one)."""
    return _row(conn, "empresa = %s AND numero_radicado = %s AND status IN ('approved', "
                "'removing')", (empresa, numero_radicado))


def record_decision(conn: Connection, empresa: str, numero_radicado: str, *, run_id: str,
                    approved: bool, decided_by: str | None, decided_at: datetime,
                    reason: str, shown: dict[str, Any],
                    requested_by: str | None = None) -> int:
    """Record a human's answer to the approval form; return the audit row's id.

    Approved: a new row ``approved`` (removed by :func:`remove` when the company is free),
    or, when the request has a removal cut short, that row, which this run will finish
    (one audit row per removal). Rejected (or unanswered: ``decided_by`` None): a row
    ``rejected``; nothing is removed. Commits."""
    approval = {"run_id": run_id, "by": decided_by, "at": decided_at.isoformat(),
                "reason": reason, "approved": approved}
    with conn.cursor() as cur:
        if approved:
            current = _row(conn, "empresa = %s AND numero_radicado = %s AND status IN "
                           "('approved', 'removing')", (empresa, numero_radicado), lock=True)
            if current is not None:
                # What this form showed is approved too (a removal applies only to what
                # its approvals showed: :class:`Approved`).
                cur.execute(f"""UPDATE {AUDIT_TABLE}
                                SET runs = CASE WHEN %s = ANY(runs) THEN runs
                                                ELSE runs || %s::text END,
                                    approvals = approvals || %s::jsonb,
                                    shown = %s
                                WHERE id = %s""",
                            (run_id, run_id, Jsonb([approval]),
                             Jsonb(merge(current.shown, shown)), current.id))
                conn.commit()
                return current.id
        cur.execute(
            f"""INSERT INTO {AUDIT_TABLE} (empresa, numero_radicado, status, reason,
                    requested_by, decided_by, decided_at, run_id, runs, approvals, shown)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, ARRAY[%s], %s, %s) RETURNING id""",
            (empresa, numero_radicado, APPROVED if approved else REJECTED, reason,
             requested_by, decided_by, decided_at, run_id, run_id, Jsonb([approval]),
             Jsonb(shown)))
        removal_id = one(cur)[0]
    conn.commit()
    return int(removal_id)


@dataclass(frozen=True)
class Outcome:
    """What a removal did (for XCom and the log: counts and keys, never values)."""

    removal_id: int
    status: str
    removed: dict[str, int]
    kept: dict[str, int]
    attempts: int
    already: bool = False
    """This run's removal was completed by an earlier try: nothing was done now."""

    def as_dict(self) -> dict[str, Any]:
        return {"removal_id": self.removal_id, "status": self.status,
                "removed": self.removed, "kept": self.kept, "attempts": self.attempts,
                "already": self.already}


def remove(conn: Connection, client: BaseClient, company: Company, settings: Settings,
           numero_radicado: str, *, run_id: str,
           wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Outcome:
    """Remove everything of the request whose removal this run got approved (see the
    module docstring for the order), holding the company's writer exclusion;
    :class:`~extractorov.errors.CompanyBusy` after ``wait_seconds``.

    Idempotent and resumable: a rerun (retry, cleared task) finds the same audit row and
    what is left; once completed, a rerun of the same run does nothing."""
    warehouse.ensure_schema(conn, [company])
    conn.commit()
    holder = f"removal of request {numero_radicado} ({run_id})"
    with company_writer(conn, company, holder, wait_seconds=wait_seconds):
        audit = _row(conn, "empresa = %s AND numero_radicado = %s AND %s = ANY(runs) "
                     "AND status <> 'rejected'", (company.empresa, numero_radicado, run_id))
        conn.commit()
        if audit is None or audit.status == COMPLETED:
            if audit is not None:
                log.info("removal %d of %s %s was completed by an earlier try of this run: "
                         "nothing to do", audit.id, company.empresa, numero_radicado)
                return _outcome(conn, audit.id, already=True)
            raise NotApproved(
                f"no approved removal of {company.empresa} numero_radicado "
                f"{numero_radicado} is recorded for run {run_id}: nothing was removed; "
                f"trigger {DAG_ID} and approve it in Required actions")
        approved = Approved.of(audit.shown, audit.planned)
        listing = find(conn, client, company, settings, numero_radicado)
        after = approved.restrict(listing)
        _start(conn, audit.id, listing)
        _log_listing("removing", listing)
        if after:
            log.warning("%d file(s), object(s) or row(s) of %s numero_radicado %s came after "
                        "the approved listing (a re-scrape, a run filing it): not removed, "
                        "left to the next run; trigger %s again to remove them: %s",
                        len(after), company.empresa, numero_radicado, DAG_ID,
                        _some(after, 20))
        with _landing_errors("a run manifest"):
            for hit in listing.manifests:
                if hit.action == "rewrite" and hit.header is not None:
                    _rewrite_manifest(hit, _copy_text(numero_radicado), numero_radicado,
                                      audit.id)
                else:
                    _delete_manifest(hit)
        _delete_rows(conn, company, listing)
        with _landing_errors("a file"):
            for local in listing.local:
                for path in (local.path, local.reason_path):
                    if path is not None:
                        with contextlib.suppress(FileNotFoundError):
                            path.unlink()
            for folder in {f.path.parent for f in listing.local}:
                _sync(folder)
            _release_followers(listing, landing.company_folders(settings.landing_root,
                                                                company.empresa))
        _delete_versions(client, settings, listing)
        left = find(conn, client, company, settings, numero_radicado)
        conn.rollback()
        after = sorted(set(after) | set(approved.restrict(left)))
        if left.removable:
            counts = {k: v for k, v in counts_of(left.as_dict()).items()
                      if v and not k.endswith("_kept")}
            raise RemovalIncomplete(
                f"the removal of {company.empresa} numero_radicado {numero_radicado} is not "
                f"complete yet ({counts} still found); the task is retried and finishes it "
                f"(audit row {audit.id} in {AUDIT_TABLE})")
        _complete(conn, audit.id, left, after)
        return _outcome(conn, audit.id)


def _release_followers(listing: Listing, folders: landing.CompanyFolders) -> None:
    """Documents that followed one of the request's JSONs into ``quarantine/`` but that
    pairing gives another request (or none) now follow nothing once that JSON is gone:
    back to ``processed/``, where the next ``extract`` places them (never left waiting for
    a JSON that no longer exists)."""
    for entry in landing.read_quarantine(folders):
        followed = landing.followed_json(entry)
        if (followed and followed in listing.names
                and entry.original_name in listing.kept_names
                and landing.readmit(entry, folders)):
            log.info("removal: %s followed a request JSON of this request into quarantine/ "
                     "but is not its own: moved back to processed/ for extract to place",
                     landing.shown_name(entry.original_name))


@contextlib.contextmanager
def _landing_errors(what: str) -> Iterator[None]:
    """An error of the landing volume (no space, no permission) stops the removal with
    what to do; what was done stays done and the rerun finishes."""
    try:
        yield
    except OSError as exc:
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        raise RemovalError(
            f"{what} of the request could not be removed or rewritten on the landing volume "
            f"({exc.strerror}): {'free space' if full else 'check its permissions'}, then "
            "clear the task; it finishes the removal", retryable=False) from None


def _start(conn: Connection, removal_id: int, listing: Listing) -> None:
    """Write ahead: what this attempt found joins the plan, and the request's names and
    keys are recorded as removed, before anything is removed. Commits."""
    found = listing.as_dict(full=True)
    names = sorted(listing.names)  # what processed/ would hold (a quarantined file's original)
    keys = sorted(listing.keys | {v.key for v in listing.versions})
    with conn.cursor() as cur:
        cur.execute(f"SELECT planned FROM {AUDIT_TABLE} WHERE id = %s FOR UPDATE",
                    (removal_id,))
        planned = merge(one(cur)[0], found)
        cur.execute(f"""UPDATE {AUDIT_TABLE}
                        SET status = %s, planned = %s, attempts = attempts + 1,
                            started_at = COALESCE(started_at, now())
                        WHERE id = %s""", (REMOVING, Jsonb(planned), removal_id))
        cur.execute(f"""INSERT INTO {REMOVED_FILES_TABLE} (empresa, filename, removal_id)
                        SELECT %s, unnest(%s::text[]), %s ON CONFLICT DO NOTHING""",
                    (listing.empresa, names, removal_id))
        cur.execute(f"""INSERT INTO {REMOVED_OBJECTS_TABLE}
                            (s3_bucket, s3_key, empresa, removal_id)
                        SELECT %s, unnest(%s::text[]), %s, %s ON CONFLICT DO NOTHING""",
                    (listing.bucket, keys, listing.empresa, removal_id))
        # What an earlier attempt wrote ahead that pairing, on the files present now, no
        # longer gives the request: not the request's, so never held back from extract.
        cur.execute(f"DELETE FROM {REMOVED_FILES_TABLE} WHERE removal_id = %s "
                    "AND filename = ANY(%s)", (removal_id, sorted(listing.kept_names)))
        cur.execute(f"DELETE FROM {REMOVED_OBJECTS_TABLE} WHERE removal_id = %s "
                    "AND s3_key = ANY(%s)", (removal_id, listing.kept_keys))
    conn.commit()


def _delete_rows(conn: Connection, company: Company, listing: Listing) -> None:
    """The database's copies, in one transaction: table row, registry rows, loaded marks,
    findings, first sightings."""
    shown = sorted({landing.printable(n) for n in listing.names})
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DELETE FROM {} WHERE numero_radicado = %s").format(
            sql.Identifier(SCHEMA, company.table)), (listing.numero_radicado,))
        cur.execute(f"DELETE FROM {REGISTRY_TABLE} WHERE id = ANY(%s)",
                    ([row_id for row_id, _ in listing.registry_rows],))
        cur.execute(f"DELETE FROM {LOADED_TABLE} WHERE empresa = %s AND s3_bucket = %s "
                    "AND filename = ANY(%s)",
                    (listing.empresa, listing.bucket, sorted(listing.names)))
        cur.execute(f"DELETE FROM {findings.TABLE} WHERE id = ANY(%s)", (listing.findings,))
        cur.execute(f"DELETE FROM {firstseen.TABLE} WHERE empresa = %s AND filename = ANY(%s)",
                    (listing.empresa, shown))
    conn.commit()


def _delete_versions(client: BaseClient, settings: Settings, listing: Listing) -> None:
    """Every version and delete marker, each named by its ``VersionId`` (permanent; a
    bucket never versioned names its objects' version ``null``)."""
    for version in listing.versions:
        try:
            client.delete_object(Bucket=settings.bucket, Key=version.key,
                                 VersionId=version.version_id)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"NoSuchVersion", "NoSuchKey", "404"}:
                continue  # gone already
            raise _s3_error(exc, settings.bucket, settings.aws_conn_id,
                            "s3:DeleteObjectVersion") from None
        except BotoCoreError as exc:
            raise _s3_error(exc, settings.bucket, settings.aws_conn_id,
                            "s3:DeleteObjectVersion") from None


def _complete(conn: Connection, removal_id: int, left: Listing,
              after: list[str] | None = None) -> None:
    """Nothing removable is left: the plan is what was removed; what was found and kept
    (objects not tied to the request, the runs that filed it, what came after the approved
    listing) is recorded apart."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT planned FROM {AUDIT_TABLE} WHERE id = %s FOR UPDATE",
                    (removal_id,))
        planned = merge(one(cur)[0], left.as_dict(full=True))
        kept = {name: planned.get(name, [])
                for name in ("not_tied", "runs", "folders", "possibly")}
        if after:
            kept["after_listing"] = after
        removed = {**planned, "not_tied": [], "runs": [], "folders": [], "possibly": []}
        cur.execute(f"""UPDATE {AUDIT_TABLE}
                        SET status = %s, removed = %s, kept = %s, completed_at = now()
                        WHERE id = %s""",
                    (COMPLETED, Jsonb(removed), Jsonb(kept), removal_id))
    conn.commit()
    log.info("removal %d completed: removed %s; kept %s", removal_id,
             {k: v for k, v in counts_of(removed).items() if v and not k.endswith("_kept")},
             {"objects not tied to the request": len(kept["not_tied"]),
              "run records (counts only)": len(kept["runs"])})


def _outcome(conn: Connection, removal_id: int, *, already: bool = False) -> Outcome:
    with conn.cursor() as cur:
        cur.execute(f"SELECT status, removed, kept, attempts FROM {AUDIT_TABLE} WHERE id = %s",
                    (removal_id,))
        status, removed, kept, attempts = one(cur)
    conn.commit()
    counts = {k: v for k, v in counts_of(removed or {}).items() if not k.endswith("_kept")}
    kept = kept or {}
    kept_counts = {"not_tied": len(kept.get("not_tied", [])),
                   "runs": len(kept.get("runs", []))}
    if kept.get("after_listing"):
        kept_counts["after_listing"] = len(kept["after_listing"])
    return Outcome(removal_id, status, counts, kept_counts, int(attempts), already)


# --------------------------------------------------------------------------- honoured by runs


def removed_names(conn: Connection, empresa: str) -> set[str]:
    """File names of removed requests: ``extract`` never registers a file of these names
    (a copy left in ``processed/`` by a removal cut short, or put back)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT filename FROM {REMOVED_FILES_TABLE} WHERE empresa = %s",
                    (empresa,))
        return {name for (name,) in cur}


def without_removed_objects(conn: Connection, empresa: str, bucket: str,
                            objects: dict[str, int]) -> dict[str, int]:
    """``objects`` (key → size) without the keys of removed requests: ``ov_s3_reconcile``
    never registers those again (an object a removal cut short has not deleted yet)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT s3_key FROM {REMOVED_OBJECTS_TABLE} WHERE empresa = %s "
                    "AND s3_bucket = %s", (empresa, bucket))
        removed = {key for (key,) in cur} & objects.keys()
    if removed:
        log.warning("%d object(s) of requests removed on request (%s) are still in the "
                    "bucket: not registered; trigger %s for their request again to delete "
                    "them", len(removed), DAG_ID, DAG_ID)
    return {k: v for k, v in objects.items() if k not in removed}


# --------------------------------------------------------------------------- forms and logs


def _some(items: Iterable[str], limit: int = SHOWN_PER_LIST) -> list[str]:
    items = list(items)
    more = len(items) - limit
    return items[:limit] + ([f"… and {more} more (all in the audit row)"] if more > 0 else [])


def describe(listing: dict[str, Any]) -> list[str]:
    """A listing as lines of Markdown: counts, then keys and paths (no field value)."""
    counts = counts_of(listing)
    s3 = listing.get("s3", [])
    lines = [
        "| where | found |",
        "|---|---|",
        f"| row in `data_general.ov_{listing['empresa']}` | {counts['table_rows']} |",
        f"| registry rows (`s3_files_registry`) | {counts['registry_rows']} |",
        f"| S3 objects | {counts['s3_keys']} key(s): {counts['s3_versions']} version(s), "
        f"{counts['s3_delete_markers']} delete marker(s) |",
        f"| files in processed/ · quarantine/ · archive/ | {counts['processed_files']} · "
        f"{counts['quarantine_files']} · {counts['archive_files']} |",
        f"| run manifests holding its rows | {counts['manifests_rewritten']} rewritten "
        f"without them · {counts['manifests_deleted']} deleted (loaded) |",
        f"| loaded marks (`s3_files_loaded`) | {counts['loaded_marks']} |",
        f"| findings (`reconcile_findings`) | {counts['findings']} |",
        f"| first sightings (`landing_first_seen`) | {counts['first_seen']} |",
        "",
    ]
    if s3:
        by_key: dict[str, list[str]] = {}
        for v in s3:
            by_key.setdefault(v["key"], []).append(
                "delete marker" if v["delete_marker"] else f"version {v['version_id']}")
        lines += ["**S3 keys** (every version and delete marker goes):", ""]
        lines += [f"- `{key}` ({', '.join(kinds)})" for key, kinds in by_key.items()][
            :SHOWN_PER_LIST]
        if len(by_key) > SHOWN_PER_LIST:
            lines.append(f"- … and {len(by_key) - SHOWN_PER_LIST} more")
        lines.append("")
    for title, name, fmt in (
            ("**Registry rows**", "registry", lambda r: f"row {r['id']}: `{r['key']}`"),
            ("**Local files**", "local", lambda p: f"`{p}`"),
            ("**Manifests**", "manifests",
             lambda m: f"`{m['file']}`: {m['rows']} of {m['of']} row(s), {m['action']}"),
            ("**Loaded marks**", "loaded_marks", lambda n: f"`{n}`"),
            ("**Findings**", "findings", lambda i: f"finding {i}"),
            ("**First sightings**", "first_seen", lambda n: f"`{n}`")):
        items = listing.get(name, [])
        if items:
            lines += [f"{title}:", "", *(f"- {line}" for line in _some(map(fmt, items))), ""]
    kept = listing.get("not_tied", [])
    runs = listing.get("runs", [])
    possibly = listing.get("possibly", [])
    if kept or runs or possibly:
        lines += ["**Kept**:", ""]
        if possibly:
            lines.append(f"- {len(possibly)} document(s) waiting in processed/ that may be its "
                         "own (pairing could not tell which request owns them): not removed; "
                         "delete them by hand if they are this request's:")
            lines += [f"  - `{n}`" for n in _some(possibly)]
        if kept:
            lines.append(f"- {len(kept)} object(s) in its S3 folder(s) not tied to it (another "
                         "request's, or filed without a request): not removed; look at them "
                         "if they should go too:")
            lines += [f"  - `{k}`" for k in _some(kept)]
        if runs:
            lines.append(f"- the records of the {len(runs)} run(s) that filed it (counts only, "
                         "nothing of the request): " + ", ".join(f"`{r}`" for r in _some(runs)))
        lines.append("")
    return lines


def _log_listing(what: str, listing: Listing) -> None:
    counts = {k: v for k, v in counts_of(listing.as_dict()).items() if v}
    log.info("%s %s numero_radicado %s: %s", what, listing.empresa, listing.numero_radicado,
             counts or "nothing found")
    for v in listing.versions[:SHOWN_PER_LIST]:
        log.info("  s3 %s (%s)", landing.shown_key(v.key),
                 "delete marker" if v.delete_marker else f"version {v.version_id}")
    for f in listing.local[:SHOWN_PER_LIST]:
        log.info("  local %s", f.shown)
    for m in listing.manifests:
        log.info("  manifest %s: %d of %d row(s), %s", m.shown, m.rows, m.total, m.action)


def log_listing(listing: Listing) -> None:
    """What :func:`find` found, in the task log (counts, keys, paths)."""
    _log_listing("found for", listing)


__all__ = [
    "AUDIT_TABLE",
    "AWS_CONN_VARIABLE",
    "DAG_ID",
    "Approved",
    "Listing",
    "NotApproved",
    "Outcome",
    "RemovalError",
    "RemovalIncomplete",
    "counts_of",
    "describe",
    "find",
    "list_versions",
    "log_listing",
    "merge",
    "record_decision",
    "removable",
    "remove",
    "removed_names",
    "unfinished",
    "without_removed_objects",
]
