"""Reads and writes of ``data_general.s3_files_registry``: one row per file.

Statuses: ``pending`` (known, not in S3 yet), ``uploaded``, ``pre_existing``
(the same content was already in the bucket), ``error`` (last attempt
failed; retried by the next upload). Sources: ``bot`` (landing folder),
``manual``, ``pre_existing`` (found in the bucket by reconciliation).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import Connection, errors, sql
from psycopg.types.json import Jsonb

from extractorov.settings import LOADED_TABLE
from extractorov.settings import REGISTRY_TABLE as TABLE
from extractorov.sqlrow import one

DIFFERENT_OBJECT = ("a different object already exists at this key; it was not overwritten "
                    "(compare both and delete the wrong one)")
"""``last_error`` of a file whose key holds other content: not retried while it is there."""


@dataclass(frozen=True)
class RegistryEntry:
    """A file to register as ``pending``."""

    filename: str
    local_path: str
    s3_bucket: str
    s3_key: str
    s3_url: str
    numero_reclamo_sgc: str | None
    """``None`` for a request without a real SGC (filed under ``sin_sgc/``)."""
    empresa: str
    file_size: int
    file_type: str
    content_type: str
    file_hash: str
    metadata: dict[str, Any]
    upload_source: str = "bot"


_ENTRY_COLUMNS = (
    "filename", "local_path", "s3_bucket", "s3_key", "s3_url", "numero_reclamo_sgc", "empresa",
    "file_size", "file_type", "content_type", "file_hash", "metadata", "upload_source",
)


def register_pending(conn: Connection, entries: Iterable[RegistryEntry]) -> int:
    """Register files as ``pending`` in bulk; return how many rows are new.

    A file already registered keeps its row; only a not-yet-uploaded row
    whose local content changed is refreshed (new hash, size, path), and a row
    ``ov_s3_reconcile`` created from the bucket (no local path) takes the local
    file, going back to ``pending`` unless their SHA-256 are known to be equal.
    """
    columns = ", ".join(_ENTRY_COLUMNS)
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS ov_registry_stage ON COMMIT DROP AS "
            f"SELECT {columns}, numero_radicado FROM {TABLE} WITH NO DATA"
        )
        cur.execute("TRUNCATE ov_registry_stage")
        with cur.copy(f"COPY ov_registry_stage ({columns}) FROM STDIN") as copy:
            for e in entries:
                copy.write_row((
                    e.filename, e.local_path, e.s3_bucket, e.s3_key, e.s3_url,
                    e.numero_reclamo_sgc, e.empresa, e.file_size, e.file_type, e.content_type,
                    e.file_hash, Jsonb(e.metadata), e.upload_source,
                ))
        # Its size for the plans below: probes of the registry's key per staged row, not a
        # read of the company's rows (an unanalyzed stage is guessed at thousands of rows).
        cur.execute("ANALYZE ov_registry_stage")
        # The request each file belongs to (one folder per request, follow_sgc), known
        # before the insert so a new row is written once: a request JSON's own, then a
        # document's request JSON's (staged with it, or registered before).
        cur.execute("UPDATE ov_registry_stage SET numero_radicado = metadata ->> 'numero_radicado' "
                    "WHERE metadata ? 'numero_radicado'")
        # Joins, never a lookup per document: the stage has no index, and a backfill
        # stages hundreds of thousands of files (one pass each would be quadratic).
        cur.execute(
            """UPDATE ov_registry_stage s SET numero_radicado = j.numero_radicado
               FROM ov_registry_stage j
               WHERE s.numero_radicado IS NULL AND s.metadata ? 'request_json'
                 AND j.empresa = s.empresa AND j.s3_bucket = s.s3_bucket
                 AND j.filename = s.metadata ->> 'request_json'
                 AND j.numero_radicado IS NOT NULL""")
        cur.execute(
            f"""UPDATE ov_registry_stage s SET numero_radicado = j.numero_radicado
                FROM {TABLE} j
                WHERE s.numero_radicado IS NULL AND s.metadata ? 'request_json'
                  AND j.empresa = s.empresa AND j.s3_bucket = s.s3_bucket
                  AND j.filename = s.metadata ->> 'request_json'
                  AND j.numero_radicado IS NOT NULL""")
        cur.execute(
            f"""
            WITH written AS (
                INSERT INTO {TABLE} AS r ({columns}, numero_radicado)
                SELECT DISTINCT ON (s3_bucket, s3_key) {columns}, numero_radicado
                FROM ov_registry_stage
                ORDER BY s3_bucket, s3_key
                ON CONFLICT (s3_bucket, s3_key) DO UPDATE
                SET numero_radicado = COALESCE(r.numero_radicado, EXCLUDED.numero_radicado),
                    file_hash = EXCLUDED.file_hash, file_size = EXCLUDED.file_size,
                    local_path = EXCLUDED.local_path, metadata = EXCLUDED.metadata,
                    -- A row reconcile made from the bucket meets its local file: the same
                    -- SHA-256 keeps it; otherwise the conditional upload compares the
                    -- contents (same: pre_existing; different: an error, never accepted).
                    upload_status = CASE
                        WHEN r.local_path IS NULL AND r.file_hash IS DISTINCT FROM
                             EXCLUDED.file_hash THEN 'pending'
                        ELSE r.upload_status END,
                    updated_at = now()
                WHERE (r.upload_status IN ('pending', 'error')
                       AND r.file_hash IS DISTINCT FROM EXCLUDED.file_hash)
                   OR r.local_path IS NULL
                RETURNING (xmax = 0) AS inserted, empresa, s3_bucket, filename
            ),
            -- A file registered anew (its row deleted by an operator or a review, or
            -- never there) is not loaded, whatever an earlier row of its name was.
            unmarked AS ({_unmark("(SELECT * FROM written WHERE inserted)")})
            SELECT count(*) FILTER (WHERE inserted) FROM written
            """
        )
        registered: int = one(cur)[0]
        # Rows of the batch that kept a row without its request (the conflict left them
        # untouched): the same two answers, read from the registry.
        cur.execute(
            f"""UPDATE {TABLE} r SET numero_radicado = r.metadata ->> 'numero_radicado'
                FROM ov_registry_stage s
                WHERE r.s3_bucket = s.s3_bucket AND r.s3_key = s.s3_key
                  AND r.numero_radicado IS NULL AND r.metadata ? 'numero_radicado'""")
        cur.execute(
            f"""UPDATE {TABLE} r SET numero_radicado = (
                    SELECT j.numero_radicado FROM {TABLE} j
                    WHERE j.empresa = r.empresa AND j.s3_bucket = r.s3_bucket
                      AND j.filename = r.metadata ->> 'request_json'
                      AND j.numero_radicado IS NOT NULL LIMIT 1)
                FROM ov_registry_stage s
                WHERE r.s3_bucket = s.s3_bucket AND r.s3_key = s.s3_key
                  AND r.numero_radicado IS NULL AND r.metadata ? 'request_json'""")
        # And the other way round: documents registered before their request JSON (its
        # JSON was quarantined, then re-admitted or scraped again) take its request now;
        # whichever of the two comes second ties them. Unless the JSON, now read, names no
        # attachment and one was tied to it while it could not be read: that group is not
        # one request's (pairing.JsonMark.attachment), so none of it is tied (each keeps
        # its SGC's folder, tied to no request; which is whose cannot be told).
        cur.execute(
            f"""UPDATE {TABLE} r
                SET metadata = r.metadata - 'request_json' - 'request_json_status'
                               || jsonb_build_object('untied_from', s.filename)
                FROM ov_registry_stage s
                WHERE s.metadata ->> 'names_attachment' = 'false'
                  AND r.empresa = s.empresa AND r.s3_bucket = s.s3_bucket
                  AND r.numero_radicado IS NULL AND r.metadata ? 'request_json'
                  AND r.metadata ->> 'request_json' = s.filename
                  AND EXISTS (SELECT FROM {TABLE} a
                              WHERE a.empresa = s.empresa AND a.s3_bucket = s.s3_bucket
                                AND a.numero_radicado IS NULL AND a.metadata ? 'request_json'
                                AND a.metadata ->> 'request_json' = s.filename
                                AND a.metadata ->> 'kind' = 'adjunto')""")
        cur.execute(
            f"""UPDATE {TABLE} r SET numero_radicado = s.numero_radicado
                FROM ov_registry_stage s
                WHERE s.numero_radicado IS NOT NULL AND s.metadata ? 'numero_radicado'
                  AND r.empresa = s.empresa AND r.s3_bucket = s.s3_bucket
                  AND r.numero_radicado IS NULL AND r.metadata ? 'request_json'
                  AND r.metadata ->> 'request_json' = s.filename""")
        return registered


@dataclass(frozen=True, slots=True)
class Retie:
    """A registered document whose request pairing now answers differently (the files it
    weighs changed: a backlog reached ``processed/`` out of write order)."""

    key: str
    """Its key now (the row is found by it)."""
    request_json: str | None
    """The request JSON it is tied to now; ``None``: tied to no request."""
    json_quarantined: bool = False
    new_key: str | None = None
    """Its key in its request's folder, when that folder is another one: the upload moves
    the object (``moving_from``)."""
    numero_reclamo_sgc: str | None = None
    """The SGC of the new folder (with ``new_key``)."""


def retie_documents(conn: Connection, empresa: str, bucket: str,
                    changes: Sequence[Retie]) -> int:
    """Tie registered documents to the request pairing now gives them (one statement).

    ``numero_radicado`` is the new request JSON's when that JSON is registered, else NULL
    (:func:`register_pending` copies it when the JSON is registered, as for any document
    filed before its JSON); a row taking another folder gets ``moving_from`` (the upload
    moves its object, as :func:`follow_sgc`'s do), unless that key is taken. Each row is
    changed only while it still has the key the answer was computed for. In the caller's
    transaction; returns the rows changed."""
    if not changes:
        return 0
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE {TABLE} r
                SET metadata = (r.metadata - 'request_json' - 'request_json_status')
                        || CASE WHEN m.request_json IS NULL THEN '{{}}'::jsonb
                                ELSE jsonb_build_object('request_json', m.request_json) END
                        || CASE WHEN m.quarantined
                                THEN jsonb_build_object('request_json_status', 'quarantined')
                                ELSE '{{}}'::jsonb END
                        || jsonb_build_object('retied_from',
                                              COALESCE(r.metadata ->> 'request_json', '')),
                    numero_radicado = (SELECT j.numero_radicado FROM {TABLE} j
                                       WHERE j.empresa = r.empresa
                                         AND j.s3_bucket = r.s3_bucket
                                         AND j.filename = m.request_json
                                         AND j.numero_radicado IS NOT NULL LIMIT 1),
                    s3_key = COALESCE(m.new_key, r.s3_key),
                    s3_url = 's3://' || r.s3_bucket || '/' || COALESCE(m.new_key, r.s3_key),
                    numero_reclamo_sgc = CASE WHEN m.new_key IS NULL THEN r.numero_reclamo_sgc
                                              ELSE m.sgc END,
                    -- Back to the key its object still is at (a move not made yet): no
                    -- move at all; a move onto its own key would delete the object.
                    moving_from = CASE WHEN m.new_key IS NULL THEN r.moving_from
                                       WHEN COALESCE(r.moving_from, r.s3_key) = m.new_key
                                       THEN NULL
                                       ELSE COALESCE(r.moving_from, r.s3_key) END,
                    updated_at = now()
                FROM unnest(%s::text[], %s::text[], %s::boolean[], %s::text[], %s::text[])
                     AS m(old_key, request_json, quarantined, new_key, sgc)
                WHERE r.empresa = %s AND r.s3_bucket = %s AND r.s3_key = m.old_key
                  AND (m.new_key IS NULL OR NOT EXISTS (
                       SELECT FROM {TABLE} o
                       WHERE o.s3_bucket = r.s3_bucket AND o.s3_key = m.new_key))""",
            ([c.key for c in changes], [c.request_json for c in changes],
             [c.json_quarantined for c in changes], [c.new_key for c in changes],
             [c.numero_reclamo_sgc for c in changes], empresa, bucket))
        return cur.rowcount


