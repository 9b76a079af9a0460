"""S3: the one key layout, the preflight check, and the concurrent uploader.

Everything here takes a boto3 S3 client; the DAG gets it from ``S3Hook``
(connection ``aws_default``), so endpoint, region, credentials and retry
configuration all come from the Airflow connection.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import queue
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from extractorov.companies import get_company
from extractorov.errors import S3PreflightError
from extractorov.landing import NotRegularFile, open_regular
from extractorov.progress import Progress
from extractorov.records import SAFE_SGC
from extractorov.registry import (
    DIFFERENT_OBJECT,
    MoveResult,
    MovingFile,
    PendingFile,
    UploadResult,
)
from extractorov.settings import AWS_CONN_ID, DEFAULT_MAX_FILE_BYTES

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


def refiled_key(key: str, numero_reclamo_sgc: str) -> str | None:
    """The key a file takes when its request's SGC is (now) ``numero_reclamo_sgc``: the same
    prefix and file name under the SGC's folder (:func:`request_folder`), from
    ``…/raw_data/sin_sgc/{numero_radicado}/`` or from another SGC's folder. ``None`` when
    the key is off the layout or already in that folder."""
    base, marker, rest = key.rpartition("/raw_data/")
    folder, _, filename = rest.rpartition("/")
    if not marker or not filename:
        return None
    try:
        _check_folder(folder)
        target = request_folder(numero_reclamo_sgc, "-")
    except UnsafeKey:
        return None
    if target == folder or target.startswith(NO_SGC_FOLDER + "/"):
        return None
    return f"{base}/raw_data/{target}/{filename}"


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


_NETWORK_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError,
                   ConnectionClosedError)
"""S3 did not answer: may pass by itself."""


NO_LOCAL_COPY = "no local copy to upload from"


def _fix_hint(conn_id: str) -> str:
    return (
        f"Fix the Airflow connection '{conn_id}' (Admin → Connections), or trigger the DAG "
        "with the param database_only=true to load the database only; files stay 'pending' "
        "in the registry and the next run with S3 (or the hourly ov_s3_reconcile) uploads them."
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


def preflight(client: BaseClient, bucket: str, *, conn_id: str, prefix: str = "") -> None:
    """Check credentials, region and bucket with one request; raise a clear error.

    A one-key listing rather than HEAD: a GET returns an error body, so
    "unknown key id", "access denied" and "no such bucket" stay distinct.
    """
    try:
        client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    except ParamValidationError:
        raise S3PreflightError(
            f"'{bucket}' is not a valid S3 bucket name: set the Airflow Variable "
            f"'ov_s3_bucket' (connection '{conn_id}'). {_fix_hint(conn_id)}") from None
    except (ClientError, BotoCoreError) as exc:
        network = isinstance(exc, _NETWORK_ERRORS)
        retryable = network or (isinstance(exc, ClientError) and _transient(exc))
        message = explain_s3_error(exc, bucket=bucket, conn_id=conn_id)
        if network:
            message = (f"S3 did not answer ({type(exc).__name__}) for bucket '{bucket}' "
                       f"through connection '{conn_id}'; the task is retried with backoff")
        raise S3PreflightError(message, retryable=retryable) from None


@dataclass
class UploadTotals:
    files: int = 0
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


IN_MEMORY_BYTES = 8 * 1024 * 1024
"""Files up to this size (nearly all: ~100 KB) are read once and sent with one PUT."""
PART_BYTES = 8 * 1024 * 1024
"""Larger files go up in parts of this size (``complete_multipart_upload`` with
``If-None-Match``), each read once into a reused buffer, hashed and sent from it."""
_CHUNK = 1024 * 1024
LARGE_TRANSFERS_AT_ONCE = 4
"""Files over :data:`IN_MEMORY_BYTES` in flight at once, each with one part buffer: 16
workers on a morning of large scans hold 4 × 8 MiB, allocated once and reused (fresh
8 MiB allocations in 16 threads fragment the heap: a measured 350–414 MB)."""
_part_buffers: queue.LifoQueue[bytearray] = queue.LifoQueue()
_large_transfers = threading.BoundedSemaphore(LARGE_TRANSFERS_AT_ONCE)


@contextlib.contextmanager
def _part_buffer() -> Iterator[bytearray]:
    with _large_transfers:
        try:
            buffer = _part_buffers.get_nowait()
        except queue.Empty:
            buffer = bytearray(PART_BYTES)
        try:
            yield buffer
        finally:
            _part_buffers.put(buffer)


def encryption_args(sse_kms_key_id: str | None = None) -> dict[str, str]:
    """The server-side encryption every upload asks for: SSE-S3, or SSE-KMS with the key of
    Variable ``ov_s3_kms_key_id`` (what ``include/aws/bucket-policy*.json`` require)."""
    if sse_kms_key_id:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": sse_kms_key_id}
    return {"ServerSideEncryption": SERVER_SIDE_ENCRYPTION}


def upload_one(client: BaseClient, bucket: str, item: PendingFile, *,
               sse_kms_key_id: str | None = None,
               max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
               conn_id: str = AWS_CONN_ID) -> UploadResult:
    """Upload one file with a conditional write; never overwrite an object.

    New key: one request (a PUT; for files over :data:`IN_MEMORY_BYTES`, a
    multipart upload completed with ``If-None-Match: *``). Key taken (412): one
    HEAD compares SHA-256 checksums: our own object (metadata ``file-hash``
    matches; a retry after a crash between PUT and registry commit) is
    ``uploaded``, the same content put there by someone else is
    ``pre_existing``, different content is an error that needs a human (nothing
    is overwritten). Files are read with ``O_NOFOLLOW`` and streamed from disk:
    memory does not grow with their size.
    """
    if not item.local_path or not item.file_hash:
        # A row reconcile found in the bucket: there is nothing here to send.
        return UploadResult(item.id, "error", error=NO_LOCAL_COPY)
    checksum = sha256_base64(item.file_hash)
    request = _put_request(bucket, item, sse_kms_key_id)
    try:
        with os.fdopen(open_regular(Path(item.local_path)), "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_file_bytes:
                return UploadResult(item.id, "error", error=(
                    f"file too large: {size / 1024**3:.2f} GiB, over ov_s3_max_file_gib="
                    f"{max_file_bytes / 1024**3:g}; raise the Variable or move the file "
                    "out of processed/"))
            if size <= IN_MEMORY_BYTES:
                body = handle.read()
                if hashlib.sha256(body).hexdigest() != item.file_hash:
                    return UploadResult(item.id, "error", error=CHANGED_LOCALLY)
                client.put_object(Body=body, ChecksumSHA256=checksum, IfNoneMatch="*", **request)
            elif not _multipart(client, handle, item, request):
                return UploadResult(item.id, "error", error=CHANGED_LOCALLY)
        return UploadResult(item.id, "uploaded", uploaded_at=datetime.now(UTC))
    except ParamValidationError:
        return UploadResult(item.id, "error", error=(
            "invalid S3 request (bucket name, key or metadata refused by the client): check "
            "Variable ov_s3_bucket"))
    except BotoCoreError as exc:  # before OSError: botocore's timeouts are OSErrors too
        return UploadResult(item.id, "error", error=f"S3 unreachable: {type(exc).__name__}",
                            retryable=True)
    except FileNotFoundError:
        return UploadResult(item.id, "error", error="local file is missing")
    except NotRegularFile:
        return UploadResult(item.id, "error", error=(
            "local file is no longer a regular file (a symbolic link or device was put in "
            "its place); it is never followed: put the real file back"))
    except OSError as exc:
        return UploadResult(item.id, "error", error=f"cannot read local file ({exc.strerror})")
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code not in {"PreconditionFailed", "412"}:
            if code == "BadDigest" or "checksum" in code.lower():
                return UploadResult(item.id, "error", error=CHANGED_LOCALLY)
            return UploadResult(item.id, "error",
                                error=explain_s3_error(exc, bucket=bucket, conn_id=conn_id),
                                retryable=_transient(exc))
    return _compare_existing(client, bucket, item, checksum, conn_id)


def _put_request(bucket: str, item: PendingFile, sse_kms_key_id: str | None
                 ) -> dict[str, Any]:
    """What every write of a registered file sends besides its bytes."""
    return {
        "Bucket": bucket,
        "Key": item.s3_key,
        "ContentType": item.content_type,
        "ChecksumAlgorithm": "SHA256",
        "Metadata": {
            "empresa": item.empresa,
            "numero-reclamo-sgc": item.numero_reclamo_sgc or "",
            "file-hash": item.file_hash,
        },
        **encryption_args(sse_kms_key_id),
    }


def overwrite_object(client: BaseClient, bucket: str, item: PendingFile, *, if_match: str,
                     sse_kms_key_id: str | None = None, conn_id: str = AWS_CONN_ID
                     ) -> str | None:
    """Write the local file over the object whose ETag is ``if_match``: the one write that
    replaces an object, for a human's review answer. One PutObject with ``If-Match`` (S3
    refuses it, 412, when the object changed since its ETag was read) and the registered
    SHA-256 as its checksum (S3 refuses bytes that differ from it), streamed from the file
    opened without following links. Returns ``None`` when written, else why not."""
    request = _put_request(bucket, item, sse_kms_key_id)
    try:
        with os.fdopen(open_regular(Path(item.local_path)), "rb") as handle:
            client.put_object(Body=handle, ChecksumSHA256=sha256_base64(item.file_hash),
                              IfMatch=if_match, **request)
    except FileNotFoundError:
        return "the local file is missing"
    except NotRegularFile:
        return "the local file is no longer a regular file"
    except BotoCoreError as exc:  # before OSError: botocore's timeouts are OSErrors too
        return f"S3 unreachable: {type(exc).__name__}"
    except OSError as exc:
        return f"cannot read the local file ({exc.strerror})"
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in {"PreconditionFailed", "412"}:
            return "the bucket object changed since it was compared (If-Match refused)"
        if code in {"NoSuchKey", "404"}:
            return "the bucket object is gone"
        if code == "BadDigest" or "checksum" in code.lower():
            return CHANGED_LOCALLY
        return explain_s3_error(exc, bucket=bucket, conn_id=conn_id)
    return None


def _multipart(client: BaseClient, handle: Any, item: PendingFile, request: dict[str, Any]) -> bool:
    """Upload in parts; complete only if the bytes sent are the registered file and the key
    is still free.

    Each part is read once into a reused buffer, hashed, and sent from that same buffer:
    what is hashed is what S3 receives, so a file rewritten during the upload is caught
    before the object exists (False: aborted). Raises the ``ClientError`` of the
    completion (412 when the key was taken meanwhile); parts are aborted on any failure.
    """
    with _part_buffer() as buffer:
        upload_id = client.create_multipart_upload(**request)["UploadId"]
        target = {"Bucket": request["Bucket"], "Key": request["Key"], "UploadId": upload_id}
        whole = hashlib.sha256()
        parts: list[dict[str, Any]] = []
        view = memoryview(buffer)
        try:
            offset = 0
            while True:
                read = os.preadv(handle.fileno(), [view], offset)
                if read == 0:
                    break
                # botocore takes bytes or bytearray, not a memoryview: a full part is sent
                # from the buffer itself; only the last, shorter one is copied.
                chunk = buffer if read == len(buffer) else bytes(view[:read])
                offset += read
                whole.update(chunk)
                part_checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode("ascii")
                answer = client.upload_part(Body=chunk, PartNumber=len(parts) + 1,
                                            ChecksumAlgorithm="SHA256",
                                            ChecksumSHA256=part_checksum, **target)
                parts.append({"ETag": answer["ETag"], "PartNumber": len(parts) + 1,
                              "ChecksumSHA256": answer.get("ChecksumSHA256", part_checksum)})
            if whole.hexdigest() != item.file_hash:
                client.abort_multipart_upload(**target)
                return False
            client.complete_multipart_upload(MultipartUpload={"Parts": parts},
                                             IfNoneMatch="*", **target)
        except BaseException:
            with contextlib.suppress(ClientError, BotoCoreError):
                client.abort_multipart_upload(**target)  # no orphan parts billed
            raise
        finally:
            view.release()
    return True


def _transient(exc: ClientError) -> bool:
    """Throttling and server errors may pass; denied, missing bucket, conflicts will not."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return status >= 500 or code in {"SlowDown", "Throttling", "RequestTimeout",
                                     "ConditionalRequestConflict"} or status == 409


