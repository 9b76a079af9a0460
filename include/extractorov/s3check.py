"""The AWS setup the seed guide asks for, checked through the Airflow connection.

Body of the manual DAG ``ov_s3_check``. The seed guide's "Verificar configuración",
"Probar conexión" and "Comandos de diagnóstico" (``aws s3 ls``, a test upload,
``head_bucket``) become one report, one line per check, each ``OK``, ``WARN`` or
``FAIL`` with the fix:

========== =====================================================================
identity   STS GetCallerIdentity: who the connection is (user or assumed role)
bucket     the bucket answers (ListObjectsV2 on the health-check prefix)
list       ``s3:ListBucket`` on the prefix, as preflight and reconcile use it
region     the bucket's region (GetBucketLocation) against the connection's
put        ``s3:PutObject`` of a test object, with the pipeline's encryption
get        ``s3:GetObject`` of it, same bytes back
multipart  a one-part multipart upload (files over 8 MiB), and an aborted one
cleanup    the test object deleted (else it stays and is overwritten next time)
versioning on (the guide recommends it)
encryption default bucket encryption, and what the test object was stored with
lifecycle  rules covering the prefix: transitions, incomplete uploads, old versions
========== =====================================================================

The test object is ``{ov_s3_base_path}/_healthcheck/ov_s3_check.txt``: under the
prefix the pipeline writes to, so proving put/get there proves the pipeline's
own grants; reconcile lists only ``{base}/{empresa}/raw_data/`` and never sees it.
A ``FAIL`` is something the pipeline needs; a ``WARN`` is something the guide
recommends. Nothing personal is written, read or logged.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    InvalidRegionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from extractorov.errors import S3PreflightError
from extractorov.settings import Settings
from extractorov.storage import encryption_args, explain_s3_error

OK, WARN, FAIL = "OK", "WARN", "FAIL"
CHECKS = ("identity", "bucket", "list", "region", "put", "get", "multipart", "cleanup",
          "versioning", "encryption", "lifecycle")
HEALTHCHECK_FOLDER = "_healthcheck"
HEALTHCHECK_NAME = "ov_s3_check.txt"
POLICY_FILE = "include/aws/iam-policy.json"
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId",
                    "ExpiredToken", "InvalidToken", "UnrecognizedClientException"}
REGION_CODES = {"PermanentRedirect", "301", "AuthorizationHeaderMalformed",
                "IllegalLocationConstraintException", "InvalidRegion"}


@dataclass(frozen=True)
class Line:
    check: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class Report:
    conn_id: str
    bucket: str
    prefix: str
    lines: list[Line] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    """Checks that could not run because an earlier one failed (named in its line)."""

    def add(self, check: str, status: str, detail: str, fix: str = "") -> Line:
        line = Line(check, status, detail, fix)
        self.lines.append(line)
        return line

    def line(self, check: str) -> Line | None:
        return next((line for line in self.lines if line.check == check), None)

    def status(self, check: str) -> str | None:
        line = self.line(check)
        return line.status if line else None

    def failed(self) -> list[str]:
        return [line.check for line in self.lines if line.status == FAIL]

    def skip_rest(self) -> None:
        done = {line.check for line in self.lines}
        self.not_checked = [c for c in CHECKS if c not in done]

    def failure_message(self) -> str:
        fixes = [f"{line.check}: {line.fix or line.detail}" for line in self.lines
                 if line.status == FAIL]
        return "\n".join([f"ov_s3_check: FAIL in {', '.join(self.failed())} (connection "
                          f"'{self.conn_id}', bucket '{self.bucket}'): fix each line below",
                          *fixes])

    def format(self) -> str:
        head = (f"S3 check of connection '{self.conn_id}', bucket '{self.bucket}', "
                f"test object under '{self.prefix}'")
        width = max(len(c) for c in CHECKS)
        out = [head]
        for line in self.lines:
            out.append(f"{line.status:<4}  {line.check:<{width}}  {line.detail}")
            if line.fix:
                out.append(f"{'':<4}  {'':<{width}}  fix: {line.fix}")
        if self.not_checked:
            out.append(f"not checked (an earlier check failed): {', '.join(self.not_checked)}")
        counts = {s: sum(1 for line in self.lines if line.status == s) for s in (OK, WARN, FAIL)}
        out.append(f"{counts[OK]} OK, {counts[WARN]} WARN, {counts[FAIL]} FAIL")
        return "\n".join(out)

    def as_xcom(self) -> dict[str, Any]:
        return {"conn_id": self.conn_id, "bucket": self.bucket, "prefix": self.prefix,
                "lines": [asdict(line) for line in self.lines], "failed": self.failed(),
                "not_checked": list(self.not_checked)}


def healthcheck_prefix(base_path: str) -> str:
    parts = [p for p in base_path.strip("/").split("/") if p]
    return "/".join([*parts, HEALTHCHECK_FOLDER]) + "/"


def _code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return str(error.get("Code") or exc.response.get("ResponseMetadata", {})
                   .get("HTTPStatusCode", ""))
    return type(exc).__name__


def _denied(exc: BaseException) -> bool:
    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = _code(exc)
    if code in CREDENTIAL_CODES:  # also 403, but the key itself is refused
        return False
    return code in {"AccessDenied", "403", "AllAccessDisabled"} or status == 403


def _checksum(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def _bucket_region(location: str | None) -> str:
    """GetBucketLocation's answer as a region name (``None`` is us-east-1, ``EU`` eu-west-1)."""
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location or "")


