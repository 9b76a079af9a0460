"""Every setting of the pipeline in one place: defaults, Variables, connection ids.

The pipeline's functions take a :class:`Settings`; only :mod:`extractorov.runtime`
builds one from Airflow Variables (at run time, never while a DAG file is
parsed). Tests and tools build their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

TIMEZONE = "America/Bogota"
"""The companies' time zone: schedules, ``fecha``, the stats page (UTC-5, no DST)."""
BOGOTA: tzinfo = ZoneInfo(TIMEZONE)

POSTGRES_CONN_ID = "ov_postgres"
"""Airflow connection to the warehouse (tables, registry, run history)."""
AWS_CONN_ID = "aws_default"
"""Airflow connection to S3 (access keys or an assumed role; MinIO locally)."""
SMTP_CONN_ID = "smtp_default"
"""Airflow connection (smtp) the alert e-mails go through; extra ``from_email`` = sender."""
ALERT_EMAILS_VARIABLE = "ov_alert_emails"
"""Comma-separated addresses the alerts go to; unset or empty: no e-mail, a warning."""
EXPECT_QUIET_VARIABLE = "ov_expect_quiet"
"""Comma-separated companies (``empresa``) whose morning may bring no new request JSON
(a holiday, the portal down): the 06:00 check does not report that for them."""
DAILY_CRON = "0 4 * * *"
"""When the company DAGs run (America/Bogota); the 06:00 check looks for that run."""

SCHEMA = "data_general"
"""The warehouse schema: company tables, registry, run history, findings."""
REGISTRY_TABLE = f"{SCHEMA}.s3_files_registry"
"""One row per file: the registry every step and the stats page read."""
LOADED_TABLE = f"{SCHEMA}.s3_files_loaded"
"""Request JSONs whose record reached the company table (``sql/007_loaded_marks.sql``)."""

REMOVAL_DAG_ID = "ov_remove_request"
"""Manual DAG that finds one request everywhere and, once a human approves, removes it
(:mod:`extractorov.removal`)."""
REMOVAL_AWS_CONN_VARIABLE = "ov_removal_aws_conn_id"
"""Variable naming the connection the removal lists and deletes S3 versions with (empty:
``aws_default``): a stricter deployment gives those grants to another identity."""

DEFAULT_BUCKET = "extractorov-data"
DEFAULT_BASE_PATH = "oficina-virtual"
DEFAULT_LANDING_ROOT = "/opt/airflow/landing"
DEFAULT_MAX_FILE_BYTES = 5 * 1024**3
"""A single PutObject takes at most 5 GiB; larger files are reported, not uploaded."""
RETENTION_MODES = ("archive", "delete", "keep")
"""Variable ``ov_local_retention``: what happens to a delivered file's local copy once it
is ``ov_local_retention_days`` old (:mod:`extractorov.retention`)."""

VARIABLES: dict[str, str] = {
    "ov_s3_bucket": DEFAULT_BUCKET,
    "ov_s3_base_path": DEFAULT_BASE_PATH,
    "ov_landing_root": DEFAULT_LANDING_ROOT,
    "ov_landing_settle_seconds": "30",
    "ov_s3_upload_workers": "16",
    "ov_s3_kms_key_id": "",
    "ov_s3_prices": "",
    "ov_bot_timezone": TIMEZONE,
    "ov_orphan_after_hours": "72",
    "ov_s3_max_file_gib": "5",
    "ov_bot_workdir": "",
    "ov_bot_timeout_minutes": "90",
    "ov_landing_quiet_minutes": "10",
    "ov_landing_wait_minutes": "120",
    "ov_local_retention": "archive",
    "ov_local_retention_days": "30",
    "ov_local_archive_days": "60",
    "ov_manifest_retention_days": "7",
    "ov_reconcile_keys_per_check": "50000",
    ALERT_EMAILS_VARIABLE: "",
    EXPECT_QUIET_VARIABLE: "",
    REMOVAL_AWS_CONN_VARIABLE: "",
}
"""Every Variable the pipeline reads, with its default (read at run time only)."""


@dataclass(frozen=True)
class Settings:
    """Where things are and how hard to push; built from Airflow Variables by the tasks."""

    landing_root: Path
    bucket: str = DEFAULT_BUCKET
    base_path: str = DEFAULT_BASE_PATH
    settle_seconds: float = 30.0
    """Files modified more recently than this are left for the next run (still being written)."""
    upload_workers: int = 16
    sse_kms_key_id: str | None = None
    aws_conn_id: str = AWS_CONN_ID
    bot_timezone: tzinfo = BOGOTA
    """Zone of the bot host's naive clock (file-name stamps, ``extraction_timestamp``)."""
    orphan_after_hours: float = 72.0
    """A document waiting longer than this for its request JSON is reported by reconcile."""
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    """Files over this size are reported (``error``), not uploaded."""
    local_retention: str = "archive"
    """``archive``, ``delete`` or ``keep``: what the ``retention`` step does with the local
    copy of a file verified in the bucket once it is ``local_retention_days`` old."""
    local_retention_days: float = 30.0
    """Days after its upload a verified file's local copy leaves ``processed/``."""
    local_archive_days: float = 60.0
    """Days an archived copy stays in ``archive/`` before it is deleted (0: kept)."""
    manifest_retention_days: float = 7.0
    """Days a loaded run manifest (request rows: personal data) is kept."""
    reconcile_keys_per_check: int = 50_000
    """Keys of the bucket one hourly check compares with the registry; the next check goes
    on where it stopped (19 checks a day cover 950,000 keys with the default)."""
