"""S3: the one key layout, the preflight check, and the concurrent uploader.

Everything here takes a boto3 S3 client; the DAG gets it from ``S3Hook``
(connection ``aws_default``), so endpoint, region, credentials and retry
configuration all come from the Airflow connection.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from extractorov.companies import get_company
from extractorov.records import SAFE_SGC
from extractorov.registry import DIFFERENT_OBJECT, PendingFile, UploadResult

log = logging.getLogger(__name__)

SERVER_SIDE_ENCRYPTION = "AES256"
CHANGED_LOCALLY = (
    "local file changed since it was registered (SHA-256 differs): check it; if the new "
    "content is right, delete its registry row and the next run registers it again"
)


class UnsafeKey(ValueError):
    """A key component could escape its company prefix."""


NO_SGC_FOLDER = "sin_sgc"
"""Requests whose SGC the bot could not read (a placeholder such as ``PQR_4_ERROR``)
are filed under ``sin_sgc/{numero_radicado}/``: one folder per request, the same for
every re-scrape, whatever placeholder each scrape got."""


def request_folder(numero_reclamo_sgc: str | None, numero_radicado: str) -> str:
    """The folder of a request under its company's ``raw_data/``: the only rule.

    ``{numero_reclamo_sgc}`` for a real SGC, else ``sin_sgc/{numero_radicado}``.
    """
    if numero_reclamo_sgc:
        if not SAFE_SGC.match(numero_reclamo_sgc):
            raise UnsafeKey("numero_reclamo_sgc is not a safe identifier")
        return numero_reclamo_sgc
    if not SAFE_SGC.match(numero_radicado or ""):
        raise UnsafeKey(
            "the request has no real SGC and its numero_radicado cannot name an S3 folder "
            "(letters, digits, '_' and '-', at most 64 characters)"
        )
    return f"{NO_SGC_FOLDER}/{numero_radicado}"


def sgc_of_folder(folder: str) -> str | None:
    """The ``numero_reclamo_sgc`` a folder stands for (``None`` for ``sin_sgc/...``)."""
    return None if folder.startswith(NO_SGC_FOLDER + "/") else folder


def _check_folder(folder: str) -> None:
    parts = folder.split("/")
    if parts[0] == NO_SGC_FOLDER:
        if len(parts) != 2 or not SAFE_SGC.match(parts[1]):
            raise UnsafeKey("a sin_sgc folder is sin_sgc/{numero_radicado}")
    elif len(parts) != 1 or not SAFE_SGC.match(folder):
        raise UnsafeKey("numero_reclamo_sgc is not a safe identifier")


def s3_key(base_path: str, empresa: str, folder: str, filename: str) -> str:
    """``{base_path}/{empresa}/raw_data/{folder}/{filename}``: the only layout.

    ``folder`` comes from :func:`request_folder`: the SGC, or ``sin_sgc/{radicado}``.
    Every component is checked so no key can leave its company's prefix.
    """
    get_company(empresa)
    _check_folder(folder or "")
    if not filename or "/" in filename or "\\" in filename or filename in {".", ".."} or (
        not filename.isprintable() or any(unicodedata.category(ch) == "Cc" for ch in filename)
    ):
        raise UnsafeKey("file name is not a plain file name")
    parts = [p for p in base_path.strip("/").split("/") if p]
    if any(p in {".", ".."} for p in parts):
        raise UnsafeKey("base path must not contain '.' or '..' segments")
    return "/".join([*parts, empresa, "raw_data", folder, filename])


def split_key(prefix: str, key: str) -> tuple[str, str] | None:
    """``(folder, file name)`` of a key under a company prefix, or ``None`` off the layout."""
    if not key.startswith(prefix):
        return None
    folder, _, filename = key[len(prefix):].rpartition("/")
    try:
        _check_folder(folder)
    except UnsafeKey:
        return None
    return (folder, filename) if filename else None


def company_prefix(base_path: str, empresa: str) -> str:
    """Prefix under which every object of a company lives (ends with ``/``)."""
    get_company(empresa)
    parts = [p for p in base_path.strip("/").split("/") if p]
    return "/".join([*parts, empresa, "raw_data"]) + "/"


def s3_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def sha256_base64(hex_digest: str) -> str:
    """S3 wants the SHA-256 checksum as base64 of the digest, not hex."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


