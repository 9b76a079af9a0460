"""When the pipeline first saw a file that waits in ``processed/``: the age that counts.

A PDF or attachment waits for its request JSON, a temporary file (``.part``…) for its
writer; ``ov_orphan_after_hours`` later a human is asked (``document_waiting``,
``temp_file_stale``). That age is counted from the first time ``extract`` or
``ov_s3_reconcile`` saw the file waiting, recorded in ``data_general.landing_first_seen``
(``sql/013_first_seen.sql``), never from the file's modification time: a backlog copied
with its old times, or one left by an outage longer than ``ov_orphan_after_hours``, is new
to the pipeline and gets the whole time to be filed.

A file is known by company, name and size: one that grows (a temporary file still
written) or is copied again with other content starts a new count. Only waiting files
have a row: each look records the files waiting now and drops every other row of the
company (filed, quarantined, changed or gone), so the table, and what a look reads of it,
follows the files waiting today, never the history of the folder.

A document is waiting *for its request JSON* only while no JSON that could own it exists
(:func:`extractorov.pairing.possible_owners`: in ``processed/``, being written,
registered or quarantined). With one there, it waits for ``extract`` (the next run files
it), or for a decision: the outcome and reason ``extract`` gave it when it last looked are
kept with its row (``undecided``: which request owns it cannot be told for sure).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from psycopg import Connection

from extractorov import registry
from extractorov.landing import (
    DOCUMENT_KINDS,
    FileKind,
    FileName,
    LandingFile,
    Scan,
    company_folders,
    final_name,
    parse_file_name,
    printable,
    read_quarantine,
    scan,
)
from extractorov.pairing import Document, JsonMark, JsonState, possible_owners
from extractorov.settings import SCHEMA, Settings

TABLE = f"{SCHEMA}.landing_first_seen"

WAITING, UNDECIDED = "waiting", "undecided"
"""What ``extract`` decided for a document it left in ``processed/`` (pairing's outcome)."""

Key = tuple[str, int]
"""A file as this table knows it: its printable name and its size."""


def key(name: str, size: int) -> Key:
    return printable(name), size


@dataclass(frozen=True, slots=True)
class Seen:
    """A waiting file's row."""

    first_seen: datetime
    outcome: str | None = None
    """For a document: what ``extract`` decided when it last looked (:data:`WAITING`,
    :data:`UNDECIDED`); ``None`` when only ``ov_s3_reconcile`` has seen it."""
    why: str | None = None
    """Pairing's reason with that outcome (never a value from a file)."""

    def age(self, now: datetime) -> float:
        """Seconds since the pipeline first saw the file."""
        return max(0.0, (now - self.first_seen).total_seconds())


def observe(conn: Connection, empresa: str, files: Iterable[Key], *, now: datetime,
            verdicts: Mapping[Key, tuple[str, str]] | None = None) -> dict[Key, Seen]:
    """Record the waiting ``files`` not recorded yet as first seen ``now``; keep the first
    sighting of the others; store ``verdicts`` (``extract``'s outcome and reason per
    document). Returns every one's row. One statement; the caller commits."""
    files = list(dict.fromkeys(files))
    if not files:
        return {}
    verdicts = verdicts or {}
    names = [name for name, _ in files]
    sizes = [size for _, size in files]
    outcomes = [verdicts.get(f, (None, None))[0] for f in files]
    whys = [verdicts.get(f, (None, None))[1] for f in files]
    with conn.cursor() as cur:
        cur.execute(
            f"""WITH input AS (
                    SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[])
                        AS i(filename, file_size, outcome, why)),
                written AS (
                    INSERT INTO {TABLE} AS t (empresa, filename, file_size, first_seen,
                                              outcome, why)
                    SELECT %s, filename, file_size, %s, outcome, why FROM input
                    ON CONFLICT (empresa, filename, file_size) DO UPDATE
                    SET outcome = EXCLUDED.outcome, why = EXCLUDED.why
                    WHERE EXCLUDED.outcome IS NOT NULL
                    RETURNING t.filename, t.file_size, t.first_seen, t.outcome, t.why)
                SELECT * FROM written
                UNION ALL
                SELECT t.filename, t.file_size, t.first_seen, t.outcome, t.why
                FROM {TABLE} t JOIN input i USING (filename, file_size)
                WHERE t.empresa = %s AND NOT EXISTS (
                    SELECT FROM written w
                    WHERE w.filename = t.filename AND w.file_size = t.file_size)""",
            (names, sizes, outcomes, whys, empresa, now, empresa))
        return {(name, size): Seen(first, outcome, why)
                for name, size, first, outcome, why in cur.fetchall()}


def waited_out(conn: Connection, empresa: str, files: Iterable[Key], *, limit_seconds: float,
               now: datetime) -> set[Key]:
    """Which of ``files`` the pipeline first saw over ``limit_seconds`` ago (a file never
    seen before has waited 0 s: with a limit of 0 it has waited enough). Read only."""
    files = list(dict.fromkeys(files))
    if not files:
        return set()
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT t.filename, t.file_size, t.first_seen FROM {TABLE} t
                JOIN unnest(%s::text[], %s::bigint[]) AS k(filename, file_size)
                  USING (filename, file_size)
                WHERE t.empresa = %s""",
            ([n for n, _ in files], [s for _, s in files], empresa))
        seen = {(name, size): Seen(first) for name, size, first in cur.fetchall()}
    return {f for f in files
            if (seen[f].age(now) if f in seen else 0.0) >= limit_seconds}


def keep_only(conn: Connection, empresa: str, files: Iterable[Key]) -> int:
    """Drop the company's rows of files not waiting now (filed, quarantined, changed, gone);
    return how many. The caller commits."""
    files = list(files)
    with conn.cursor() as cur:
        cur.execute(
            f"""DELETE FROM {TABLE} t WHERE t.empresa = %s AND NOT EXISTS (
                    SELECT FROM unnest(%s::text[], %s::bigint[]) AS k(filename, file_size)
                    WHERE k.filename = t.filename AND k.file_size = t.file_size)""",
            (empresa, [n for n, _ in files], [s for _, s in files]))
        return cur.rowcount


def split_stale(conn: Connection, empresa: str, found: Scan, *, limit_seconds: float,
                now: datetime | None = None) -> list[Key]:
    """For a scan made with ``stale_seconds=0`` (so ``found.stale`` holds every temporary
    file with its size): record each, keep in ``found.stale`` only those first seen over
    ``limit_seconds`` ago (a dead writer's) and put the others back in
    ``found.in_progress``. Returns the temporary files recorded."""
    now = now or datetime.now(UTC)
    temporary = found.stale
    keys = [key(f.name, f.size) for f in temporary]
    seen = observe(conn, empresa, keys, now=now)
    found.stale = []
    for file, k in zip(temporary, keys, strict=True):
        if seen[k].age(now) > limit_seconds:
            found.stale.append(file)
        else:
            found.in_progress.append(file.name)
    return keys


# ----------------------------------------------------------------------- ov_s3_reconcile


@dataclass(frozen=True)
class WaitingDocument:
    """A PDF or attachment the pipeline first saw over ``ov_orphan_after_hours`` ago."""

    file: LandingFile
    name: FileName
    seen: Seen
    owners: list[str]
    """The request JSONs that could own it (empty: none anywhere: it waits for its JSON)."""


@dataclass
class Look:
    """What waits in ``processed/`` longer than ``ov_orphan_after_hours``."""

    temporary: list[tuple[LandingFile, Seen]] = field(default_factory=list)
    documents: list[WaitingDocument] = field(default_factory=list)


def look(conn: Connection, empresa: str, settings: Settings, *, now: float) -> Look:
    """Record what waits in the company's ``processed/`` (unregistered documents, temporary
    files) and return what has waited over ``ov_orphan_after_hours`` since first seen, each
    document with the request JSONs that could own it. The caller commits."""
    when = datetime.fromtimestamp(now, UTC)
    limit = settings.orphan_after_hours * 3600
    folders = company_folders(settings.landing_root, empresa)
    if not folders.processed.is_dir():
        return Look()  # not mounted, say: what was seen waiting stays recorded
    found = scan(folders.processed, settle_seconds=settings.settle_seconds, now=now,
                 stale_seconds=0)
    documents: list[tuple[LandingFile, FileName]] = []
    for file in found.files:
        parsed = parse_file_name(file.name, settings.bot_timezone)
        if parsed is not None and parsed.kind in DOCUMENT_KINDS:
            documents.append((file, parsed))
    registered = registry.registered_names(conn, empresa, settings.bucket,
                                           [f.name for f, _ in documents]) if documents else set()
    documents = [(f, n) for f, n in documents if f.name not in registered]
    waiting = [key(f.name, f.size) for f, _ in documents] + [key(f.name, f.size)
                                                              for f in found.stale]
    seen = observe(conn, empresa, waiting, now=when)
    keep_only(conn, empresa, waiting)
    result = Look()
    for file in found.stale:
        row = seen[key(file.name, file.size)]
        if row.age(when) >= limit:
            result.temporary.append((file, row))
    old = [(f, n, seen[key(f.name, f.size)]) for f, n in documents
           if seen[key(f.name, f.size)].age(when) >= limit]
    if not old:
        return result
    marks = _request_jsons(conn, empresa, settings, found, {n.sgc for _, n, _ in old})
    for file, parsed, row in old:
        owners = possible_owners(parsed.sgc, Document(file.name, parsed.kind, parsed.timestamp),
                                 marks.get(parsed.sgc, []))
        result.documents.append(WaitingDocument(file, parsed, row, owners))
    return result


def _request_jsons(conn: Connection, empresa: str, settings: Settings, found: Scan,
                   sgcs: set[str]) -> dict[str, list[JsonMark]]:
    """The request JSONs with these SGC parts wherever they are: ``processed/`` (settled or
    being written), ``quarantine/``, the registry (also those whose ``numero_reclamo_sgc``
    names the SGC). Their state does not matter here: each could own a document."""
    marks: dict[str, dict[str, JsonMark]] = {}

    def offer(raw: str, where: str, sgc: str | None = None) -> None:
        bare = final_name(raw, settings.bot_timezone)
        parsed = parse_file_name(bare, settings.bot_timezone) if bare is not None else None
        if bare is None or parsed is None or parsed.kind is not FileKind.DATA:
            return
        for part in sgcs & {parsed.sgc, sgc}:  # one mark a name: the last place offered
            marks.setdefault(part, {})[bare] = JsonMark(f"{printable(bare)} ({where})",
                                                        parsed.timestamp, JsonState.UNSURE)

    for file in found.files:
        offer(file.name, "processed/")
    for name in (*found.in_progress, *(f.name for f in found.stale)):
        offer(name, "being written")
    for path in found.not_regular:
        offer(path.name, "processed/, not a regular file")
    for entry in read_quarantine(company_folders(settings.landing_root, empresa)):
        offer(entry.original_name, "quarantine/")
    for filename, named in registry.request_jsons_of(conn, empresa, settings.bucket, sgcs):
        offer(filename, "registered", named)
    return {sgc: list(by_name.values()) for sgc, by_name in marks.items()}


__all__ = [
    "TABLE",
    "UNDECIDED",
    "WAITING",
    "Look",
    "Seen",
    "WaitingDocument",
    "keep_only",
    "look",
    "observe",
    "split_stale",
]
