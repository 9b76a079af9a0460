"""The resources a task needs, from Airflow: Variables, the warehouse, S3.

With :mod:`extractorov.tasks` (the task bodies) the only modules that know
Airflow: this one reads the Variables into :class:`~extractorov.settings.Settings`,
opens the ``ov_postgres`` connection through ``PostgresHook`` and the S3
client through ``S3Hook`` (connection ``aws_default``), and makes the clients
``ov_s3_check`` runs with. The steps take what they need as arguments from the
task bodies, so they run as plain Python without Airflow. Airflow imports are
local so importing the package at DAG-parse time stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from extractorov.errors import ConfigurationError
from extractorov.settings import (
    AWS_CONN_ID,
    POSTGRES_CONN_ID,
    RETENTION_MODES,
    VARIABLES,
    Settings,
)

if TYPE_CHECKING:  # botocore and psycopg take ~0.9 s to import: never while a DAG is parsed
    from botocore.client import BaseClient
    from psycopg import Connection

    from extractorov.s3check import Clients

log = logging.getLogger(__name__)
T = TypeVar("T")


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


class BadVariable(ConfigurationError):
    """One Variable holds a value the pipeline cannot use: ``brief`` says what is wrong
    with it (a line of :func:`bad_variables_message`), the message what to do first."""

    def __init__(self, name: str, brief: str) -> None:
        super().__init__(f"Variable {name} {brief}: fix it in Admin → Variables, then clear "
                         f"the task\n(its default: {VARIABLES.get(name, '') or 'empty'})")
        self.name = name
        self.brief = brief


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
        raise BadVariable(key, f"must be {kind}, got {text[:40]!r}") from None
    if not (minimum <= value < float("inf")):
        raise BadVariable(key, f"must be a finite number ≥ {minimum:g}, got {text[:40]!r}")
    return int(value) if integer else value


class BadVariables:
    """Reads a task's Variables and gathers what is wrong with each, so that one error
    names every bad one (one clear-and-retry cycle fixes them all, not one each)::

        bad = BadVariables()
        workers = bad.read("ov_s3_upload_workers", lambda: number(...), fallback=16)
        ...
        bad.raise_if_any()
    """

    def __init__(self) -> None:
        self.problems: list[tuple[str, str, str]] = []
        """(Variable, its whole message, its line in a list of several)."""

    def read(self, name: str, parse: Callable[[], T], *, fallback: T) -> T:
        """``parse()``, or ``fallback`` when it raises a ConfigurationError (recorded)."""
        try:
            return parse()
        except ConfigurationError as exc:
            brief = (f"Variable {name} {exc.brief}" if isinstance(exc, BadVariable)
                     else str(exc).splitlines()[0])
            self.problems.append((name, str(exc), brief))
            return fallback

    def raise_if_any(self) -> None:
        if len(self.problems) == 1:
            raise ConfigurationError(self.problems[0][1])
        if self.problems:
            raise ConfigurationError(bad_variables_message(
                [(name, brief) for name, _, brief in self.problems]))


def bad_variables_message(problems: list[tuple[str, str]]) -> str:
    """One error for every wrong Variable: a short first line naming them (the log
    viewer's first line), each problem on a line of its own below."""
    names = ", ".join(name for name, _ in problems)
    head = (f"{len(problems)} Variables are wrong ({names}): fix them in Admin → Variables, "
            "then clear the task")
    if len(head) > 120:
        head = (f"{len(problems)} Variables are wrong: fix them in Admin → Variables, then "
                "clear the task")
    return "\n".join([head, *(f"- {message}" for _, message in problems)])


def settings_from_variables() -> Settings:
    """The Settings of this run from the Variables; every wrong value is named in one
    ConfigurationError."""
    get = variable
    bad = BadVariables()
    defaults = Settings(landing_root=Path(VARIABLES["ov_landing_root"]))
    settings = Settings(
        landing_root=Path(get("ov_landing_root")),
        bucket=get("ov_s3_bucket"),
        base_path=get("ov_s3_base_path"),
        settle_seconds=bad.read("ov_landing_settle_seconds",
                                lambda: number("ov_landing_settle_seconds"),
                                fallback=defaults.settle_seconds),
        upload_workers=int(bad.read(
            "ov_s3_upload_workers",
            lambda: number("ov_s3_upload_workers", integer=True, minimum=1),
            fallback=float(defaults.upload_workers))),
        sse_kms_key_id=get("ov_s3_kms_key_id") or None,
        aws_conn_id=AWS_CONN_ID,
        bot_timezone=bad.read("ov_bot_timezone", lambda: _zone(get("ov_bot_timezone")),
                              fallback=defaults.bot_timezone),
        orphan_after_hours=bad.read("ov_orphan_after_hours",
                                    lambda: number("ov_orphan_after_hours"),
                                    fallback=defaults.orphan_after_hours),
        max_file_bytes=int(bad.read("ov_s3_max_file_gib",
                                    lambda: number("ov_s3_max_file_gib"),
                                    fallback=defaults.max_file_bytes / 1024**3) * 1024**3),
        local_retention=bad.read("ov_local_retention", lambda: _retention_mode(
            get("ov_local_retention")), fallback=defaults.local_retention),
        # At least a day: the hourly reconcile must have looked at an upload before its
        # local copy may go.
        local_retention_days=bad.read("ov_local_retention_days", lambda: number(
            "ov_local_retention_days", minimum=1), fallback=defaults.local_retention_days),
        local_archive_days=bad.read("ov_local_archive_days", lambda: number(
            "ov_local_archive_days"), fallback=defaults.local_archive_days),
        manifest_retention_days=bad.read("ov_manifest_retention_days", lambda: number(
            "ov_manifest_retention_days", minimum=1),
            fallback=defaults.manifest_retention_days),
        # At least one S3 listing page: a smaller slice costs as many requests.
        reconcile_keys_per_check=int(bad.read("ov_reconcile_keys_per_check", lambda: number(
            "ov_reconcile_keys_per_check", integer=True, minimum=1000),
            fallback=float(defaults.reconcile_keys_per_check))),
    )
    bad.raise_if_any()
    return settings


def _retention_mode(value: str) -> str:
    mode = value.lower()
    if mode not in RETENTION_MODES:
        raise BadVariable("ov_local_retention",
                          f"must be one of {', '.join(RETENTION_MODES)}, got {value[:40]!r}")
    return mode


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
    import psycopg
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=conn_id).get_conn()
    if not isinstance(conn, psycopg.Connection):
        # The hook picks psycopg2 when SQLAlchemy 1 is installed: the steps use psycopg 3
        # (cursor.copy, sql.Composed, Jsonb), as requirements.txt locks it.
        conn.close()
        raise ConfigurationError(
            f"PostgresHook returned a {type(conn).__module__} connection, not psycopg 3: "
            "install the locked requirements.txt (SQLAlchemy 2 and psycopg 3)")
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


def s3_check_clients(conn_id: str = AWS_CONN_ID) -> Clients:
    """The clients ``ov_s3_check`` runs with (:func:`extractorov.s3check.run`): STS through
    ``AwsBaseHook`` (with ``role_arn`` in the extra, the role is assumed here), then S3 as
    :func:`s3_client` makes it for the pipeline, and the access key id the connection's
    credentials resolve to."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from extractorov.s3check import Clients

    hook = AwsBaseHook(aws_conn_id=conn_id, client_type="sts")
    sts = hook.get_conn()
    access_key = _access_key(hook)
    return Clients(sts=sts, s3=s3_client(conn_id, workers=1), access_key=access_key)


def _access_key(hook: Any) -> str | None:
    try:
        key: str | None = hook.get_credentials().access_key
        return key
    except Exception:  # no credentials: the identity line says so
        return None


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


def get_s3_registry_stats(conn_id: str = POSTGRES_CONN_ID, empresa: str | None = None
                          ) -> dict[str, Any]:
    """The old ``get_s3_registry_stats()``, reading through the ``ov_postgres`` connection."""
    from extractorov import stats

    with warehouse_connection(conn_id) as conn:
        return stats.get_s3_registry_stats(conn, empresa)