class S3PreflightError(RuntimeError):
    """S3 is not usable; the message says what to fix.

    ``retryable``: throttling, 5xx and connection errors may pass by themselves (the
    task is retried with backoff); configuration errors (credentials, permissions,
    bucket, region) will not (the task fails at once).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


NO_LOCAL_COPY = "no local copy to upload from"


def _fix_hint(conn_id: str) -> str:
    return (
        f"Fix the Airflow connection '{conn_id}' (Admin → Connections), or trigger the DAG "
        "with the param database_only=true to load the database only; files stay 'pending' "
        "in the registry and the next run with S3 uploads them."
    )


def explain_s3_error(exc: BaseException, *, bucket: str, conn_id: str) -> str:
    """Turn the seed guide's troubleshooting cases into one clear sentence each."""
    hint = _fix_hint(conn_id)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            f"No AWS credentials: connection '{conn_id}' has no access key id / secret access "
            f"key and none were found in the environment. {hint}"
        )
    if isinstance(exc, InvalidRegionError):
        return f"Invalid AWS region in connection '{conn_id}' (extra 'region_name'). {hint}"
    if isinstance(exc, EndpointConnectionError):
        return (
            f"Cannot reach the S3 endpoint {exc.kwargs.get('endpoint_url', '')!s}: check the "
            f"region_name / endpoint_url of connection '{conn_id}' and the network. {hint}"
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch"}:
            return (
                f"AWS rejected the credentials of connection '{conn_id}' ({code}): check the "
                f"access key id and secret. {hint}"
            )
        if code in {"AccessDenied", "403", "AllAccessDisabled"} or status == 403:
            return (
                f"Access denied to bucket '{bucket}' for the credentials of connection "
                f"'{conn_id}': the IAM policy must allow s3:ListBucket, s3:GetObject and "
                f"s3:PutObject on it (see include/aws/). {hint}"
            )
        if code in {"NoSuchBucket", "404", "NotFound"} or status == 404:
            return (
                f"Bucket '{bucket}' does not exist: create it or set the Airflow Variable "
                f"'ov_s3_bucket'. {hint}"
            )
        if code in {"PermanentRedirect", "301", "AuthorizationHeaderMalformed",
                    "IllegalLocationConstraintException", "InvalidRegion"} or status == 301:
            return (
                f"Bucket '{bucket}' is in another region than connection '{conn_id}' says "
                f"({code}): set the connection's region_name to the bucket's region. {hint}"
            )
        if (status and status >= 500) or code in {"SlowDown", "Throttling", "RequestTimeout"}:
            return (f"S3 is throttling or failing ({code or status}) on bucket '{bucket}' even "
                    "after the client's retries with backoff; the task is retried with backoff")
        return f"S3 error {code or status} on bucket '{bucket}'. {hint}"
    return f"S3 check failed ({type(exc).__name__}). {hint}"


def preflight(client: Any, bucket: str, *, conn_id: str, prefix: str = "") -> None:
    """Check credentials, region and bucket with one request; raise a clear error.

    A one-key listing rather than HEAD: a GET returns an error body, so
    "unknown key id", "access denied" and "no such bucket" stay distinct.
    """
    try:
        client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    except (ClientError, NoCredentialsError, PartialCredentialsError, InvalidRegionError,
            EndpointConnectionError) as exc:
        retryable = isinstance(exc, EndpointConnectionError) or (
            isinstance(exc, ClientError) and _transient(exc))
        message = explain_s3_error(exc, bucket=bucket, conn_id=conn_id)
        if isinstance(exc, EndpointConnectionError):
            message += " The task is retried with backoff."
        raise S3PreflightError(message, retryable=retryable) from None


@dataclass
class UploadTotals:
    uploaded: int = 0
    pre_existing: int = 0
    errors: int = 0
    bytes_uploaded: int = 0

    def add(self, result: UploadResult, size: int) -> None:
        if result.status == "uploaded":
            self.uploaded += 1
            self.bytes_uploaded += size
        elif result.status == "pre_existing":
            self.pre_existing += 1
        else:
            self.errors += 1


class Progress:
    """Logs done / total, rate and time left at most every ``every`` seconds."""

    def __init__(self, label: str, total: int, every: float = 5.0,
                 logger: logging.Logger = log) -> None:
        self.label, self.total, self.every, self.log = label, total, every, logger
        self.started = self.last = time.monotonic()

    def update(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        left = (self.total - done) / rate if rate else float("inf")
        self.log.info("%s: %d / %d (%.0f/s, %.0fs left)", self.label, done, self.total, rate,
                      left if left != float("inf") else -1)


def upload_one(client: Any, bucket: str, item: PendingFile, *,
               sse_kms_key_id: str | None = None) -> UploadResult:
    """Upload one file with a conditional PUT; never overwrite an object.

    New key: one request. Key taken (412): one HEAD compares SHA-256 checksums:
    our own object (metadata ``file-hash`` matches; a retry after a crash
    between PUT and registry commit) is ``uploaded``, the same content put
    there by someone else is ``pre_existing``, different content is an error
    that needs a human (nothing is overwritten).
    """
    if not item.local_path or not item.file_hash:
        # A row reconcile found in the bucket: there is nothing here to send.
        return UploadResult(item.id, "error", error=NO_LOCAL_COPY)
    path = Path(item.local_path)
    extra: dict[str, Any] = {"ServerSideEncryption": SERVER_SIDE_ENCRYPTION}
    if sse_kms_key_id:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": sse_kms_key_id}
    checksum = sha256_base64(item.file_hash)
    try:
        # Scraper files are ~100 KB: read once, verify, send the same bytes.
        body = path.read_bytes()
        if hashlib.sha256(body).hexdigest() != item.file_hash:
            return UploadResult(item.id, "error", error=CHANGED_LOCALLY)
        client.put_object(
            Bucket=bucket,
            Key=item.s3_key,
            Body=body,
            ContentType=item.content_type,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
            Metadata={
                "empresa": item.empresa,
                "numero-reclamo-sgc": item.numero_reclamo_sgc or "",
                "file-hash": item.file_hash,
            },
            IfNoneMatch="*",
            **extra,
        )
        return UploadResult(item.id, "uploaded", uploaded_at=datetime.now(UTC))
    except FileNotFoundError:
        return UploadResult(item.id, "error", error="local file is missing")
    except OSError as exc:
        return UploadResult(item.id, "error", error=f"cannot read local file ({exc.strerror})")
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code not in {"PreconditionFailed", "412"}:
            if code == "BadDigest" or "checksum" in code.lower():
                return UploadResult(item.id, "error", error=CHANGED_LOCALLY)
            return UploadResult(item.id, "error",
                                error=explain_s3_error(exc, bucket=bucket, conn_id="aws_default"),
                                retryable=_transient(exc))
    except BotoCoreError as exc:  # connection lost after botocore's own retries
        return UploadResult(item.id, "error", error=f"S3 unreachable: {type(exc).__name__}",
                            retryable=True)
    return _compare_existing(client, bucket, item, checksum, body)


def _transient(exc: ClientError) -> bool:
    """Throttling and server errors may pass; denied, missing bucket, conflicts will not."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return status >= 500 or code in {"SlowDown", "Throttling", "RequestTimeout",
                                     "ConditionalRequestConflict"} or status == 409


def _compare_existing(client: Any, bucket: str, item: PendingFile, checksum: str,
                      body: bytes) -> UploadResult:
    try:
        head = client.head_object(Bucket=bucket, Key=item.s3_key, ChecksumMode="ENABLED")
        ours = head.get("Metadata", {}).get("file-hash") == item.file_hash
        same = ours or _same_content(client, bucket, item.s3_key, head, checksum, body)
    except ClientError as exc:
        return UploadResult(item.id, "error",
                            error=explain_s3_error(exc, bucket=bucket, conn_id="aws_default"),
                            retryable=_transient(exc))
    except BotoCoreError as exc:
        return UploadResult(item.id, "error", error=f"S3 unreachable: {type(exc).__name__}",
                            retryable=True)
    if same and ours:
        # Our own PUT from an attempt that died before recording it: finish the record.
        return UploadResult(item.id, "uploaded", uploaded_at=head.get("LastModified"))
    if same:
        return UploadResult(item.id, "pre_existing", uploaded_at=datetime.now(UTC))
    return UploadResult(item.id, "error", error=DIFFERENT_OBJECT)


def _same_content(client: Any, bucket: str, key: str, head: dict[str, Any], checksum: str,
                  body: bytes) -> bool:
    """Decide "same content" by SHA-256; older objects without one are checked by bytes.

    Objects uploaded by the old system carry no SHA-256 checksum: a plain
    (single-part, non-KMS) ETag is the MD5 of the bytes; otherwise read the
    object once and hash it.
    """
    stored = head.get("ChecksumSHA256")
    if stored and "-" not in stored:
        return stored == checksum
    if head.get("ContentLength") is not None and head["ContentLength"] != len(body):
        return False
    etag = str(head.get("ETag", "")).strip('"')
    if etag and "-" not in etag and head.get("ServerSideEncryption") != "aws:kms":
        return etag == hashlib.md5(body, usedforsecurity=False).hexdigest()
    remote = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return hashlib.sha256(remote).digest() == hashlib.sha256(body).digest()


def upload_files(
    client: Any,
    bucket: str,
    items: Sequence[PendingFile],
    *,
    on_results: Callable[[list[UploadResult]], None],
    workers: int = 16,
    flush_every: int = 200,
    sse_kms_key_id: str | None = None,
    progress_every: float = 5.0,
) -> UploadTotals:
    """Upload concurrently with one client; hand results back in batches.

    ``on_results`` is called from this thread (the caller's database
    connection stays on one thread) every ``flush_every`` results and at
    the end, so the registry lags S3 by at most one batch.
    """
    totals = UploadTotals()
    progress = Progress("upload_s3", len(items), every=progress_every)
    sizes = {item.id: item.file_size for item in items}
    batch: list[UploadResult] = []
    done = 0
    queue: Iterable[PendingFile] = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3-upload") as pool:
        running: set[Future[UploadResult]] = set()

        def refill() -> None:
            for item in queue:
                running.add(pool.submit(upload_one, client, bucket, item,
                                        sse_kms_key_id=sse_kms_key_id))
                if len(running) >= workers * 2:
                    break

        refill()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                running.discard(future)
                result = future.result()
                totals.add(result, sizes[result.id] or 0)
                batch.append(result)
                done += 1
            if len(batch) >= flush_every:
                on_results(batch)
                batch = []
            progress.update(done)
            refill()
    if batch:
        on_results(batch)
    progress.update(done, force=True)
    return totals
