"""Hourly verification: the registry, the bucket and the request tables must agree.

For one company, holding its writer exclusion (:mod:`extractorov.locks`):

* registry says ``uploaded``/``pre_existing`` but the object is missing, or
  its size differs → back to ``pending`` (the next upload repairs it, or
  flags a different object that needs a human);
* an object under the company prefix with no registry row → registered as
  ``pre_existing`` (source ``pre_existing``), its hash read from S3;
* ``pending`` / ``error`` files → uploaded (the normal uploader);
* requests in the company table whose source JSON is not in the registry
  → reported;
* files in ``quarantine/`` whose reason file is lost → reported (no human needed).

A finding that needs a human is a question for ``ov_review_findings``, named by
its subject and its cause (:mod:`extractorov.findings`): a question already
answered is not asked again while its cause stays the same. A question is *new*
to the check that first finds it (``Finding.new``): only new questions fail the
check; the ones already announced wait on the open list. Each problem is counted
once: a different object is ``object_different``, never also ``upload_failed``.

First of all, holding the exclusion, the check applies the review answers that
arrived while the company was being written (:func:`extractorov.review.apply_waiting`).

The bucket is read by listing the company prefix (1 request per 1,000
objects), never one request per registered file, one slice at a time: a check
compares at most ``ov_reconcile_keys_per_check`` keys (and the registry rows of
those keys) after where the previous check stopped, so an hourly check costs the
same on day 365 as on day 1 and a full pass over a large bucket takes several
checks (:class:`Window`). The other checks (requests, landing, quarantine) look
at everything each time. Every finding is written to
``data_general.reconcile_findings``.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from psycopg import Connection, sql

from extractorov import (
    findings,
    firstseen,
    pipeline,
    registry,
    removal,
    retention,
    review,
    stats,
    warehouse,
)
from extractorov.companies import Company
from extractorov.errors import UploadIncomplete
from extractorov.humanize import bogota_time, duration
from extractorov.landing import (
    company_folders,
    parse_file_name,
    printable,
    read_quarantine,
    shown_key,
    shown_name,
)
from extractorov.locks import DEFAULT_WAIT_SECONDS, company_writer
from extractorov.registry import DIFFERENT_OBJECT
from extractorov.settings import SCHEMA, Settings
from extractorov.storage import (
    NO_LOCAL_COPY,
    NO_SGC_FOLDER,
    company_prefix,
    preflight,
    s3_url,
    sgc_of_folder,
    split_key,
)

log = logging.getLogger(__name__)

FINDINGS_TABLE = findings.TABLE
_DIFFERENT_OBJECT_REASON = DIFFERENT_OBJECT.split(":")[0][:120]
"""How :func:`pipeline.upload` counts a different object in ``errors_by_reason``."""
DAG_ID = "ov_s3_reconcile"


@dataclass
class Finding:
    kind: str
    s3_key: str | None
    detail: str
    repaired: bool
    needs_human: bool
    file_name: str | None = None
    """The local file a finding without an S3 key is about (what an alert may name)."""
    subject: str | None = None
    """What it is about when not an S3 key: a file name, a ``numero_radicado``."""
    cause: str | None = None
    """The state that makes it (see the ``*_cause`` functions): same subject and cause,
    same question."""
    answer: findings.Answer | None = None
    """The answer its question already has (set when the findings are written)."""
    new: bool = False
    """No earlier check found its question (since it was last cleared): this check
    announces it (set when the findings are written)."""

    @property
    def question(self) -> tuple[str, str | None, str | None]:
        return (self.kind, self.subject or self.s3_key, self.cause)


KEY_KINDS = ("object_different", "object_missing", "object_outside_layout",
             "object_unreadable", "object_unregistered")
"""Findings about one S3 key, made by comparing a slice of the bucket with the registry:
a check clears only those of its own slice (:class:`findings.KeySlice`)."""

WINDOWS_TABLE = "data_general.reconcile_windows"


@dataclass(frozen=True)
class Window:
    """The slice of the company's keys one check compares: after ``after`` (from the first
    key if ``None``) up to and including ``upto`` (to the last if ``None``)."""

    after: str | None
    upto: str | None

    @property
    def whole(self) -> bool:
        return self.after is None and self.upto is None

    def looked_at(self) -> findings.KeySlice:
        return findings.KeySlice(KEY_KINDS, self.after, self.upto)

    def describe(self) -> str:
        if self.whole:
            return "the whole bucket"
        start = f"after {shown_key(self.after)}" if self.after else "from the first key"
        end = f"through {shown_key(self.upto)}" if self.upto else "to the last key"
        return f"keys {start} {end}"


@dataclass
class ReconcileReport:
    empresa: str
    objects_listed: int = 0
    registry_rows: int = 0
    window: Window = Window(None, None)
    """The slice of keys this check compared (the next check goes on after it)."""
    findings: list[Finding] = field(default_factory=list)
    upload: dict[str, Any] = field(default_factory=dict)
    answers_applied: list[review.Outcome] = field(default_factory=list)
    """Review answers that waited for this check to apply them."""

    @property
    def needs_human(self) -> list[Finding]:
        return [f for f in self.findings if f.needs_human]

    @property
    def awaiting_answer(self) -> list[Finding]:
        """Findings that need a human and whose question has no answer yet."""
        return [f for f in self.findings if f.needs_human and f.answer is None]

    @property
    def new_questions(self) -> list[Finding]:
        """Awaiting an answer and found first by this check: what fails it."""
        return [f for f in self.awaiting_answer if f.new]

    def counts(self) -> dict[str, int]:
        return dict(Counter(f.kind for f in self.findings))

    def as_xcom(self) -> dict[str, Any]:
        return {
            "empresa": self.empresa,
            "objects_listed": self.objects_listed,
            "registry_rows": self.registry_rows,
            "keys_compared": self.window.describe(),
            "pass_complete": self.window.upto is None,
            "findings": self.counts(),
            "needs_human": len(self.needs_human),
            "awaiting_answer": len(self.awaiting_answer),
            "new_questions": len(self.new_questions),
            "answers_applied": len(self.answers_applied),
            "upload": self.upload,
        }


def list_objects(client: BaseClient, bucket: str, prefix: str) -> dict[str, int]:
    """Key → size for every object under ``prefix`` (paginated, 1,000 per request)."""
    objects: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            objects[obj["Key"]] = obj["Size"]
    return objects


def list_slice(client: BaseClient, bucket: str, prefix: str, after: str | None,
               budget: int) -> tuple[dict[str, int], str | None]:
    """Key → size of the objects under ``prefix`` after ``after`` (S3 lists keys in byte
    order), stopping at the first page that reaches ``budget`` keys; and the last key
    listed if more follow (``None``: the listing reached the end of the prefix)."""
    objects: dict[str, int] = {}
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix,
                              "PaginationConfig": {"PageSize": min(1000, budget)}}
    if after is not None:
        kwargs["StartAfter"] = after
    for page in client.get_paginator("list_objects_v2").paginate(**kwargs):
        contents = page.get("Contents", [])
        for obj in contents:
            objects[obj["Key"]] = obj["Size"]
        if len(objects) >= budget and page.get("IsTruncated") and contents:
            return objects, contents[-1]["Key"]
    return objects, None


def _window_start(conn: Connection, empresa: str, bucket: str, run_id: str
                  ) -> str | None:
    """Where this check starts: its own slice's start again when it is a retry, else after
    the slice of the latest check (``None``: a new pass from the first key)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT after_key FROM {WINDOWS_TABLE} WHERE empresa = %s "
                    "AND s3_bucket = %s AND run_id = %s", (empresa, bucket, run_id))
        own = cur.fetchone()
        if own is not None:
            after: str | None = own[0]
            return after
        cur.execute(f"SELECT upto_key FROM {WINDOWS_TABLE} WHERE empresa = %s "
                    "AND s3_bucket = %s ORDER BY checked_at DESC LIMIT 1", (empresa, bucket))
        latest = cur.fetchone()
    return latest[0] if latest else None