def _compare_existing(client: BaseClient, bucket: str, item: PendingFile, checksum: str,
                      conn_id: str) -> UploadResult:
    try:
        head = client.head_object(Bucket=bucket, Key=item.s3_key, ChecksumMode="ENABLED")
        ours = head.get("Metadata", {}).get("file-hash") == item.file_hash
        same = ours or _same_content(client, bucket, item, head, checksum)
    except ClientError as exc:
        return UploadResult(item.id, "error",
                            error=explain_s3_error(exc, bucket=bucket, conn_id=conn_id),
                            retryable=_transient(exc))
    except BotoCoreError as exc:
        return UploadResult(item.id, "error", error=f"S3 unreachable: {type(exc).__name__}",
                            retryable=True)
    except OSError as exc:
        return UploadResult(item.id, "error", error=f"cannot read local file ({exc.strerror})")
    if same and ours:
        # Our own PUT from an attempt that died before recording it: finish the record.
        return UploadResult(item.id, "uploaded", uploaded_at=head.get("LastModified"))
    if same:
        return UploadResult(item.id, "pre_existing", uploaded_at=datetime.now(UTC))
    return UploadResult(item.id, "error", error=DIFFERENT_OBJECT)


def _same_content(client: BaseClient, bucket: str, item: PendingFile, head: dict[str, Any],
                  checksum: str) -> bool:
    """Decide "same content" by SHA-256; older objects without one are checked by bytes.

    Objects uploaded by the old system carry no SHA-256 checksum: a plain
    (single-part, non-KMS) ETag is the MD5 of the bytes; otherwise the object is
    read once, in chunks, and hashed. Nothing is held whole in memory.
    """
    etag = str(head.get("ETag", "")).strip('"')
    single_part = "-" not in etag and not head.get("PartsCount")
    stored: str | None = head.get("ChecksumSHA256")
    if stored and "-" not in stored and single_part:
        return stored == checksum
    if head.get("ContentLength") is not None and head["ContentLength"] != item.file_size:
        return False
    if etag and single_part and head.get("ServerSideEncryption") != "aws:kms":
        md5 = hashlib.md5(usedforsecurity=False)
        with os.fdopen(open_regular(Path(item.local_path)), "rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                md5.update(chunk)
        return etag == md5.hexdigest()
    remote = hashlib.sha256()
    for chunk in client.get_object(Bucket=bucket, Key=item.s3_key)["Body"].iter_chunks(_CHUNK):
        remote.update(chunk)
    return remote.hexdigest() == item.file_hash


def recorded_sha256(head: dict[str, Any]) -> str | None:
    """The object's SHA-256 (hex) when its HEAD tells it: our ``file-hash`` metadata, or
    a whole-object (single-part) checksum; ``None`` when only reading it would."""
    if ours := head.get("Metadata", {}).get("file-hash"):
        return str(ours)
    etag = str(head.get("ETag", "")).strip('"')
    stored = head.get("ChecksumSHA256")
    if stored and "-" not in stored and "-" not in etag and not head.get("PartsCount"):
        return base64.b64decode(stored).hex()
    return None


def object_sha256(client: BaseClient, bucket: str, key: str, head: dict[str, Any]) -> str:
    """The object's SHA-256 (hex): from its HEAD, else read once in chunks."""
    if known := recorded_sha256(head):
        return known
    digest = hashlib.sha256()
    for chunk in client.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _head_or_none(client: BaseClient, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        head: dict[str, Any] = client.head_object(Bucket=bucket, Key=key,
                                                  ChecksumMode="ENABLED")
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
            return None
        raise
    return head


MOVE_TARGET_TAKEN = ("request split: the key of the request's SGC folder holds a different "
                     "object; this file stays in sin_sgc/ (compare both and delete the wrong "
                     "one)")
MOVE_SOURCE_DIFFERS = ("request split: the object in sin_sgc/ is not this file (SHA-256 "
                       "differs); it was not moved (compare it with the registry row)")


def move_object(client: BaseClient, bucket: str, item: MovingFile, *,
                sse_kms_key_id: str | None = None, conn_id: str = AWS_CONN_ID) -> MoveResult:
    """Take a file's object from ``item.moving_from`` to ``item.s3_key`` (its request's new
    folder): copy it (only if the source is still the registered file, never over another
    object), check the copy, then delete the old key (only while it holds that file).

    Each step can be repeated after a crash: the copy is found already made, the old key
    already gone. When no object is at the old key, there is nothing to move: the row's
    own upload sends the file from its local copy (``requeue``)."""
    if item.s3_key == item.moving_from:
        # Back where it was before a move was made: nothing to move, and deleting the
        # "old" key would delete the object itself.
        return MoveResult(item.id, "nothing")
    try:
        target = _head_or_none(client, bucket, item.s3_key)
        source = _head_or_none(client, bucket, item.moving_from)
        copied = False
        # A row found in the bucket may not know its SHA-256 (an object put there by hand):
        # the object it moves is then what it is (read once), and the row learns it.
        expected = item.file_hash or (
            object_sha256(client, bucket, item.moving_from, source) if source else None)
        if target is None:
            if source is None:
                lost = item.upload_status in {"uploaded", "pre_existing"}
                if lost and not item.has_local_copy:
                    return MoveResult(item.id, "error", error=(
                        f"object missing: neither in its old folder nor in its new one, "
                        f"and {NO_LOCAL_COPY}"))
                return MoveResult(item.id, "nothing", requeue=lost)
            if object_sha256(client, bucket, item.moving_from, source) != expected:
                return MoveResult(item.id, "error", error=MOVE_SOURCE_DIFFERS)
            # The object's metadata says its new folder's SGC (the rest as it was).
            metadata = {**source.get("Metadata", {}),
                        "numero-reclamo-sgc": item.numero_reclamo_sgc or ""}
            client.copy_object(Bucket=bucket, Key=item.s3_key,
                               CopySource={"Bucket": bucket, "Key": item.moving_from},
                               CopySourceIfMatch=source["ETag"], IfNoneMatch="*",
                               MetadataDirective="REPLACE", Metadata=metadata,
                               ContentType=source.get("ContentType")
                               or "application/octet-stream",
                               TaggingDirective="COPY", **encryption_args(sse_kms_key_id))
            target = _head_or_none(client, bucket, item.s3_key)
            copied = True
        if (target is None or (item.file_size is not None
                               and target.get("ContentLength") != item.file_size)
                or object_sha256(client, bucket, item.s3_key, target) != expected):
            return MoveResult(item.id, "error", error=MOVE_TARGET_TAKEN)
        learned = None if item.file_hash else expected
        if source is not None and (
                object_sha256(client, bucket, item.moving_from, source) == expected):
            client.delete_object(Bucket=bucket, Key=item.moving_from, IfMatch=source["ETag"])
            return MoveResult(item.id, "moved", file_hash=learned)
        # The file is in its new folder. An object at the old key that is not this file is
        # not ours to delete (reconcile asks about it). With no object at the old key, the
        # move was made by an earlier try that died before recording it: this run records
        # it (an upload that never sent the file there has nothing to move: "nothing").
        done = copied or (source is None and item.upload_status in {"uploaded",
                                                                   "pre_existing"})
        return MoveResult(item.id, "moved" if done else "nothing", file_hash=learned)
    except ClientError as exc:
        return MoveResult(item.id, "error",
                          error=explain_s3_error(exc, bucket=bucket, conn_id=conn_id),
                          retryable=_transient(exc))
    except BotoCoreError as exc:
        return MoveResult(item.id, "error", error=f"S3 unreachable: {type(exc).__name__}",
                          retryable=True)


def upload_files(
    client: BaseClient,
    bucket: str,
    items: Iterable[PendingFile],
    *,
    total: int | None = None,
    on_results: Callable[[list[UploadResult]], None],
    workers: int = 16,
    flush_every: int = 200,
    sse_kms_key_id: str | None = None,
    progress_every: float = 5.0,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    conn_id: str = AWS_CONN_ID,
    label: str = "upload_s3",
) -> UploadTotals:
    """Upload concurrently with one client; hand results back in batches.

    ``label`` names the step in progress lines (``upload_s3``, ``reconcile``). ``items`` is
    read as the workers need more (it may read its pages from the database: a backlog is
    never held at once); ``total``, its expected length, is for the progress lines.

    ``on_results`` is called from this thread (the caller's database
    connection stays on one thread) every ``flush_every`` results and at
    the end, so the registry lags S3 by at most one batch.
    """
    totals = UploadTotals()
    if total is None:
        total = len(items) if isinstance(items, Sized) else 0
    progress = Progress(label, total, every=progress_every)
    batch: list[UploadResult] = []
    done = 0
    queue: Iterator[PendingFile] = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3-upload") as pool:
        running: dict[Future[UploadResult], int] = {}
        """Each file in flight → its size."""

        def refill() -> None:
            for item in queue:
                running[pool.submit(upload_one, client, bucket, item,
                                    sse_kms_key_id=sse_kms_key_id,
                                    max_file_bytes=max_file_bytes, conn_id=conn_id)
                        ] = item.file_size or 0
                if len(running) >= workers * 2:
                    break

        refill()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                size = running.pop(future)
                result = future.result()
                totals.files += 1
                totals.add(result, size)
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
