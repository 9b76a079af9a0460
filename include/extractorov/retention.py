"""Retention of what has been delivered: local copies, run manifests, reason files.

The company DAG's ``retention`` task (after ``upload_s3``) runs :func:`run`, holding the
company's writer exclusion (:mod:`extractorov.locks`) throughout.

**Local copies.** A file of ``processed/`` whose object is *verified* in the bucket and
whose upload is over ``ov_local_retention_days`` old leaves ``processed/``: moved to
``archive/YYYY-MM/`` (the month of its upload, Bogotá) or deleted, per
``ov_local_retention`` (``archive``, ``delete``, ``keep``). An archived copy is deleted
``ov_local_archive_days`` after it was archived (0: kept), verified again first.

*Verified* is established by this step at the moment of removal, never by a registry
status alone (a status can be stale: an object deleted or overwritten since):

1. the local file, read now (no link followed), has the registry's SHA-256 and size;
2. a HEAD of the object (one request, ~$0.0004 per 1,000) finds it, with that size, and
   every fingerprint it carries agrees with the local bytes: S3's own whole-object
   SHA-256 checksum, its ETag when that is the MD5 of the bytes (a single-part upload
   without SSE-KMS: what S3 computed, not what a writer claimed), and our ``file-hash``
   metadata. At least one of them must be there; an object with none (an old system's
   multipart or KMS upload) is read once and hashed.

How it was verified (``checksum``, ``etag``, ``file-hash`` or ``read``), its ETag and
VersionId go to ``metadata.retention`` of the registry row.

Never removed, whatever their age: a file that is not verified (object missing or
different, local file changed or missing: *held*, with why in
``local_retention_note``), a file an open question is about (``reconcile_findings``
open for its key, its name or its request), a request JSON whose record is not loaded
(``s3_files_loaded``), a file whose object is moving to another folder, anything not
``uploaded`` / ``pre_existing``. A local file a review kept the bucket's object over stays
in ``processed/`` beside its registry row (the row is its one place; quarantine/ never
takes a registered file): never removed here, and counted as held every run
(:data:`LOCAL_KEPT_OVER`) until a person deletes it.

**Crash-atomic.** Per batch: verify (reads only), record the intent (``archiving`` /
``deleting``, with the archive path) and commit, move or delete the files and fsync
their folders, record the outcome (``archived``: ``local_path`` is the archive path;
``deleted``: ``local_path`` NULL) with the run's counts (``run_steps``) and commit.
Every run first looks at the removals a kill interrupted: a file found where the
intent sends it is recorded as archived or deleted (counted by that run); one still
where it was is given back (intent cleared; verified again when next due). A registry
row never points at a file that is gone without saying so.

**Bounded.** Due rows come from partial indexes, oldest first, :data:`BATCH` at a time;
a run stops after :data:`MAX_FILES_PER_RUN` files or :data:`BUDGET_SECONDS` (the next
run goes on). A held file is looked at again a day later, after the files never looked
at, so a backlog of held files never starves the others.

**Manifests** (``manifests/``: request rows, personal data) are removed
``ov_manifest_retention_days`` after they were written once *loaded*: their ``load_db``
committed (``run_steps``), or every request JSON they carry is marked loaded. One not
loaded is never removed (counted and logged). Pieces left by a manifest write that never
completed (rows or keys without their header, temporary files) go after the same period.

**Quarantine.** A reason file left without its file (a quarantine cut short before its
move, a re-admission before its clean-up) means nothing and names a file: removed once a
day old. A quarantined file is never removed here: only a person decides (re-admit, fix,
or delete it); those older than ``ov_local_retention_days`` are counted and logged.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError
from psycopg import Connection
from psycopg.types.json import Jsonb

from extractorov import runsteps, warehouse
from extractorov.companies import Company
from extractorov.errors import S3PreflightError
from extractorov.landing import (
    CompanyFolders,
    NotRegularFile,
    company_folders,
    open_regular,
    read_quarantine,
    shown_name,
)
from extractorov.locks import DEFAULT_WAIT_SECONDS, company_writer
from extractorov.settings import BOGOTA, LOADED_TABLE, REGISTRY_TABLE, SCHEMA, Settings
from extractorov.sqlrow import one
from extractorov.storage import company_prefix, explain_s3_error, preflight

log = logging.getLogger(__name__)

STEP = runsteps.RETENTION
BATCH = 500
"""Rows read, verified and removed together (one intent and one outcome commit each)."""
MAX_FILES_PER_RUN = 50_000
"""Files one run looks at, at most; the next run goes on with the rest of a backlog."""
BUDGET_SECONDS = 30 * 60.0
"""A run starts no new batch after this long (the task's execution_timeout is 1 h)."""
VERIFY_WORKERS = 8
"""Files hashed and HEAD-requested at once."""
RECHECK_AFTER = timedelta(hours=20)
"""A held file is looked at again by the next daily run, not by a second run that day."""
REASON_FILE_GRACE = timedelta(days=1)
"""A reason file without its file is removed once this old (never one being written)."""
MAX_MANIFESTS_PER_RUN = 500
"""Old manifests one run looks at (each may be read back through PostgreSQL)."""

ARCHIVE = "archive"
DELETE = "delete"
KEEP = "keep"
_CHUNK = 1024 * 1024
_FINDINGS = f"{SCHEMA}.reconcile_findings"
_MANIFEST_PIECES = (".rows", ".keys", ".rows.tmp", ".keys.tmp", ".tmp")
"""What a manifest write leaves next to (or instead of) its ``.jsonl`` header."""
_REASON_SUFFIX = ".reason.txt"

# Held: why a due file was kept (the note on its row, the key of the run's counts).
OBJECT_MISSING = "object missing in the bucket"
OBJECT_SIZE_DIFFERS = "object in the bucket differs (size)"
OBJECT_DIFFERS = "object in the bucket differs (SHA-256)"
OBJECT_UNREADABLE = "object in the bucket cannot be read to compare it"
LOCAL_MISSING = "local file missing"
LOCAL_CHANGED = "local file changed since it was registered"
LOCAL_NOT_REGULAR = "local file is no longer a regular file"
LOCAL_UNREADABLE = "local file unreadable"
LOCAL_ELSEWHERE = "local copy is not where retention keeps it (processed/ or archive/)"
LOCAL_KEPT_OVER = ("a review kept the bucket's object over this local file: it is not the "
                   "version to deliver and is never removed by itself; a person deletes it")
MOVE_FAILED = "the file could not be moved or deleted"
BOTH_COPIES = "a file is at its archive path already"
NO_COPY = "local copy missing: neither where it was nor at its archive path"


@dataclass
class RetentionSummary:
    """One try's counts (XCom and ``run_steps``): counts and reasons, never file names."""

    mode: str = ARCHIVE
    local_archived: int = 0
    """Files moved from ``processed/`` to ``archive/``."""
    local_deleted: int = 0
    """Local copies deleted: from ``processed/`` (``delete``) or from ``archive/``."""
    local_archive_purged: int = 0
    """Of ``local_deleted``: archived copies past ``ov_local_archive_days``."""
    local_completed: int = 0
    """Of the above: removals a kill interrupted, completed by this try."""
    local_undone: int = 0
    """Removals a kill interrupted before the file moved: intent cleared, file in place."""
    local_held: int = 0
    """Due files kept because they are not verified (``held_reasons`` says why)."""
    held_reasons: dict[str, int] = field(default_factory=dict)
    local_held_by_question: int = 0
    """Due files an open question is about (never removed while it is open)."""
    local_more_due: bool = False
    """The run stopped at its limit with due files left (the next run goes on)."""
    manifests_removed: int = 0
    manifest_leftovers_removed: int = 0
    manifests_unloaded: int = 0
    """Manifests older than ``ov_manifest_retention_days`` kept because not loaded."""
    reasons_removed: int = 0
    """Reason files without their file removed from ``quarantine/``."""
    quarantine_old: int = 0
    """Files in ``quarantine/`` for over ``ov_local_retention_days`` (a person decides)."""
    s3_skipped: bool = False
    """``database_only``: no S3 this run, so no local copy was removed."""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A registry row whose local copy may go."""

    id: int
    filename: str
    local_path: str
    s3_key: str
    file_size: int | None
    file_hash: str
    uploaded_at: datetime | None
    local_removal: str | None
    """``None``: the copy is in ``processed/``; ``archived``: in ``archive/``."""
    local_removed_at: datetime | None = None
    local_retention_held_at: datetime | None = None


@dataclass(frozen=True)
class Verdict:
    row: Candidate
    held: str | None = None
    """Why it is kept; ``None`` when verified."""
    facts: dict[str, Any] = field(default_factory=dict)
    """How it was verified (``metadata.retention``)."""
    fatal: BaseException | None = None
    """S3 could not be asked (permissions, outage): the run stops, nothing is held."""


# --------------------------------------------------------------------------- entry


def run(conn: Connection, client: BaseClient | None, company: Company, settings: Settings, *,
        run_id: str, attempt: int | str | None = None, batch: int = BATCH,
        max_files: int = MAX_FILES_PER_RUN, budget_seconds: float = BUDGET_SECONDS,
        wait_seconds: float = DEFAULT_WAIT_SECONDS, now: datetime | None = None,
        ) -> RetentionSummary:
    """The retention step of one company (see the module docstring).

    ``client`` ``None`` (a ``database_only`` run): no S3, so no local copy is removed;
    interrupted removals are still settled and manifests and reason files still go.
    ``now``: the moment the periods are counted back from (tests move it forward).
    Raises :class:`S3PreflightError` when S3 cannot be asked, after recording what was
    done."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    warehouse.ensure_schema(conn, [company])
    conn.commit()
    with company_writer(conn, company, f"retention of {run_id}", wait_seconds=wait_seconds):
        if attempt is None:
            attempt = len(runsteps.recorded(conn, run_id, company.empresa, STEP)) + 1
            conn.commit()
        step = _Step(conn, client, company, settings, run_id=run_id, attempt=str(attempt),
                     now=now, started=started, batch=batch, max_files=max_files,
                     budget_seconds=budget_seconds)
        step.settle_interrupted()
        step.manifests()
        step.quarantine()
        step.record(commit=True)
        try:
            step.local_copies()
        finally:
            # Every batch committed its work with its counts: nothing uncommitted is meant
            # to stay. A dead connection records nothing more (the error is what matters).
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
                step.record(commit=True)
    step.log_summary()
    return step.summary


class _Step:
    def __init__(self, conn: Connection, client: BaseClient | None, company: Company,
                 settings: Settings, *, run_id: str, attempt: str, now: datetime,
                 started: float, batch: int, max_files: int, budget_seconds: float) -> None:
        self.conn, self.client, self.company, self.settings = conn, client, company, settings
        self.run_id, self.attempt, self.now, self.started = run_id, attempt, now, started
        self.batch, self.max_files, self.budget_seconds = batch, max_files, budget_seconds
        self.folders = company_folders(settings.landing_root, company.empresa)
        self.summary = RetentionSummary(mode=settings.local_retention,
                                        s3_skipped=client is None)
        self.looked_at = 0
        self.checked_s3 = False

    # ------------------------------------------------------------------ bookkeeping

    def record(self, *, commit: bool) -> None:
        """This try's counts, in the caller's transaction (the one that commits the work)."""
        self.summary.seconds = round(time.monotonic() - self.started, 3)
        runsteps.record(self.conn, self.run_id, self.company.empresa, STEP, self.attempt,
                        self.summary.as_dict())
        if commit:
            self.conn.commit()

    def log_summary(self) -> None:
        s = self.summary
        log.info("retention %s (ov_local_retention=%s): archived %d, deleted %d (of them %d "
                 "from archive/), kept %d not verified, %d held by open questions; manifests "
                 "removed %d; reason files without their file removed %d",
                 self.company.empresa, s.mode, s.local_archived, s.local_deleted,
                 s.local_archive_purged, s.local_held, s.local_held_by_question,
                 s.manifests_removed, s.reasons_removed)

    # ------------------------------------------------------------------ interrupted

    def settle_interrupted(self) -> None:
        """Complete or undo the removals a kill interrupted (and forget the removal of a
        file extract registered again: the same name back in ``processed/``)."""
        table = REGISTRY_TABLE
        after = 0
        while True:
            with self.conn.cursor() as cur:
                cur.execute(
                    f"""SELECT id, filename, local_path, local_archive_path, local_removal
                        FROM {table} WHERE empresa = %s AND s3_bucket = %s AND id > %s
                          AND (local_removal IN ('archiving', 'deleting')
                               OR (local_removal = 'deleted' AND local_path IS NOT NULL))
                        ORDER BY id LIMIT %s""",
                    (self.company.empresa, self.settings.bucket, after, self.batch))
                rows = cur.fetchall()
            self.conn.commit()
            if not rows:
                return
            after = rows[-1][0]
            done: list[_Done] = []
            undone: list[tuple[int, str | None]] = []
            back: list[tuple[int, str | None]] = []
            for row_id, filename, path, target, removal in rows:
                if removal == "deleted":  # extract registered its file again (same name)
                    back.append((row_id, None))
                    continue
                stage = _stage_of(path, target)
                if removal == "deleting":
                    if os.path.lexists(path):
                        undone.append((row_id, "archived" if stage == ARCHIVE else None))
                    else:
                        done.append(_Done(row_id, "deleting", stage, {"completed": True}))
                    continue
                here, there = os.path.lexists(path), bool(target) and os.path.lexists(target)
                if there and not here:
                    done.append(_Done(row_id, "archiving", stage, {"completed": True}))
                elif here and there and _same_file(path, target):
                    # One file under both names (a file system whose rename is a link and an
                    # unlink, cut in between): the archive name is the copy that stays.
                    os.unlink(path)
                    done.append(_Done(row_id, "archiving", stage, {"completed": True}))
                elif here:
                    undone.append((row_id, None))
                    if there:
                        self._hold([(row_id, BOTH_COPIES)], filenames={row_id: filename})
                else:
                    undone.append((row_id, None))
                    self._hold([(row_id, NO_COPY)], filenames={row_id: filename})
            if done:
                _sync_folders({Path(p).parent for r in rows for p in (r[2], r[3]) if p})
            self._undo(undone + back)
            self._record_done(done)
            self.summary.local_completed += len(done)
            self.summary.local_undone += len(undone)
            if done or undone:
                log.info("retention: %d removal(s) a kill interrupted were completed, %d "
                         "given back (their file is still in place)", len(done), len(undone))
            self.record(commit=True)

    def _undo(self, rows: list[tuple[int, str | None]]) -> None:
        if not rows:
            return
        with self.conn.cursor() as cur:
            cur.execute(
                f"""UPDATE {REGISTRY_TABLE} r
                    SET local_removal = u.back,
                        local_archive_path = CASE WHEN u.back = 'archived'
                                                  THEN r.local_archive_path END,
                        updated_at = now()
                    FROM unnest(%s::bigint[], %s::text[]) AS u(id, back)
                    WHERE r.id = u.id""",
                ([r for r, _ in rows], [b for _, b in rows]))

    # ------------------------------------------------------------------ local copies

    def local_copies(self) -> None:
        mode = self.settings.local_retention
        if self.client is None:
            log.info("retention: database_only: no S3 in this run, so no local copy is "
                     "verified or removed (the next run with S3 does it)")
            return
        if mode == KEEP:
            log.info("retention: ov_local_retention=keep: local copies stay where they are")
            return
        subjects = self._question_subjects()
        self.summary.local_held_by_question = self._count_held_by_questions(subjects)
        if self.summary.local_held_by_question:
            log.info("retention: %d due file(s) kept while an open question is about them "
                     "(data_general.open_findings)", self.summary.local_held_by_question)
        self._count_kept_over_local()
        with ThreadPoolExecutor(max_workers=VERIFY_WORKERS,
                                thread_name_prefix="retention") as pool:
            for stage in ("processed", ARCHIVE, "held"):
                if stage == ARCHIVE and not self.settings.local_archive_days:
                    continue
                after: tuple[Any, int] | None = None
                while True:
                    limit = min(self.batch, self.max_files - self.looked_at)
                    if limit <= 0 or time.monotonic() - self.started > self.budget_seconds:
                        self.summary.local_more_due = bool(
                            self._select(stage, subjects, None, 1))
                        if self.summary.local_more_due:
                            log.warning("retention: stopped at this run's limit (%d files or "
                                        "%.0f min); the next run goes on with the files "
                                        "still due", self.max_files, self.budget_seconds / 60)
                        return
                    rows = self._select(stage, subjects, after, limit)
                    if not rows:
                        break
                    self.looked_at += len(rows)
                    after = self._sort_key(stage, rows[-1])
                    self._handle(pool, rows)

    @staticmethod
    def _sort_key(stage: str, row: Candidate) -> tuple[Any, int]:
        """Where the next batch of a stage starts (its ``ORDER BY``)."""
        at = {"processed": row.uploaded_at, ARCHIVE: row.local_removed_at}.get(
            stage, row.local_retention_held_at)
        return (at, row.id)

    def _select(self, stage: str, subjects: list[str], after: tuple[Any, int] | None,
                limit: int) -> list[Candidate]:
        """Due rows of one stage, oldest first, from its partial index (014_retention.sql).

        ``processed``: copies in ``processed/`` uploaded over ``ov_local_retention_days``
        ago; ``archive``: archived copies older than ``ov_local_archive_days``; ``held``:
        either, kept at a look over :data:`RECHECK_AFTER` ago, longest ago first (after
        the files never looked at, with what is left of the run's share)."""
        settings, now = self.settings, self.now
        due_before = now - timedelta(days=settings.local_retention_days)
        purge_before = now - timedelta(days=settings.local_archive_days)
        params: dict[str, Any] = {
            "empresa": self.company.empresa, "bucket": settings.bucket,
            "subjects": subjects, "due_before": due_before, "purge_before": purge_before,
            "limit": limit, "purge_on": bool(settings.local_archive_days),
            "recheck_before": now - RECHECK_AFTER,
        }
        if stage == "processed":
            where = """r.local_removal IS NULL AND r.local_retention_held_at IS NULL
                       AND r.uploaded_at < %(due_before)s"""
            if after is not None:
                where += " AND (r.uploaded_at, r.id) > (%(after_at)s, %(after_id)s)"
            order = "r.uploaded_at, r.id"
        elif stage == ARCHIVE:
            where = """r.local_removal = 'archived' AND r.local_retention_held_at IS NULL
                       AND r.local_removed_at < %(purge_before)s"""
            if after is not None:
                where += " AND (r.local_removed_at, r.id) > (%(after_at)s, %(after_id)s)"
            order = "r.local_removed_at, r.id"
        else:
            where = """r.local_retention_held_at IS NOT NULL
                       AND r.local_retention_held_at < %(recheck_before)s
                       AND ((r.local_removal IS NULL AND r.uploaded_at < %(due_before)s)
                            OR (r.local_removal = 'archived' AND %(purge_on)s
                                AND r.local_removed_at < %(purge_before)s))"""
            if after is not None:
                where += (" AND (r.local_retention_held_at, r.id)"
                          " > (%(after_at)s, %(after_id)s)")
            order = "r.local_retention_held_at, r.id"
        if after is not None:
            params["after_at"], params["after_id"] = after
        with self.conn.cursor() as cur:
            cur.execute(
                f"""SELECT r.id, r.filename, r.local_path, r.s3_key, r.file_size, r.file_hash,
                           r.uploaded_at, r.local_removal, r.local_removed_at,
                           r.local_retention_held_at
                    FROM {REGISTRY_TABLE} r
                    WHERE r.empresa = %(empresa)s AND r.s3_bucket = %(bucket)s
                      AND r.local_path IS NOT NULL AND {where} AND {_REMOVABLE}
                    ORDER BY {order} LIMIT %(limit)s""", params)
            rows = [Candidate(*row) for row in cur.fetchall()]
        self.conn.commit()
        return rows

    def _question_subjects(self) -> list[str]:
        """What the company's open questions are about: S3 keys, file names, requests
        (``data_general.open_findings``: waiting for an answer, answered "Leave open", or
        with an answer waiting to be applied)."""
        with self.conn.cursor() as cur:
            cur.execute(
                f"""SELECT DISTINCT x FROM {_FINDINGS} f,
                           LATERAL (VALUES (f.subject), (f.s3_key)) AS v(x)
                    WHERE f.empresa = %s AND f.needs_human AND f.open
                      AND f.cleared_at IS NULL AND x IS NOT NULL""",
                (self.company.empresa,))
            subjects = sorted(x for (x,) in cur.fetchall())
        self.conn.commit()
        return subjects

    def _count_held_by_questions(self, subjects: list[str]) -> int:
        if not subjects:
            return 0
        due_before = self.now - timedelta(days=self.settings.local_retention_days)
        with self.conn.cursor() as cur:
            cur.execute(
                f"""SELECT count(*) FROM {REGISTRY_TABLE} r
                    WHERE r.empresa = %(empresa)s AND r.s3_bucket = %(bucket)s
                      AND r.local_path IS NOT NULL
                      AND r.local_removal IS NULL AND r.uploaded_at < %(due_before)s
                      AND (r.s3_key = ANY(%(subjects)s::text[])
                           OR r.filename = ANY(%(subjects)s::text[])
                           OR r.numero_radicado = ANY(%(subjects)s::text[]))""",
                {"empresa": self.company.empresa, "bucket": self.settings.bucket,
                 "due_before": due_before, "subjects": subjects})
            count = int(one(cur)[0])
        self.conn.commit()
        return count

    def _count_kept_over_local(self) -> None:
        """Due local files a review kept the bucket's object over (they stay in
        ``processed/`` beside their registry row, which describes the kept object: a file
        in one place) are counted as held (:data:`LOCAL_KEPT_OVER`) every run: never
        removed by themselves, never left uncounted."""
        due_before = self.now - timedelta(days=self.settings.local_retention_days)
        with self.conn.cursor() as cur:
            cur.execute(
                f"""SELECT r.local_path FROM {REGISTRY_TABLE} r
                    WHERE r.empresa = %(empresa)s AND r.s3_bucket = %(bucket)s
                      AND r.local_path IS NOT NULL AND r.local_removal IS NULL
                      AND COALESCE(r.metadata -> 'review' ? 'local_file', false)
                      AND COALESCE(r.uploaded_at, r.created_at) < %(due_before)s""",
                {"empresa": self.company.empresa, "bucket": self.settings.bucket,
                 "due_before": due_before})
            paths = [path for (path,) in cur.fetchall()]
        self.conn.commit()
        held = sum(1 for path in paths if Path(path).parent == self.folders.processed
                   and os.path.lexists(path))
        if not held:
            return
        self.summary.local_held += held
        reasons = self.summary.held_reasons
        reasons[LOCAL_KEPT_OVER] = reasons.get(LOCAL_KEPT_OVER, 0) + held
        log.warning("retention: %d local file(s) in processed/ a review kept the bucket's "
                    "object over (registry rows whose metadata.review.local_file is set): "
                    "never uploaded nor removed by themselves; delete them by hand", held)

    def _handle(self, pool: ThreadPoolExecutor, rows: list[Candidate]) -> None:
        """Verify a batch, hold what is not verified, remove the rest (intent, files,
        outcome)."""
        if not self.checked_s3:
            assert self.client is not None
            preflight(self.client, self.settings.bucket, conn_id=self.settings.aws_conn_id,
                      prefix=company_prefix(self.settings.base_path, self.company.empresa))
            self.checked_s3 = True
        verdicts = list(pool.map(self._verify, rows))
        fatal = next((v.fatal for v in verdicts if v.fatal is not None), None)
        held = [(v.row.id, v.held) for v in verdicts if v.fatal is None and v.held]
        self._hold(held, filenames={v.row.id: v.row.filename for v in verdicts}, log_each=True)
        verified = [v for v in verdicts if v.fatal is None and not v.held]
        self.record(commit=True)  # the holds, with this try's counts
        if verified:
            self._remove(verified)
        if fatal is not None:
            raise self._s3_error(fatal)

    def _verify(self, row: Candidate) -> Verdict:
        if self._where(row) is None:
            return Verdict(row, held=LOCAL_ELSEWHERE)
        try:
            sha256, md5, size = _digests(Path(row.local_path))
        except FileNotFoundError:
            return Verdict(row, held=LOCAL_MISSING)
        except NotRegularFile:
            return Verdict(row, held=LOCAL_NOT_REGULAR)
        except OSError:
            return Verdict(row, held=LOCAL_UNREADABLE)
        if sha256 != row.file_hash or (row.file_size is not None and size != row.file_size):
            return Verdict(row, held=LOCAL_CHANGED)
        assert self.client is not None
        try:
            return _verify_object(self.client, self.settings.bucket, row, sha256, md5, size)
        except (ClientError, BotoCoreError) as exc:
            return Verdict(row, fatal=exc)

    def _where(self, row: Candidate) -> str | None:
        """``processed`` or ``archive`` when the row's local copy is where this step keeps
        it (a landing root moved since it was registered: neither)."""
        path = Path(row.local_path)
        if path.name != row.filename and row.local_removal is None:
            return None
        if row.local_removal is None and path.parent == self.folders.processed:
            return "processed"
        if row.local_removal == "archived" and path.parent.parent == _archive(self.folders):
            return ARCHIVE
        return None

    def _s3_error(self, exc: BaseException) -> S3PreflightError:
        bucket, conn_id = self.settings.bucket, self.settings.aws_conn_id
        if isinstance(exc, ClientError):
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            code = str(exc.response.get("Error", {}).get("Code", ""))
            retryable = status >= 500 or status == 409 or code in {
                "SlowDown", "Throttling", "RequestTimeout"}
            return S3PreflightError(
                "retention: " + explain_s3_error(exc, bucket=bucket, conn_id=conn_id)
                + "\nFiles verified before this answer were removed and recorded; no other "
                "file was touched.", retryable=retryable)
        return S3PreflightError(
            f"retention: S3 did not answer ({type(exc).__name__}) for bucket '{bucket}'; "
            "the task is retried\nFiles verified before were removed and recorded; no other "
            "file was touched.", retryable=True)

    def _hold(self, held: list[tuple[int, str]], *, filenames: dict[int, str],
              log_each: bool = False) -> None:
        """Record why due files are kept; they are looked at again after
        :data:`RECHECK_AFTER`. In the caller's transaction."""
        if not held:
            return
        with self.conn.cursor() as cur:
            cur.execute(
                f"""UPDATE {REGISTRY_TABLE} r
                    SET local_retention_held_at = %s, local_retention_note = u.note,
                        updated_at = now()
                    FROM unnest(%s::bigint[], %s::text[]) AS u(id, note) WHERE r.id = u.id""",
                (self.now, [i for i, _ in held], [n for _, n in held]))
        self.summary.local_held += len(held)
        reasons = self.summary.held_reasons
        for _, note in held:
            reasons[note] = reasons.get(note, 0) + 1
        if log_each:
            for row_id, note in held[:20]:
                log.warning("retention: %s (registry row %d) kept: %s",
                            shown_name(filenames.get(row_id, "")), row_id, note)
            if len(held) > 20:
                log.warning("retention: … and %d more kept (local_retention_note of their "
                            "registry rows says why)", len(held) - 20)

    def _remove(self, verified: list[Verdict]) -> None:
        """Intent, file operations, outcome: a kill between any two leaves a state the next
        run settles (:meth:`settle_interrupted`)."""
        mode = self.settings.local_retention
        intents: list[tuple[Verdict, str, str, str | None]] = []
        claimed: set[Path] = set()
        for verdict in verified:
            row = verdict.row
            stage = self._where(row)
            if stage == ARCHIVE or mode == DELETE:
                intents.append((verdict, "deleting", stage or "processed", None))
                continue
            target = _archive_target(self.folders, row, claimed)
            if target is None:
                intents.append((verdict, "", "processed", None))  # no free name: held below
                continue
            claimed.add(target)
            intents.append((verdict, "archiving", "processed", str(target)))
        no_name = [(v.row.id, MOVE_FAILED) for v, intent, _, _ in intents if not intent]
        intents = [i for i in intents if i[1]]
        with self.conn.cursor() as cur:
            cur.execute(
                f"""UPDATE {REGISTRY_TABLE} r
                    SET local_removal = u.intent,
                        local_archive_path = COALESCE(u.target, r.local_archive_path),
                        local_removal_run_id = %s,
                        metadata = r.metadata || jsonb_build_object('retention', u.facts),
                        updated_at = now()
                    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],
                                %s::jsonb[]) AS u(id, intent, target, path, was, facts)
                    WHERE r.id = u.id AND r.local_path = u.path
                      AND r.local_removal IS NOT DISTINCT FROM u.was""",
                (self.run_id, [v.row.id for v, *_ in intents], [i for _, i, _, _ in intents],
                 [t for *_, t in intents], [v.row.local_path for v, *_ in intents],
                 [v.row.local_removal for v, *_ in intents],
                 [Jsonb(v.facts) for v, *_ in intents]))
        self._hold(no_name, filenames={v.row.id: v.row.filename for v in verified})
        self.conn.commit()  # the intent is on disk before any file moves
        done: list[_Done] = []
        failed: list[tuple[int, str | None]] = []
        folders: set[Path] = set()
        for verdict, intent, stage, moved_to in intents:
            source = Path(verdict.row.local_path)
            try:
                if intent == "archiving":
                    assert moved_to is not None
                    _move(source, Path(moved_to))
                    folders.update({source.parent, Path(moved_to).parent})
                else:
                    _delete(source)
                    folders.add(source.parent)
            except OSError as exc:
                log.warning("retention: %s could not be %s (%s); it stays, recorded as kept",
                            shown_name(verdict.row.filename),
                            "archived" if intent == "archiving" else "deleted",
                            exc.strerror or type(exc).__name__)
                failed.append((verdict.row.id, "archived" if stage == ARCHIVE else None))
                continue
            done.append(_Done(verdict.row.id, intent, stage, verdict.facts))
        _sync_folders(folders)  # the moves are durable before they are recorded
        self._undo(failed)
        self._hold([(i, MOVE_FAILED) for i, _ in failed],
                   filenames={v.row.id: v.row.filename for v in verified})
        self._record_done(done)
        self.record(commit=True)

    def _record_done(self, done: list[_Done]) -> None:
        """The outcome of removals whose file operation happened: ``archived`` (the copy is
        at its archive path) or ``deleted`` (no local copy). Counted in this try's record;
        in the caller's transaction."""
        if not done:
            return
        with self.conn.cursor() as cur:
            cur.execute(
                f"""UPDATE {REGISTRY_TABLE} r
                    SET local_removal = CASE u.intent WHEN 'archiving' THEN 'archived'
                                                      ELSE 'deleted' END,
                        local_path = CASE u.intent WHEN 'archiving'
                                                   THEN r.local_archive_path END,
                        local_removed_at = CASE u.stage WHEN 'processed' THEN %(now)s
                                                        ELSE r.local_removed_at END,
                        local_removed_from = CASE u.stage WHEN 'processed' THEN r.local_path
                                                          ELSE r.local_removed_from END,
                        local_archive_path = CASE WHEN u.intent = 'deleting'
                                                   AND u.stage = 'processed' THEN NULL
                                                  ELSE r.local_archive_path END,
                        local_deleted_at = CASE u.intent WHEN 'deleting' THEN %(now)s
                                                         ELSE r.local_deleted_at END,
                        local_removal_run_id = %(run_id)s,
                        local_retention_held_at = NULL, local_retention_note = NULL,
                        metadata = r.metadata || jsonb_build_object('retention',
                            COALESCE(r.metadata -> 'retention', '{{}}'::jsonb) || u.facts),
                        updated_at = now()
                    FROM unnest(%(ids)s::bigint[], %(intents)s::text[], %(stages)s::text[],
                                %(facts)s::jsonb[]) AS u(id, intent, stage, facts)
                    WHERE r.id = u.id AND r.local_removal = u.intent""",
                {"now": self.now, "run_id": self.run_id, "ids": [d.id for d in done],
                 "intents": [d.intent for d in done], "stages": [d.stage for d in done],
                 "facts": [Jsonb({**d.facts, "run_id": self.run_id,
                                  "done": "archived" if d.intent == "archiving"
                                  else "deleted"}) for d in done]})
        for d in done:
            if d.intent == "archiving":
                self.summary.local_archived += 1
            else:
                self.summary.local_deleted += 1
                self.summary.local_archive_purged += d.stage == ARCHIVE

    # ------------------------------------------------------------------ manifests

    def manifests(self) -> None:
        """Loaded manifests older than ``ov_manifest_retention_days``; pieces of writes
        that never completed, as old. An unloaded manifest is never removed."""
        folder = self.folders.manifests
        cutoff = (self.now - timedelta(days=self.settings.manifest_retention_days)).timestamp()
        try:
            with os.scandir(folder) as entries:
                found = {e.name: e.stat(follow_symlinks=False).st_mtime for e in entries
                         if e.is_file(follow_symlinks=False)}
        except FileNotFoundError:
            return
        headers = sorted((mtime, name) for name, mtime in found.items()
                         if name.endswith(".jsonl") and mtime < cutoff)
        for _, name in headers[:MAX_MANIFESTS_PER_RUN]:
            path = folder / name
            if not self._manifest_loaded(path):
                self.summary.manifests_unloaded += 1
                continue
            # The header first: once it is gone the rest is no manifest any more.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            for suffix in _MANIFEST_PIECES:
                with contextlib.suppress(FileNotFoundError):
                    path.with_suffix(suffix).unlink()
            self.summary.manifests_removed += 1
        stems = {name.removesuffix(".jsonl") for name in found if name.endswith(".jsonl")}
        for name, mtime in found.items():
            piece = next((s for s in _MANIFEST_PIECES if name.endswith(s)), None)
            if piece is None or mtime >= cutoff or name.removesuffix(piece) in stems:
                continue
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
                self.summary.manifest_leftovers_removed += 1
        if self.summary.manifests_unloaded:
            log.warning(
                "retention: %d manifest(s) in %s are older than ov_manifest_retention_days="
                "%g and not loaded: kept (they hold request rows). Clear load_db of their "
                "run, or let a later run load their requests", self.summary.manifests_unloaded,
                folder, self.settings.manifest_retention_days)

    def _manifest_loaded(self, path: Path) -> bool:
        """Its ``load_db`` committed, or every request JSON it carries is marked loaded."""
        from extractorov import pipeline, registry

        try:
            with path.open(encoding="utf-8") as handle:
                header = json.loads(handle.readline())
        except (OSError, ValueError):
            return False
        if not isinstance(header, dict) or header.get("empresa", self.company.empresa) != (
                self.company.empresa):
            return False
        owner, attempt = header.get("run_id"), header.get("attempt")
        if owner and attempt is not None:
            loads = runsteps.recorded(self.conn, owner, self.company.empresa, runsteps.LOAD_DB)
            self.conn.commit()
            if any(r.attempt == str(attempt) for r in loads):
                return True
        try:
            keys = pipeline.manifest_keys(self.conn, self.company, path)
        except (OSError, ValueError, KeyError):
            return False
        files = sorted(set(keys.json_files))
        if len(keys.radicados) != int(header.get("records") or 0):
            return False
        loaded = registry.count_loaded(self.conn, self.company.empresa, keys.bucket, files)
        self.conn.commit()
        return loaded == len(files)

    # ------------------------------------------------------------------ quarantine

    def quarantine(self) -> None:
        """Reason files without their file, a day old, go; quarantined files are counted
        when older than ``ov_local_retention_days`` (never removed here)."""
        folder = self.folders.quarantine
        try:
            with os.scandir(folder) as entries:
                names = {e.name for e in entries if not e.is_dir(follow_symlinks=False)}
        except FileNotFoundError:
            return
        grace = (self.now - REASON_FILE_GRACE).timestamp()
        for name in sorted(names):
            if not name.endswith(_REASON_SUFFIX) or name + _REASON_SUFFIX in names:
                continue  # a file (perhaps one named like a reason file, with its reason)
            owner = name.removesuffix(_REASON_SUFFIX)
            path = folder / name
            try:
                if os.path.lexists(folder / owner) or path.lstat().st_mtime >= grace:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            self.summary.reasons_removed += 1
        old = (self.now - timedelta(days=self.settings.local_retention_days)).timestamp()
        for entry in read_quarantine(self.folders):
            with contextlib.suppress(OSError):
                since = (entry.reason_path if os.path.lexists(entry.reason_path)
                         else entry.path)
                if since.lstat().st_mtime < old:
                    self.summary.quarantine_old += 1
        if self.summary.reasons_removed:
            log.info("retention: %d reason file(s) without their file removed from "
                     "quarantine/", self.summary.reasons_removed)
        if self.summary.quarantine_old:
            log.warning(
                "retention: %d file(s) have been in quarantine/ for over %g days "
                "(ov_local_retention_days); they may hold personal data and are never "
                "removed by themselves: re-admit them (readmit_quarantine), fix them, or "
                "delete them by hand with their .reason.txt", self.summary.quarantine_old,
                self.settings.local_retention_days)


_REMOVABLE = """r.upload_status IN ('uploaded', 'pre_existing')
    AND r.moving_from IS NULL AND r.last_error IS NULL AND r.file_hash IS NOT NULL
    AND NOT COALESCE(r.metadata -> 'review' ? 'local_file', false)
    AND (r.file_type IS DISTINCT FROM 'json'
         OR COALESCE((SELECT true FROM """ + LOADED_TABLE + """ l WHERE l.empresa = r.empresa
                      AND l.s3_bucket = r.s3_bucket AND l.filename = r.filename LIMIT 1),
                     false))
    AND NOT (r.s3_key = ANY(%(subjects)s::text[]) OR r.filename = ANY(%(subjects)s::text[])
             OR COALESCE(r.numero_radicado = ANY(%(subjects)s::text[]), false))"""
"""What may lose its local copy at all: delivered (``uploaded`` / ``pre_existing``), not
moving to another folder, no error, not superseded by a review (the local file is not what
the bucket holds), a request JSON only once its record is loaded, and nothing an open
question is about (its key, its name, its request). The loaded mark is a probe of its
primary key per row (a scalar subquery): an ``EXISTS`` under ``OR`` was planned as a hashed
subplan reading the whole marks table for every batch."""


@dataclass(frozen=True)
class _Done:
    id: int
    intent: str
    stage: str
    facts: dict[str, Any]


def _stage_of(path: str | None, archive_path: str | None) -> str:
    return ARCHIVE if path and archive_path and path == archive_path else "processed"


def _archive(folders: CompanyFolders) -> Path:
    return folders.root / "archive"


def _archive_target(folders: CompanyFolders, row: Candidate, claimed: set[Path]
                    ) -> Path | None:
    """``archive/YYYY-MM/{name}`` (the month of its upload, Bogotá), or the first free
    ``{name}.N``: an archived file is never overwritten."""
    when = (row.uploaded_at or datetime.now(UTC)).astimezone(BOGOTA)
    folder = _archive(folders) / f"{when:%Y-%m}"
    for n in range(1000):
        name = row.filename if n == 0 else f"{row.filename}.{n}"
        if len(os.fsencode(name)) > 255:
            return None
        target = folder / name
        if target not in claimed and not os.path.lexists(target):
            return target
    return None


def _move(source: Path, target: Path) -> None:
    """Rename within the company's folder (one file system: atomic); never over a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "the archive path is taken", str(target))
    if source.is_symlink() or not source.is_file():
        raise FileNotFoundError(errno.ENOENT, "not a regular file any more", str(source))
    os.rename(source, target)


def _delete(path: Path) -> None:
    if path.is_symlink() or not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "not a regular file any more", str(path))
    path.unlink()


def _same_file(a: str, b: str) -> bool:
    with contextlib.suppress(OSError):
        return os.path.samestat(os.lstat(a), os.lstat(b))
    return False


def _sync_folders(folders: set[Path]) -> None:
    """fsync each folder a file left or entered (and an archive month's parent), so the
    renames and unlinks survive a crash of the host before they are recorded."""
    for folder in sorted({*folders, *(f.parent for f in folders if f.parent.name ==
                                      "archive")}):
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError as exc:
            if exc.errno not in {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF}:
                raise
        finally:
            os.close(fd)


def _digests(path: Path) -> tuple[str, str, int]:
    """SHA-256 and MD5 (hex) and size of a file from one read, no link followed."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    size = 0
    with os.fdopen(open_regular(path), "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            sha256.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return sha256.hexdigest(), md5.hexdigest(), size


def _verify_object(client: BaseClient, bucket: str, row: Candidate, sha256: str, md5: str,
                   size: int) -> Verdict:
    """One HEAD: the object is there, with the local file's size, and every fingerprint it
    carries agrees with the local bytes (see the module docstring). ``ClientError`` other
    than "not found" (permissions, throttling) and ``BotoCoreError`` are raised."""
    try:
        head = client.head_object(Bucket=bucket, Key=row.s3_key, ChecksumMode="ENABLED")
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or exc.response.get("Error", {}).get("Code") in {
                "404", "NoSuchKey", "NotFound"}:
            return Verdict(row, held=OBJECT_MISSING)
        raise
    if head.get("DeleteMarker"):
        return Verdict(row, held=OBJECT_MISSING)
    if head.get("ContentLength") != size:
        return Verdict(row, held=OBJECT_SIZE_DIFFERS)
    etag = str(head.get("ETag", "")).strip('"')
    whole = "-" not in etag and not head.get("PartsCount")
    checks: dict[str, bool] = {}
    stored = head.get("ChecksumSHA256")
    if stored and "-" not in stored and (whole or head.get("ChecksumType") == "FULL_OBJECT"):
        checks["checksum"] = base64.b64decode(stored).hex() == sha256
    if etag and whole and head.get("ServerSideEncryption") != "aws:kms" and not head.get(
            "SSECustomerAlgorithm"):
        checks["etag"] = etag == md5
    if ours := head.get("Metadata", {}).get("file-hash"):
        checks["file-hash"] = ours == sha256
    if not checks:
        try:
            digest = hashlib.sha256()
            body = client.get_object(Bucket=bucket, Key=row.s3_key)["Body"]
            for chunk in body.iter_chunks(_CHUNK):
                digest.update(chunk)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"InvalidObjectState",
                                                            "NoSuchKey", "404"}:
                return Verdict(row, held=OBJECT_UNREADABLE)  # archived to Glacier, say
            raise
        checks["read"] = digest.hexdigest() == sha256
    if not all(checks.values()):
        return Verdict(row, held=OBJECT_DIFFERS)
    return Verdict(row, facts={
        "verified_by": sorted(checks), "etag": head.get("ETag"),
        "version_id": head.get("VersionId"), "sha256": sha256, "size": size})


# --------------------------------------------------------------------------- readers


def removed_copies(conn: Connection, row_ids: list[int]) -> dict[int, tuple[str, datetime]]:
    """``row id → (local_removal, when)`` of rows whose local copy retention removed
    (what a finding about a row without a local copy says)."""
    if not row_ids:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT id, local_removal, COALESCE(local_deleted_at, local_removed_at)
                FROM {REGISTRY_TABLE}
                WHERE id = ANY(%s) AND local_removal IN ('archived', 'deleted')""",
            (list(row_ids),))
        return {row_id: (how, when) for row_id, how, when in cur.fetchall()}


def run_counts(conn: Connection, run_id: str, empresa: str) -> dict[str, Any] | None:
    """The run's retention counts, every try added up (``None``: no try recorded)."""
    return runsteps.run_totals(conn, run_id, empresa).get(STEP)


def archived_files(folders: CompanyFolders) -> Iterator[Path]:
    """Every file in ``archive/`` (for tools and tests)."""
    root = _archive(folders)
    if root.is_dir():
        yield from sorted(p for p in root.rglob("*") if p.is_file())


__all__ = [
    "ARCHIVE",
    "BATCH",
    "DELETE",
    "KEEP",
    "RetentionSummary",
    "removed_copies",
    "run",
    "run_counts",
]
