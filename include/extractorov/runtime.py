"""The resources a task needs, from Airflow: Variables, the warehouse, S3.

With :mod:`extractorov.tasks` (the task bodies) the only modules that know
Airflow: this one reads the Variables into :class:`~extractorov.settings.Settings`,
opens the ``ov_postgres`` connection through ``PostgresHook`` and the S3
client through ``S3Hook`` (connection ``aws_default``). Airflow imports are
local so importing the package at DAG-parse time stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from extractorov.errors import ConfigurationError
from extractorov.settings import AWS_CONN_ID, POSTGRES_CONN_ID, VARIABLES, Settings

if TYPE_CHECKING:  # botocore and psycopg take ~0.9 s to import: never while a DAG is parsed
    from botocore.client import BaseClient
    from psycopg import Connection

log = logging.getLogger(__name__)


def variable(key: str) -> str:
    """The Airflow Variable ``key``, or its default from ``VARIABLES`` when it is not set.

    Not ``Variable.get(key, default=...)``: the SDK hands an unused default to the
    secrets masker, which opens the task log with "Skipping masking for a secret as
    it's too short" for defaults such as ``"10"`` (none of them is a secret).
    """
    from airflow.sdk import Variable
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType

    try:
        value = Variable.get(key)
    except AirflowRuntimeError as exc:
        if exc.error.error != ErrorType.VARIABLE_NOT_FOUND:
            raise
        value = VARIABLES.get(key, "")
    return str(value or "").strip()


def number(key: str, *, integer: bool = False, minimum: float = 0.0) -> float:
    """A numeric Variable, checked: a typo fails the task at once naming the Variable
    (retrying cannot fix it); ``nan`` and ``inf`` are refused, not silently used."""
    text = variable(key)
    try:
        value = float(text)
        if integer and value != int(value):
            raise ValueError
    except (ValueError, OverflowError):
        kind = "a whole number" if integer else "a number"
        raise ConfigurationError(
            f"Variable {key} must be {kind}, got {text[:40]!r}: fix it in Admin → Variables "
            f"(default {VARIABLES[key]}), then clear the task") from None
    if not (minimum <= value < float("inf")):
        raise ConfigurationError(
            f"Variable {key} must be a finite number of at least {minimum:g}, got {text[:40]!r}"
            f": fix it in Admin → Variables (default {VARIABLES[key]}), then clear the task")
    return int(value) if integer else value


def settings_from_variables() -> Settings:
    """The Settings of this run from the Variables; a wrong value is a ConfigurationError
    that names the Variable."""
    get = variable

    return Settings(
        landing_root=Path(get("ov_landing_root")),
        bucket=get("ov_s3_bucket"),
        base_path=get("ov_s3_base_path"),
        settle_seconds=number("ov_landing_settle_seconds"),
        upload_workers=int(number("ov_s3_upload_workers", integer=True, minimum=1)),
        sse_kms_key_id=get("ov_s3_kms_key_id") or None,
        aws_conn_id=AWS_CONN_ID,
        bot_timezone=_zone(get("ov_bot_timezone")),
        orphan_after_hours=number("ov_orphan_after_hours"),
        max_file_bytes=int(number("ov_s3_max_file_gib") * 1024**3),
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise ConfigurationError(
            f"Variable ov_bot_timezone={name!r} is not an IANA time zone: set it to the zone "
            "of the bot host's clock, e.g. America/Bogota (Windows hosts) or UTC"
        ) from None


@contextmanager
def warehouse_connection(conn_id: str = POSTGRES_CONN_ID) -> Iterator[Connection]:
    """A psycopg connection to the warehouse from ``PostgresHook``; closed on exit."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=conn_id).get_conn()
    try:
        yield conn
    finally:
        conn.close()


def s3_client(conn_id: str = AWS_CONN_ID, *, workers: int = 16) -> BaseClient:
    """The boto3 S3 client of ``S3Hook``, with retries and a pool sized for ``workers``.

    Values set in the connection's ``config_kwargs`` win; we only fill in
    what it leaves unset (standard retry mode for throttling and 5xx).
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from extractorov.errors import S3PreflightError
    from extractorov.storage import explain_s3_error

    base = S3Hook(aws_conn_id=conn_id).config
    defaults: dict[str, Any] = {}
    if not getattr(base, "retries", None):
        defaults["retries"] = {"mode": "standard", "max_attempts": 8}
    if (getattr(base, "max_pool_connections", None) or 10) < workers + 2:
        defaults["max_pool_connections"] = workers + 2
    config = base.merge(Config(**defaults)) if defaults else base
    try:
        return S3Hook(aws_conn_id=conn_id, config=config).get_conn()
    except BotoCoreError as exc:  # e.g. a malformed region_name fails at client creation
        raise S3PreflightError(explain_s3_error(exc, bucket="", conn_id=conn_id)) from None
    except ClientError as exc:  # with role_arn, the role is assumed when the client is made
        code = exc.response.get("Error", {}).get("Code", "error")
        raise S3PreflightError(
            f"Connection '{conn_id}' could not assume the role in its extra 'role_arn' "
            f"({code}): its own credentials need sts:AssumeRole on that role and the role's "
            "trust policy must name them (include/aws/README.md, 'Credentials')",
            retryable=code in {"Throttling", "ThrottlingException", "RequestLimitExceeded"},
        ) from None


def task_states(context: dict[str, Any], task_ids: list[str]) -> dict[str, str]:
    """States of this run's tasks, as the scheduler sees them now."""
    ti = context["ti"]
    run_id = context["run_id"]
    try:
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=task_ids, run_ids=[run_id])
    except Exception:  # the run report must still be written
        log.warning("could not read task states; assuming upstream XComs tell the outcome")
        return {}
    by_task = states.get(run_id, states)
    return {task_id: str(state) for task_id, state in by_task.items() if task_id in task_ids}


def get_s3_registry_stats(conn_id: str = POSTGRES_CONN_ID, empresa: str | None = None) -> dict:
    """The old ``get_s3_registry_stats()``, reading through the ``ov_postgres`` connection."""
    from extractorov import stats

    with warehouse_connection(conn_id) as conn:
        return stats.get_s3_registry_stats(conn, empresa)