def _unmark(rows: str) -> str:
    """The one statement that clears loaded marks: those of the files ``rows`` (a CTE or
    subquery with ``empresa``, ``s3_bucket``, ``filename``) names. A mark speaks for the
    registry row of its name, so a row inserted or deleted takes its name's mark away."""
    return (f"DELETE FROM {LOADED_TABLE} l USING {rows} AS g WHERE l.empresa = g.empresa "
            "AND l.s3_bucket = g.s3_bucket AND l.filename = g.filename")


@dataclass(frozen=True, slots=True)
class KnownFile:
    numero_reclamo_sgc: str | None
    file_type: str | None
    loaded: bool
    """For request JSONs: the record reached the company table."""
    s3_key: str | None = None
    local: bool = True
    """False for a row ``ov_s3_reconcile`` made from the bucket: its local file is new."""
    names_attachment: bool | None = None
    """For request JSONs: whether its record names an attachment (``metadata``
    ``names_attachment``, :func:`extractorov.records.attachment_named`); ``None``: not
    known (a row registered before it was kept)."""
    request_json: str | None = None
    """For documents: the request JSON they are tied to (``metadata.request_json``)."""
    json_quarantined: bool = False
    """For documents: tied to that JSON while it was quarantined."""
    reviewed: bool = False
    """A human review decided about this row (``metadata.review``)."""
    local_removed: bool = False
    """Retention archived or deleted its local copy (``local_removal``): a file the
    pipeline filed, though ``local`` may now be false."""


