"""The warehouse schema and the bulk upsert of request records.

The pipeline creates what it needs itself, idempotently, from the versioned
SQL files in ``sql/``: ``001_base.sql`` (schema, registry, runs) and
``company_table.sql`` once per registered company. Applied versions are
recorded in ``data_general.schema_migrations``; an advisory lock makes two
tasks starting at once apply them only once.

Company names never reach SQL as text: table names come from
:mod:`extractorov.companies` and are quoted with ``psycopg.sql.Identifier``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from psycopg import Connection, Cursor, sql

from extractorov.companies import COMPANIES, Company
from extractorov.records import Record, table_columns
from extractorov.settings import SCHEMA
from extractorov.sqlrow import one

_SCHEMA_LOCK = 0x0E0C_5C4E  # advisory lock key for schema migrations
_BASE_MIGRATION = re.compile(r"[0-9]{3}_[a-z0-9_]+\.sql\Z")
_COMPANY_MIGRATION = re.compile(r"company_[0-9]{3}_[a-z0-9_]+\.sql\Z")
COMPANY_TABLE = "company_table.sql"


def _migrations() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The folder ``sql/`` is the list: adding a migration is adding its file.

    ``NNN_*.sql`` run once; ``company_table.sql`` then ``company_NNN_*.sql`` run once
    per company table. Any other ``.sql`` file there is an error, not silently skipped.
    """
    names = sorted(entry.name for entry in resources.files("extractorov").joinpath("sql")
                   .iterdir() if entry.name.endswith(".sql"))
    base = tuple(n for n in names if _BASE_MIGRATION.match(n))
    company = (COMPANY_TABLE, *(n for n in names if _COMPANY_MIGRATION.match(n)))
    stray = set(names) - set(base) - set(company)
    if stray:
        raise RuntimeError(f"sql/ holds files that are no migration: {sorted(stray)}; name "
                           "them NNN_*.sql (once) or company_NNN_*.sql (per company table)")
    return base, company


BASE_MIGRATIONS, COMPANY_MIGRATIONS = _migrations()
"""Company migrations are applied once per company table, in order (``{table}``
filled in from the registry)."""


def _sql_file(name: str) -> str:
    return resources.files("extractorov").joinpath("sql", name).read_text(encoding="utf-8")