def _record_window(conn: Connection, empresa: str, bucket: str, run_id: str,
                   window: Window, listed: int) -> None:
    """In the findings' transaction: the next check goes on after this slice only once this
    one's findings are written (a check that fails midway is done again, same slice)."""
    with conn.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {WINDOWS_TABLE} (empresa, s3_bucket, run_id, after_key, upto_key,
                                             keys_listed)
                VALUES (%s, %s, %s, %s, %s, %s)
                ON CONFLICT (empresa, s3_bucket, run_id) DO UPDATE
                SET after_key = EXCLUDED.after_key, upto_key = EXCLUDED.upto_key,
                    keys_listed = EXCLUDED.keys_listed, checked_at = now()""",
            (empresa, bucket, run_id, window.after, window.upto, listed))
        # A few weeks of checks say how passes went; older rows are of no use.
        cur.execute(f"DELETE FROM {WINDOWS_TABLE} WHERE empresa = %s AND s3_bucket = %s "
                    "AND checked_at < now() - interval '30 days'", (empresa, bucket))


def reconcile(conn: Connection, client: BaseClient, company: Company, settings: Settings,
              *, run_id: str, upload: bool = True,
              wait_seconds: float = DEFAULT_WAIT_SECONDS) -> ReconcileReport:
    """Compare and repair one company; write findings; return the report.

    Holds the company's writer exclusion for the whole check (:mod:`extractorov.locks`):
    the listing, the repairs, the upload and the findings see one state of the company,
    which no run and no review answer changes meanwhile.
    """
    company_folders(settings.landing_root, company.empresa).require()  # else: fail at once
    warehouse.ensure_schema(conn, [company])
    conn.commit()
    report = ReconcileReport(company.empresa)
    prefix = company_prefix(settings.base_path, company.empresa)
    preflight(client, settings.bucket, conn_id=settings.aws_conn_id, prefix=prefix)
    with company_writer(conn, company, f"reconcile of {run_id}", wait_seconds=wait_seconds):
        report.answers_applied = review.apply_waiting(conn, client, company, settings,
                                                      run_id=run_id)
        _follow_sgc(conn, company, settings, report)
        after = _window_start(conn, company.empresa, settings.bucket, run_id)
        conn.commit()
        objects, upto = list_slice(client, settings.bucket, prefix, after,
                                   settings.reconcile_keys_per_check)
        report.window = Window(after, upto)
        report.objects_listed = len(objects)
        # Objects of requests removed on request (ov_remove_request) are never registered.
        objects = removal.without_removed_objects(conn, company.empresa, settings.bucket,
                                                  objects)
        _compare_registry(conn, company, settings, objects, report)
        _register_unknown_objects(conn, client, company, settings, objects, report)
        _requests_without_files(conn, company, report)
        _documents_waiting_too_long(conn, company, settings, report)
        _quarantine_reasons_lost(company, settings, report)
        conn.commit()
        if upload:
            _upload(conn, client, company, settings, run_id, report)
            _requests_split(conn, client, company, settings, report)
        _write_findings(conn, company, settings.bucket, run_id, report)
    _record_uploads(conn, company, run_id, report)
    return report


def _upload(conn: Connection, client: BaseClient, company: Company, settings: Settings,
            run_id: str, report: ReconcileReport) -> None:
    try:
        summary = pipeline.upload_held(conn, client, company, settings, run_id=run_id,
                                       step="reconcile")
        report.upload = summary.as_dict()
    except UploadIncomplete as exc:
        report.upload = exc.summary.as_dict()
        # Only failures a retry cannot fix need a human; transient ones pass next hour,
        # and a different object at a key is asked about as its object_different.
        summary = exc.summary
        reasons = {r: n for r, n in summary.errors_by_reason.items()
                   if r != _DIFFERENT_OBJECT_REASON}
        different = summary.errors_by_reason.get(_DIFFERENT_OBJECT_REASON, 0)
        if summary.s3_errors <= different:
            return  # only different objects: each is its object_different, counted once
        lasting = summary.s3_errors - summary.s3_errors_retryable - different
        report.findings.append(Finding(
            "upload_failed", None, str(exc), False, lasting > 0, subject="upload",
            cause=upload_cause(reasons)))


def _record_uploads(conn: Connection, company: Company, run_id: str,
                    report: ReconcileReport) -> None:
    """A reconcile that uploaded (a database_only backlog, a repaired object) gets a row in
    ``post_processing_runs`` (DAG ``ov_s3_reconcile``): every upload is counted in exactly
    one run's report, the run whose id is the file's ``last_run_id``."""
    counts = registry.upload_counts_for_run(conn, company.empresa, run_id)
    conn.commit()
    if not any(counts.values()):
        return  # nothing uploaded: no row (19 checks a day would bury the daily runs)
    run = stats.build_run_report(
        run_id=run_id, empresa=company.empresa, dag_id=DAG_ID, logical_date=None,
        data_interval_start=None, data_interval_end=None, database_only=False,
        extract=None, load=None, upload={**report.upload, **counts},
        task_states={f"reconcile_{company.empresa}":
                     "failed" if report.new_questions else "success"})
    stats.record_run(conn, run)


def _follow_sgc(conn: Connection, company: Company, settings: Settings,
                report: ReconcileReport) -> None:
    """Files still under ``sin_sgc/{numero_radicado}/`` of a request whose real SGC is known
    (filed before the SGC was learned, by an earlier version or a failed move) take the
    SGC's folder; the upload below moves their objects."""
    refiled = registry.follow_sgc(conn, company.empresa, settings.bucket,
                                  sql.Identifier(SCHEMA, company.table))
    conn.commit()
    if refiled:
        report.findings.append(Finding(
            "request_refiled", None, f"{refiled} file(s) under sin_sgc/ follow their request "
            "to its real SGC's folder (one folder per request)", True, False))