_KNOWN_COLUMNS = f"""r.filename, r.numero_reclamo_sgc, r.file_type,
    EXISTS (SELECT FROM {LOADED_TABLE} l WHERE l.empresa = r.empresa
            AND l.s3_bucket = r.s3_bucket AND l.filename = r.filename),
    r.s3_key, r.local_path IS NOT NULL, (r.metadata ->> 'names_attachment')::boolean,
    r.metadata ->> 'request_json', r.metadata ? 'request_json_status', r.metadata ? 'review',
    r.local_removal IS NOT NULL"""
"""What :class:`KnownFile` holds of a row ``r``. The loaded mark is a probe of the marks'
primary key per row: a join's plan depends on the marks table's statistics, and a fresh
one (no ANALYZE yet) got a nested loop over both tables (minutes at 100,000 files)."""


def known_files(conn: Connection, empresa: str, bucket: str,
                names: Iterable[str]) -> dict[str, KnownFile]:
    """File name → what the registry knows, for the files ``names`` (the names a run
    scanned) of one company and bucket; a name the registry does not have is absent.

    The names are staged in a temporary table (``COPY``) and joined with the registry on
    the server (index ``(empresa, filename)``): the run reads the rows of its own files,
    never the company's history (a year holds ~900,000 rows). Runs in the caller's
    transaction (the staging table goes with it)."""
    with _in_transaction(conn), conn.cursor() as cur:
        _stage_names(cur, "ov_known_names", names)
        cur.execute(
            f"""SELECT {_KNOWN_COLUMNS}
                FROM ov_known_names n
                JOIN {TABLE} r ON r.empresa = %s AND r.s3_bucket = %s
                              AND r.filename = n.filename""",
            (empresa, bucket),
        )
        return {row[0]: KnownFile(*row[1:]) for row in cur.fetchall()}


KNOWN_PAGE = 5000
"""Rows :func:`known_in_order` fetches from its cursor at a time."""


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def known_in_order(conn: Connection, empresa: str, bucket: str,
                   names: Iterable[str]) -> Generator[KnownFile | None, None, None]:
    """What the registry knows of each of ``names`` (the names a run scanned), in their
    order: one answer a name, ``None`` for a name it does not have; a name with several rows
    answers with its first (lowest id).

    The names are staged (``COPY``, with their place) and joined with the registry on the
    server; the answers come from a server-side cursor a page at a time, so the caller
    holds neither the company's history nor, with retention ``keep``, one answer per file
    of ``processed/`` at once. In the caller's transaction, which must not end before the
    last answer is read (close the generator when stopping early)."""
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS ov_scanned_names "
                    "(ord integer NOT NULL, filename text) ON COMMIT DROP")
        cur.execute("TRUNCATE ov_scanned_names")
        with cur.copy("COPY ov_scanned_names (ord, filename) FROM STDIN") as copy:
            for place, name in enumerate(names):
                # A name that is not UTF-8 (kept by the OS as surrogate escapes) cannot be
                # in the registry: it keeps its place, with no name to match.
                copy.write_row((place, name if _utf8(name) else None))
        cur.execute("ANALYZE ov_scanned_names")
    with conn.cursor(name=f"ov_known_{uuid.uuid4().hex}") as cur:
        cur.execute(
            f"""SELECT DISTINCT ON (n.ord) r.id IS NOT NULL, {_KNOWN_COLUMNS}
                FROM ov_scanned_names n
                LEFT JOIN {TABLE} r ON r.empresa = %s AND r.s3_bucket = %s
                                   AND r.filename = n.filename
                ORDER BY n.ord, r.id""",
            (empresa, bucket),
        )
        while rows := cur.fetchmany(KNOWN_PAGE):
            for row in rows:
                yield KnownFile(*row[2:]) if row[0] else None


def all_known_files(conn: Connection, empresa: str, bucket: str) -> dict[str, KnownFile]:
    """Every row of one company and bucket as :func:`known_files` gives them (what every
    extract read before it asked about its own names; kept for the benchmark's baseline
    and for tests that compare both)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT {_KNOWN_COLUMNS} FROM {TABLE} r "
                    "WHERE r.empresa = %s AND r.s3_bucket = %s", (empresa, bucket))
        return {row[0]: KnownFile(*row[1:]) for row in cur.fetchall()}


def sgc_part_prefixes(sgcs: Iterable[str]) -> list[str]:
    """The name prefixes of every bot file name whose SGC part is one of ``sgcs``: the
    patterns of :func:`extractorov.landing.parse_file_name` all start ``{sgc}_`` except the
    detail writer's JSON, ``pqr_data_{sgc}_`` (a superset: the caller parses the names)."""
    prefixes: set[str] = set()
    for sgc in sgcs:
        prefixes.add(f"{sgc}_")
        prefixes.add(f"pqr_data_{sgc}_")
    return sorted(prefixes)


