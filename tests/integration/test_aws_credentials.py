"""aws_default with an assumed IAM role, and the access-key rotation runbook, on a moto
server that enforces IAM (include/aws/README.md, "Credentials").

The role holds ``include/aws/iam-policy.json``; the connection's own keys may only
assume it. Uploads go through ``runtime.s3_client`` (S3Hook) as in ``upload_s3``.
"""

from __future__ import annotations

import json

import pytest

from extractorov import errors, pipeline, runtime, s3check
from extractorov.companies import COMPANIES
from tests.aws_moto import IamMoto, iam_policy
from tests.helpers import list_keys, write_request

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/extractorov-s3-uploader"
BUCKET = "credentials-bucket"


@pytest.fixture(scope="module")
def iam_moto():
    server = IamMoto()
    yield server
    server.stop()


@pytest.fixture
def moto(iam_moto, monkeypatch):
    iam_moto.reset()
    iam_moto.admin("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_BUCKET", BUCKET)
    return iam_moto


def _role_setup(moto: IamMoto, *, may_assume: bool = True) -> tuple[str, str]:
    """The uploader role (pipeline policy) and a base user that may only assume it."""
    iam = moto.admin("iam")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/airflow-base"}}]}
    iam.create_role(RoleName="extractorov-s3-uploader", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="extractorov-s3-uploader", PolicyName="pipeline",
                        PolicyDocument=json.dumps(iam_policy(BUCKET)))
    action = "sts:AssumeRole" if may_assume else "sts:GetCallerIdentity"
    return moto.user("airflow-base", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": ROLE_ARN}]})


def _role_extra(moto: IamMoto) -> dict:
    """The extra keys of the amazon provider's AWS connection for an assumed role."""
    return {"role_arn": ROLE_ARN, "assume_role_method": "assume_role",
            "assume_role_kwargs": {"RoleSessionName": "airflow-extractorov",
                                   "DurationSeconds": 3600},
            # AssumeRole never uses the global endpoint_url: only for moto/LocalStack.
            "service_config": {"sts": {"endpoint_url": moto.endpoint}}}


def _upload_one(db, landing) -> pipeline.UploadSummary:
    settings = runtime.settings_from_variables()
    aire = COMPANIES["aire"]
    write_request(landing, "aire", "55", "A-1", pdf=True)
    extracted = pipeline.extract(db, aire, settings, "run-1")
    pipeline.load(db, aire, extracted.manifest)
    return pipeline.upload(db, runtime.s3_client(), aire, settings, run_id="run-1")


def test_an_upload_works_through_the_assumed_role(moto, monkeypatch, db, landing):
    key_id, secret = _role_setup(moto)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT",
                       moto.conn_json(key_id, secret, **_role_extra(moto)))
    moto.enforce()
    summary = _upload_one(db, landing)
    assert (summary.s3_uploaded, summary.s3_errors) == (2, 0)
    report = s3check.run(runtime.settings_from_variables(), runtime.s3_check_clients)
    assert report.failed() == [], report.format()
    assert report.line("identity").detail.startswith(
        f"assumed role arn:aws:sts::{ACCOUNT}:assumed-role/extractorov-s3-uploader/"
        "airflow-extractorov")
    moto.relax()
    assert len(list_keys(moto.admin("s3"), BUCKET, "oficina-virtual/aire/")) == 2


def test_the_base_keys_alone_cannot_upload(moto, monkeypatch, db, landing):
    """What made the upload above work was the role, not the connection's own keys."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", moto.conn_json(*_role_setup(moto)))
    moto.enforce()
    with pytest.raises(errors.S3PreflightError, match="Access denied to bucket"):
        _upload_one(db, landing)


def test_a_role_that_cannot_be_assumed_is_named_by_the_check_and_the_pipeline(moto,
                                                                              monkeypatch):
    key_id, secret = _role_setup(moto, may_assume=False)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT",
                       moto.conn_json(key_id, secret, **_role_extra(moto)))
    moto.enforce()
    report = s3check.run(runtime.settings_from_variables(), runtime.s3_check_clients)
    assert report.failed() == ["identity"]
    assert "could not assume the role in the extra 'role_arn'" in report.line("identity").detail
    assert "sts:AssumeRole" in report.line("identity").fix
    with pytest.raises(errors.S3PreflightError, match="could not assume the role"):
        runtime.s3_client()


def test_key_rotation_runbook(moto, monkeypatch):
    """include/aws/README.md, 'Rotating the access key', step by step."""
    iam = moto.admin("iam")
    old_id, old_secret = moto.user("extractorov-s3-uploader", iam_policy(BUCKET))

    def check_with(key_id: str, secret: str) -> s3check.Report:
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", moto.conn_json(key_id, secret))
        moto.enforce()
        try:
            return s3check.run(runtime.settings_from_variables(), runtime.s3_check_clients)
        finally:
            moto.relax()

    assert check_with(old_id, old_secret).failed() == []
    # 1. A second key for the same user.
    new = iam.create_access_key(UserName="extractorov-s3-uploader")["AccessKey"]
    # 2-3. The connection gets the new key; ov_s3_check shows its last 4 characters.
    report = check_with(new["AccessKeyId"], new["SecretAccessKey"])
    assert report.failed() == []
    assert report.line("identity").detail.endswith(f"access key …{new['AccessKeyId'][-4:]})")
    # 4-5. The old key is retired: anything still using it fails, the new one works.
    iam.delete_access_key(UserName="extractorov-s3-uploader", AccessKeyId=old_id)
    stale = check_with(old_id, old_secret)
    assert stale.failed() == ["identity", "bucket"]
    assert "(InvalidClientTokenId)" in stale.line("identity").detail
    assert check_with(new["AccessKeyId"], new["SecretAccessKey"]).failed() == []