def _requests_split(conn: Connection, client: BaseClient, company: Company,
                    settings: Settings, report: ReconcileReport) -> None:
    """After the upload moved what it could, one request in two folders is a question for a
    human: files of a request whose move could not be made (another object at the new
    key), filed in two folders, or objects still under ``sin_sgc/{R}/`` while request R
    has a real SGC (whether registered or not)."""
    prefix = company_prefix(settings.base_path, company.empresa)
    left = list_objects(client, settings.bucket, f"{prefix}{NO_SGC_FOLDER}/")
    by_radicado: dict[str, set[str]] = {}
    for key in left:
        where = split_key(prefix, key)
        if where is not None and where[0].startswith(NO_SGC_FOLDER + "/"):
            by_radicado.setdefault(where[0].split("/", 1)[1], set()).add(key)
    table = sql.Identifier(SCHEMA, company.table)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT numero_radicado FROM {} WHERE "
                            "numero_radicado = ANY(%s) AND numero_reclamo_sgc IS NOT NULL"
                            ).format(table), (sorted(by_radicado),))
        known = {radicado for (radicado,) in cur.fetchall()}
    split = {radicado: keys for radicado, keys in by_radicado.items() if radicado in known}
    for radicado, keys in registry.split_requests(conn, company.empresa, settings.bucket):
        split.setdefault(radicado, set()).update(keys)
    conn.commit()
    for radicado, found in sorted(split.items()):
        keys = sorted(found)
        report.findings.append(Finding(
            "request_split", keys[0] if keys else None,
            f"numero_radicado {radicado} is filed in more than one folder: {len(keys)} "
            "file(s) could not follow it to the folder of its SGC (see last_error of their "
            "registry rows); compare them with the objects there and delete the wrong ones",
            False, True, subject=radicado, cause=split_cause(keys, left)))