def files_with_sgc_parts(conn: Connection, empresa: str, bucket: str,
                         sgcs: Iterable[str]) -> dict[str, KnownFile]:
    """File name → what the registry knows, for the registered names that start as a bot
    file name with one of these SGC parts does (:func:`sgc_part_prefixes`; a superset the
    caller narrows by parsing each name): the documents and request JSONs pairing weighs
    for a run's new documents, wherever they are now (retention may have taken a request
    JSON out of ``processed/`` long ago).

    One range of index ``s3_files_registry_filename_prefix`` per prefix (a prefix is one
    range of the names' bytes, ``COLLATE "C"``): what is read follows the SGC parts asked
    about and the files registered under them, not the company's history. In the caller's
    transaction."""
    prefixes = sgc_part_prefixes(sgcs)
    if not prefixes:
        return {}
    found: dict[str, KnownFile] = {}
    with conn.cursor() as cur:
        for start in range(0, len(prefixes), PREFIXES_A_QUERY):
            # Constants, not a join with a staged list of prefixes: for a range taken from
            # another table's row the planner guesses a third of the registry (it cannot
            # see how narrow a prefix is) and reads all of it. A prefix ends with "_"
            # (0x5F): the names that start with it are those from it up to, not including,
            # the prefix with "`" (0x60) in its place.
            ranges = sql.SQL(" OR ").join(
                sql.SQL('(r.filename COLLATE "C" >= {} AND r.filename COLLATE "C" < {})').format(
                    sql.Literal(prefix), sql.Literal(prefix[:-1] + "`"))
                for prefix in prefixes[start:start + PREFIXES_A_QUERY])
            cur.execute(sql.SQL(
                """SELECT {columns} FROM {table} r
                   WHERE r.empresa = %s AND r.s3_bucket = %s AND ({ranges})
                   ORDER BY r.id""").format(columns=sql.SQL(_KNOWN_COLUMNS),
                                            table=sql.SQL(TABLE), ranges=ranges),
                (empresa, bucket))
            for row in cur:
                found.setdefault(row[0], KnownFile(*row[1:]))
    return found


PREFIXES_A_QUERY = 200
"""Name prefixes :func:`files_with_sgc_parts` asks about in one statement: planning grows
faster than the ranges (a 300,000-row registry: 95 ms to plan 500 ranges, 4.8 ms for 100,
1.6 ms for 50), and a statement per prefix would be one per SGC part of the run; 200 keep
it to one statement per 100 SGC parts (below a hundredth of a statement per file)."""


def json_sgcs_named(conn: Connection, empresa: str, bucket: str,
                    sgcs: Iterable[str]) -> set[str]:
    """Which of ``sgcs`` a registered request JSON names as its ``numero_reclamo_sgc`` (the
    folders valid JSONs resolved to, asked about only for these SGCs: index
    ``(empresa, numero_reclamo_sgc)``)."""
    wanted = sorted(set(sgcs))
    if not wanted:
        return set()
    with conn.cursor() as cur:
        cur.execute(f"""SELECT DISTINCT numero_reclamo_sgc FROM {TABLE}
                        WHERE empresa = %s AND numero_reclamo_sgc = ANY(%s)
                          AND s3_bucket = %s AND file_type = 'json'""",
                    (empresa, wanted, bucket))
        return {sgc for (sgc,) in cur}


def _in_transaction(conn: Connection) -> contextlib.AbstractContextManager[Any]:
    """A transaction for the staging table to live in: the caller's, or (on a connection in
    autocommit mode, where ``ON COMMIT DROP`` would drop it at once) one of its own."""
    return conn.transaction() if conn.autocommit else contextlib.nullcontext()


def _stage_names(cur: psycopg.Cursor[Any], table: str, names: Iterable[str]) -> None:
    """Copy ``names`` into the temporary one-column table ``table`` (emptied first, dropped
    at the transaction's end)."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (filename text NOT NULL) "
                "ON COMMIT DROP")
    cur.execute(f"TRUNCATE {table}")
    with cur.copy(f"COPY {table} (filename) FROM STDIN") as copy:
        for name in names:
            copy.write_row((name,))
    cur.execute(f"ANALYZE {table}")


def mark_loaded(conn: Connection, empresa: str, bucket: str, filenames: sql.Composable) -> int:
    """Record that the request JSONs named by ``filenames`` (a query giving one name a row,
    e.g. :data:`extractorov.warehouse.STAGED_FILES`) reached the company table; return how
    many were not marked before. One narrow insert per file, not a new version of its
    registry row (``sql/007_loaded_marks.sql``). Runs inside the caller's transaction."""
    insert = sql.SQL("""INSERT INTO {loaded} (empresa, s3_bucket, filename)
        SELECT %s, %s, f.filename FROM ({filenames}) AS f(filename)""").format(
        loaded=sql.SQL(LOADED_TABLE), filenames=filenames)
    with conn.cursor() as cur:
        if conn.autocommit:  # no caller's transaction to keep: one statement
            cur.execute(insert + sql.SQL(" ON CONFLICT DO NOTHING"), (empresa, bucket))
            return cur.rowcount
        # Most loads mark files no load marked before: a plain insert then costs ~35 % less
        # than one with ON CONFLICT (no speculative insertion per row). A file marked
        # already (a rerun, a re-scrape read again) fails it at its row: back to the
        # savepoint (the rows before it go too), and the insert that skips marked files
        # does the work. A savepoint by hand: psycopg's conn.transaction() on a connection
        # with no transaction open would commit on its own, not in the caller's.
        cur.execute("SAVEPOINT ov_mark_loaded")
        try:
            cur.execute(insert, (empresa, bucket))
        except errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT ov_mark_loaded")
            cur.execute(insert + sql.SQL(" ON CONFLICT DO NOTHING"), (empresa, bucket))
        marked = cur.rowcount
        cur.execute("RELEASE SAVEPOINT ov_mark_loaded")
        return marked


@dataclass(frozen=True, slots=True)
class PendingFile:
    """A registry row waiting for upload."""

    id: int
    filename: str
    local_path: str
    s3_key: str
    numero_reclamo_sgc: str | None
    empresa: str
    file_size: int
    content_type: str
    file_hash: str


_TO_UPLOAD = f"""FROM {TABLE}
    WHERE empresa = %s AND s3_bucket = %s AND upload_status IN ('pending', 'error')
      AND local_path IS NOT NULL AND file_hash IS NOT NULL
      AND last_error IS DISTINCT FROM %s"""
"""Which files an upload sends: every ``pending`` or ``error`` file of a company that has a
local copy. A row without one (found in the bucket by reconcile) is never queued: there is
nothing to send, and reconcile reports it if its object goes missing. Nor is a file whose
key holds a different object: reconcile reports it, and queues it again once that object
is gone."""

UPLOAD_PAGE = 1000
"""Rows :func:`pending_files` fetches from its cursor at a time."""


