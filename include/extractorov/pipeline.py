"""The four steps of a company run, as plain functions (no Airflow here).

Each takes an open psycopg connection (and for uploads a boto3 S3 client),
returns a small summary of counts (safe for XCom: no records, no personal
data) and is idempotent: running a step twice leaves the same tables,
registry and bucket as running it once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import Connection

from extractorov import registry, warehouse
from extractorov.companies import Company
from extractorov.landing import (
    IN_PROGRESS_SUFFIXES,
    FileKind,
    LandingFile,
    company_folders,
    parse_file_name,
    printable,
    quarantine,
    scan,
    sha256_bytes,
    sha256_file,
)
from extractorov.records import MAX_JSON_BYTES, InvalidRecord, Record, parse_record
from extractorov.registry import RegistryEntry
from extractorov.storage import (
    Progress,
    S3PreflightError,
    UnsafeKey,
    company_prefix,
    preflight,
    s3_key,
    s3_url,
    upload_files,
)

log = logging.getLogger(__name__)

DEFAULT_BUCKET = "extractorov-data"
DEFAULT_BASE_PATH = "oficina-virtual"
DEFAULT_LANDING_ROOT = "/opt/airflow/landing"


@dataclass(frozen=True)
class Settings:
    """Where things are; built from Airflow Variables by the DAG."""

    landing_root: Path
    bucket: str = DEFAULT_BUCKET
    base_path: str = DEFAULT_BASE_PATH
    settle_seconds: float = 30.0
    """Files modified more recently than this are left for the next run (still being written)."""
    upload_workers: int = 16
    sse_kms_key_id: str | None = None
    aws_conn_id: str = "aws_default"


# --------------------------------------------------------------------------- extract


@dataclass
class ExtractSummary:
    manifest: str = ""
    files_found: int = 0
    files_handled_before: int = 0
    files_new: int = 0
    files_in_progress: int = 0
    files_quarantined: int = 0
    files_vanished: int = 0
    files_registered: int = 0
    records_found: int = 0
    records: int = 0
    records_superseded: int = 0
    bytes_new: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Group:
    """The new files of one SGC number (from the file names) in this run."""

    data: list[tuple[LandingFile, Any]] = field(default_factory=list)
    companions: list[tuple[LandingFile, Any]] = field(default_factory=list)


def manifest_path(settings: Settings, company: Company, run_id: str) -> Path:
    # Run ids contain ':' and '+'; a checksum keeps distinct ids distinct after cleaning.
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
    return company_folders(settings.landing_root, company.empresa).manifests / (
        f"{safe}-{zlib.crc32(run_id.encode()):08x}.jsonl"
    )


def extract(conn: Connection, company: Company, settings: Settings, run_id: str) -> ExtractSummary:
    """Scan the landing folder, validate, quarantine, register, write the run manifest.

    Files the registry already has (and, for request JSONs, already loaded)
    are skipped without being read, so the cost follows new data only.
    """
    started = time.monotonic()
    warehouse.ensure_schema(conn)
    conn.commit()
    folders = company_folders(settings.landing_root, company.empresa)
    summary = ExtractSummary()
    log.info("extract: scanning %s", folders.processed)
    found = scan(folders.processed, settle_seconds=settings.settle_seconds)
    summary.files_in_progress = len(found.in_progress)
    summary.files_found = len(found.files) + len(found.not_regular)
    known = registry.known_files(conn, company.empresa, settings.bucket)

    def reject(path: Path, reason: str) -> None:
        try:
            quarantine(path, reason, folders, run_id=run_id)
        except FileNotFoundError:
            vanished(path)
            return
        summary.files_quarantined += 1
        key = reason.split(":")[0]
        summary.quarantine_reasons[key] = summary.quarantine_reasons.get(key, 0) + 1
        log.warning("quarantined %s: %s", printable(path.name), reason)

    def vanished(path: Path) -> None:
        # Moved away by someone while we ran: nothing to track; a later run sees it if back.
        summary.files_vanished += 1
        log.warning("%s disappeared from processed/ during the run; skipped",
                    printable(path.name))

    for path in found.not_regular:
        reject(path, "not a regular file (symbolic link or device); links are never followed: "
                     "copy the real file into processed/")

    log.info("extract: %d files in processed/, %d known to the registry", len(found.files),
             len(known))
    groups: dict[str, _Group] = {}
    classify = Progress("extract (classify)", len(found.files))
    for scanned, file in enumerate(found.files, start=1):
        classify.update(scanned)
        name = parse_file_name(file.name)
        if name is None:
            reject(file.path, "file name does not match the scraper's patterns "
                              "({sgc}_data_{ts}.json, {sgc}_{ts}.pdf, {sgc}_adjunto_{ts}.{ext})")
            continue
        seen = known.get(file.name)
        if seen is not None and (name.kind is not FileKind.DATA or seen.loaded):
            summary.files_handled_before += 1
            continue
        if file.size == 0:
            reject(file.path, "empty file (0 bytes)")
            continue
        group = groups.setdefault(name.sgc, _Group())
        (group.data if name.kind is FileKind.DATA else group.companions).append((file, name))
    classify.update(len(found.files), force=bool(found.files))
    summary.files_new = sum(len(g.data) + len(g.companions) for g in groups.values())

    writing_sgcs = _sgcs_being_written(found.in_progress)
    latest: dict[str, Record] = {}
    files_of: dict[str, list[str]] = {}
    entries: list[RegistryEntry] = []
    sgc_from_registry: dict[str, str] | None = None

    progress = Progress("extract", summary.files_new)
    done = 0
    for file_sgc, group in groups.items():
        done += len(group.data) + len(group.companions)
        progress.update(done)
        valid: list[Record] = []
        for file, name in group.data:
            record, digest = _read_record(file, name, company, reject, vanished)
            if record is None:
                continue
            entry = _entry(file, name, record.numero_reclamo_sgc, digest, company, settings,
                           {"kind": name.kind.value, "numero_radicado": record.numero_radicado})
            if entry is None:
                reject(file.path, "file name cannot be used in an S3 key")
                continue
            valid.append(record)
            summary.records_found += 1
            entries.append(entry)
            files_of.setdefault(record.numero_radicado, []).append(file.name)
            current = latest.get(record.numero_radicado)
            if current is None or _newer(record, current):
                latest[record.numero_radicado] = record

        if valid:
            sgc = max(valid, key=_order_key).numero_reclamo_sgc
        elif group.data:
            for file, _ in group.companions:
                reject(file.path, "its request JSON (same SGC in the file name) was quarantined")
            continue
        else:
            if sgc_from_registry is None:
                sgc_from_registry = _sgc_of_known_files(known)
            sgc = sgc_from_registry.get(file_sgc)
            if sgc is None and file_sgc in writing_sgcs:
                # Its JSON is still being written: wait for it rather than call these orphans.
                summary.files_in_progress += len(group.companions)
                continue
            if sgc is None:
                for file, _ in group.companions:
                    reject(file.path, "no request JSON with the same SGC number in processed/ "
                                      "or in the registry (orphan file)")
                continue
        for file, name in group.companions:
            try:
                digest = sha256_file(file.path)
            except FileNotFoundError:
                vanished(file.path)
                continue
            except OSError as exc:
                reject(file.path, f"cannot read file ({exc.strerror})")
                continue
            entry = _entry(file, name, sgc, digest, company, settings,
                           {"kind": name.kind.value})
            if entry is None:
                reject(file.path, "file name cannot be used in an S3 key")
                continue
            entries.append(entry)

    progress.update(done, force=summary.files_new > 0)
    summary.records = len(latest)
    summary.records_superseded = summary.records_found - len(latest)
    summary.bytes_new = sum(e.file_size for e in entries)

    path = manifest_path(settings, company, run_id)
    _write_manifest(path, company, settings, latest, files_of)
    summary.manifest = str(path)
    log.info("extract: registering %d files as pending", len(entries))
    summary.files_registered = registry.register_pending(
        conn, _with_progress("extract (register)", entries))
    conn.commit()
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def _with_progress(label: str, items: list[RegistryEntry]) -> Iterator[RegistryEntry]:
    progress = Progress(label, len(items))
    for done, item in enumerate(items, start=1):
        progress.update(done)
        yield item
    progress.update(len(items), force=bool(items))


def _sgcs_being_written(names: list[str]) -> set[str]:
    """SGC numbers whose request JSON is still being written (temp suffix or too recent)."""
    sgcs: set[str] = set()
    for raw in names:
        name = raw.lstrip(".")
        for suffix in IN_PROGRESS_SUFFIXES:
            name = name.removesuffix(suffix)
        parsed = parse_file_name(name)
        if parsed is not None and parsed.kind is FileKind.DATA:
            sgcs.add(parsed.sgc)
    return sgcs


def _read_record(file: LandingFile, name: Any, company: Company,
                 reject: Any, vanished: Any) -> tuple[Record | None, str]:
    if file.size > MAX_JSON_BYTES:
        reject(file.path, f"file is {file.size / 1024 / 1024:.1f} MiB, over the "
                          f"{MAX_JSON_BYTES // 1024 // 1024} MiB limit for a request JSON")
        return None, ""
    try:
        raw = file.path.read_bytes()
    except FileNotFoundError:
        vanished(file.path)
        return None, ""
    except OSError as exc:
        reject(file.path, f"cannot read file ({exc.strerror})")
        return None, ""
    try:
        record = parse_record(raw, company=company, file_name=file.name, file_sgc=name.sgc,
                              file_timestamp=name.timestamp)
    except InvalidRecord as exc:
        reject(file.path, f"invalid request JSON: {exc}")
        return None, ""
    return record, sha256_bytes(raw)


def _order_key(record: Record) -> tuple[str, str]:
    ts = record.extraction_timestamp.isoformat() if record.extraction_timestamp else ""
    return ts, record.archivo_origen


def _newer(a: Record, b: Record) -> bool:
    return _order_key(a) > _order_key(b)


def _sgc_of_known_files(known: dict[str, registry.KnownFile]) -> dict[str, str]:
    """File-name SGC → the S3 folder (SGC) the registry filed its request under."""
    result: dict[str, str] = {}
    for filename, info in known.items():
        name = parse_file_name(filename)
        if name is not None and name.kind is FileKind.DATA and info.numero_reclamo_sgc:
            result[name.sgc] = info.numero_reclamo_sgc
    return result


def _entry(file: LandingFile, name: Any, sgc: str, digest: str, company: Company,
           settings: Settings, metadata: dict[str, Any]) -> RegistryEntry | None:
    try:
        key = s3_key(settings.base_path, company.empresa, sgc, file.name)
    except UnsafeKey:
        return None
    return RegistryEntry(
        filename=file.name,
        local_path=str(file.path),
        s3_bucket=settings.bucket,
        s3_key=key,
        s3_url=s3_url(settings.bucket, key),
        numero_reclamo_sgc=sgc,
        empresa=company.empresa,
        file_size=file.size,
        file_type=name.extension,
        content_type=name.content_type,
        file_hash=digest,
        metadata=metadata,
    )


def _write_manifest(path: Path, company: Company, settings: Settings,
                    records: dict[str, Record], files_of: dict[str, list[str]]) -> None:
    """One JSON line per record; written to a temp file and renamed (atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        header = {"empresa": company.empresa, "bucket": settings.bucket, "records": len(records)}
        out.write(json.dumps(header) + "\n")
        for radicado, record in records.items():
            line = {"record": record.to_manifest(), "files": files_of[radicado]}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _read_manifest(path: Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    if not path.is_file():
        raise FileNotFoundError(
            f"manifest {path} is missing: rerun the extract task of this DAG run "
            "(the landing folder must be shared by every worker)"
        )
    handle = path.open(encoding="utf-8")
    header = json.loads(handle.readline())

    def lines() -> Iterator[dict[str, Any]]:
        with handle:
            for line in handle:
                yield json.loads(line)

    return header, lines()


# --------------------------------------------------------------------------- load


class LoadFailed(RuntimeError):
    """The batch was rolled back; the message carries no row values."""


@dataclass
class LoadSummary:
    records: int = 0
    db_inserted: int = 0
    db_updated: int = 0
    db_duplicates: int = 0
    db_errors: int = 0
    json_files_loaded: int = 0
    seconds: float = 0.0


def load(conn: Connection, company: Company, manifest: str | Path) -> LoadSummary:
    """Upsert the manifest's records and mark their JSON files loaded, in one transaction."""
    started = time.monotonic()
    warehouse.ensure_schema(conn, [company])
    conn.commit()
    header, lines = _read_manifest(Path(manifest))
    filenames: list[str] = []
    progress = Progress("load_db", header["records"])

    def records() -> Iterator[Record]:
        done = 0
        for done, line in enumerate(lines, start=1):
            filenames.extend(line["files"])
            progress.update(done)
            yield Record.from_manifest(line["record"])
        progress.update(done, force=True)
        log.info("load_db: %d records staged; upserting and marking their JSON files loaded",
                 done)

    try:
        outcome = warehouse.upsert_records(conn, company, records())
        loaded = registry.mark_loaded(conn, company.empresa, header["bucket"], filenames)
        conn.commit()
    except psycopg.Error as exc:
        with contextlib.suppress(psycopg.Error):  # a lost connection has rolled back already
            conn.rollback()  # nothing of the batch is kept
        # psycopg messages can quote row values (personal data): keep only the error class.
        raise LoadFailed(
            f"load_db failed for {company.empresa}: {type(exc).__name__} "
            f"(SQLSTATE {exc.sqlstate or 'n/a'}); the transaction was rolled back, no row of "
            "this batch was written; rerun the task once the database is reachable"
        ) from None
    except BaseException:
        conn.rollback()
        raise
    return LoadSummary(
        records=outcome.total,
        db_inserted=outcome.inserted,
        db_updated=outcome.updated,
        db_duplicates=outcome.duplicates,
        json_files_loaded=loaded,
        seconds=round(time.monotonic() - started, 3),
    )


# --------------------------------------------------------------------------- upload


@dataclass
class UploadSummary:
    files: int = 0
    s3_uploaded: int = 0
    s3_pre_existing: int = 0
    s3_errors: int = 0
    s3_bytes: int = 0
    s3_errors_retryable: int = 0
    seconds: float = 0.0
    errors_by_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class UploadIncomplete(RuntimeError):
    """Some files failed; they are recorded as ``error`` and retried next time."""

    def __init__(self, summary: UploadSummary) -> None:
        reasons = "; ".join(f"{n} × {r}" for r, n in sorted(summary.errors_by_reason.items()))
        super().__init__(
            f"{summary.s3_errors} of {summary.files} files failed to upload ({reasons}). "
            f"{summary.s3_uploaded} uploaded and {summary.s3_pre_existing} already present were "
            "recorded; the failed ones are 'error' in data_general.s3_files_registry "
            "(column last_error) and the next attempt uploads only those."
        )
        self.summary = summary

    @property
    def retryable(self) -> bool:
        """True when some failure may pass by itself (network, throttling, 5xx)."""
        return self.summary.s3_errors_retryable > 0


_UPLOAD_LOCK_BASE = 0x0E0C_0000


def upload_lock_key(company: Company) -> int:
    return _UPLOAD_LOCK_BASE + zlib.crc32(company.empresa.encode()) % 0xFFFF


def upload(conn: Connection, s3_client: Any, company: Company, settings: Settings, *,
           run_id: str, lock_wait_seconds: float = 300.0) -> UploadSummary:
    """Upload every ``pending`` / ``error`` file of the company and record each outcome.

    Holds a per-company advisory lock so two runs never upload at once. Raises
    :class:`S3PreflightError` before any upload when S3 is not usable, and
    :class:`UploadIncomplete` after recording everything when some files failed.
    """
    started = time.monotonic()
    warehouse.ensure_schema(conn, [company])
    conn.commit()
    acquire_upload_lock(conn, company, lock_wait_seconds)
    try:
        pending = registry.files_to_upload(conn, company.empresa, settings.bucket)
        conn.commit()
        summary = UploadSummary(files=len(pending))
        log.info("upload_s3: %d files pending for %s", len(pending), company.empresa)
        if pending:
            # Only when there is work: a day with nothing new costs no S3 request.
            preflight(s3_client, settings.bucket, conn_id=settings.aws_conn_id,
                      prefix=company_prefix(settings.base_path, company.empresa))

        def record(results: list[registry.UploadResult]) -> None:
            registry.record_upload_results(conn, results, run_id)
            conn.commit()
            for r in results:
                if r.error and r.retryable:
                    summary.s3_errors_retryable += 1
                if r.error:
                    reason = r.error.split(":")[0][:120]
                    summary.errors_by_reason[reason] = summary.errors_by_reason.get(reason, 0) + 1

        totals = upload_files(s3_client, settings.bucket, pending, on_results=record,
                              workers=settings.upload_workers,
                              sse_kms_key_id=settings.sse_kms_key_id)
    finally:
        release_upload_lock(conn, company)
    summary.s3_uploaded = totals.uploaded
    summary.s3_pre_existing = totals.pre_existing
    summary.s3_errors = totals.errors
    summary.s3_bytes = totals.bytes_uploaded
    summary.seconds = round(time.monotonic() - started, 3)
    if summary.s3_errors:
        raise UploadIncomplete(summary)
    return summary


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
                raise RuntimeError(
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


__all__ = [
    "ExtractSummary",
    "LoadSummary",
    "S3PreflightError",
    "Settings",
    "UploadIncomplete",
    "UploadSummary",
    "extract",
    "load",
    "upload",
]