@dataclass(frozen=True)
class Clients:
    """What the check runs with: the connection's STS and S3 clients, and the access key
    id its credentials resolve to (``None`` when there are none)."""

    sts: BaseClient
    s3: BaseClient
    access_key: str | None


def run(settings: Settings, connect: Callable[[str], Clients], *,
        now: datetime | None = None) -> Report:
    """Check with the clients ``connect`` makes for ``settings.aws_conn_id`` (the task body
    passes :func:`extractorov.runtime.s3_check_clients`, which builds them from the Airflow
    connection as the pipeline does); a connection that cannot make them is reported.

    ``connect`` makes the STS client first: an invalid region or a role that cannot be
    assumed is raised from there (:class:`~botocore.exceptions.InvalidRegionError`,
    :class:`~botocore.exceptions.ClientError`); an S3 client that cannot be made is
    :class:`~extractorov.errors.S3PreflightError`.
    """
    conn_id = settings.aws_conn_id
    report = Report(conn_id, settings.bucket, healthcheck_prefix(settings.base_path))
    try:
        clients = connect(conn_id)
    except InvalidRegionError:
        report.add("region", FAIL, f"connection '{conn_id}' names a region that is not a "
                   "valid AWS region name", f"set the extra 'region_name' of connection "
                   f"'{conn_id}' to the bucket's region, e.g. us-east-1")
        report.skip_rest()
        return report
    except ClientError as exc:  # assuming the role failed
        report.add("identity", FAIL, f"could not assume the role in the extra 'role_arn' "
                   f"of connection '{conn_id}' ({_code(exc)})",
                   "the connection's own credentials need sts:AssumeRole on that role, and "
                   "the role's trust policy must name them (include/aws/README.md, "
                   "'Credentials')")
        report.skip_rest()
        return report
    except S3PreflightError as exc:
        report.add("bucket", FAIL, str(exc))
        report.skip_rest()
        return report
    return check(clients.s3, clients.sts, bucket=settings.bucket,
                 base_path=settings.base_path, conn_id=conn_id,
                 kms_key_id=settings.sse_kms_key_id, access_key=clients.access_key,
                 now=now, report=report)