def count_to_upload(conn: Connection, empresa: str, bucket: str) -> int:
    """How many files an upload would send now."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) {_TO_UPLOAD}", (empresa, bucket, DIFFERENT_OBJECT))
        return int(one(cur)[0])


def pending_files(conn: Connection, empresa: str, bucket: str, *,
                  page: int | None = None) -> Generator[PendingFile, None, None]:
    """The files an upload sends, oldest first, as they were when the first is asked for,
    handed out a page at a time (a backlog's 250,000 rows held at once took ~350 MB).

    A cursor ``WITH HOLD``, committed as soon as it is declared: the server keeps its rows
    (in a temporary file for a backlog) and no transaction stays open while files upload,
    so the caller may commit between pages and nothing waits on the registry meanwhile.
    The caller's connection must have no uncommitted work when the first file is asked
    for; close the generator when stopping early (:func:`close_pages`)."""
    with conn.cursor(name=f"ov_pending_{uuid.uuid4().hex}", withhold=True) as cur:
        cur.execute(
            f"""SELECT id, filename, local_path, s3_key, numero_reclamo_sgc, empresa,
                       file_size, content_type, file_hash
                {_TO_UPLOAD} ORDER BY id""",
            (empresa, bucket, DIFFERENT_OBJECT),
        )
        conn.commit()
        while rows := cur.fetchmany(page or UPLOAD_PAGE):
            yield from (PendingFile(*row) for row in rows)


def close_pages(conn: Connection, pages: Generator[PendingFile, None, None]) -> None:
    """Close :func:`pending_files`' cursor however the reading ended: it outlives a
    rollback, and a transaction in error would keep psycopg from sending its ``CLOSE``."""
    if conn.closed or conn.broken:
        return  # the server dropped the session, and the cursor with it
    with contextlib.suppress(psycopg.Error):
        conn.rollback()
        pages.close()
        conn.commit()


def pending_file(conn: Connection, row_id: int) -> PendingFile | None:
    """One row as the uploader sends it (for writing it by other means than an upload)."""
    with conn.cursor() as cur:
        cur.execute(f"""SELECT id, filename, local_path, s3_key, numero_reclamo_sgc, empresa,
                               file_size, content_type, file_hash
                        FROM {TABLE} WHERE id = %s""", (row_id,))
        row = cur.fetchone()
    return PendingFile(*row) if row else None


def files_to_upload(conn: Connection, empresa: str, bucket: str) -> list[PendingFile]:
    """Every file an upload would send now, oldest first (see :data:`_TO_UPLOAD`); commits
    the connection, as :func:`pending_files` does."""
    return list(pending_files(conn, empresa, bucket))


@dataclass(frozen=True)
class UploadResult:
    """What happened to one file in one upload attempt."""

    id: int
    status: str
    """``uploaded``, ``pre_existing`` or ``error``."""
    error: str | None = None
    uploaded_at: datetime | None = None
    retryable: bool = False
    """An error a later attempt may not hit (network, throttling, 5xx)."""


def record_upload_results(conn: Connection, results: Sequence[UploadResult],
                          run_id: str) -> None:
    """Write a batch of outcomes in one statement (the batch's values as arrays)."""
    if not results:
        return
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE {TABLE} AS r
                SET upload_status = u.status, last_error = u.error, attempts = r.attempts + 1,
                    uploaded_at = COALESCE(u.uploaded_at, r.uploaded_at), last_run_id = %s,
                    updated_at = now()
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[])
                     AS u(id, status, error, uploaded_at)
                WHERE r.id = u.id""",
            (run_id, [r.id for r in results], [r.status for r in results],
             [r.error for r in results], [r.uploaded_at for r in results]),
        )


def upload_counts_for_run(conn: Connection, empresa: str, run_id: str) -> dict[str, int]:
    """Files per final status and bytes uploaded by one DAG run, across task retries."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT count(*) FILTER (WHERE upload_status = 'uploaded'),
                       count(*) FILTER (WHERE upload_status = 'pre_existing'),
                       count(*) FILTER (WHERE upload_status = 'error'),
                       COALESCE(sum(file_size) FILTER (WHERE upload_status = 'uploaded'), 0)
                FROM {TABLE} WHERE empresa = %s AND last_run_id = %s""",
            (empresa, run_id),
        )
        uploaded, pre_existing, errors, size = one(cur)
        cur.execute(f"SELECT count(*) FROM {TABLE} WHERE empresa = %s AND moved_run_id = %s",
                    (empresa, run_id))
        moved = one(cur)[0]
    return {"s3_uploaded": uploaded, "s3_pre_existing": pre_existing, "s3_errors": errors,
            "s3_bytes": int(size), "s3_moved": moved}


# --------------------------------------------------------------------------- reconcile


def count_loaded(conn: Connection, empresa: str, bucket: str, filenames: Sequence[str]) -> int:
    """How many of these request JSONs the registry records as loaded."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT count(*) FROM {LOADED_TABLE} l
                WHERE l.empresa = %s AND l.s3_bucket = %s AND l.filename = ANY(%s)
                  AND EXISTS (SELECT FROM {TABLE} r WHERE r.empresa = l.empresa
                              AND r.s3_bucket = l.s3_bucket AND r.filename = l.filename)""",
            (empresa, bucket, list(filenames)),
        )
        return int(one(cur)[0])


@dataclass(frozen=True)
class CheckRow:
    """What reconcile compares with the bucket, per registered file."""

    id: int
    s3_key: str
    upload_status: str
    file_size: int | None
    local_path: str | None
    """``None`` also when a human kept the bucket's object over the local file (the row
    describes the object: there is nothing to upload from)."""
    last_error: str | None
    file_hash: str | None = None
    moving_from: str | None = None
    """The key its object may still have while it follows its request's SGC
    (:func:`follow_sgc`); the upload completes the move."""


KEPT_OVER_LOCAL = "metadata -> 'review' ? 'local_file'"
"""SQL: a human kept the bucket's object over the row's local file (its hash and size are
in ``metadata.review.local_file``): the row describes the object, not the local file."""

_CHECK_COLUMNS = ("id, s3_key, upload_status, file_size, "
                  f"CASE WHEN {KEPT_OVER_LOCAL} THEN NULL ELSE local_path END, "
                  "last_error, file_hash, moving_from")


def _key_range(column: str, after: str | None, upto: str | None) -> tuple[str, list[str]]:
    """SQL conditions (and their parameters) for ``after < column <= upto`` in the order S3
    lists keys (byte order: ``COLLATE "C"``); ``None``: no bound on that side."""
    where, params = "", []
    if after is not None:
        where += f' AND {column} COLLATE "C" > %s'
        params.append(after)
    if upto is not None:
        where += f' AND {column} COLLATE "C" <= %s'
        params.append(upto)
    return where, params


def rows_to_check(conn: Connection, empresa: str, bucket: str, *, after: str | None = None,
                  upto: str | None = None) -> list[CheckRow]:
    """The company's rows whose key is in the slice ``(after, upto]`` (default: all)."""
    where, params = _key_range("s3_key", after, upto)
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT {_CHECK_COLUMNS}
                FROM {TABLE} WHERE empresa = %s AND s3_bucket = %s{where}""",
            (empresa, bucket, *params),
        )
        return [CheckRow(*row) for row in cur.fetchall()]


def requeue(conn: Connection, ids: Sequence[int], reason: str) -> None:
    """Back to ``pending`` (the next upload repairs them), saying why."""
    if not ids:
        return
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE {TABLE} SET upload_status = 'pending', last_error = %s, updated_at = now()
                WHERE id = ANY(%s)""",
            (reason, list(ids)),
        )


