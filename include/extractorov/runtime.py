"""The bridge between Airflow and the plain pipeline functions.

Only this module (and the DAG files) know Airflow: it reads the Variables,
opens the ``ov_postgres`` connection through ``PostgresHook`` and the S3
client through ``S3Hook`` (connection ``aws_default``). Airflow imports are
local so importing the package at DAG-parse time stays cheap.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from extractorov.pipeline import (
    DEFAULT_BASE_PATH,
    DEFAULT_BUCKET,
    DEFAULT_LANDING_ROOT,
    Settings,
)

log = logging.getLogger(__name__)

POSTGRES_CONN_ID = "ov_postgres"
AWS_CONN_ID = "aws_default"

VARIABLES: dict[str, str] = {
    "ov_s3_bucket": DEFAULT_BUCKET,
    "ov_s3_base_path": DEFAULT_BASE_PATH,
    "ov_landing_root": DEFAULT_LANDING_ROOT,
    "ov_landing_settle_seconds": "30",
    "ov_s3_upload_workers": "16",
    "ov_s3_kms_key_id": "",
    "ov_bot_timezone": "America/Bogota",
    "ov_orphan_after_hours": "72",
    "ov_s3_max_file_gib": "5",
    "ov_bot_workdir": "",
    "ov_bot_timeout_minutes": "90",
    "ov_landing_quiet_minutes": "10",
    "ov_landing_wait_minutes": "120",
}
"""Every Variable the pipeline reads, with its default (read at run time only)."""


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
        raise ValueError(
            f"Variable ov_bot_timezone={name!r} is not an IANA time zone: set it to the zone "
            "of the bot host's clock, e.g. America/Bogota (Windows hosts) or UTC"
        ) from None


@contextmanager
def warehouse_connection(conn_id: str = POSTGRES_CONN_ID) -> Iterator[Any]:
    """A psycopg connection to the warehouse from ``PostgresHook``; closed on exit."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=conn_id).get_conn()
    try:
        yield conn
    finally:
        conn.close()


def s3_client(conn_id: str = AWS_CONN_ID, *, workers: int = 16) -> Any:
    """The boto3 S3 client of ``S3Hook``, with retries and a pool sized for ``workers``.

    Values set in the connection's ``config_kwargs`` win; we only fill in
    what it leaves unset (standard retry mode for throttling and 5xx).
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    from extractorov.storage import S3PreflightError, explain_s3_error

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


def report_stats(company: Any, context: dict[str, Any], steps: list[str]) -> dict[str, Any]:
    """Body of the ``report_stats`` task: record the run, log both tables, return them."""
    from extractorov import registry, stats, warehouse

    ti = context["ti"]
    run_id = context["run_id"]
    database_only = bool(context["params"].get("database_only", False))
    summaries = {step: ti.xcom_pull(task_ids=step) for step in steps}
    states = task_states(context, steps)
    if not states:  # fall back on what the XComs tell
        states = {step: "success" if summaries[step] is not None else "failed" for step in steps}
        if database_only:
            states["upload_s3"] = "skipped"
    with warehouse_connection() as conn:
        warehouse.ensure_schema(conn, [company])
        conn.commit()
        upload = summaries["upload_s3"]
        if not database_only:
            # Counted from the registry so a retried or partly failed upload still reports
            # every file this run handled.
            upload = {**(upload or {}), **registry.upload_counts_for_run(conn, company.empresa,
                                                                         run_id)}
        report = stats.build_run_report(
            run_id=run_id,
            empresa=company.empresa,
            dag_id=company.dag_id,
            logical_date=context.get("logical_date"),
            data_interval_start=context.get("data_interval_start"),
            data_interval_end=context.get("data_interval_end"),
            database_only=database_only,
            extract=summaries["extract"],
            load=summaries["load_db"],
            upload=upload,
            task_states=states,
        )
        attempt = (summaries["extract"] or {}).get("attempt")
        stats.record_run(conn, report, attempt=f"extract-{attempt or 'failed'}")
        registry_stats = stats.get_s3_registry_stats(conn)
    log.info("run report\n%s", stats.format_run_report(report))
    log.info("registry\n%s", stats.format_registry_stats(registry_stats))
    return {"run": report.as_xcom(), "registry": registry_stats}


def get_s3_registry_stats(conn_id: str = POSTGRES_CONN_ID, empresa: str | None = None) -> dict:
    """The old ``get_s3_registry_stats()``, reading through the ``ov_postgres`` connection."""
    from extractorov import stats

    with warehouse_connection(conn_id) as conn:
        return stats.get_s3_registry_stats(conn, empresa)


def reconcile_company(company: Any, run_id: str) -> dict[str, Any]:
    """Body of a ``reconcile_{empresa}`` task: repair, record, fail if a human is needed."""
    from airflow.sdk.exceptions import AirflowFailException

    from extractorov import reconcile
    from extractorov.storage import S3PreflightError

    settings = settings_from_variables()
    try:
        client = s3_client(settings.aws_conn_id, workers=settings.upload_workers)
        with warehouse_connection() as conn:
            report = reconcile.reconcile(conn, client, company, settings, run_id=run_id)
    except S3PreflightError as exc:
        if exc.retryable:
            raise  # throttling, 5xx, network: the task's retry tries again
        raise AirflowFailException(str(exc)) from None
    log.info("reconcile report\n%s", reconcile.format_report(report))
    if report.needs_human:
        kinds = Counter(f.kind for f in report.needs_human)
        # A human is needed: retrying cannot help, so fail without retries.
        raise AirflowFailException(
            f"{len(report.needs_human)} finding(s) need a human for {company.empresa}: "
            f"{dict(kinds)}; details in the log above and in {reconcile.FINDINGS_TABLE} "
            f"(run_id {run_id})"
        )
    return report.as_xcom()


def unknown_conf_keys(conf: dict[str, Any] | None, params: Any) -> list[str]:
    """Keys of a run's conf that are no param of the DAG (a typo runs with the default)."""
    return sorted(set(conf or {}) - set(params or {}))


