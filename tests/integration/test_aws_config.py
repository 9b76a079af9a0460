"""The AWS documents in include/aws/: accepted by the APIs they are meant for, and saying
what they claim.

* lifecycle.json: accepted by PutBucketLifecycleConfiguration (moto server); objects over
  128 KiB move to IA/Glacier (S3 skips smaller ones by default anyway), incomplete
  multipart uploads are aborted, old versions expire.
* bucket-policy.json / bucket-policy-kms.json: structure, and behaviour for the requests
  that matter, evaluated by a small evaluator of the condition operators they use (moto
  evaluates bucket-policy conditions only for StringEquals, so it cannot judge these);
  the encryption the code sends (``storage.encryption_args``) passes its variant.
* cloudwatch-alarm-*.json: accepted by PutMetricAlarm (moto server) as the CLI's
  ``--cli-input-json`` input; request-metrics.json by PutBucketMetricsConfiguration.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from extractorov.storage import encryption_args
from tests.aws_moto import AWS_DIR

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
BUCKET = "extractorov-data"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
UPLOADER_USER = f"arn:aws:iam::{ACCOUNT}:user/extractorov-s3-uploader"
UPLOADER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/extractorov-s3-uploader"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"


def _load(name: str) -> dict[str, Any]:
    return json.loads((AWS_DIR / name).read_text())


def _filled(name: str) -> dict[str, Any]:
    """A policy with its placeholders replaced, as the README says to do."""
    text = ((AWS_DIR / name).read_text().replace("YOUR_ACCOUNT_ID", ACCOUNT)
            .replace("YOUR_ADMIN_ROLE", "platform-admin").replace("YOUR_REGION", "us-east-1")
            .replace("key/YOUR_KEY_ID", KEY_ARN.rsplit(":", 1)[1]))
    return json.loads(text)


# --------------------------------------------------------------------------- lifecycle


def test_lifecycle_is_accepted_by_s3_and_has_the_rules_it_claims(s3, bucket):
    document = _load("lifecycle.json")
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=document)
    stored = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert set(stored) == {"ExtractorOVArchiveLargeObjects", "ExtractorOVHousekeeping"}
    archive, housekeeping = stored["ExtractorOVArchiveLargeObjects"], stored[
        "ExtractorOVHousekeeping"]
    assert [(t["Days"], t["StorageClass"]) for t in archive["Transitions"]] == [
        (30, "STANDARD_IA"), (90, "GLACIER")]
    assert housekeeping["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert housekeeping["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert housekeeping["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert all(r["Status"] == "Enabled" for r in stored.values())


def test_lifecycle_transitions_only_what_s3_would_transition_and_says_so():
    """S3 does not transition objects under 128 KiB by default; the rule says it explicitly
    (most request JSONs are ~100 KB and stay in Standard: include/aws/README.md)."""
    rules = {r["ID"]: r for r in _load("lifecycle.json")["Rules"]}
    archive = rules["ExtractorOVArchiveLargeObjects"]
    assert archive["Filter"] == {"And": {"Prefix": "oficina-virtual/",
                                         "ObjectSizeGreaterThan": 128 * 1024}}
    housekeeping = rules["ExtractorOVHousekeeping"]
    assert housekeeping["Filter"] == {"Prefix": "oficina-virtual/"}  # every size
    assert "Transitions" not in housekeeping


def test_lifecycle_storage_classes_and_fields_are_the_api_s(s3):
    """botocore validates field names on the call above; enum values it does not check."""
    model = s3.meta.service_model
    classes = model.shape_for("TransitionStorageClass").enum
    for rule in _load("lifecycle.json")["Rules"]:
        for transition in rule.get("Transitions", []):
            assert transition["StorageClass"] in classes
    days = [t["Days"] for t in _load("lifecycle.json")["Rules"][0]["Transitions"]]
    assert days[0] >= 30, "S3 refuses transitions to STANDARD_IA before 30 days"
    assert days[1] - days[0] >= 30, "IA bills 30 days at least: keep objects there that long"


# --------------------------------------------------------------------------- bucket policies

NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _matches(operator: str, expected: Any, actual: str | None) -> bool:
    """One condition key, IAM semantics: a missing key makes positive operators false and
    negated ones true; several expected values are OR-ed."""
    values = expected if isinstance(expected, list) else [expected]
    if operator == "Null":
        return (actual is None) == (str(values[0]).lower() == "true")
    if actual is None:
        return operator in NEGATED
    if operator == "Bool":
        return actual.lower() in [str(v).lower() for v in values]
    like = operator.endswith("Like")
    hit = any(fnmatch.fnmatchcase(actual, v) if like else actual == v for v in values)
    base = operator.replace("Not", "")
    assert base in {"StringEquals", "StringLike", "ArnEquals", "ArnLike"}, operator
    return not hit if operator in NEGATED else hit


def denying_statements(policy: dict[str, Any], *, action: str, resource: str,
                       context: dict[str, str]) -> list[str]:
    """Sids of the Deny statements that apply to this request (conditions AND-ed)."""
    sids = []
    for st in policy["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if not any(fnmatch.fnmatchcase(action, a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in resources):
            continue
        if all(_matches(op, expected, context.get(key))
               for op, keys in st.get("Condition", {}).items()
               for key, expected in keys.items()):
            sids.append(st["Sid"])
    return sids


def _put(principal: str, encryption: dict[str, str] | None, *, tls: bool = True) -> dict:
    context = {"aws:PrincipalArn": principal, "aws:SecureTransport": str(tls).lower()}
    if encryption and "ServerSideEncryption" in encryption:
        context["s3:x-amz-server-side-encryption"] = encryption["ServerSideEncryption"]
    if encryption and "SSEKMSKeyId" in encryption:
        context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = encryption["SSEKMSKeyId"]
    return {"action": "s3:PutObject", "resource": f"arn:aws:s3:::{BUCKET}/oficina-virtual/x",
            "context": context}


SSE_S3 = encryption_args(None)
SSE_KMS = encryption_args(KEY_ARN)


@pytest.mark.parametrize(("name", "request_", "denied_by"), [
    # What the pipeline sends: allowed, as a user or through the role.
    ("bucket-policy.json", _put(UPLOADER_USER, SSE_S3), []),
    ("bucket-policy.json", _put(UPLOADER_ROLE, SSE_S3), []),
    ("bucket-policy.json", _put(ADMIN_ROLE, SSE_S3), []),
    ("bucket-policy-kms.json", _put(UPLOADER_ROLE, SSE_KMS), []),
    # Anyone else, even with encryption.
    ("bucket-policy.json", _put(f"arn:aws:iam::{ACCOUNT}:user/someone", SSE_S3),
     ["RestrictToExtractorOVPrincipals"]),
    ("bucket-policy-kms.json", _put(f"arn:aws:iam::{ACCOUNT}:role/other", SSE_KMS),
     ["RestrictToExtractorOVPrincipals"]),
    # No encryption header, or plain HTTP.
    ("bucket-policy.json", _put(UPLOADER_USER, None), ["DenyUnencryptedUploads"]),
    ("bucket-policy.json", _put(UPLOADER_USER, SSE_S3, tls=False), ["DenyInsecureTransport"]),
    ("bucket-policy-kms.json", _put(UPLOADER_USER, None),
     ["DenyUploadsNotUsingKms", "DenyUploadsNotUsingTheKmsKey"]),
    # The KMS variant: SSE-S3, or another key, is refused.
    ("bucket-policy-kms.json", _put(UPLOADER_USER, SSE_S3),
     ["DenyUploadsNotUsingKms", "DenyUploadsNotUsingTheKmsKey"]),
    ("bucket-policy-kms.json",
     _put(UPLOADER_USER, encryption_args(KEY_ARN.replace("1234abcd", "9999ffff"))),
     ["DenyUploadsNotUsingTheKmsKey"]),
    ("bucket-policy-kms.json", _put(UPLOADER_USER, SSE_KMS, tls=False),
     ["DenyInsecureTransport"]),
])
def test_bucket_policy_decides_each_request(name, request_, denied_by):
    assert denying_statements(_filled(name), **request_) == denied_by


def test_listing_by_the_uploader_is_allowed_and_by_others_refused():
    policy = _filled("bucket-policy.json")
    listing = {"action": "s3:ListBucket", "resource": f"arn:aws:s3:::{BUCKET}"}
    ok = {"aws:PrincipalArn": UPLOADER_ROLE, "aws:SecureTransport": "true"}
    other = {**ok, "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:user/someone"}
    assert denying_statements(policy, **listing, context=ok) == []
    assert denying_statements(policy, **listing, context=other) == [
        "RestrictToExtractorOVPrincipals"]


def test_bucket_policies_use_principal_arn_not_notprincipal():
    for name in ("bucket-policy.json", "bucket-policy-kms.json"):
        policy = _load(name)
        text = json.dumps(policy)
        assert "NotPrincipal" not in text and "NotAction" not in text
        assert [s["Effect"] for s in policy["Statement"]] == ["Deny"] * len(policy["Statement"])
        assert all(s["Principal"] == "*" for s in policy["Statement"])
        assert len({s["Sid"] for s in policy["Statement"]}) == len(policy["Statement"])
        restrict = policy["Statement"][0]
        assert restrict["Sid"] == "RestrictToExtractorOVPrincipals"
        assert set(restrict["Condition"]) == {"ArnNotLike"}
        principals = restrict["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
        assert {p.rsplit(":", 1)[1] for p in principals} == {
            "user/extractorov-s3-uploader", "role/extractorov-s3-uploader",
            "role/YOUR_ADMIN_ROLE"}
        for statement in policy["Statement"]:
            resources = statement["Resource"]
            for resource in resources if isinstance(resources, list) else [resources]:
                assert resource.startswith(f"arn:aws:s3:::{BUCKET}")


def test_the_two_variants_differ_only_in_their_encryption_statements():
    plain = {s["Sid"]: s for s in _load("bucket-policy.json")["Statement"]}
    kms = {s["Sid"]: s for s in _load("bucket-policy-kms.json")["Statement"]}
    for sid in ("RestrictToExtractorOVPrincipals", "DenyInsecureTransport"):
        assert plain[sid] == kms[sid]
    assert set(plain) - set(kms) == {"DenyUnencryptedUploads"}
    assert set(kms) - set(plain) == {"DenyUploadsNotUsingKms", "DenyUploadsNotUsingTheKmsKey"}
    key_condition = kms["DenyUploadsNotUsingTheKmsKey"]["Condition"]
    assert key_condition == {"ArnNotEquals": {
        "s3:x-amz-server-side-encryption-aws-kms-key-id":
            "arn:aws:kms:YOUR_REGION:YOUR_ACCOUNT_ID:key/YOUR_KEY_ID"}}


@pytest.mark.parametrize("name", ["bucket-policy.json", "bucket-policy-kms.json"])
def test_s3_accepts_each_bucket_policy(moto_server, name):
    client = moto_server.client()
    bucket = f"policy-{name.split('.')[0]}"
    client.create_bucket(Bucket=bucket)
    policy = json.dumps(_filled(name)).replace(BUCKET, bucket)
    client.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(policy)


# --------------------------------------------------------------------------- CloudWatch

ALARMS = ["cloudwatch-alarm-4xx.json", "cloudwatch-alarm-5xx.json",
          "cloudwatch-alarm-storage-growth.json"]


@pytest.mark.parametrize("name", ALARMS)
def test_each_alarm_is_accepted_by_put_metric_alarm(moto_server, name):
    import boto3

    document = _load(name)
    cloudwatch = boto3.client("cloudwatch", endpoint_url=moto_server.endpoint,
                              region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
    cloudwatch.put_metric_alarm(**document)  # the CLI's --cli-input-json shape
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[document["AlarmName"]])["MetricAlarms"]
    for field in ("Threshold", "EvaluationPeriods", "ComparisonOperator", "TreatMissingData"):
        assert alarm[field] == document[field]
    if "Metrics" in document:
        assert alarm["Metrics"] == document["Metrics"]
    else:
        assert alarm["Dimensions"] == document["Dimensions"]
        assert {d["Name"] for d in alarm["Dimensions"]} == {"BucketName", "FilterId"}


def test_the_guide_s_4xx_alarm_keeps_its_numbers_and_gets_its_dimensions():
    guide = {"AlarmName": "ExtractorOV-S3-HighErrorRate", "MetricName": "4xxErrors",
             "Namespace": "AWS/S3", "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 2,
             "Threshold": 10, "ComparisonOperator": "GreaterThanThreshold"}
    document = _load("cloudwatch-alarm-4xx.json")
    assert {k: document[k] for k in guide} == guide
    # Without dimensions the guide's alarm watched a metric S3 never publishes.
    assert document["Dimensions"] == [{"Name": "BucketName", "Value": BUCKET},
                                      {"Name": "FilterId", "Value": "EntireBucket"}]


def test_request_metrics_filter_is_accepted_and_is_the_one_the_alarms_watch(s3, bucket):
    document = _load("request-metrics.json")
    s3.put_bucket_metrics_configuration(Bucket=bucket, Id=document["Id"],
                                        MetricsConfiguration=document)
    for name in ("cloudwatch-alarm-4xx.json", "cloudwatch-alarm-5xx.json"):
        dims = {d["Name"]: d["Value"] for d in _load(name)["Dimensions"]}
        assert dims["FilterId"] == document["Id"]