def ensure_schema(conn: Connection, companies: Iterable[Company] | None = None) -> list[str]:
    """Apply every migration not yet applied; return what was applied now.

    Safe to call at the start of every task: after the first run it costs
    one small query.
    """
    companies = list(COMPANIES.values() if companies is None else companies)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        cur.execute(
            f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations (
                    version text NOT NULL,
                    target text NOT NULL DEFAULT '',
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (version, target))"""
        )
        cur.execute(f"SELECT version, target FROM {SCHEMA}.schema_migrations")
        applied = {(v, t) for v, t in cur.fetchall()}
        done: list[str] = []
        for name in BASE_MIGRATIONS:
            if (name, "") not in applied:
                cur.execute(_sql_file(name))
                _record(cur, name, "")
                done.append(name)
        for company in companies:
            for name in COMPANY_MIGRATIONS:
                if (name, company.table) not in applied:
                    cur.execute(company_table_ddl(company, name))
                    _record(cur, name, company.table)
                    done.append(f"{name}:{company.table}")
    return done


def _record(cur: Cursor, version: str, target: str) -> None:
    cur.execute(
        f"INSERT INTO {SCHEMA}.schema_migrations (version, target) VALUES (%s, %s)",
        (version, target),
    )


def company_table_ddl(company: Company, migration: str = COMPANY_MIGRATIONS[0]) -> sql.Composed:
    extra = sql.SQL("").join(
        sql.SQL("{} text,\n    ").format(sql.Identifier(name)) for name in company.extra_fields
    )
    return sql.SQL(_sql_file(migration)).format(
        table=sql.Identifier(company.table),
        extra_columns=extra,
        sgc_index=sql.Identifier(f"{company.table}_numero_reclamo_sgc"),
    )


def load_columns(company: Company) -> tuple[str, ...]:
    """Columns the loader writes, in COPY order: one place knows them."""
    return (*table_columns(company), "extras", "hash_registro", "hash_contenido", "archivo_origen")


@dataclass(frozen=True)
class LoadOutcome:
    """How each record of a batch ended: the counts operators read."""

    inserted: int
    updated: int
    duplicates: int
    stale: int = 0
    """Older extraction with other content than the row: not applied (newest wins)."""

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.duplicates + self.stale


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_COPY_SPECIAL = re.compile(r"[\\\n\r\t]")
_COPY_OPTIONS = "(FORMAT text, ENCODING 'UTF8')"


def _copy_field(value: Any) -> str:
    """One field in PostgreSQL's COPY text format (``\\N`` for NULL, backslash escapes)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        text = value
    elif isinstance(value, datetime):
        return value.isoformat()
    elif isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    elif isinstance(value, dict):  # the jsonb column
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        raise TypeError(f"no COPY text form for a {type(value).__name__}")
    return text.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(text) else text


def _text_array(items: Iterable[str]) -> str:
    """A ``text[]`` literal with every element quoted (any file name is safe in it)."""
    quoted = ('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return "{" + ",".join(quoted) + "}"


def stage_row(company: Company, record: Record) -> str:
    """One row for the company table in COPY text format (:func:`load_columns` order,
    ``\\n``-terminated). ``extract`` writes these while it parses each JSON, so
    ``load_db`` streams them into ``COPY`` without Python work per record."""
    values = record.values
    fields = [_copy_field(values.get(name)) for name in table_columns(company)]
    fields += (_copy_field(record.extras), _copy_field(record.hash_registro),
               _copy_field(record.hash_contenido), _copy_field(record.archivo_origen))
    return "\t".join(fields) + "\n"


def key_row(numero_radicado: str, files: Iterable[str]) -> str:
    """A record's key line: its ``numero_radicado`` and request JSON files (COPY text)."""
    return f"{_copy_field(numero_radicado)}\t{_copy_field(_text_array(files))}\n"


def stage_keys(conn: Connection, blocks: Iterable[bytes]) -> int:
    """Stream :func:`key_row` lines into the temporary table ``ov_keys``; return its rows.

    Narrow (a key and file names a record), so it is staged first: it tells whether the
    batch can go straight into the table, and which JSON files it marks loaded
    (:data:`STAGED_FILES`). Dropped with the caller's transaction.
    """
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS ov_keys (numero_radicado text, "
                    "files text[]) ON COMMIT DROP")
        cur.execute("TRUNCATE ov_keys")
        with cur.copy(f"COPY ov_keys (numero_radicado, files) FROM STDIN {_COPY_OPTIONS}"
                      ) as copy:
            for block in blocks:
                copy.write(block)
        staged = cur.rowcount
        cur.execute("ANALYZE ov_keys")  # row counts for the plans of the joins below
    return staged


STAGED_RADICADOS = sql.SQL("SELECT numero_radicado FROM ov_keys")
"""The ``numero_radicado`` of the staged records (a subquery)."""
STAGED_FILES = sql.SQL("SELECT unnest(files) FROM ov_keys")
"""The file names of the staged records, for :func:`extractorov.registry.mark_loaded`."""


def upsert_rows(conn: Connection, company: Company, blocks: Iterable[bytes]) -> LoadOutcome:
    """Write the batch whose keys :func:`stage_keys` staged; ``blocks`` stream its
    :func:`stage_row` lines. Classify each record (see :func:`upsert_staged`).

    The table is locked against other writers (``SHARE ROW EXCLUSIVE``: readers go on)
    for the caller's transaction. When no staged radicado is in the table and none
    repeats (a first backfill, most mornings), every record is an insert: the rows are
    copied straight into the table. Otherwise they are staged and upserted. Both give
    the same rows and counts; a row count different from the staged keys raises
    :class:`RowCountMismatch` (the caller rolls back).
    """
    table = sql.Identifier(SCHEMA, company.table)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM ov_keys")
        expected = one(cur)[0]
        cur.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(table))
        cur.execute(sql.SQL(_KNOWN_OR_REPEATED).format(table=table))
        if not one(cur)[0]:
            column_list = sql.SQL(", ").join(map(sql.Identifier, load_columns(company)))
            with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN " + _COPY_OPTIONS).format(
                    table, column_list)) as copy:
                for block in blocks:
                    copy.write(block)
            if cur.rowcount != expected:
                raise RowCountMismatch(cur.rowcount, expected)
            return LoadOutcome(inserted=cur.rowcount, updated=0, duplicates=0)
    staged = stage(conn, company, blocks)
    if staged != expected:
        raise RowCountMismatch(staged, expected)
    return upsert_staged(conn, company)


class RowCountMismatch(ValueError):
    def __init__(self, rows: int, keys: int) -> None:
        super().__init__(f"{rows} rows for {keys} keys")
        self.rows, self.keys = rows, keys


_KNOWN_OR_REPEATED = """
    SELECT EXISTS (SELECT FROM ov_keys k JOIN {table} t USING (numero_radicado))
        OR EXISTS (SELECT FROM ov_keys GROUP BY numero_radicado HAVING count(*) > 1)"""


