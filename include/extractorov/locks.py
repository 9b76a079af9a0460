"""One writer per company: the exclusion every step that changes a company's data holds.

``extract`` (with re-admission), ``load_db``, ``upload_s3``, a reconcile check with its
repairs and uploads, applying a review answer and removing a request
(:mod:`extractorov.removal`) each change a company's landing folder, registry, table or
bucket. Each holds :func:`company_writer` for the whole
change, so two of them never interleave: a second run of the same company (a backfill
next to a manual trigger: Airflow's ``max_active_runs`` does not count a backfill's
runs) waits for the first to finish its step.

The exclusion is a PostgreSQL session advisory lock on the warehouse connection: it
dies with the session, so a killed worker never leaves it held, and it holds whatever
runs the code (Airflow, ``dag.test()``, a benchmark, a script). While held, the
session's ``application_name`` names the holder, so a waiting step can say who it
waits for (``pg_stat_activity``).

Waiting is Airflow's business, not this module's: the company DAG's writing tasks and
the reconcile task of the company share the Airflow pool ``ov_{empresa}_writer`` of
one slot (:data:`extractorov.companies.Company.writer_pool`), so the scheduler runs
one at a time and a waiting task holds no worker slot. When the lock is held anyway
(the pool is missing or larger, a writer outside Airflow), the step raises
:class:`~extractorov.errors.CompanyBusy`, which a task turns into a reschedule (no
slot held, no try used, never a failure for waiting).
"""

from __future__ import annotations

import contextlib
import time
import zlib
from collections.abc import Iterator

from psycopg import Connection

from extractorov.companies import Company
from extractorov.errors import CompanyBusy
from extractorov.sqlrow import one

_WRITER_LOCK_BASE = 0x0E0C_0000
APPLICATION_NAME = "extractorov"
"""``application_name`` of a warehouse session that holds no company (PostgreSQL's
``pg_stat_activity``)."""
HOLDER_PREFIX = "ov-writer "
DEFAULT_WAIT_SECONDS = 300.0
"""How long a caller outside Airflow waits for the company by default."""
_POLL_SECONDS = 0.5


def writer_lock_key(company: Company) -> int:
    """The advisory lock key of a company (the same key earlier versions used for the
    upload lock, so a mixed deployment during an upgrade still excludes)."""
    return _WRITER_LOCK_BASE + zlib.crc32(company.empresa.encode()) % 0xFFFF


def try_acquire(conn: Connection, company: Company, holder: str) -> bool:
    """Take the company's exclusion if it is free; never waits."""
    name = (HOLDER_PREFIX + holder)[:63]  # NAMEDATALEN - 1; the key names the company
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", (writer_lock_key(company),))
        got = bool(one(cur)[0])
        if got:
            cur.execute("SELECT set_config('application_name', %s, false)", (name,))
    conn.commit()
    return got


def holder_of(conn: Connection, company: Company) -> str:
    """Who holds the company now, as its session names itself (for a waiting message)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT a.application_name, a.backend_start
               FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0
                 AND l.objid = %s AND l.objsubid = 1 AND l.pid <> pg_backend_pid()
               LIMIT 1""",
            (writer_lock_key(company),))
        row = cur.fetchone()
    conn.commit()
    if row is None:
        return "nobody (it was just released)"
    name, since = row
    if name and name.startswith(HOLDER_PREFIX):
        who = name.removeprefix(HOLDER_PREFIX)
    else:
        who = f"a session named {name!r}" if name else "a session of another tool"
    return f"{who} (its session started {since:%Y-%m-%d %H:%M:%S %Z})" if since else who


def acquire(conn: Connection, company: Company, holder: str, *,
            wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
    """Take the company's exclusion, waiting up to ``wait_seconds``; else
    :class:`CompanyBusy` naming the holder. ``holder`` says who takes it (step and run)."""
    deadline = time.monotonic() + wait_seconds
    while not try_acquire(conn, company, holder):
        if time.monotonic() >= deadline:
            raise CompanyBusy(company.empresa, holder_of(conn, company), holder)
        time.sleep(_POLL_SECONDS)


def release(conn: Connection, company: Company) -> None:
    """Give the exclusion back (a rollback first: a failed transaction could not unlock)."""
    if conn.closed or conn.broken:
        return  # the server dropped the session, and its advisory lock with it
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s)", (writer_lock_key(company),))
        cur.execute("SELECT set_config('application_name', %s, false)", (APPLICATION_NAME,))
    conn.commit()


@contextlib.contextmanager
def company_writer(conn: Connection, company: Company, holder: str, *,
                   wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Iterator[None]:
    """Hold the company's exclusion for the block (see the module docstring)."""
    acquire(conn, company, holder, wait_seconds=wait_seconds)
    try:
        yield
    finally:
        release(conn, company)


def holds(conn: Connection, company: Company) -> bool:
    """Whether this session holds the company's exclusion (for assertions in callers that
    must run inside it)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted
                              AND classid = 0 AND objid = %s AND objsubid = 1
                              AND pid = pg_backend_pid())""",
            (writer_lock_key(company),))
        return bool(one(cur)[0])


__all__ = [
    "DEFAULT_WAIT_SECONDS",
    "acquire",
    "company_writer",
    "holder_of",
    "holds",
    "release",
    "try_acquire",
    "writer_lock_key",
]
