"""ov_s3_check against a moto server over HTTP, through the Airflow connection.

A bucket set up as the guide asks passes every line; a bare bucket gets WARN lines
with their fixes; the guide's four troubleshooting errors (NoCredentialsError,
AccessDenied, NoSuchBucket, InvalidRegion) and rejected keys (InvalidAccessKeyId,
SignatureDoesNotMatch) each give a FAIL line naming the fix. The IAM cases run on
a moto server that enforces IAM, as a user holding ``include/aws/iam-policy.json``.
"""

from __future__ import annotations

import json

import boto3
import pytest

from extractorov import runtime, s3check, tasks
from extractorov.s3check import OK, WARN
from tests.aws_moto import AWS_DIR, IamMoto, iam_policy
from tests.helpers import list_keys

pytestmark = pytest.mark.integration

HEALTHCHECK_KEY = "oficina-virtual/_healthcheck/ov_s3_check.txt"


def _run() -> s3check.Report:
    return s3check.run(runtime.settings_from_variables(), runtime.s3_check_clients)


def _statuses(report: s3check.Report) -> dict[str, str]:
    return {line.check: line.status for line in report.lines}


def _set_up_as_the_guide_asks(client, bucket: str) -> None:
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration=json.loads((AWS_DIR / "lifecycle.json").read_text()))


def test_a_bucket_set_up_as_the_guide_asks_passes_every_line(moto_server, bucket):
    admin = moto_server.client()
    _set_up_as_the_guide_asks(admin, bucket)
    report = _run()
    assert [line.check for line in report.lines] == list(s3check.CHECKS)
    assert set(_statuses(report).values()) == {OK}, report.format()
    assert report.not_checked == []
    assert "us-east-1" in report.line("region").detail
    assert "SSE-S3 (AES256)" in report.line("put").detail
    # The test object was deleted; nothing was written outside _healthcheck/.
    assert list_keys(admin, bucket) == {}
    versions = admin.list_object_versions(Bucket=bucket)
    assert {v["Key"] for v in versions.get("Versions", [])} == {HEALTHCHECK_KEY}
    assert admin.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "0 WARN, 0 FAIL" in report.format()


def test_a_bare_bucket_warns_with_the_fix_and_does_not_fail(moto_server, bucket):
    report = _run()
    statuses = _statuses(report)
    assert report.failed() == []
    assert {c: statuses[c] for c in ("versioning", "encryption", "lifecycle")} == {
        "versioning": WARN, "encryption": WARN, "lifecycle": WARN}
    assert "put-bucket-versioning" in report.line("versioning").fix
    assert "Status=Enabled" in report.line("versioning").fix
    assert "put-bucket-encryption" in report.line("encryption").fix
    assert "file://include/aws/lifecycle.json" in report.line("lifecycle").fix
    assert all(statuses[c] == OK for c in ("identity", "region", "bucket", "list", "put",
                                           "get", "multipart", "cleanup"))


def test_lifecycle_without_the_housekeeping_rules_names_what_is_missing(moto_server, bucket):
    moto_server.client().put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
        "Rules": [{"ID": "seed", "Status": "Enabled", "Filter": {"Prefix": "oficina-virtual/"},
                   "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]}]})
    line = _run().line("lifecycle")
    assert line.status == WARN
    assert "AbortIncompleteMultipartUpload" in line.detail
    assert "NoncurrentVersionExpiration" in line.detail
    assert "transitions" not in line.detail


KMS_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(("key", "status", "says"), [
    (KMS_ARN, OK, "bucket default aws:kms"),
    ("alias/extractorov", WARN, "not a full key ARN"),
])
def test_with_a_kms_key_the_test_object_is_sent_with_that_key(moto_server, bucket, monkeypatch,
                                                              key, status, says):
    admin = moto_server.client()
    _set_up_as_the_guide_asks(admin, bucket)
    admin.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                "KMSMasterKeyID": KMS_ARN}}]})
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_KMS_KEY_ID", key)
    report = _run()
    assert f"SSE-KMS (key {key})" in report.line("put").detail
    assert report.status("encryption") == status, report.format()
    assert says in report.line("encryption").detail