def row_for_key(conn: Connection, empresa: str, bucket: str, key: str) -> CheckRow | None:
    """The registry row at one S3 key (what a review compares with its question)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT {_CHECK_COLUMNS} FROM {TABLE} "
                    "WHERE empresa = %s AND s3_bucket = %s AND s3_key = %s",
                    (empresa, bucket, key))
        row = cur.fetchone()
    return CheckRow(*row) if row else None


SUPERSEDED = "superseded: the local file differs from the object kept in the bucket"
"""``last_error`` of a row whose local file a human reported as superseded."""


def keep_bucket_object(conn: Connection, row_id: int, *, expected_hash: str | None,
                       expected_size: int | None, size: int, file_hash: str,
                       superseded: bool, review: dict[str, Any]) -> bool:
    """A human kept the object in the bucket: the row becomes ``pre_existing`` with the
    object's size and SHA-256 (later checks compare with the object, the upload never
    sends the local file); the local file's hash and size go to ``metadata.review``.

    ``superseded`` also says so in ``last_error`` (:data:`SUPERSEDED`) and
    ``metadata.review.local_file_superseded``. Only applied while the row still holds
    ``expected_hash`` / ``expected_size`` (what the question showed); returns whether it
    was."""
    note = {**review, "local_file_superseded": superseded}
    local = {"sha256": expected_hash, "size": expected_size}
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE {TABLE}
                SET upload_status = 'pre_existing', file_size = %s, file_hash = %s,
                    last_error = %s,
                    -- a second review keeps what the first one recorded of the local file
                    metadata = metadata || jsonb_build_object('review', %s::jsonb
                        || jsonb_build_object('local_file', COALESCE(
                               metadata -> 'review' -> 'local_file', %s::jsonb))),
                    updated_at = now()
                WHERE id = %s AND file_hash IS NOT DISTINCT FROM %s
                  AND file_size IS NOT DISTINCT FROM %s""",
            (size, file_hash, SUPERSEDED if superseded else None, Jsonb(note), Jsonb(local),
             row_id, expected_hash, expected_size),
        )
        return cur.rowcount == 1


def record_replaced(conn: Connection, row_id: int, *, expected_hash: str,
                    expected_size: int, run_id: str, review: dict[str, Any]) -> bool:
    """A human had the local file written over a different object at its key: the row is
    ``uploaded`` (by ``run_id``), the replaced object described in ``metadata.review``.
    Only while the row still holds ``expected_hash`` / ``expected_size``; returns whether
    it did."""
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE {TABLE}
                SET upload_status = 'uploaded', last_error = NULL, uploaded_at = now(),
                    attempts = attempts + 1, last_run_id = %s,
                    metadata = metadata || jsonb_build_object('review', %s::jsonb),
                    updated_at = now()
                WHERE id = %s AND file_hash = %s AND file_size = %s""",
            (run_id, Jsonb(review), row_id, expected_hash, expected_size),
        )
        return cur.rowcount == 1


def rejected_local_file(conn: Connection, row_id: int) -> str | None:
    """The local file of a row whose object a human kept over it (the file a review
    rejected), or ``None``."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT local_path FROM {TABLE} WHERE id = %s AND {KEPT_OVER_LOCAL}",
                    (row_id,))
        row = cur.fetchone()
    return row[0] if row else None


def delete_bucket_row(conn: Connection, row_id: int) -> bool:
    """A human says the object of a row registered from the bucket (or kept over its
    local file by a review) was removed on purpose: its row goes (never a row whose local
    file is what it registers). Returns whether it did."""
    with conn.cursor() as cur:
        cur.execute(f"""WITH gone AS (
                            DELETE FROM {TABLE} WHERE id = %s
                              AND (local_path IS NULL OR {KEPT_OVER_LOCAL})
                            RETURNING empresa, s3_bucket, filename),
                        unmarked AS ({_unmark("gone")})
                        SELECT count(*) FROM gone""", (row_id,))
        gone: int = one(cur)[0]
        return gone == 1


def keys(conn: Connection, empresa: str, bucket: str, *, after: str | None = None,
         upto: str | None = None) -> set[str]:
    """Every key in the slice ``(after, upto]`` (default: all) the registry accounts for:
    each row's key, and the key a moving row's object may still have (:func:`follow_sgc`)."""
    rows, row_params = _key_range("s3_key", after, upto)
    moving, moving_params = _key_range("moving_from", after, upto)
    with conn.cursor() as cur:
        cur.execute(f"""SELECT s3_key FROM {TABLE} WHERE s3_bucket = %s AND empresa = %s{rows}
                        UNION ALL
                        SELECT moving_from FROM {TABLE}
                        WHERE s3_bucket = %s AND empresa = %s AND moving_from IS NOT NULL
                        {moving}""",
                    (bucket, empresa, *row_params, bucket, empresa, *moving_params))
        return {key for (key,) in cur}


# --------------------------------------------------------------------------- one folder per request

