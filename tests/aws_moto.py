"""A moto server of a test module's own that enforces IAM: users, roles, policies, keys.

Setup (buckets, users, roles) runs as moto's admin with enforcement off; ``enforce()``
turns it on, after which every request is authenticated (unknown key, wrong secret)
and authorised against the caller's IAM policies (actions and resources; moto does
not evaluate policy conditions). ``reset()`` empties every backend between tests.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from devtools import services

AWS_DIR = Path(__file__).resolve().parents[1] / "include" / "aws"
REGION = "us-east-1"


def iam_policy(bucket: str) -> dict[str, Any]:
    """``include/aws/iam-policy.json`` for this bucket."""
    text = (AWS_DIR / "iam-policy.json").read_text().replace("extractorov-data", bucket)
    return json.loads(text)


class IamMoto:
    def __init__(self) -> None:
        self.server = services.start_moto()
        self.endpoint = self.server.endpoint

    def _post(self, path: str, data: bytes = b"") -> None:
        # text/plain: a form content type would leave the body unread by moto.
        request = urllib.request.Request(f"{self.endpoint}{path}", data=data,  # noqa: S310
                                         method="POST", headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=10).read()  # noqa: S310 - http://127.0.0.1

    def reset(self) -> None:
        self.relax()
        self._post("/moto-api/reset")

    def enforce(self) -> None:
        self._post("/moto-api/reset-auth", b"0")

    def relax(self) -> None:
        """Back to no authentication (to inspect the state as admin)."""
        self._post("/moto-api/reset-auth", b"inf")

    def admin(self, service: str, region: str = REGION) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def user(self, name: str, policy: dict[str, Any]) -> tuple[str, str]:
        """An IAM user holding ``policy`` inline; its first access key."""
        iam = self.admin("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def conn_json(self, key_id: str | None, secret: str | None, **extra: Any) -> str:
        """An ``aws_default`` connection to this server with these credentials."""
        conn: dict[str, Any] = {"conn_type": "aws", "extra": {
            "endpoint_url": self.endpoint, "region_name": REGION,
            "config_kwargs": {"retries": {"mode": "standard", "max_attempts": 2}}, **extra}}
        if key_id:
            conn["login"], conn["password"] = key_id, secret
        return json.dumps(conn)

    def stop(self) -> None:
        self.server.stop()