def stage(conn: Connection, company: Company, blocks: Iterable[bytes]) -> int:
    """Stream :func:`stage_row` lines (in any chunking) into the temporary table
    ``ov_stage``; return how many rows it holds. Dropped with the caller's transaction."""
    column_list = sql.SQL(", ").join(map(sql.Identifier, load_columns(company)))
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS ov_stage ON COMMIT DROP AS "
                "SELECT {columns} FROM {table} WITH NO DATA"
            ).format(columns=column_list, table=sql.Identifier(SCHEMA, company.table))
        )
        cur.execute("TRUNCATE ov_stage")
        with cur.copy(sql.SQL("COPY ov_stage ({}) FROM STDIN " + _COPY_OPTIONS)
                      .format(column_list)) as copy:
            for block in blocks:
                copy.write(block)
        return cur.rowcount


def upsert_staged(conn: Connection, company: Company) -> LoadOutcome:
    """Upsert the staged batch by ``numero_radicado`` in one statement; classify each record.

    A known radicado is only rewritten when its content hash differs and the new
    extraction is not older than the stored one; ``xmax = 0`` tells inserted rows
    from updated ones. The caller owns the transaction, so a failure leaves no
    half-written batch.

    When the batch repeats a radicado, only its newest record (by extraction time,
    then file name) is written. A batch without repeats (every manifest ``extract``
    writes) skips that sort; one hashed pass over the staged keys tells which.
    """
    columns = load_columns(company)
    table = sql.Identifier(SCHEMA, company.table)
    column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
    with conn.cursor() as cur:
        cur.execute(_STAGED_AND_REPEATS)
        staged, repeats = one(cur)
        if staged == 0:
            return LoadOutcome(0, 0, 0)
        assignments = sql.SQL(", ").join(
            sql.SQL(_KEEP_KNOWN if c in KEEP_WHEN_BLANK else "{col} = EXCLUDED.{col}").format(
                col=sql.Identifier(c))
            for c in columns
            if c != "numero_radicado"
        )
        source = _NEWEST_PER_RADICADO if repeats else _EVERY_ROW
        distinct = _COUNT_DISTINCT if repeats else sql.Literal(staged)
        # Before the upsert: what the newest-extraction guard will refuse.
        cur.execute(sql.SQL(_COUNT_STALE).format(
            table=table, source=sql.SQL(source).format(columns=column_list)))
        stale = one(cur)[0]
        cur.execute(
            sql.SQL(_UPSERT).format(table=table, columns=column_list, assignments=assignments,
                                    source=sql.SQL(source).format(columns=column_list),
                                    distinct=distinct)
        )
        inserted, updated, distinct_count = one(cur)
    return LoadOutcome(inserted=inserted, updated=updated, stale=stale,
                       duplicates=distinct_count - inserted - updated - stale)


_STAGED_AND_REPEATS = """
    SELECT (SELECT count(*) FROM ov_stage),
           EXISTS (SELECT FROM ov_stage GROUP BY numero_radicado HAVING count(*) > 1)"""


KEEP_WHEN_BLANK = ("fecha", "numero_reclamo_sgc")
"""A blank here is a page the bot could not render: a newer extraction never erases it."""
_KEEP_KNOWN = "{col} = COALESCE(EXCLUDED.{col}, t.{col})"


def known_fecha_and_sgc(conn: Connection, company: Company, radicados: list[str]
                        ) -> list[tuple[Any, str | None, str]]:
    """``(fecha, numero_reclamo_sgc, numero_radicado)`` stored for these radicados (one query)."""
    if not radicados:
        return []
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT fecha, numero_reclamo_sgc, numero_radicado FROM {table} "
                    "WHERE numero_radicado = ANY(%s)").format(
                table=sql.Identifier(SCHEMA, company.table)),
            (radicados,),
        )
        return cur.fetchall()


_EVERY_ROW = "SELECT {columns} FROM ov_stage"
_NEWEST_PER_RADICADO = """
    SELECT DISTINCT ON (numero_radicado) {columns} FROM ov_stage
    ORDER BY numero_radicado, extraction_timestamp DESC NULLS LAST, archivo_origen DESC"""
_COUNT_DISTINCT = sql.SQL("(SELECT count(DISTINCT numero_radicado) FROM ov_stage)")
_COUNT_STALE = """
    SELECT count(*) FROM ({source}) s JOIN {table} t USING (numero_radicado)
    WHERE t.hash_contenido IS DISTINCT FROM s.hash_contenido
      AND s.extraction_timestamp < t.extraction_timestamp"""
_UPSERT = """
    WITH upserted AS (
        INSERT INTO {table} AS t ({columns})
        {source}
        ON CONFLICT (numero_radicado) DO UPDATE
        SET {assignments}, updated_at = now()
        WHERE t.hash_contenido IS DISTINCT FROM EXCLUDED.hash_contenido
          AND (t.extraction_timestamp IS NULL
               OR EXCLUDED.extraction_timestamp IS NULL
               OR EXCLUDED.extraction_timestamp >= t.extraction_timestamp)
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), {distinct}
    FROM upserted
"""