def follow_sgc(conn: Connection, empresa: str, bucket: str, table: sql.Composable, *,
               radicados: sql.Composable | None = None) -> int:
    """A request's files follow its SGC: rows of a request (``numero_radicado``) whose folder
    is not the one of the SGC its table row has now (filed under ``sin_sgc/`` before the SGC
    was learned, or under an SGC a later scrape corrected) take that folder: new ``s3_key``
    (built by :func:`extractorov.storage.refiled_key`), ``s3_url`` and
    ``numero_reclamo_sgc``, and ``moving_from`` = the key their object may have (the upload
    moves it: one folder per request). ``radicados``: a query of the requests to look at
    (default: all). A file whose new key is already registered stays where it is
    (reconcile asks about the split). In the caller's transaction; returns how many rows
    were refiled."""
    from extractorov.storage import refiled_key

    with conn.cursor() as cur:
        if radicados is None:
            cur.execute(sql.SQL(
                """SELECT r.id, r.s3_key, t.numero_reclamo_sgc FROM {registry} r
                   JOIN {table} t ON t.numero_radicado = r.numero_radicado
                   WHERE r.empresa = %s AND r.s3_bucket = %s AND r.numero_radicado IS NOT NULL
                     AND t.numero_reclamo_sgc IS NOT NULL
                     AND r.numero_reclamo_sgc IS DISTINCT FROM t.numero_reclamo_sgc"""
            ).format(registry=sql.SQL(TABLE), table=table), (empresa, bucket))
        else:
            # Driven by the requests asked about: a probe of the table and of the registry
            # per request (OFFSET 0 keeps each subquery a probe; as a join, the planner
            # merged the batch with every request of the company's history, a read of all
            # its registry rows at each load).
            cur.execute(sql.SQL(
                """SELECT r.id, r.s3_key, t.numero_reclamo_sgc
                   FROM (SELECT DISTINCT numero_radicado FROM ({radicados}) AS q(numero_radicado)
                         WHERE numero_radicado IS NOT NULL) AS k
                   CROSS JOIN LATERAL (SELECT t.numero_reclamo_sgc FROM {table} t
                                       WHERE t.numero_radicado = k.numero_radicado
                                         AND t.numero_reclamo_sgc IS NOT NULL
                                       OFFSET 0) AS t
                   CROSS JOIN LATERAL (SELECT r.id, r.s3_key, r.numero_reclamo_sgc
                                       FROM {registry} r
                                       WHERE r.empresa = %s AND r.s3_bucket = %s
                                         AND r.numero_radicado = k.numero_radicado
                                       OFFSET 0) AS r
                   WHERE r.numero_reclamo_sgc IS DISTINCT FROM t.numero_reclamo_sgc"""
            ).format(registry=sql.SQL(TABLE), table=table, radicados=radicados),
                (empresa, bucket))
        moves: list[tuple[int, str, str, str]] = []
        for row_id, key, sgc in cur.fetchall():
            new = refiled_key(key, sgc)
            if new is not None:
                moves.append((row_id, key, new, sgc))
        if not moves:
            return 0
        cur.execute(
            f"""UPDATE {TABLE} r
                SET s3_key = m.new_key, s3_url = 's3://' || r.s3_bucket || '/' || m.new_key,
                    numero_reclamo_sgc = m.sgc,
                    moving_from = CASE WHEN COALESCE(r.moving_from, m.old_key) = m.new_key
                                       THEN NULL ELSE COALESCE(r.moving_from, m.old_key) END,
                    metadata = r.metadata || jsonb_build_object('refiled_from', m.old_key),
                    updated_at = now()
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[])
                     AS m(id, old_key, new_key, sgc)
                WHERE r.id = m.id AND NOT EXISTS (SELECT FROM {TABLE} o
                    WHERE o.s3_bucket = r.s3_bucket AND o.s3_key = m.new_key)""",
            ([m[0] for m in moves], [m[1] for m in moves], [m[2] for m in moves],
             [m[3] for m in moves]))
        return cur.rowcount


def split_requests(conn: Connection, empresa: str, bucket: str
                   ) -> list[tuple[str, list[str]]]:
    """Requests whose files are not all in one folder after the moves were tried:
    ``(numero_radicado, keys still elsewhere)`` — rows still moving (a move that could not
    be made) or filed in two folders."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT numero_radicado,
                       CASE WHEN count(DISTINCT COALESCE(numero_reclamo_sgc, '')) > 1
                            THEN array_agg(s3_key ORDER BY id)
                            ELSE array_agg(moving_from ORDER BY id)
                                 FILTER (WHERE moving_from IS NOT NULL) END
                FROM {TABLE} WHERE empresa = %s AND s3_bucket = %s
                  AND numero_radicado IS NOT NULL
                GROUP BY numero_radicado
                HAVING count(*) FILTER (WHERE moving_from IS NOT NULL) > 0
                    OR count(DISTINCT COALESCE(numero_reclamo_sgc, '')) > 1
                ORDER BY numero_radicado""",
            (empresa, bucket))
        return [(radicado, list(keys or [])) for radicado, keys in cur.fetchall()]


@dataclass(frozen=True, slots=True)
class MovingFile:
    """A registry row whose object follows its request to another folder."""

    id: int
    s3_key: str
    """Where the object goes (the row's key)."""
    moving_from: str
    """Where it may still be."""
    upload_status: str
    file_hash: str | None
    file_size: int | None
    has_local_copy: bool
    numero_reclamo_sgc: str | None = None
    """The SGC of its new folder (the object's ``numero-reclamo-sgc`` metadata)."""


def moving_files(conn: Connection, empresa: str, bucket: str) -> list[MovingFile]:
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT id, s3_key, moving_from, upload_status, file_hash, file_size,
                       local_path IS NOT NULL AND NOT COALESCE({KEPT_OVER_LOCAL}, false),
                       numero_reclamo_sgc
                FROM {TABLE} WHERE empresa = %s AND s3_bucket = %s AND moving_from IS NOT NULL
                ORDER BY id""",
            (empresa, bucket))
        return [MovingFile(*row) for row in cur.fetchall()]


@dataclass(frozen=True)
class MoveResult:
    """What happened to one moving row."""

    id: int
    outcome: str
    """``moved`` (its object is at the new key; the old one deleted), ``nothing`` (there
    was no object at the old key: the row's own upload sends the file, ``requeue``),
    ``error`` (the row keeps moving; ``error`` says why)."""
    error: str | None = None
    requeue: bool = False
    retryable: bool = False
    file_hash: str | None = None
    """The SHA-256 of a row that did not know it, learned from the object it moved."""


def record_moves(conn: Connection, results: Sequence[MoveResult], run_id: str) -> None:
    """Write a batch of move outcomes (one statement)."""
    if not results:
        return
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE {TABLE} AS r
                SET moving_from = CASE WHEN u.outcome = 'error' THEN r.moving_from END,
                    moved_run_id = CASE WHEN u.outcome = 'moved' THEN %s
                                        ELSE r.moved_run_id END,
                    -- Every key its object left (a versioned bucket keeps the old versions
                    -- there): a removal of its request deletes them too.
                    metadata = CASE WHEN u.outcome = 'moved' AND r.moving_from IS NOT NULL
                                    THEN r.metadata || jsonb_build_object('moved_from',
                                         COALESCE(r.metadata -> 'moved_from', '[]'::jsonb)
                                         || to_jsonb(r.moving_from))
                                    ELSE r.metadata END,
                    upload_status = CASE WHEN u.requeue THEN 'pending'
                                         ELSE r.upload_status END,
                    last_error = CASE WHEN u.outcome = 'error' THEN u.error
                                      WHEN u.requeue THEN NULL ELSE r.last_error END,
                    file_hash = COALESCE(r.file_hash, u.file_hash),
                    updated_at = now()
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::boolean[], %s::text[])
                     AS u(id, outcome, error, requeue, file_hash)
                WHERE r.id = u.id""",
            (run_id, [r.id for r in results], [r.outcome for r in results],
             [r.error for r in results], [r.requeue for r in results],
             [r.file_hash for r in results]))