def _compare_registry(conn: Connection, company: Company, settings: Settings,
                      objects: dict[str, int], report: ReconcileReport) -> None:
    rows = registry.rows_to_check(conn, company.empresa, settings.bucket,
                                  after=report.window.after, upto=report.window.upto)
    report.registry_rows = len(rows)
    back_to_pending: list[int] = []
    without_copy: dict[int, Finding] = {}
    for row in rows:
        if row.moving_from:
            continue  # its object follows its request: the upload below moves it
        row_id, key, status, size = row.id, row.s3_key, row.upload_status, row.file_size
        local_path, last_error = row.local_path, row.last_error
        if status == "error" and last_error == DIFFERENT_OBJECT:
            if key in objects:
                report.findings.append(Finding(
                    "object_different", key,
                    "the local file and the object in the bucket differ (SHA-256); the "
                    "upload will not overwrite it: compare both and delete the wrong one",
                    False, True, cause=different_cause(row.file_hash, size, objects[key])))
            else:  # someone removed the wrong object: upload the file again
                back_to_pending.append(row_id)
                report.findings.append(Finding(
                    "object_missing", key, "the different object was removed; the file is "
                    "uploaded again", True, False))
            continue
        if not local_path:
            # Registered from the bucket (or its object kept over the local file by a human
            # review): nothing to upload it from, so never 'pending'.
            if key not in objects:
                without_copy[row_id] = Finding(
                    "object_missing", key,
                    f"registry said {status}; object not in the bucket and {NO_LOCAL_COPY} "
                    "(it was registered from the bucket): restore the object, or delete its "
                    "registry row if it was removed on purpose", False, True,
                    cause=missing_cause(row_id, status))
                report.findings.append(without_copy[row_id])
            elif size is not None and objects[key] != size:
                report.findings.append(Finding(
                    "object_different", key,
                    f"registry size {size}, bucket size {objects[key]} for an object "
                    "registered from the bucket: check which one is right", False, True,
                    cause=different_cause(row.file_hash, size, objects[key])))
            continue
        if status not in {"uploaded", "pre_existing"}:
            continue
        if key not in objects:
            back_to_pending.append(row_id)
            report.findings.append(Finding("object_missing", key,
                                           f"registry said {status}; object not in the bucket",
                                           True, False))
        elif size is not None and objects[key] != size:
            back_to_pending.append(row_id)
            report.findings.append(Finding(
                "object_different", key,
                f"registry size {size}, bucket size {objects[key]}; the upload will not "
                "overwrite it: compare both and delete the wrong one", False, True,
                cause=different_cause(row.file_hash, size, objects[key])))
    # A local copy retention deleted (verified in the bucket then) is said so: the object
    # went after it, and only a copy kept elsewhere (a backup, S3 versions) restores it.
    for row_id, (how, when) in retention.removed_copies(conn, list(without_copy)).items():
        if how == "deleted":
            without_copy[row_id].detail = without_copy[row_id].detail.replace(
                "(it was registered from the bucket)",
                f"(its local copy was deleted by retention on {bogota_time(when.timestamp())}, "
                "when the object was verified; restore it from a previous S3 version or a "
                "backup)")
    registry.requeue(conn, back_to_pending,
                     "reconcile: object missing or different in the bucket")


