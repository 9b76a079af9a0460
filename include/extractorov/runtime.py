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


def settings_from_variables() -> Settings:
    from airflow.sdk import Variable

    def get(key: str) -> str:
        return str(Variable.get(key, default=VARIABLES[key])).strip()

    return Settings(
        landing_root=Path(get("ov_landing_root")),
        bucket=get("ov_s3_bucket"),
        base_path=get("ov_s3_base_path"),
        settle_seconds=float(get("ov_landing_settle_seconds")),
        upload_workers=max(1, int(get("ov_s3_upload_workers"))),
        sse_kms_key_id=get("ov_s3_kms_key_id") or None,
        aws_conn_id=AWS_CONN_ID,
        bot_timezone=_zone(get("ov_bot_timezone")),
        orphan_after_hours=float(get("ov_orphan_after_hours")),
        max_file_bytes=int(float(get("ov_s3_max_file_gib")) * 1024**3),
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
    from botocore.exceptions import BotoCoreError

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