def check(s3: BaseClient, sts: BaseClient, *, bucket: str, base_path: str, conn_id: str,
          kms_key_id: str | None = None, access_key: str | None = None,
          now: datetime | None = None, report: Report | None = None) -> Report:
    """Every check, in order; a failed bucket stops the S3 checks (named as not checked)."""
    prefix = healthcheck_prefix(base_path)
    report = report or Report(conn_id, bucket, prefix)
    key = prefix + HEALTHCHECK_NAME
    _identity(report, sts, conn_id, access_key)
    if not _bucket_and_list(report, s3, bucket, prefix, conn_id):
        return report
    _region(report, s3, bucket, conn_id)
    body = (f"written by the Airflow DAG ov_s3_check at "
            f"{(now or datetime.now(UTC)).isoformat(timespec='seconds')}; safe to delete\n"
            ).encode()
    encryption = encryption_args(kms_key_id)
    stored = _put_and_get(report, s3, bucket, key, body, encryption, base_path)
    if report.status("put") == OK:
        _multipart(report, s3, bucket, key, body, encryption)
        _cleanup(report, s3, bucket, key)
    _versioning(report, s3, bucket)
    _encryption(report, s3, bucket, encryption, stored)
    _lifecycle(report, s3, bucket, base_path)
    report.skip_rest()
    return report


def _identity(report: Report, sts: BaseClient, conn_id: str, access_key: str | None) -> None:
    try:
        ident = sts.get_caller_identity()
    except (NoCredentialsError, PartialCredentialsError):
        report.add("identity", FAIL, f"connection '{conn_id}' has no AWS credentials and "
                   "none were found in the environment",
                   f"set login (access key id) and password (secret) of connection "
                   f"'{conn_id}', or an extra 'role_arn' with credentials allowed to assume it")
        return
    except ClientError as exc:
        report.add("identity", FAIL, f"AWS rejected the credentials of connection '{conn_id}' "
                   f"({_code(exc)})", "check the access key id and secret (a deleted or "
                   "deactivated key, a typo, a secret from another key); see the rotation "
                   "runbook in include/aws/README.md")
        return
    except BotoCoreError as exc:
        report.add("identity", FAIL, f"STS did not answer ({type(exc).__name__})",
                   f"check region_name / endpoint_url of connection '{conn_id}' and the network")
        return
    arn = str(ident.get("Arn", ""))
    kind = "assumed role" if ":assumed-role/" in arn else "user" if ":user/" in arn else "principal"
    key = f", access key …{access_key[-4:]}" if access_key else ""
    report.add("identity", OK, f"{kind} {arn} (account {ident.get('Account')}{key})")


def _bucket_and_list(report: Report, s3: BaseClient, bucket: str, prefix: str,
                     conn_id: str) -> bool:
    """False when nothing more can be checked in S3."""
    try:
        s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    except ParamValidationError:
        report.add("bucket", FAIL, f"'{bucket}' is not a valid bucket name",
                   "set the Airflow Variable ov_s3_bucket")
        report.skip_rest()
        return False
    except (ClientError, BotoCoreError) as exc:
        if _denied(exc):
            report.add("bucket", OK, f"'{bucket}' answers (listing refused: see list)")
            report.add("list", FAIL, f"s3:ListBucket refused on prefix '{prefix}' "
                       f"({_code(exc)})", f"the IAM policy must allow s3:ListBucket on the "
                       f"bucket for the prefix (see {POLICY_FILE})")
            return True
        report.add("bucket", FAIL, explain_s3_error(exc, bucket=bucket, conn_id=conn_id),
                   _bucket_fix(exc, bucket, conn_id))
        if _code(exc) in REGION_CODES:
            _region(report, s3, bucket, conn_id)
        report.skip_rest()
        return False
    report.add("bucket", OK, f"'{bucket}' answers")
    report.add("list", OK, f"s3:ListBucket on '{prefix}'")
    return True


def _bucket_fix(exc: BaseException, bucket: str, conn_id: str) -> str:
    code = _code(exc)
    if code in {"NoSuchBucket", "404", "NotFound"}:
        return (f"create the bucket (aws s3 mb s3://{bucket} --region <region>) or set the "
                "Airflow Variable ov_s3_bucket")
    if code in CREDENTIAL_CODES or isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return f"fix the credentials of connection '{conn_id}' (see identity)"
    if code in REGION_CODES:
        return f"set the extra 'region_name' of connection '{conn_id}' (see region)"
    return f"check connection '{conn_id}' (region_name, endpoint_url) and the network"