@dataclass(frozen=True)
class FoundObject:
    """An object found in the bucket with no registry row (registered ``pre_existing``)."""

    filename: str
    s3_key: str
    s3_url: str
    numero_reclamo_sgc: str | None
    file_size: int
    file_type: str | None
    content_type: str | None
    file_hash: str | None
    uploaded_at: datetime | None
    metadata: dict[str, Any]
    numero_radicado: str | None = None
    """The request of a ``sin_sgc/{numero_radicado}/`` folder (an SGC folder names none)."""


def register_found(conn: Connection, empresa: str, bucket: str, found: FoundObject) -> None:
    with conn.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {TABLE}
                (filename, s3_bucket, s3_key, s3_url, numero_reclamo_sgc, empresa, file_size,
                 file_type, content_type, file_hash, upload_status, upload_source,
                 uploaded_at, metadata, numero_radicado)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pre_existing',
                        'pre_existing', %s, %s, %s)
                ON CONFLICT (s3_bucket, s3_key) DO NOTHING""",
            (found.filename, bucket, found.s3_key, found.s3_url, found.numero_reclamo_sgc,
             empresa, found.file_size, found.file_type, found.content_type, found.file_hash,
             found.uploaded_at, Jsonb(found.metadata), found.numero_radicado),
        )


def registered_names(conn: Connection, empresa: str, bucket: str,
                     names: Sequence[str]) -> set[str]:
    """Which of ``names`` have a registry row."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT filename FROM {TABLE} WHERE empresa = %s AND s3_bucket = %s "
                    "AND filename = ANY(%s)", (empresa, bucket, list(names)))
        return {name for (name,) in cur}


def request_jsons_of(conn: Connection, empresa: str, bucket: str,
                     sgcs: Iterable[str]) -> list[tuple[str, str | None]]:
    """``(filename, numero_reclamo_sgc)`` of the registered request JSONs whose name starts
    as one with one of these SGC parts (``{sgc}_data_…``, ``pqr_data_{sgc}_…``: a superset,
    the caller parses the names) or whose ``numero_reclamo_sgc`` is one of them."""
    sgcs = sorted(set(sgcs))
    patterns: list[str] = []
    for sgc in sgcs:
        bare = sgc.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        patterns += [f"{bare}\\_data\\_%", f"pqr\\_data\\_{bare}\\_%"]
    with conn.cursor() as cur:
        cur.execute(f"""SELECT filename, numero_reclamo_sgc FROM {TABLE}
                        WHERE empresa = %s AND s3_bucket = %s AND file_type = 'json'
                          AND (filename LIKE ANY(%s) OR numero_reclamo_sgc = ANY(%s))""",
                    (empresa, bucket, patterns, sgcs))
        return cur.fetchall()


def requests_without_source(conn: Connection, empresa: str, table: sql.Composable,
                            limit: int = 1000) -> list[tuple[str, str | None]]:
    """(numero_radicado, archivo_origen) of requests in ``table`` whose JSON is not
    registered."""
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                """SELECT numero_radicado, archivo_origen FROM {table} t
                   WHERE NOT EXISTS (SELECT 1 FROM {registry} r
                                     WHERE r.empresa = %s AND r.filename = t.archivo_origen)
                   ORDER BY numero_radicado LIMIT %s"""
            ).format(table=table, registry=sql.SQL(TABLE)),
            (empresa, limit),
        )
        return cur.fetchall()


# --------------------------------------------------------------------------- stats


def totals_by_group(conn: Connection, empresa: str | None = None,
                    ) -> list[tuple[str, str, str, int, int]]:
    """(empresa, upload_status, upload_source, files, bytes) over the whole registry."""
    where, params = ("WHERE empresa = %s", (empresa,)) if empresa else ("", ())
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT empresa, upload_status, upload_source, count(*),
                       COALESCE(sum(file_size), 0)
                FROM {TABLE} {where}
                GROUP BY empresa, upload_status, upload_source
                ORDER BY empresa, upload_status, upload_source""",
            params,
        )
        return [(e, st, src, n, int(size)) for e, st, src, n, size in cur.fetchall()]


def uploads_per_day(conn: Connection, empresa: str, days: int = 30) -> list[tuple[str, int, int]]:
    """(day, files, bytes) uploaded per Bogotá calendar day over the last ``days`` days."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT to_char(date_trunc('day', uploaded_at AT TIME ZONE 'America/Bogota'),
                               'YYYY-MM-DD') AS day,
                       count(*), COALESCE(sum(file_size), 0)
                FROM {TABLE}
                WHERE empresa = %s AND upload_status = 'uploaded'
                  AND uploaded_at >= now() - make_interval(days => %s)
                GROUP BY 1 ORDER BY 1""",
            (empresa, days),
        )
        return [(day, count, int(size)) for day, count, size in cur]


def pre_existing_since(conn: Connection, empresa: str, days: int = 30) -> int:
    """Files found already in S3 over the last ``days`` days (each cost a HEAD request)."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT count(*) FROM {TABLE}
                WHERE empresa = %s AND upload_status = 'pre_existing'
                  AND uploaded_at >= now() - make_interval(days => %s)""",
            (empresa, days),
        )
        return int(one(cur)[0])