def test_a_kms_key_other_than_the_bucket_default_warns(moto_server, bucket, monkeypatch):
    _set_up_as_the_guide_asks(moto_server.client(), bucket)  # default SSE-S3
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_KMS_KEY_ID", KMS_ARN)
    line = _run().line("encryption")
    assert line.status == WARN
    assert line.detail.startswith("bucket default is AES256; the pipeline asks for SSE-KMS")


def test_no_such_bucket_fails_and_says_create_it_or_fix_the_variable(bucket, monkeypatch):
    """Guide: 'Error: NoSuchBucket — Crear el bucket o verificar variable AWS_S3_BUCKET_NAME'."""
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_BUCKET", "no-such-bucket-here")
    report = _run()
    assert report.failed() == ["bucket"]
    line = report.line("bucket")
    assert "does not exist" in line.detail
    assert "aws s3 mb s3://no-such-bucket-here" in line.fix and "ov_s3_bucket" in line.fix
    assert report.status("identity") == OK
    assert report.not_checked == ["list", "region", "put", "get", "multipart", "cleanup",
                                  "versioning", "encryption", "lifecycle"]


def test_a_bucket_in_another_region_fails_the_region_line(moto_server, bucket, monkeypatch):
    """Guide: 'Error: InvalidRegion — Verificar variable AWS_REGION'."""
    name = f"{bucket}-eu"
    moto_server.client().create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_BUCKET", name)
    report = _run()
    assert report.failed() == ["region"]
    line = report.line("region")
    assert line.detail == "the bucket is in eu-west-1, connection 'aws_default' says us-east-1"
    assert line.fix == "set the extra 'region_name' of connection 'aws_default' to \"eu-west-1\""


def test_a_region_name_that_is_no_region_fails_before_any_request(moto_server, bucket,
                                                                  monkeypatch):
    conn = json.loads(moto_server.conn_json())
    conn["extra"]["region_name"] = "bogota!"
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    report = _run()
    assert report.failed() == ["region"]
    assert "not a valid AWS region name" in report.line("region").detail
    assert report.not_checked == [c for c in s3check.CHECKS if c != "region"]


def test_no_credentials_fails_identity_and_bucket(moto_server, bucket, monkeypatch):
    """Guide: 'Error: NoCredentialsError' (the old code fell back to a simulated mode)."""
    conn = json.loads(moto_server.conn_json())
    del conn["login"], conn["password"]
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    report = _run()
    assert report.failed() == ["identity", "bucket"]
    assert "has no AWS credentials" in report.line("identity").detail
    assert "role_arn" in report.line("identity").fix
    assert "No AWS credentials" in report.line("bucket").detail


def test_the_task_fails_without_retry_naming_the_failed_checks(bucket, monkeypatch):
    from extractorov.taskfail import NotRetried

    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_BUCKET", "no-such-bucket-here")
    with pytest.raises(NotRetried, match=r"ov_s3_check: FAIL in bucket \(connection "
                       r"'aws_default', bucket 'no-such-bucket-here'\): fix each line "
                       r"below\nbucket: create the"):
        tasks.s3_check({})


def test_the_task_returns_the_report_when_nothing_fails(bucket):
    xcom = tasks.s3_check({})
    assert xcom["failed"] == []
    assert [line["check"] for line in xcom["lines"]] == list(s3check.CHECKS)
    json.dumps(xcom)  # XCom-serialisable


# --------------------------------------------------------------------------- IAM enforced


@pytest.fixture(scope="module")
def iam_moto():
    server = IamMoto()
    yield server
    server.stop()


@pytest.fixture
def iam(iam_moto, monkeypatch):
    """The IAM-enforcing server, emptied; a configured bucket; the uploader's policy."""
    iam_moto.reset()
    bucket = "check-bucket"
    admin = iam_moto.admin("s3")
    admin.create_bucket(Bucket=bucket)
    _set_up_as_the_guide_asks(admin, bucket)
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_BUCKET", bucket)

    def connect(key_id: str | None, secret: str | None, **extra) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", iam_moto.conn_json(key_id, secret, **extra))

    iam_moto.bucket = bucket
    iam_moto.connect = connect
    return iam_moto


