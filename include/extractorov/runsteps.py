"""Counts per run, not per try: ``data_general.run_steps``.

Each try of ``extract`` and ``load_db`` records its counts in the transaction that
commits its work (``sql/008_run_steps.sql``). So a try that runs again after its commit
(the worker died before Airflow heard of the success) finds the record and returns it
instead of doing the work again, and the run report (:func:`run_totals`) adds up the
records of the run: a retried task reports what the run did, not what its last try saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from extractorov.settings import SCHEMA

TABLE = f"{SCHEMA}.run_steps"
EXTRACT, LOAD_DB = "extract", "load_db"
RETENTION = "retention"
"""The ``retention`` task: each batch's counts, recorded with the removals it committed."""
CHECK_DATA = "check_data"
"""A ``check_data`` try whose checks all passed (not added to the run's totals): from then on
a removal on request deletes the run's loaded manifest whole; before, it rewrites it
without the request's rows and notes how many it took (``removed_after_load``), so the
run's checks still see what its load did."""
READMIT = "readmit"
"""Files an extract try moved back from ``quarantine/``: recorded as soon as moved (their
reason files are gone), added to the run's ``files_readmitted``."""


@dataclass(frozen=True)
class Recorded:
    """One try's record."""

    attempt: str
    counts: dict[str, Any]
    recorded_at: datetime


def record(conn: Connection, run_id: str, empresa: str, step: str, attempt: str,
           counts: dict[str, Any]) -> None:
    """Record a try's counts; in the caller's transaction (the one that commits the work)."""
    with conn.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {TABLE} (run_id, empresa, step, attempt, counts)
                VALUES (%s, %s, %s, %s, %s)
                ON CONFLICT (run_id, empresa, step, attempt)
                DO UPDATE SET counts = EXCLUDED.counts, recorded_at = now()""",
            (run_id, empresa, step, attempt, Jsonb(counts)))


def recorded(conn: Connection, run_id: str, empresa: str, step: str) -> list[Recorded]:
    """Every recorded try of a step of the run, oldest first."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT attempt, counts, recorded_at FROM {TABLE}
                WHERE run_id = %s AND empresa = %s AND step = %s ORDER BY recorded_at""",
            (run_id, empresa, step))
        return [Recorded(*row) for row in cur.fetchall()]


SNAPSHOT_FIELDS = frozenset({"files_found", "files_handled_before", "files_in_progress",
                             "files_waiting", "files_vanished", "files_quarantine_failed",
                             "files_reason_lost", "local_held_by_question",
                             "manifests_unloaded", "quarantine_old"})
"""What the landing folder looked like: the latest try's, never a sum."""


MANIFEST_FIELDS = frozenset({"records", "records_found", "records_superseded",
                             "records_incomplete", "incomplete_fields"})
"""What an extract try's manifest holds. A later try that scans again reads the JSONs of an
earlier try's manifest no load_db loaded (registered, not loaded) into its own: the
earlier try's records are counted only if a load_db loaded its manifest."""


def run_totals(conn: Connection, run_id: str, empresa: str) -> dict[str, dict[str, Any]]:
    """The run's counts per step: tries added up (what each did), folder snapshots from
    the latest try, ``seconds`` added up; an extract try's records only if its manifest
    was loaded or it is the latest (:data:`MANIFEST_FIELDS`). ``{}`` for a step with no
    record."""
    totals: dict[str, dict[str, Any]] = {}
    loaded = {one.attempt for one in recorded(conn, run_id, empresa, LOAD_DB)}
    for step in (EXTRACT, LOAD_DB, RETENTION):
        tries = recorded(conn, run_id, empresa, step)
        if not tries:
            continue
        merged: dict[str, Any] = {}
        for index, one in enumerate(tries):
            superseded = (step == EXTRACT and index < len(tries) - 1
                          and one.attempt not in loaded)
            for key, value in one.counts.items():
                if superseded and key in MANIFEST_FIELDS:
                    continue
                if key in SNAPSHOT_FIELDS or isinstance(value, bool):
                    merged[key] = value
                elif isinstance(value, int | float):
                    merged[key] = merged.get(key, 0) + value
                elif isinstance(value, dict):
                    into = merged.setdefault(key, {})
                    for name, n in value.items():
                        if isinstance(n, int) and not isinstance(n, bool):
                            into[name] = into.get(name, 0) + n
                else:
                    merged[key] = value
        merged["tries"] = [one.attempt for one in tries]
        totals[step] = merged
    readmitted = sum(int(one.counts.get("files_readmitted") or 0)
                     for one in recorded(conn, run_id, empresa, READMIT))
    if readmitted or EXTRACT in totals:
        totals.setdefault(EXTRACT, {"tries": []})["files_readmitted"] = readmitted
    return totals
