"""Upload: every ``pending`` / ``error`` file of a company to S3, each outcome recorded.

A plain function (no Airflow here) taking a boto3 S3 client; idempotent, and it returns
a small summary of counts (safe for XCom).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator

from botocore.client import BaseClient
from psycopg import Connection

from extractorov import registry, warehouse
from extractorov.companies import Company
from extractorov.errors import UploadIncomplete
from extractorov.locks import DEFAULT_WAIT_SECONDS, company_writer
from extractorov.settings import Settings
from extractorov.storage import (
    company_prefix,
    move_object,
    preflight,
    upload_files,
)
from extractorov.summaries import UploadSummary

log = logging.getLogger(__name__)

def upload(conn: Connection, s3_client: BaseClient, company: Company, settings: Settings, *,
           run_id: str, wait_seconds: float = DEFAULT_WAIT_SECONDS, step: str = "upload_s3",
           ) -> UploadSummary:
    """Upload every ``pending`` / ``error`` file of the company and record each outcome,
    holding the company's writer exclusion (:mod:`extractorov.locks`).

    Raises :class:`S3PreflightError` before any upload when S3 is not usable, and
    :class:`UploadIncomplete` after recording everything when some files failed.
    """
    warehouse.ensure_schema(conn, [company])
    conn.commit()
    with company_writer(conn, company, f"{step} of {run_id}", wait_seconds=wait_seconds):
        return upload_held(conn, s3_client, company, settings, run_id=run_id, step=step)


def upload_held(conn: Connection, s3_client: BaseClient, company: Company,
                settings: Settings, *, run_id: str, step: str) -> UploadSummary:
    """:func:`upload` for a caller that holds the company's writer exclusion already."""
    started = time.monotonic()
    pending: Generator[registry.PendingFile, None, None] | None = None
    summary = UploadSummary()

    def count_errors(results: list[registry.UploadResult] | list[registry.MoveResult]) -> None:
        for r in results:
            if r.error and r.retryable:
                summary.s3_errors_retryable += 1
            if r.error:
                reason = r.error.split(":")[0][:120]
                summary.errors_by_reason[reason] = summary.errors_by_reason.get(reason, 0) + 1

    try:
        moving = registry.moving_files(conn, company.empresa, settings.bucket)
        count = registry.count_to_upload(conn, company.empresa, settings.bucket)
        conn.commit()
        log.info("%s: %d files pending for %s%s", step, count, company.empresa,
                 f", {len(moving)} following their request to its SGC's folder"
                 if moving else "")
        if count or moving:
            # Only when there is work: a day with nothing new costs no S3 request.
            preflight(s3_client, settings.bucket, conn_id=settings.aws_conn_id,
                      prefix=company_prefix(settings.base_path, company.empresa))
        if moving:  # first: a file whose old object is gone is queued for the upload below
            moves = [move_object(s3_client, settings.bucket, item,
                                 sse_kms_key_id=settings.sse_kms_key_id,
                                 conn_id=settings.aws_conn_id) for item in moving]
            registry.record_moves(conn, moves, run_id)
            conn.commit()
            summary.files = len(moves)
            summary.s3_moved = sum(m.outcome == "moved" for m in moves)
            summary.s3_errors += sum(m.outcome == "error" for m in moves)
            count_errors(moves)
            count = registry.count_to_upload(conn, company.empresa, settings.bucket)
            conn.commit()

        def record(results: list[registry.UploadResult]) -> None:
            registry.record_upload_results(conn, results, run_id)
            conn.commit()
            count_errors(results)

        # Read a page at a time as the workers need them: a backlog is never held at once.
        # Nothing pending: no cursor either (files registered since then wait for the next
        # upload, which checks S3 first).
        pending = registry.pending_files(conn, company.empresa, settings.bucket) if count else None
        totals = upload_files(s3_client, settings.bucket, pending or (), total=count,
                              on_results=record, workers=settings.upload_workers,
                              sse_kms_key_id=settings.sse_kms_key_id,
                              max_file_bytes=settings.max_file_bytes,
                              conn_id=settings.aws_conn_id, label=step)
    finally:
        if pending is not None:  # its server-side cursor, when the upload stopped early
            registry.close_pages(conn, pending)
    summary.files += totals.files
    summary.s3_uploaded = totals.uploaded
    summary.s3_pre_existing = totals.pre_existing
    summary.s3_errors += totals.errors
    summary.s3_bytes = totals.bytes_uploaded
    summary.seconds = round(time.monotonic() - started, 3)
    if summary.s3_errors:
        raise UploadIncomplete(summary)
    return summary