def _register_unknown_objects(conn: Connection, client: BaseClient, company: Company,
                              settings: Settings, objects: dict[str, int],
                              report: ReconcileReport) -> None:
    known = registry.keys(conn, company.empresa, settings.bucket,
                          after=report.window.after, upto=report.window.upto)
    prefix = company_prefix(settings.base_path, company.empresa)
    for key in sorted(set(objects) - known):
        where = split_key(prefix, key)
        if where is None:
            report.findings.append(Finding(
                "object_outside_layout", key,
                "object does not follow {sgc}/{file name} or sin_sgc/{numero_radicado}/{file name}",
                False, True, cause=outside_cause(objects[key])))
            continue
        folder, filename = where
        sgc = sgc_of_folder(folder)
        try:
            head = client.head_object(Bucket=settings.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404 or exc.response.get("Error", {}).get("Code") in {"404",
                                                                             "NoSuchKey"}:
                continue  # deleted since the listing: nothing to register
            report.findings.append(Finding(
                "object_unreadable", key, f"could not read its metadata ({status}); it is "
                "registered by a later check", False, False))
            continue
        digest = head.get("Metadata", {}).get("file-hash") or _hex(head.get("ChecksumSHA256"))
        name = parse_file_name(filename)
        registry.register_found(conn, company.empresa, settings.bucket, registry.FoundObject(
            filename=filename, s3_key=key, s3_url=s3_url(settings.bucket, key),
            numero_reclamo_sgc=sgc, file_size=objects[key],
            file_type=name.extension if name else None, content_type=head.get("ContentType"),
            file_hash=digest, uploaded_at=head.get("LastModified"),
            metadata={"found_by": "reconcile", "kind": name.kind.value if name else None},
            numero_radicado=None if sgc else folder.split("/", 1)[1]))
        report.findings.append(Finding("object_unregistered", key,
                                       "registered as pre_existing", True, False))


def _hex(checksum: str | None) -> str | None:
    if not checksum or "-" in checksum:
        return None
    return base64.b64decode(checksum).hex()


def _requests_without_files(conn: Connection, company: Company, report: ReconcileReport) -> None:
    table = sql.Identifier(SCHEMA, company.table)
    for radicado, source in registry.requests_without_source(conn, company.empresa, table):
        report.findings.append(Finding(
            "request_without_file", None,
            f"numero_radicado {radicado}: source file {source or '(none recorded)'} "
            "is not in the registry", False, True, file_name=source, subject=radicado,
            cause=request_cause(source)))


def _documents_waiting_too_long(conn: Connection, company: Company, settings: Settings,
                                report: ReconcileReport, *, now: float | None = None) -> None:
    """PDFs and attachments, and temporary files, that have waited in ``processed/`` over
    ``orphan_after_hours`` since the pipeline first saw them (:mod:`extractorov.firstseen`;
    never by their modification time: a backlog copied with old times is not old).

    ``extract`` never quarantines a document for lacking its request JSON: it waits. One
    that waits this long with no JSON that could own it anywhere needs a human (its JSON
    was lost); one with such a JSON is not waiting for it: it is reported only when the
    last ``extract`` could not tell its owner for sure (with that reason), else the next
    run files it. Reported by file name; never moved.
    """
    now = time.time() if now is None else now
    limit = settings.orphan_after_hours
    found = firstseen.look(conn, company.empresa, settings, now=now)
    for file, seen in found.temporary:
        # subject: the file itself (stored, for a review's move); shown: logs, mails, forms.
        name = shown_name(file.name)
        report.findings.append(Finding(
            "temp_file_stale", None,
            f"{name} is a temporary file unchanged for {duration(seen.age(_utc(now)))} "
            f"(first seen {bogota_time(seen.first_seen.timestamp())}; over "
            f"ov_orphan_after_hours={limit:g}): its writer stopped; finish or delete it",
            False, True, file_name=name, subject=printable(file.name),
            cause=landing_cause(file.size, file.mtime)))
    for doc in found.documents:
        name = shown_name(doc.file.name)
        waited = (f"{duration(doc.seen.age(_utc(now)))} (first seen "
                  f"{bogota_time(doc.seen.first_seen.timestamp())}; over "
                  f"ov_orphan_after_hours={limit:g})")
        if not doc.owners:
            detail = (f"{name} has waited {waited} in processed/ for its request JSON; it is "
                      "not moved: find its JSON (bot log, quarantine/) or decide where it "
                      "belongs")
        elif doc.seen.outcome == firstseen.UNDECIDED:
            more = f" and {len(doc.owners) - 1} more" if len(doc.owners) > 1 else ""
            detail = (f"{name} has waited {waited} in processed/ although a request JSON "
                      f"that could own it is there ({doc.owners[0]}{more}): which request "
                      f"owns it cannot be told for sure ({doc.seen.why}); it is not moved: "
                      "decide where it belongs")
        else:
            continue  # its JSON is there: the next extract files it (or waits for its writer)
        report.findings.append(Finding(
            "document_waiting", None, detail, False, True, file_name=name,
            subject=printable(doc.file.name),
            cause=landing_cause(doc.file.size, doc.file.mtime)))


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _quarantine_reasons_lost(company: Company, settings: Settings,
                             report: ReconcileReport) -> None:
    """Files in ``quarantine/`` whose reason file is missing, empty or unreadable (an older
    version stopped between its two steps, a hand move), one finding each.

    Not a question for a human: the file is where a quarantined file is, counted, and
    treated as one (its placeholder documents follow it into quarantine, never into another
    request's folder); the reason is what a run with ``readmit_quarantine=true`` finds again.
    """
    for entry in read_quarantine(company_folders(settings.landing_root, company.empresa)):
        if not entry.reason_lost:
            continue
        try:
            info = entry.path.lstat()
        except FileNotFoundError:
            continue  # re-admitted meanwhile
        name = shown_name(entry.original_name)
        report.findings.append(Finding(
            "quarantine_reason_lost", None,
            f"{name} is in quarantine/ without a readable reason file (missing, empty or "
            "unreadable); it counts as quarantined with reason 'reason lost'. A run with "
            "readmit_quarantine=true validates it again (and writes a new reason if it fails "
            "again); or fix it and move it back to processed/",
            False, False, file_name=name, subject=printable(entry.path.name),
            cause=landing_cause(info.st_size, info.st_mtime)))


def _write_findings(conn: Connection, company: Company, bucket: str, run_id: str,
                    report: ReconcileReport) -> None:
    """This run's rows (replacing a rerun's); each finding learns its question's answer."""
    rows = [findings.Row(f.kind, f.s3_key, f.detail, f.repaired, f.needs_human,
                         *f.question[1:]) for f in report.findings]
    answers = findings.write_run(conn, company.empresa, run_id, rows,
                                 looked_at=report.window.looked_at())
    _record_window(conn, company.empresa, bucket, run_id, report.window,
                   report.objects_listed)
    conn.commit()
    seen = findings.announced(conn, company.empresa, run_id,
                              [f.question for f in report.findings if f.needs_human])
    conn.commit()
    for finding in report.findings:
        if finding.needs_human:
            finding.answer = answers.get(finding.question)
            finding.new = finding.question not in seen


# ---------------------------------------------------------------- causes (question identity)


def different_cause(file_hash: str | None, registry_size: int | None, bucket_size: int) -> str:
    """``object_different``: what the registry holds against what the bucket holds."""
    return (f"registry sha256 {file_hash or 'unknown'}, {registry_size} bytes; "
            f"bucket object {bucket_size} bytes")


def missing_cause(row_id: int, status: str) -> str:
    """``object_missing`` of a row registered from the bucket."""
    return f"registry row {row_id} ({status}), no local copy"


def outside_cause(size: int) -> str:
    """``object_outside_layout``."""
    return f"{size} bytes"


def request_cause(source: str | None) -> str:
    """``request_without_file``."""
    return f"source file {source or '(none recorded)'}"


def landing_cause(size: int, mtime: float) -> str:
    """``document_waiting`` / ``temp_file_stale`` / ``quarantine_reason_lost``: a file
    changed or copied again is new."""
    when = datetime.fromtimestamp(mtime, UTC).isoformat(timespec="seconds")
    return f"{size} bytes, modified {when}"


def split_cause(keys: list[str], sizes: dict[str, int]) -> str:
    """``request_split``: the objects left in ``sin_sgc/`` and their sizes."""
    return "; ".join(f"{shown_name(key.rsplit('/', 1)[-1])} {sizes.get(key)} bytes"
                     for key in keys)


def upload_cause(errors_by_reason: dict[str, int]) -> str:
    """``upload_failed``: the reasons (not their counts)."""
    return "; ".join(sorted(errors_by_reason)) or "unknown"


def format_report(report: ReconcileReport) -> str:
    lines = [f"{report.empresa}: {report.objects_listed} objects listed, "
             f"{report.registry_rows} registry rows ({report.window.describe()}), "
             f"findings {report.counts() or 'none'}"]
    if report.upload:
        lines.append(f"  upload: uploaded {report.upload.get('s3_uploaded', 0)}, pre_existing "
                     f"{report.upload.get('s3_pre_existing', 0)}, errors "
                     f"{report.upload.get('s3_errors', 0)}")
    for outcome in report.answers_applied:
        lines.append(f"  review answer that waited: {outcome.text}")
    for finding in report.findings[:50]:
        flag = ("repaired" if finding.repaired else "") if not finding.needs_human else (
            f"answered: {finding.answer.answer}" if finding.answer else
            "NEEDS HUMAN (new)" if finding.new else "waits for an answer (announced before)")
        key = shown_key(finding.s3_key) if finding.s3_key else ""
        lines.append(f"  [{finding.kind}] {key} {finding.detail} {flag}")
    if len(report.findings) > 50:
        lines.append(f"  … {len(report.findings) - 50} more in {FINDINGS_TABLE}")
    return "\n".join(lines)
