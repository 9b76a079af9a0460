"""The per-company upload lock: two runs (the daily DAG, the hourly reconcile, a
cleared task) never upload the same company's files at once.

A PostgreSQL session advisory lock on the warehouse connection: it dies with
the session, so a killed worker never leaves it held.
"""

from __future__ import annotations

import time
import zlib

from psycopg import Connection

from extractorov.companies import Company
from extractorov.errors import UploadLockBusy

_UPLOAD_LOCK_BASE = 0x0E0C_0000


def upload_lock_key(company: Company) -> int:
    return _UPLOAD_LOCK_BASE + zlib.crc32(company.empresa.encode()) % 0xFFFF


def acquire_upload_lock(conn: Connection, company: Company, wait_seconds: float = 300.0) -> None:
    """Take the company's upload lock (a session advisory lock), waiting up to ``wait_seconds``."""
    deadline = time.monotonic() + wait_seconds
    with conn.cursor() as cur:
        while True:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (upload_lock_key(company),))
            got = cur.fetchone()[0]
            conn.commit()
            if got:
                return
            if time.monotonic() >= deadline:
                raise UploadLockBusy(
                    f"another upload for {company.empresa} has held the upload lock for over "
                    f"{wait_seconds:.0f}s; wait for it to finish (see the other running DAG "
                    "run) and clear this task to retry"
                )
            time.sleep(1.0)


def release_upload_lock(conn: Connection, company: Company) -> None:
    if conn.closed or conn.broken:
        return  # the server dropped the session, and its advisory lock with it
    conn.rollback()  # a session advisory lock survives rollback; a failed transaction would not
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s)", (upload_lock_key(company),))
    conn.commit()
