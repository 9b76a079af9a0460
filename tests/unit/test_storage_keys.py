"""Tests for the pure parts of ``extractorov.storage``: keys, checksums, error texts."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from extractorov.storage import (
    UnsafeKey,
    company_prefix,
    explain_s3_error,
    s3_key,
    s3_url,
    sha256_base64,
)

SGC = "RE2210202542239"
FILE = "RE2210202542239_data_20251008_122537.json"


# --------------------------------------------------------------------------- s3_key


class TestS3Key:
    @pytest.mark.parametrize(
        ("base", "expected_prefix"),
        [
            ("oficina-virtual", "oficina-virtual/"),
            ("/oficina-virtual", "oficina-virtual/"),
            ("oficina-virtual/", "oficina-virtual/"),
            ("/oficina-virtual/", "oficina-virtual/"),
            ("a/b", "a/b/"),
            ("/a//b/", "a/b/"),
            ("", ""),
            ("/", ""),
        ],
    )
    def test_layout(self, base: str, expected_prefix: str) -> None:
        assert s3_key(base, "afinia", SGC, FILE) == (
            f"{expected_prefix}afinia/raw_data/{SGC}/{FILE}"
        )

    def test_exact_default_layout(self) -> None:
        assert s3_key("oficina-virtual", "aire", "63643842",
                      "63643842_adjunto_20251008_122537.pdf") == (
            "oficina-virtual/aire/raw_data/63643842/63643842_adjunto_20251008_122537.pdf"
        )

    @pytest.mark.parametrize("empresa", ["electricaribe", "Afinia", "", "../afinia", "afinia/x"])
    def test_unknown_empresa(self, empresa: str) -> None:
        with pytest.raises(KeyError, match="registered companies: afinia, aire"):
            s3_key("oficina-virtual", empresa, SGC, FILE)

    @pytest.mark.parametrize(
        "sgc", ["", "../x", "..", ".", "a/b", "a\\b", "RE 1", "RÉ123", "x" * 65, "x" * 300,
                "RE1\x00", "RE1.pdf"],
    )
    def test_unsafe_sgc(self, sgc: str) -> None:
        with pytest.raises(UnsafeKey, match="numero_reclamo_sgc"):
            s3_key("oficina-virtual", "afinia", sgc, FILE)

    @pytest.mark.parametrize("sgc", ["RE1\n", "PQR_1_ERROR\n"])
    def test_sgc_with_trailing_newline(self, sgc: str) -> None:
        try:
            key = s3_key("oficina-virtual", "afinia", sgc, FILE)
        except UnsafeKey:
            return
        raise AssertionError(f"accepted key {key!r}")

    @pytest.mark.parametrize(
        "filename",
        ["", ".", "..", "a/b.pdf", "../x.pdf", "/etc/passwd", "a\\b.pdf", "..\\x.pdf",
         "a\x00b.pdf", "a\nb.pdf", "x.pdf\n", "\tx.pdf", "a\rb", "a\x1fb", "a\x1bb"],
    )
    def test_unsafe_file_name(self, filename: str) -> None:
        with pytest.raises(UnsafeKey, match="file name"):
            s3_key("oficina-virtual", "afinia", SGC, filename)

    @pytest.mark.parametrize("filename", ["a\x7fb.pdf", "a\x85b.pdf", "a\x9bb.pdf"])
    def test_del_and_c1_controls_in_file_name(self, filename: str) -> None:
        try:
            key = s3_key("oficina-virtual", "afinia", SGC, filename)
        except UnsafeKey:
            return
        raise AssertionError(f"accepted key {key!r}")

    @pytest.mark.parametrize("filename", ["a..b.pdf", "...", "..x", "x..", "José Núñez.pdf",
                                          "file name with spaces.docx", ".hidden"])
    def test_odd_but_plain_file_names_accepted(self, filename: str) -> None:
        key = s3_key("oficina-virtual", "afinia", SGC, filename)
        assert key == f"oficina-virtual/afinia/raw_data/{SGC}/{filename}"

    @pytest.mark.parametrize("base", ["..", "../x", "a/../b", "a/..", "./a", "a/./b", "/../"])
    def test_base_path_with_dot_segments(self, base: str) -> None:
        with pytest.raises(UnsafeKey, match="base path"):
            s3_key(base, "afinia", SGC, FILE)

    @pytest.mark.parametrize("base", ["oficina-virtual", "/oficina-virtual/", "a/b", "", "..a"])
    @pytest.mark.parametrize("empresa", ["afinia", "aire"])
    @pytest.mark.parametrize("sgc", [SGC, "63643842", "PQR_1_20251008_122537", "PQR_3_ERROR"])
    @pytest.mark.parametrize("filename", [FILE, "x.pdf", "a..b", "..."])
    def test_every_key_is_under_the_company_prefix(
        self, base: str, empresa: str, sgc: str, filename: str
    ) -> None:
        key = s3_key(base, empresa, sgc, filename)
        prefix = company_prefix(base, empresa)
        assert key.startswith(prefix)
        rest = key[len(prefix):]
        assert rest == f"{sgc}/{filename}"
        assert ".." not in key.split("/")
        assert not key.startswith("/")
        assert "//" not in key


class TestCompanyPrefix:
    @pytest.mark.parametrize(
        ("base", "empresa", "expected"),
        [
            ("oficina-virtual", "afinia", "oficina-virtual/afinia/raw_data/"),
            ("/oficina-virtual/", "aire", "oficina-virtual/aire/raw_data/"),
            ("a/b", "aire", "a/b/aire/raw_data/"),
            ("", "afinia", "afinia/raw_data/"),
        ],
    )
    def test_prefix(self, base: str, empresa: str, expected: str) -> None:
        assert company_prefix(base, empresa) == expected

    def test_prefixes_of_companies_do_not_overlap(self) -> None:
        a = company_prefix("oficina-virtual", "afinia")
        b = company_prefix("oficina-virtual", "aire")
        assert not a.startswith(b) and not b.startswith(a)

    def test_unknown_empresa(self) -> None:
        with pytest.raises(KeyError, match="unknown empresa"):
            company_prefix("oficina-virtual", "nope")


def test_s3_url() -> None:
    assert s3_url("extractorov-data", "oficina-virtual/afinia/raw_data/RE1/x.pdf") == (
        "s3://extractorov-data/oficina-virtual/afinia/raw_data/RE1/x.pdf"
    )


@pytest.mark.parametrize("data", [b"", b"abc", bytes(range(256)) * 100])
def test_sha256_base64_is_base64_of_digest(data: bytes) -> None:
    hex_digest = hashlib.sha256(data).hexdigest()
    expected = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
    assert sha256_base64(hex_digest) == expected
    assert base64.b64decode(sha256_base64(hex_digest)).hex() == hex_digest
    assert len(sha256_base64(hex_digest)) == 44


def test_sha256_base64_known_value() -> None:
    # sha256("abc"), base64 as S3 documents it for x-amz-checksum-sha256
    hex_digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_base64(hex_digest) == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="


# --------------------------------------------------------------------------- explain_s3_error

CONN = "my_s3_conn"
BUCKET = "extractorov-data"


def client_error(code: str, status: int, operation: str = "HeadBucket") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "message from AWS"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


CASES: dict[str, list[BaseException]] = {
    "no_credentials": [
        NoCredentialsError(),
        PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
    ],
    "bad_credentials": [
        client_error("InvalidAccessKeyId", 403, "PutObject"),
        client_error("SignatureDoesNotMatch", 403, "PutObject"),
    ],
    "access_denied": [
        client_error("AccessDenied", 403, "PutObject"),
        client_error("403", 403),
    ],
    "no_bucket": [
        client_error("NoSuchBucket", 404, "PutObject"),
        client_error("404", 404),
    ],
    "wrong_region": [
        client_error("PermanentRedirect", 301, "PutObject"),
        client_error("301", 301),
        client_error("AuthorizationHeaderMalformed", 400, "PutObject"),
    ],
    "invalid_region": [InvalidRegionError(region_name="us east 1")],
}


def all_cases() -> Iterator[tuple[str, BaseException]]:
    for category, errors in CASES.items():
        for error in errors:
            yield category, error


class TestExplainS3Error:
    @pytest.mark.parametrize(("category", "exc"), list(all_cases()))
    def test_names_connection_and_database_only(self, category: str,
                                                exc: BaseException) -> None:
        message = explain_s3_error(exc, bucket=BUCKET, conn_id=CONN)
        assert f"'{CONN}'" in message
        assert "database_only" in message

    def test_categories_have_distinct_messages(self) -> None:
        messages = {
            category: {explain_s3_error(e, bucket=BUCKET, conn_id=CONN) for e in errors}
            for category, errors in CASES.items()
        }
        firsts = {category: explain_s3_error(errors[0], bucket=BUCKET, conn_id=CONN)
                  for category, errors in CASES.items()}
        assert len(set(firsts.values())) == len(CASES)
        # Within a category the wording is the same kind of sentence.
        for category, texts in messages.items():
            heads = {t.split(":")[0].split("(")[0] for t in texts}
            assert len(heads) == 1, (category, texts)

    @pytest.mark.parametrize(
        ("category", "needle"),
        [
            ("no_credentials", "No AWS credentials"),
            ("bad_credentials", "rejected the credentials"),
            ("access_denied", "Access denied to bucket 'extractorov-data'"),
            ("no_bucket", "Bucket 'extractorov-data' does not exist"),
            ("wrong_region", "in another region"),
            ("invalid_region", "Invalid AWS region"),
        ],
    )
    def test_category_wording(self, category: str, needle: str) -> None:
        for exc in CASES[category]:
            message = explain_s3_error(exc, bucket=BUCKET, conn_id=CONN)
            assert needle in message
            others = [n for c, n in [
                ("no_credentials", "No AWS credentials"),
                ("bad_credentials", "rejected the credentials"),
                ("access_denied", "Access denied"),
                ("no_bucket", "does not exist"),
                ("wrong_region", "another region"),
                ("invalid_region", "Invalid AWS region"),
            ] if c != category]
            assert not any(o in message for o in others), message

    def test_access_denied_names_permissions(self) -> None:
        message = explain_s3_error(client_error("AccessDenied", 403), bucket=BUCKET,
                                   conn_id=CONN)
        for action in ("s3:ListBucket", "s3:GetObject", "s3:PutObject"):
            assert action in message

    def test_region_message_names_the_code(self) -> None:
        message = explain_s3_error(client_error("PermanentRedirect", 301), bucket=BUCKET,
                                   conn_id=CONN)
        assert "(PermanentRedirect)" in message

    def test_endpoint_unreachable(self) -> None:
        exc = EndpointConnectionError(endpoint_url="https://s3.example.invalid")
        message = explain_s3_error(exc, bucket=BUCKET, conn_id=CONN)
        assert "https://s3.example.invalid" in message
        assert f"'{CONN}'" in message and "database_only" in message

    def test_unknown_client_error(self) -> None:
        message = explain_s3_error(client_error("InvalidObjectState", 400), bucket=BUCKET,
                                   conn_id=CONN)
        assert message.startswith("S3 error InvalidObjectState on bucket 'extractorov-data'")
        assert f"'{CONN}'" in message and "database_only" in message

    def test_throttling_is_explained_as_transient(self) -> None:
        message = explain_s3_error(client_error("SlowDown", 503), bucket=BUCKET, conn_id=CONN)
        assert message.startswith("S3 is throttling or failing (SlowDown)")
        assert "the task is retried" in message

    def test_other_exception(self) -> None:
        message = explain_s3_error(TimeoutError("boom"), bucket=BUCKET, conn_id=CONN)
        assert message.startswith("S3 check failed (TimeoutError)")
        assert f"'{CONN}'" in message and "database_only" in message

    def test_message_does_not_echo_aws_message(self) -> None:
        message = explain_s3_error(client_error("AccessDenied", 403), bucket=BUCKET,
                                   conn_id=CONN)
        assert "message from AWS" not in message
