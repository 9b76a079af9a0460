"""The hourly check's registry reads at N handled files: the whole read it did before
(``rows_to_check`` of every row), one slice of 50,000 keys, and the statements that still
pass over the company server-side; and the stats page's totals. Medians of 3, every sample
shown (docs/performance.md §6).

``python -m bench.reconcile_cost --files 900000 [--dsn "host=127.0.0.1 user=postgres"]``
(a scratch database ``ovm_{files}`` is created and dropped).
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from bench import history
from extractorov import registry, warehouse
from extractorov.companies import COMPANIES

KEYS_PER_CHECK = 50_000
"""The default slice (``ov_reconcile_keys_per_check``)."""


def _timed(conn: psycopg.Connection, label: str, fn: Callable[[], object],
           reps: int = 3) -> None:
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        conn.commit()
        samples.append(time.perf_counter() - start)
    samples.sort()
    shown = ", ".join(f"{x * 1000:.0f}" for x in samples)
    print(f"{label}: median {samples[len(samples) // 2] * 1000:.0f} ms (samples {shown})",
          flush=True)


def _slice(conn: psycopg.Connection, files: int) -> tuple[str, str]:
    """A slice of the default size in the middle of the keys."""
    with conn.cursor() as cur:
        cur.execute('SELECT s3_key FROM data_general.s3_files_registry '
                    'ORDER BY s3_key COLLATE "C" OFFSET %s LIMIT 1',
                    (max(0, (files - KEYS_PER_CHECK) // 2),))
        after = cur.fetchone()[0]
        cur.execute('SELECT s3_key FROM data_general.s3_files_registry '
                    'WHERE s3_key COLLATE "C" > %s ORDER BY s3_key COLLATE "C" '
                    'OFFSET %s LIMIT 1', (after, KEYS_PER_CHECK - 1))
        upto = cur.fetchone()[0]
    conn.commit()
    return after, upto


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=900_000)
    parser.add_argument("--dsn", default="host=127.0.0.1 user=postgres")
    args = parser.parse_args()
    scratch = f"ovm_{args.files}"
    with psycopg.connect(f"{args.dsn} dbname=postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{scratch}"')
    company = COMPANIES["afinia"]
    with psycopg.connect(f"{args.dsn} dbname={scratch}") as conn:
        warehouse.ensure_schema(conn)
        conn.commit()
        start = time.perf_counter()
        files = history.fill(conn, company, "b", "oficina-virtual",
                             Path("/nonexistent/processed"), history.requests_for(args.files),
                             end=datetime(2025, 10, 31, tzinfo=UTC), keep_days=30)
        print(f"filled {files} files in {time.perf_counter() - start:.1f}s", flush=True)
        table = sql.Identifier(warehouse.SCHEMA, company.table)
        _timed(conn, "follow_sgc (all requests)",
               lambda: registry.follow_sgc(conn, "afinia", "b", table))
        _timed(conn, "split_requests", lambda: registry.split_requests(conn, "afinia", "b"))
        _timed(conn, "requests_without_source",
               lambda: registry.requests_without_source(conn, "afinia", table))
        _timed(conn, "rows_to_check whole (before slices)",
               lambda: registry.rows_to_check(conn, "afinia", "b"))
        after, upto = _slice(conn, files)
        _timed(conn, f"rows_to_check slice of {KEYS_PER_CHECK:,}",
               lambda: registry.rows_to_check(conn, "afinia", "b", after=after, upto=upto))
        _timed(conn, f"keys slice of {KEYS_PER_CHECK:,}",
               lambda: registry.keys(conn, "afinia", "b", after=after, upto=upto))
        _timed(conn, "stats totals_by_group", lambda: registry.totals_by_group(conn, "afinia"))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    with psycopg.connect(f"{args.dsn} dbname=postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


if __name__ == "__main__":
    main()