def _region(report: Report, s3: BaseClient, bucket: str, conn_id: str) -> None:
    configured = s3.meta.region_name
    try:
        actual = _bucket_region(s3.get_bucket_location(Bucket=bucket).get("LocationConstraint"))
    except (ClientError, BotoCoreError) as exc:
        if _denied(exc):
            report.add("region", WARN, f"cannot read the bucket's region (s3:GetBucketLocation "
                       f"refused); connection '{conn_id}' says {configured}",
                       f"allow s3:GetBucketLocation ({POLICY_FILE}) or compare by hand: "
                       f"aws s3api get-bucket-location --bucket {bucket}")
        else:
            report.add("region", WARN, f"cannot read the bucket's region ({_code(exc)}); "
                       f"connection '{conn_id}' says {configured}")
        return
    if actual == configured:
        report.add("region", OK, f"bucket and connection both in {actual}")
    else:
        report.add("region", FAIL, f"the bucket is in {actual}, connection '{conn_id}' says "
                   f"{configured}", f"set the extra 'region_name' of connection '{conn_id}' "
                   f"to \"{actual}\"")


def _object_fix(exc: BaseException, action: str, base_path: str) -> str:
    code = _code(exc)
    if code.startswith("KMS.") or "kms" in str(exc).lower():
        return ("the credentials need kms:GenerateDataKey and kms:Decrypt on the key of "
                "Variable ov_s3_kms_key_id (and the key must exist in the bucket's region)")
    if _denied(exc):
        return (f"the IAM policy must allow {action} on '{base_path.strip('/')}/*' "
                f"({POLICY_FILE}); a bucket policy must not deny it (an upload without the "
                "encryption it requires, or a principal it does not list)")
    return f"S3 error {code}: retry; if it persists, check the connection"