def check_run_conf(context: dict[str, Any]) -> None:
    """Fail the run's first task, without retries, on a misspelled or unknown conf key."""
    from airflow.sdk.exceptions import AirflowFailException

    dag_run = context.get("dag_run")
    # The DAG's declared params: the run's params already hold the conf's keys, unknown
    # ones included.
    declared = getattr(context.get("dag"), "params", None) or {}
    unknown = unknown_conf_keys(getattr(dag_run, "conf", None), declared)
    if unknown:
        known = ", ".join(sorted(declared)) or "(none)"
        raise AirflowFailException(
            f"unknown key(s) in the run's conf: {', '.join(map(repr, unknown))}; this DAG "
            f"knows: {known}. Nothing was done: trigger again with the right name "
            '(e.g. {"database_only": true}).')


def scrape(company: Any, context: dict[str, Any]) -> Any:
    """Body of the ``scrape`` sensor (reschedule mode): see ``extractorov.bot``.

    Command mode (Variable ``ov_bot_command_{empresa}`` set): run the bot, done.
    Quiet mode: done when ``processed/`` is quiet or the wait limit is reached;
    otherwise reschedule for when it would turn quiet (at most a minute away).
    """
    from datetime import UTC, datetime, timedelta

    from airflow.sdk import PokeReturnValue, Variable
    from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException

    from extractorov import bot

    def get(key: str) -> str:
        return str(Variable.get(key, default=VARIABLES.get(key, "")) or "").strip()

    check_run_conf(context)
    empresa = company.empresa
    command_variable = bot.COMMAND_VARIABLE.format(empresa=empresa)
    try:
        if command := get(command_variable):
            argv = bot.parse_command(command, empresa)
            minutes = bot.parse_minutes(get("ov_bot_timeout_minutes"), "ov_bot_timeout_minutes")
            hard_limit = context["task"].execution_timeout
            if hard_limit and minutes * 60 > hard_limit.total_seconds() - 300:
                minutes = max(1.0, hard_limit.total_seconds() / 60 - 5)
                log.warning("ov_bot_timeout_minutes is above the scrape task's execution_timeout"
                            " (%s): the bot gets %g min", hard_limit, minutes)
            workdir = Path(get("ov_bot_workdir")) if get("ov_bot_workdir") else None
            log.info("scrape %s: command mode (Variable %s is set): %s, working directory %s, "
                     "timeout %g min", empresa, command_variable, bot.describe_command(argv),
                     workdir or "(the worker's)", minutes)
            try:
                result = bot.run_bot(argv, empresa=empresa, workdir=workdir,
                                     timeout_minutes=minutes)
            except bot.BotFailed as exc:
                ti = context["ti"]
                retries_left = (ti.max_tries or 0) - ti.try_number + 1
                raise RuntimeError(f"{exc}; the task will be retried" if retries_left > 0 else
                                   f"{exc}; no retries left: fix the bot and clear the task"
                                   ) from None
            log.info("bot for %s finished in %.1f s (%d output lines)", empresa, result.seconds,
                     result.lines)
            return PokeReturnValue(is_done=True, xcom_value=result.as_xcom())
        quiet = bot.parse_minutes(get("ov_landing_quiet_minutes"), "ov_landing_quiet_minutes")
        wait = bot.parse_minutes(get("ov_landing_wait_minutes"), "ov_landing_wait_minutes")
    except bot.BotConfigError as exc:
        raise AirflowFailException(str(exc)) from None  # configuration: retrying cannot help
    log.info("scrape %s: quiet mode (Variable %s is not set: the bot runs elsewhere)",
             empresa, command_variable)
    # Counted from this task's first poke: for a scheduled run the run's start (scrape is
    # its first task); clearing the task starts a new count.
    now = datetime.now(UTC)
    since = context["ti"].get_first_reschedule_date(context) or now
    check = bot.check_landing(get("ov_landing_root"), empresa, waiting_since=since.timestamp(),
                              quiet_minutes=quiet, wait_minutes=wait, now=now.timestamp())
    if not check.done:
        raise AirflowRescheduleException(now + timedelta(seconds=check.next_check_in))
    return PokeReturnValue(is_done=True, xcom_value=check.as_xcom(quiet, wait))
