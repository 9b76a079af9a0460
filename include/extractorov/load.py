"""Load: a run manifest's requests into the company table, in one transaction.

A plain function (no Airflow here); idempotent, and it returns a small summary of counts
(safe for XCom).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, fields
from pathlib import Path

import psycopg
from psycopg import Connection, sql

from extractorov import registry, runsteps, warehouse
from extractorov.companies import Company
from extractorov.errors import LoadFailed
from extractorov.locks import DEFAULT_WAIT_SECONDS, company_writer
from extractorov.manifest import Manifest, read_manifest
from extractorov.progress import Progress
from extractorov.settings import SCHEMA
from extractorov.summaries import LoadSummary

log = logging.getLogger(__name__)

_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
"""Connection (08), serialization/deadlock (40), resources (53), operator intervention or
shutdown (57), system (58), and lock not available (55P03): may pass by themselves."""


def _transient(exc: psycopg.Error) -> bool:
    if exc.sqlstate is None:  # no answer from the server: the connection broke
        return True
    return exc.sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES or exc.sqlstate == "55P03"


def load(conn: Connection, company: Company, manifest: str | Path, *, run_id: str = "",
         wait_seconds: float = DEFAULT_WAIT_SECONDS) -> LoadSummary:
    """Upsert the manifest's records and mark their JSON files loaded, in one transaction,
    holding the company's writer exclusion.

    The keys and rows ``extract`` wrote stream into ``COPY`` as they are on disk (no
    parsing here); classification and both writes are SQL over the staged batch, and
    a batch of new requests only is copied straight into the table.
    """
    started = time.monotonic()
    warehouse.ensure_schema(conn, [company])
    conn.commit()
    manifest_ = read_manifest(Path(manifest), company)
    header = manifest_.header
    # The run and the extract try that wrote the manifest name this load's record.
    owner, attempt = header.get("run_id"), header.get("attempt")
    with company_writer(conn, company, f"load_db of {run_id or owner or Path(manifest).name}",
                        wait_seconds=wait_seconds):
        if owner and attempt is not None:
            done = [r for r in runsteps.recorded(conn, owner, company.empresa, runsteps.LOAD_DB)
                    if r.attempt == str(attempt)]
            conn.commit()
            if done:
                log.info("load_db: this manifest (extract try %s) was loaded and committed "
                         "by an earlier try: returning its counts, loading nothing again",
                         attempt)
                known = {f.name for f in fields(LoadSummary)}
                return LoadSummary(**{k: v for k, v in done[0].counts.items() if k in known})

        def summary_of(outcome: warehouse.LoadOutcome, loaded: int) -> LoadSummary:
            return LoadSummary(
                records=outcome.total, db_inserted=outcome.inserted,
                db_updated=outcome.updated, db_duplicates=outcome.duplicates,
                db_stale=outcome.stale, json_files_loaded=loaded,
                seconds=round(time.monotonic() - started, 3))

        def record(outcome: warehouse.LoadOutcome, loaded: int) -> None:
            if owner and attempt is not None:  # in the load's transaction
                runsteps.record(conn, owner, company.empresa, runsteps.LOAD_DB, str(attempt),
                                asdict(summary_of(outcome, loaded)))

        outcome, loaded = _load(conn, company, manifest_, record)
    return summary_of(outcome, loaded)


def _load(conn: Connection, company: Company, manifest_: Manifest,
          record: Callable[[warehouse.LoadOutcome, int], None],
          ) -> tuple[warehouse.LoadOutcome, int]:
    header = manifest_.header
    try:
        staged = warehouse.stage_keys(conn, manifest_.keys())
        if staged != header["records"]:
            raise warehouse.RowCountMismatch(staged, header["records"])
        outcome = warehouse.upsert_rows(
            conn, company, _counted(manifest_.rows(), header["records"], "load_db"))
        loaded = registry.mark_loaded(conn, company.empresa, header["bucket"],
                                      warehouse.STAGED_FILES)
        # One folder per request: a request of this batch whose real SGC is now known takes
        # its sin_sgc/ files along (the upload moves their objects).
        refiled = registry.follow_sgc(conn, company.empresa, header["bucket"],
                                      sql.Identifier(SCHEMA, company.table),
                                      radicados=warehouse.STAGED_RADICADOS)
        if refiled:
            log.info("load_db: %d file(s) of requests whose real SGC is now known follow them "
                     "from sin_sgc/ to the SGC's folder (the upload moves their objects)",
                     refiled)
        record(outcome, loaded)
        conn.commit()
    except warehouse.RowCountMismatch as exc:
        conn.rollback()
        raise LoadFailed(
            f"load_db failed for {company.empresa}: the manifest's files hold {exc.rows} "
            f"records, its header says {header['records']} (truncated or edited files); "
            "nothing was written: rerun the extract task, then load_db") from None
    except psycopg.Error as exc:
        with contextlib.suppress(psycopg.Error):  # a lost connection has rolled back already
            conn.rollback()  # nothing of the batch is kept
        # psycopg messages can quote row values (personal data): keep only the error class.
        state = exc.sqlstate or "n/a"
        if _transient(exc):
            raise LoadFailed(
                f"load_db failed for {company.empresa}: {type(exc).__name__} "
                f"(SQLSTATE {state}); the transaction was rolled back, no row of this batch "
                "was written; the task is retried once the database answers again",
                retryable=True) from None
        raise LoadFailed(
            f"load_db failed for {company.empresa}: {type(exc).__name__} (SQLSTATE {state}), "
            "an error retrying cannot fix (the table's definition, permissions or a "
            "constraint); the transaction was rolled back, no row of this batch was written. "
            f"Compare data_general.{company.table} with include/extractorov/sql/ and the "
            "warehouse user's grants, fix it, then clear load_db",
            retryable=False) from None
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        raise
    return outcome, loaded


def _counted(blocks: Iterator[bytes], total: int, label: str) -> Iterator[bytes]:
    progress = Progress(label, total)
    done = 0
    for block in blocks:
        yield block
        done += block.count(b"\n")
        progress.update(done)
    progress.update(done, force=True)
    log.info("%s: %d records written; marking their JSON files loaded", label, done)