def test_the_uploader_policy_passes_every_line(iam):
    key_id, secret = iam.user("extractorov-s3-uploader", iam_policy(iam.bucket))
    iam.connect(key_id, secret)
    iam.enforce()
    report = _run()
    assert set(_statuses(report).values()) == {OK}, report.format()
    identity = report.line("identity").detail
    assert identity.startswith("user arn:aws:iam::123456789012:user/extractorov-s3-uploader")
    assert identity.endswith(f"access key …{key_id[-4:]})")
    assert secret not in report.format() and key_id not in report.format()


def test_access_denied_on_put_fails_with_the_iam_fix(iam):
    """Guide: 'Error: AccessDenied — User is not authorized to perform: s3:PutObject'."""
    policy = iam_policy(iam.bucket)
    for statement in policy["Statement"]:
        if "s3:PutObject" in statement["Action"]:
            statement["Action"] = [a for a in statement["Action"] if a != "s3:PutObject"]
    iam.connect(*iam.user("extractorov-s3-uploader", policy))
    iam.enforce()
    report = _run()
    assert report.failed() == ["put"]
    line = report.line("put")
    assert "AccessDenied" in line.detail
    assert "must allow s3:PutObject on 'oficina-virtual/*'" in line.fix
    assert "include/aws/iam-policy.json" in line.fix
    assert report.status("list") == OK
    assert {"get", "multipart", "cleanup"} <= set(report.not_checked)


def test_without_delete_the_test_object_stays_at_one_key_and_is_overwritten(iam):
    policy = iam_policy(iam.bucket)
    policy["Statement"] = [s for s in policy["Statement"]
                           if s["Sid"] != "ExtractorOVDeleteHealthcheckObject"]
    iam.connect(*iam.user("extractorov-s3-uploader", policy))
    iam.enforce()
    first, second = _run(), _run()
    for report in (first, second):
        assert report.failed() == []
        assert report.status("cleanup") == WARN
        assert "ExtractorOVDeleteHealthcheckObject" in report.line("cleanup").fix
    iam.relax()
    assert set(list_keys(iam.admin("s3"), iam.bucket)) == {HEALTHCHECK_KEY}


def test_the_delete_grant_reaches_only_the_health_check_prefix(iam):
    """The policy allows deleting the test object and nothing else."""
    admin = iam.admin("s3")
    admin.put_object(Bucket=iam.bucket, Key="oficina-virtual/afinia/raw_data/R1/x.json",
                     Body=b"{}", ServerSideEncryption="AES256")
    key_id, secret = iam.user("extractorov-s3-uploader", iam_policy(iam.bucket))
    iam.enforce()
    client = boto3.client("s3", endpoint_url=iam.endpoint, region_name="us-east-1",
                          aws_access_key_id=key_id, aws_secret_access_key=secret)
    with pytest.raises(client.exceptions.ClientError, match="AccessDenied"):
        client.delete_object(Bucket=iam.bucket, Key="oficina-virtual/afinia/raw_data/R1/x.json")
    client.delete_object(Bucket=iam.bucket, Key=HEALTHCHECK_KEY)  # allowed


@pytest.mark.parametrize(("kind", "code"), [("unknown key", "InvalidClientTokenId"),
                                            ("wrong secret", "SignatureDoesNotMatch")])
def test_rejected_credentials_fail_identity_and_bucket(iam, kind, code):
    key_id, secret = iam.user("extractorov-s3-uploader", iam_policy(iam.bucket))
    if kind == "unknown key":
        key_id = "AKIA" + "X" * 16
    else:
        secret = "not-the-secret"
    iam.connect(key_id, secret)
    iam.enforce()
    report = _run()
    assert report.failed() == ["identity", "bucket"]
    assert f"AWS rejected the credentials of connection 'aws_default' ({code})" in (
        report.line("identity").detail)
    assert "AWS rejected the credentials" in report.line("bucket").detail
    assert secret not in report.format()
