"""The IAM policy in include/aws/ is exactly what the code needs.

A moto server with IAM enforcement runs the whole S3 side of the pipeline
(preflight, uploads, a taken key, reconcile, a review answer, the removal of a request)
as a user that holds only ``include/aws/iam-policy.json``: every call must be allowed
(moto checks each action on its resource: bucket, or object key). The S3
operations seen on the wire are mapped to IAM actions, and the policy must
grant no action the code never used.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from devtools import services
from extractorov import errors, pipeline, reconcile, removal, review, runtime, s3check
from extractorov.companies import COMPANIES
from tests.helpers import write_request

AWS_DIR = Path(__file__).resolve().parents[2] / "include" / "aws"
OPERATION_ACTION = {
    "ListObjectsV2": "s3:ListBucket",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
    # A request's files following its newly learned SGC out of sin_sgc/ (copy, delete).
    "CopyObject": "s3:PutObject",
    # ov_s3_check only: its test object, and the bucket settings it reports.
    "DeleteObject": "s3:DeleteObject",
    # ov_remove_request: every version of a request's objects, each deleted by its id.
    "ListObjectVersions": "s3:ListBucketVersions",
    "DeleteObjectVersion": "s3:DeleteObjectVersion",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
}


def _policy(bucket: str) -> dict:
    text = (AWS_DIR / "iam-policy.json").read_text().replace("extractorov-data", bucket)
    return json.loads(text)


def _allowed_actions(policy: dict) -> set[str]:
    actions: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions.update(statement["Action"])
    return actions


@pytest.fixture
def enforcing_s3(monkeypatch):
    """Start a moto server enforcing IAM, with one user holding the given policy."""
    servers: list[services.MotoS3] = []

    def start(policy_for=_policy) -> tuple[services.MotoS3, str]:
        # The first four calls (bucket, user, policy, key) are made before enforcement.
        server = services.start_moto(env={"INITIAL_NO_AUTH_ACTION_COUNT": "4"})
        servers.append(server)
        bucket = "policy-test-bucket"
        admin = {"endpoint_url": server.endpoint, "region_name": "us-east-1",
                 "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        boto3.client("s3", **admin).create_bucket(Bucket=bucket)
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="extractorov-s3-uploader")
        iam.put_user_policy(UserName="extractorov-s3-uploader", PolicyName="extractorov",
                            PolicyDocument=json.dumps(policy_for(bucket)))
        key = iam.create_access_key(UserName="extractorov-s3-uploader")["AccessKey"]
        conn = json.loads(server.conn_json())
        conn["login"], conn["password"] = key["AccessKeyId"], key["SecretAccessKey"]
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
        monkeypatch.setenv("AIRFLOW_VAR_OV_S3_BUCKET", bucket)
        return server, bucket

    yield start
    for server in servers:
        server.stop()


def test_policy_allows_every_call_and_grants_nothing_unused(enforcing_s3, db, landing):
    _, bucket = enforcing_s3()
    settings = runtime.settings_from_variables()
    client = runtime.s3_client()
    operations: list[str] = []

    def seen(model, params, **_):  # a delete that names a version is another IAM action
        versioned = model.name == "DeleteObject" and "VersionId" in params
        operations.append("DeleteObjectVersion" if versioned else model.name)

    client.meta.events.register("before-parameter-build.s3", seen)
    afinia = COMPANIES["afinia"]

    paths = write_request(landing, "afinia", "RE1", "R-1", adjunto="pdf")
    write_request(landing, "afinia", "RE2", "R-2")
    extracted = pipeline.extract(db, afinia, settings, "run-1")
    pipeline.load(db, afinia, extracted.manifest)
    # One key already taken by the same bytes: exercises the HEAD path.
    taken = f"oficina-virtual/afinia/raw_data/RE1/{paths[0].name}"
    client.put_object(Bucket=bucket, Key=taken, Body=paths[0].read_bytes(),
                      ServerSideEncryption="AES256")
    summary = pipeline.upload(db, client, afinia, settings, run_id="run-1")
    assert (summary.s3_uploaded, summary.s3_pre_existing, summary.s3_errors) == (4, 1, 0)
    client.put_object(Bucket=bucket, Key="oficina-virtual/afinia/raw_data/RE9/RE9_x.pdf",
                      Body=b"%PDF", ServerSideEncryption="AES256")
    report = reconcile.reconcile(db, client, afinia, settings, run_id="check")
    assert report.counts() == {"object_unregistered": 1}
    # The human review: its form reads the object, keeping it reads its bytes to hash them.
    client.put_object(Bucket=bucket, Key=taken, Body=b"another document",
                      ServerSideEncryption="AES256")
    reconcile.reconcile(db, client, afinia, settings, run_id="check-2")
    [form] = review.collect(db, client, settings, "review")
    outcome = review.apply_answer(db, client, settings, form["finding"]["id"],
                                  review.KEEP_PRE_EXISTING, answered_by="reviewer",
                                  answered_at=datetime.now(UTC), run_id="review")
    assert outcome.applied, outcome.text

    # A request first filed without its SGC, then scraped again with it: its objects
    # follow it (a copy, then the old key deleted, allowed only under sin_sgc/).
    from tests.landing_files import write_json, write_pdf
    write_pdf(landing, "PQR_3_ERROR", 0, "first")
    write_json(landing, "PQR_3_ERROR", "R-801", 5)
    extracted = pipeline.extract(db, afinia, settings, "run-2")
    pipeline.load(db, afinia, extracted.manifest)
    pipeline.upload(db, client, afinia, settings, run_id="run-2")
    write_json(landing, "RE801", "R-801", 86_405)
    extracted = pipeline.extract(db, afinia, settings, "run-3")
    pipeline.load(db, afinia, extracted.manifest)
    assert pipeline.upload(db, client, afinia, settings, run_id="run-3").s3_moved == 2

    # A request removed everywhere (ov_remove_request): its versions listed, each deleted.
    found = removal.find(db, client, afinia, settings, "R-1")
    db.rollback()
    assert {v.key for v in found.versions} == {
        f"oficina-virtual/afinia/raw_data/RE1/{p.name}" for p in paths}
    removal.record_decision(db, "afinia", "R-1", run_id="remove-1", approved=True,
                            decided_by="reviewer", decided_at=datetime.now(UTC),
                            reason="captured by mistake", shown=found.as_dict())
    assert removal.remove(db, client, afinia, settings, "R-1",
                          run_id="remove-1").status == "completed"
    assert not [k for k in client.list_objects_v2(Bucket=bucket, Prefix="oficina-virtual/"
                                                  "afinia/raw_data/RE1/").get("Contents", [])]

    pipeline_operations = set(operations)
    # ov_s3_check, as the same user: every line passes (the bucket settings are unset here,
    # so versioning/encryption/lifecycle WARN, but they could be read).
    conn = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    sts = boto3.client("sts", endpoint_url=conn["extra"]["endpoint_url"], region_name="us-east-1",
                       aws_access_key_id=conn["login"], aws_secret_access_key=conn["password"])
    check = s3check.check(client, sts, bucket=bucket, base_path=settings.base_path,
                          conn_id="aws_default")
    assert check.failed() == [], check.format()
    assert all("refused" not in line.detail for line in check.lines), check.format()

    used = {OPERATION_ACTION[op] for op in operations}
    assert {"ListObjectsV2", "PutObject", "HeadObject", "GetObject", "CopyObject",
            "DeleteObject", "ListObjectVersions", "DeleteObjectVersion"} <= pipeline_operations
    assert {"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
            "AbortMultipartUpload", "DeleteObject"} <= set(operations)
    assert used == _allowed_actions(_policy(bucket)), "policy must grant exactly what is used"


def test_a_policy_without_put_is_denied_with_a_clear_message(enforcing_s3, db, landing):
    def without_put(bucket: str) -> dict:
        weaker = _policy(bucket)
        weaker["Statement"][1]["Action"] = ["s3:GetObject"]
        return weaker

    enforcing_s3(without_put)
    settings = runtime.settings_from_variables()
    write_request(landing, "aire", "55", "A-1", pdf=False)
    aire = COMPANIES["aire"]
    extracted = pipeline.extract(db, aire, settings, "run-1")
    pipeline.load(db, aire, extracted.manifest)
    with pytest.raises(errors.UploadIncomplete, match="Access denied"):
        pipeline.upload(db, runtime.s3_client(), aire, settings, run_id="run-1")


def test_without_the_removal_statements_a_removal_is_refused_naming_them(
        enforcing_s3, db, landing):
    """The pipeline's own grants never list or delete object versions: a removal needs the
    two ExtractorOVRemoval* statements (or a connection of its own that holds them)."""
    def without_removal(bucket: str) -> dict:
        policy = _policy(bucket)
        policy["Statement"] = [s for s in policy["Statement"]
                               if not s["Sid"].startswith("ExtractorOVRemoval")]
        return policy

    enforcing_s3(without_removal)
    settings = runtime.settings_from_variables()
    afinia = COMPANIES["afinia"]
    write_request(landing, "afinia", "RE1", "R-1")
    extracted = pipeline.extract(db, afinia, settings, "run-1")
    pipeline.load(db, afinia, extracted.manifest)
    pipeline.upload(db, runtime.s3_client(), afinia, settings, run_id="run-1")
    with pytest.raises(removal.RemovalError, match=r"Access denied to bucket .* for "
                       r"s3:ListBucketVersions .* statements ExtractorOVRemoval\*"):
        removal.find(db, runtime.s3_client(), afinia, settings, "R-1")


def test_bucket_policy_keeps_the_seed_restriction_and_enforces_encryption():
    """Detailed checks of every policy file: tests/integration/test_aws_config.py."""
    policy = json.loads((AWS_DIR / "bucket-policy.json").read_text())
    sids = {s["Sid"]: s for s in policy["Statement"]}
    restrict = sids["RestrictToExtractorOVPrincipals"]
    assert "NotPrincipal" not in restrict and restrict["Principal"] == "*"
    assert "arn:aws:iam::YOUR_ACCOUNT_ID:user/extractorov-s3-uploader" in (
        restrict["Condition"]["ArnNotLike"]["aws:PrincipalArn"])
    assert sids["DenyUnencryptedUploads"]["Condition"] == {
        "Null": {"s3:x-amz-server-side-encryption": "true"}}
    assert all(s["Effect"] == "Deny" for s in policy["Statement"])
    lifecycle = json.loads((AWS_DIR / "lifecycle.json").read_text())
    assert {r["ID"] for r in lifecycle["Rules"]} == {"ExtractorOVArchiveLargeObjects",
                                                     "ExtractorOVHousekeeping"}
