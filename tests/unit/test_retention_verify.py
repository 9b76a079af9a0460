"""What "verified in the bucket" means to retention, for the object HEADs moto does not
give (S3's own SHA-256 checksum, multipart and SSE-KMS ETags, Glacier): a file leaves
``processed/`` only when every fingerprint its object carries agrees with the local bytes.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError

from extractorov import retention

BODY = b"%PDF-1.4 detalle RE1\n%%EOF\n"
SHA = hashlib.sha256(BODY).hexdigest()
MD5 = hashlib.md5(BODY, usedforsecurity=False).hexdigest()
ROW = retention.Candidate(1, "RE1_20251008_093221.pdf", "/x/RE1_20251008_093221.pdf",
                          "oficina-virtual/afinia/raw_data/RE1/RE1_20251008_093221.pdf",
                          len(BODY), SHA, None, None)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def iter_chunks(self, size: int):
        yield self.data


class _Client:
    def __init__(self, head: dict | Exception, body: bytes | Exception = BODY) -> None:
        self.head, self.body, self.gets = head, body, 0

    def head_object(self, **kwargs):
        assert kwargs["ChecksumMode"] == "ENABLED"
        if isinstance(self.head, Exception):
            raise self.head
        return self.head

    def get_object(self, **kwargs):
        self.gets += 1
        if isinstance(self.body, Exception):
            raise self.body
        return {"Body": _Body(self.body)}


def _error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "HeadObject")


def _verify(head, body=BODY):
    client = _Client(head, body)
    return retention._verify_object(client, "bucket", ROW, SHA, MD5, len(BODY)), client


def _checksum(digest: str) -> str:
    return base64.b64encode(bytes.fromhex(digest)).decode()


def test_s3s_own_checksum_and_etag_and_our_metadata_all_agree():
    verdict, client = _verify({"ContentLength": len(BODY), "ETag": f'"{MD5}"',
                               "ChecksumSHA256": _checksum(SHA), "ChecksumType": "FULL_OBJECT",
                               "Metadata": {"file-hash": SHA}, "VersionId": "v1"})
    assert verdict.held is None and client.gets == 0
    assert verdict.facts["verified_by"] == ["checksum", "etag", "file-hash"]
    assert verdict.facts["version_id"] == "v1"


def test_our_metadata_alone_never_outweighs_what_s3_computed():
    """An object rewritten with our file-hash metadata copied along: S3's checksum says
    the bytes are other ones."""
    other = hashlib.sha256(b"other").hexdigest()
    verdict, _ = _verify({"ContentLength": len(BODY), "ETag": '"abc-2"', "PartsCount": 2,
                          "ChecksumSHA256": _checksum(other), "ChecksumType": "FULL_OBJECT",
                          "Metadata": {"file-hash": SHA}})
    assert verdict.held == retention.OBJECT_DIFFERS


def test_a_plain_etag_that_is_not_the_md5_of_the_local_bytes_is_a_different_object():
    verdict, _ = _verify({"ContentLength": len(BODY), "ETag": '"0123"',
                          "ServerSideEncryption": "AES256", "Metadata": {"file-hash": SHA}})
    assert verdict.held == retention.OBJECT_DIFFERS


def test_a_kms_multipart_object_is_verified_by_our_metadata():
    """Its ETag is no MD5 and a composite checksum is no whole-object SHA-256: the
    file-hash our checksum-validated upload wrote is what is left."""
    verdict, client = _verify({"ContentLength": len(BODY), "ETag": '"abc-3"',
                               "ServerSideEncryption": "aws:kms",
                               "ChecksumSHA256": "Zm9v-3", "ChecksumType": "COMPOSITE",
                               "Metadata": {"file-hash": SHA}})
    assert verdict.held is None and verdict.facts["verified_by"] == ["file-hash"]
    assert client.gets == 0


def test_an_object_with_no_fingerprint_is_read_and_hashed():
    head = {"ContentLength": len(BODY), "ETag": '"abc-2"', "PartsCount": 2, "Metadata": {}}
    verdict, client = _verify(head)
    assert verdict.held is None and verdict.facts["verified_by"] == ["read"]
    assert client.gets == 1
    verdict, _ = _verify(head, body=BODY[:-1] + b"X")
    assert verdict.held == retention.OBJECT_DIFFERS


def test_one_in_glacier_that_must_be_read_is_kept():
    head = {"ContentLength": len(BODY), "ETag": '"abc-2"', "StorageClass": "GLACIER"}
    verdict, _ = _verify(head, body=_error(403, "InvalidObjectState"))
    assert verdict.held == retention.OBJECT_UNREADABLE


def test_size_missing_and_delete_markers():
    assert _verify({"ContentLength": 1, "ETag": f'"{MD5}"'})[0].held == (
        retention.OBJECT_SIZE_DIFFERS)
    assert _verify(_error(404, "404"))[0].held == retention.OBJECT_MISSING
    assert _verify({"DeleteMarker": True})[0].held == retention.OBJECT_MISSING


def test_access_denied_or_throttling_is_not_a_verdict_on_the_file():
    for status, code in ((403, "AccessDenied"), (503, "SlowDown")):
        with pytest.raises(ClientError):
            _verify(_error(status, code))