def _put_and_get(report: Report, s3: BaseClient, bucket: str, key: str, body: bytes,
                 encryption: dict[str, str], base_path: str) -> dict[str, Any] | None:
    """Put then read back the test object; the GetObject answer (its encryption) or None."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/plain",
                      ChecksumAlgorithm="SHA256", ChecksumSHA256=_checksum(body), **encryption)
    except (ClientError, BotoCoreError) as exc:
        report.add("put", FAIL, f"s3:PutObject of '{key}' refused ({_code(exc)})",
                   _object_fix(exc, "s3:PutObject", base_path))
        return None
    report.add("put", OK, f"s3:PutObject of '{key}' with {_describe(encryption)}")
    try:
        answer: dict[str, Any] = s3.get_object(Bucket=bucket, Key=key)
        back = answer["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        report.add("get", FAIL, f"s3:GetObject of '{key}' refused ({_code(exc)})",
                   _object_fix(exc, "s3:GetObject", base_path))
        return None
    if back != body:
        report.add("get", FAIL, f"'{key}' came back with other bytes ({len(back)} bytes, "
                   f"{len(body)} sent)", "something rewrites objects in this bucket: check "
                   "replication, Object Lambda or another writer")
        return None
    report.add("get", OK, f"s3:GetObject returned the same {len(body)} bytes")
    return answer


def _describe(encryption: dict[str, str]) -> str:
    if encryption.get("ServerSideEncryption") == "aws:kms":
        return f"SSE-KMS (key {encryption.get('SSEKMSKeyId')})"
    return "SSE-S3 (AES256)"


def _multipart(report: Report, s3: BaseClient, bucket: str, key: str, body: bytes,
               encryption: dict[str, str]) -> None:
    """Files over 8 MiB go up in parts: UploadPart carries no encryption header, so a
    bucket policy that requires one on every s3:PutObject request would refuse them."""
    step = "CreateMultipartUpload"
    upload_id = None
    try:
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="text/plain",
                                               ChecksumAlgorithm="SHA256",
                                               **encryption)["UploadId"]
        step = "UploadPart"
        part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1,
                              Body=body, ChecksumAlgorithm="SHA256",
                              ChecksumSHA256=_checksum(body))
        step = "CompleteMultipartUpload"
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1,
                                        "ChecksumSHA256": part.get("ChecksumSHA256",
                                                                   _checksum(body))}]})
    except (ClientError, BotoCoreError) as exc:
        if upload_id:
            _abort(s3, bucket, key, upload_id)
        fix = _object_fix(exc, "s3:PutObject", key.rsplit("/", 2)[0])
        if step == "UploadPart" and _denied(exc):
            fix = ("a bucket policy statement requires an encryption header on every "
                   "s3:PutObject request, and UploadPart has none: see include/aws/README.md, "
                   "'Multipart uploads and the encryption statements'")
        report.add("multipart", FAIL, f"{step} refused ({_code(exc)}): files over 8 MiB "
                   "would not upload", fix)
        return
    # The uploader aborts a multipart upload whose file changed meanwhile.
    try:
        spare = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="text/plain",
                                           **encryption)["UploadId"]
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=spare)
    except (ClientError, BotoCoreError) as exc:
        report.add("multipart", WARN, f"a one-part upload completed, but aborting one was "
                   f"refused ({_code(exc)})", "allow s3:AbortMultipartUpload "
                   f"({POLICY_FILE}); until then the lifecycle rule "
                   "AbortIncompleteMultipartUpload removes abandoned parts after 7 days")
        return
    report.add("multipart", OK, "a one-part multipart upload completed; an aborted one "
               "was removed (s3:AbortMultipartUpload)")


def _abort(s3: BaseClient, bucket: str, key: str, upload_id: str) -> None:
    # If refused, the lifecycle rule removes it; the multipart line has already failed.
    with contextlib.suppress(ClientError, BotoCoreError):
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def _cleanup(report: Report, s3: BaseClient, bucket: str, key: str) -> None:
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        report.add("cleanup", WARN, f"the test object stays at '{key}' (delete refused: "
                   f"{_code(exc)}); the next check overwrites the same key",
                   f"allow s3:DeleteObject on '{key.rsplit('/', 1)[0]}/*' only "
                   f"(statement ExtractorOVDeleteHealthcheckObject in {POLICY_FILE})")
        return
    report.add("cleanup", OK, "test object deleted")


def _read_setting(report: Report, check: str, action: str, bucket: str,
                  call: Callable[[], Any], missing: set[str]) -> Any:
    """The bucket setting, ``{}`` when it is not configured, None when it cannot be read."""
    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        if _code(exc) in missing:
            return {}
        if _denied(exc):
            report.add(check, WARN, f"cannot read it ({action} refused)",
                       f"allow {action} on the bucket ({POLICY_FILE}), or look in the S3 "
                       f"console: bucket '{bucket}' → Properties")
        else:
            report.add(check, WARN, f"cannot read it ({_code(exc)})")
        return None


def _versioning(report: Report, s3: BaseClient, bucket: str) -> None:
    answer = _read_setting(report, "versioning", "s3:GetBucketVersioning", bucket,
                           lambda: s3.get_bucket_versioning(Bucket=bucket), set())
    if answer is None:
        return
    status = answer.get("Status") or "never enabled"
    if status == "Enabled":
        report.add("versioning", OK, "Enabled")
    else:
        report.add("versioning", WARN, f"{status} (the guide recommends it: an overwritten or "
                   "deleted object can be recovered)",
                   f"aws s3api put-bucket-versioning --bucket {bucket} "
                   "--versioning-configuration Status=Enabled")


def _encryption(report: Report, s3: BaseClient, bucket: str, sent: dict[str, str],
                stored: dict[str, Any] | None) -> None:
    wanted = sent["ServerSideEncryption"]
    if stored is not None:
        got = stored.get("ServerSideEncryption")
        key_ok = wanted != "aws:kms" or _same_key(stored.get("SSEKMSKeyId"), sent["SSEKMSKeyId"])
        if got != wanted or not key_ok:
            report.add("encryption", FAIL, f"the test object was stored with {got or 'no'} "
                       f"encryption ({stored.get('SSEKMSKeyId') or 'no key'}), "
                       f"{_describe(sent)} was asked", "check the bucket's default "
                       "encryption and Variable ov_s3_kms_key_id")
            return
    kms_key = sent.get("SSEKMSKeyId")
    if kms_key and not KMS_KEY_ARN.match(kms_key):
        report.add("encryption", WARN, f"Variable ov_s3_kms_key_id is {kms_key!r}, not a full "
                   "key ARN", "set it to the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID): "
                   "include/aws/bucket-policy-kms.json compares the ARN the request carries")
        return
    answer = _read_setting(report, "encryption", "s3:GetEncryptionConfiguration", bucket,
                           lambda: s3.get_bucket_encryption(Bucket=bucket),
                           {"ServerSideEncryptionConfigurationNotFoundError"})
    if answer is None:
        return
    rules = answer.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    algorithm, default_key = default.get("SSEAlgorithm"), default.get("KMSMasterKeyID")
    if not algorithm:
        report.add("encryption", WARN, f"no default encryption on the bucket (uploads ask for "
                   f"{_describe(sent)} themselves)", "aws s3api put-bucket-encryption "
                   f"--bucket {bucket} --server-side-encryption-configuration "
                   "'{\"Rules\": [{\"ApplyServerSideEncryptionByDefault\": "
                   "{\"SSEAlgorithm\": \"AES256\"}}]}' (or aws:kms with your key)")
        return
    described = f"{algorithm}{f' (key {default_key})' if default_key else ''}"
    if algorithm != wanted or (kms_key and default_key and not _same_key(default_key, kms_key)):
        report.add("encryption", WARN, f"bucket default is {described}; the pipeline asks for "
                   f"{_describe(sent)}", "make them agree: set the bucket default to what "
                   "ov_s3_kms_key_id says, or change the Variable")
        return
    report.add("encryption", OK, f"bucket default {described}; the test object was stored "
               f"with {_describe(sent)}")


def _same_key(a: str | None, b: str | None) -> bool:
    """KMS key ids compare by their last part (an ARN and a bare id name the same key)."""
    if not a or not b:
        return False
    return a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1]


def _rule_prefix(rule: dict[str, Any]) -> str:
    filt = rule.get("Filter") or {}
    return str(filt.get("Prefix", (filt.get("And") or {}).get("Prefix", rule.get("Prefix", ""))))


def _lifecycle(report: Report, s3: BaseClient, bucket: str, base_path: str) -> None:
    answer = _read_setting(report, "lifecycle", "s3:GetLifecycleConfiguration", bucket,
                           lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket),
                           {"NoSuchLifecycleConfiguration"})
    if answer is None:
        return
    base = base_path.strip("/") + "/"
    rules = [r for r in answer.get("Rules", [])
             if r.get("Status") == "Enabled" and base.startswith(_rule_prefix(r))]
    wanted = {
        "transitions to cheaper storage": any(r.get("Transitions") for r in rules),
        "AbortIncompleteMultipartUpload": any(r.get("AbortIncompleteMultipartUpload")
                                              for r in rules),
        "NoncurrentVersionExpiration": any(r.get("NoncurrentVersionExpiration") for r in rules),
    }
    missing = [name for name, present in wanted.items() if not present]
    fix = (f"aws s3api put-bucket-lifecycle-configuration --bucket {bucket} "
           "--lifecycle-configuration file://include/aws/lifecycle.json")
    if not rules:
        report.add("lifecycle", WARN, f"no enabled lifecycle rule covers '{base}'", fix)
    elif missing:
        report.add("lifecycle", WARN, f"{len(rules)} rule(s) cover '{base}', without: "
                   f"{', '.join(missing)}", fix)
    else:
        report.add("lifecycle", OK, f"{len(rules)} rule(s) cover '{base}': "
                   f"{', '.join(wanted)}")
