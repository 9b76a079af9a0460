"""Instruments shared by the benchmark steps: when the pipeline logged progress, how many
S3 requests a client sent, how many rows PostgreSQL wrote; plus the stderr log line.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import time
from collections import Counter
from typing import Any


def log(message: str) -> None:
    """One line of progress on stderr (stdout is kept for the results table)."""
    print(message, file=sys.stderr, flush=True)


class ProgressLog(logging.Handler):
    """Times of the pipeline's progress lines (``label: done / total (rate, left)``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.times: list[float] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if " / " in message:
            self.times.append(time.monotonic())
            self.lines.append(message)

    def gap(self, started: float, ended: float) -> dict[str, Any]:
        """Progress lines between ``started`` and ``ended`` and the longest silence."""
        inside = [t for t in self.times if started <= t <= ended]
        marks = [started, *inside, ended]
        return {"progress_lines": len(inside),
                "max_silent_seconds": round(max(b - a for a, b in itertools.pairwise(marks)), 3)}


class RequestCounter:
    """Counts every HTTP attempt a boto3 client sends, by S3 operation (botocore hook)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send.s3", self._on_send)
        return client

    def _on_send(self, event_name: str = "", **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self.counts[operation] += 1

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self.counts = dict(self.counts), Counter()
        return counts


def table_writes(dsn: str) -> int:
    """Rows inserted + updated + deleted in schema data_general so far (pg_stat counters).

    Each pipeline step closes its connection, which flushes its counters; poll until
    two reads agree so a backend still exiting is counted.
    """
    return settled_count(dsn, "SELECT COALESCE(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
                              "FROM pg_stat_user_tables WHERE schemaname = 'data_general'")


def settled_count(dsn: str, query: str) -> int:
    """A pg_stat counter (``query`` gives one number) once two reads agree: a step's process
    or connection that just ended flushes its counters a moment later."""
    import psycopg

    last = None
    for _ in range(40):
        with psycopg.connect(dsn, autocommit=True) as conn:
            value = int(conn.execute(query).fetchone()[0])
        if value == last:
            return value
        last = value
        time.sleep(0.25)
    return int(last or 0)


def sql(dsn: str, *statements: str, autocommit: bool = False) -> list[Any]:
    """Run ``statements`` in one connection; each gives its rows, or its row count."""
    import psycopg

    out = []
    with psycopg.connect(dsn, autocommit=autocommit) as conn:
        for statement in statements:
            cur = conn.execute(statement)
            out.append(cur.fetchall() if cur.description else cur.rowcount)
    return out



class StatementCounter:
    """Counts what a process sends to PostgreSQL through psycopg, by kind.

    ``round_trips``: each ``execute``, ``executemany``, ``COPY`` and ``commit``
    (an ``executemany`` is pipelined: one round trip however many rows);
    ``statements``: each ``execute`` and ``COPY`` plus one per ``executemany`` row.
    Installed in a benchmark child process, it sees every connection, the
    ``PostgresHook`` ones included.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _add(self, **kinds: int) -> None:
        with self._lock:
            self.counts.update(kinds)

    def install(self) -> StatementCounter:
        import psycopg

        counter = self
        execute, executemany, copy = (psycopg.Cursor.execute, psycopg.Cursor.executemany,
                                      psycopg.Cursor.copy)
        commit = psycopg.Connection.commit

        def counted_execute(cur: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
            counter._add(execute=1)
            return execute(cur, query, params, **kwargs)

        def counted_executemany(cur: Any, query: Any, params_seq: Any, **kwargs: Any) -> Any:
            params_seq = list(params_seq)
            counter._add(executemany=1, executemany_rows=len(params_seq))
            return executemany(cur, query, params_seq, **kwargs)

        def counted_copy(cur: Any, statement: Any, params: Any = None, **kwargs: Any) -> Any:
            counter._add(copy=1)
            return copy(cur, statement, params, **kwargs)

        def counted_commit(conn: Any) -> Any:
            counter._add(commit=1)
            return commit(conn)

        psycopg.Cursor.execute = counted_execute
        psycopg.Cursor.executemany = counted_executemany
        psycopg.Cursor.copy = counted_copy
        psycopg.Connection.commit = counted_commit
        return self

    def take(self) -> dict[str, int]:
        with self._lock:
            c, self.counts = self.counts, Counter()
        return {"round_trips": c["execute"] + c["executemany"] + c["copy"] + c["commit"],
                "statements": c["execute"] + c["copy"] + c["executemany_rows"],
                **{k: c[k] for k in ("execute", "executemany", "executemany_rows", "copy",
                                     "commit")}}
