"""Every task body, and the one rule that turns a pipeline error into Airflow's answer.

The DAG files only wire these functions; each takes the company and the task's
context, calls the plain pipeline functions with resources from
:mod:`extractorov.runtime`, and returns a small summary for XCom (counts, no
personal data). Airflow imports are local: importing this module while a DAG
file is parsed costs nothing.

Retry or fail is decided in one place, :func:`extractorov.taskfail.airflow_error`,
from the error's own ``retryable`` / ``needs_human`` attributes
(:mod:`extractorov.errors`).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from extractorov.companies import Company
from extractorov.errors import (
    BotConfigError,
    BotFailed,
    ConfigurationError,
    FindingsNeedHuman,
)
from extractorov.runtime import (
    BadVariables,
    s3_client,
    settings_from_variables,
    task_states,
    variable,
    warehouse_connection,
)
from extractorov.taskfail import (
    RESCHEDULE_SECONDS,
    airflow_error,
    airflow_errors,
    reschedule_at,
)

log = logging.getLogger(__name__)

SCRAPE, EXTRACT, LOAD_DB, CHECK_DATA, UPLOAD_S3, REPORT_STATS, WATCHER = (
    "scrape", "extract", "load_db", "check_data", "upload_s3", "report_stats", "watcher")
RETENTION = "retention"
STEPS = [EXTRACT, LOAD_DB, UPLOAD_S3, RETENTION]
"""Task ids of the steps whose outcome the run report records."""


WRITER_WAIT_SECONDS = 20.0
"""How long a task waits for its company's writer exclusion before it reschedules itself.
The pool ``ov_{empresa}_writer`` normally keeps writers apart before they start."""


# --------------------------------------------------------------------------- company DAG


def unknown_conf_keys(conf: dict[str, Any] | None, params: Any) -> list[str]:
    """Keys of a run's conf that are no param of the DAG (a typo runs with the default)."""
    return sorted(set(conf or {}) - set(params or {}))


def check_run_conf(context: dict[str, Any]) -> None:
    """Fail the run's first task, without retries, on a misspelled or unknown conf key."""
    dag_run = context.get("dag_run")
    # The DAG's declared params: the run's params already hold the conf's keys, unknown
    # ones included.
    declared = getattr(context.get("dag"), "params", None) or {}
    unknown = unknown_conf_keys(getattr(dag_run, "conf", None), declared)
    if unknown:
        known = ", ".join(sorted(declared)) or "(none)"
        keys = ", ".join(map(repr, unknown))
        raise ConfigurationError(
            f"unknown conf key {keys}: trigger again with one this DAG knows: {known}\n"
            'Nothing was done. A conf names params as in {"database_only": true}.')


def scrape(company: Company, context: dict[str, Any]) -> Any:
    """Body of the ``scrape`` sensor (reschedule mode; ``bot_operator.ScrapeSensor``):
    see ``extractorov.bot``.

    Command mode (Variable ``ov_bot_command_{empresa}`` set): run the bot, done; when
    the company's bot already runs where this task may not stop it, reschedule and
    look again (never a failure). Quiet mode: done when ``processed/`` is quiet or the
    wait limit is reached; otherwise reschedule for when it would turn quiet (at most
    a minute away).
    """
    with airflow_errors():
        return _scrape(company, context)


def _scrape(company: Company, context: dict[str, Any]) -> Any:
    from datetime import UTC, timedelta

    from airflow.sdk import PokeReturnValue

    from extractorov import bot

    get = variable

    check_run_conf(context)
    empresa = company.empresa
    command_variable = bot.COMMAND_VARIABLE.format(empresa=empresa)
    bad = BadVariables()  # every wrong Variable of the mode in one error
    if command := get(command_variable):
        argv: list[str] = bad.read(command_variable,
                                   lambda: bot.parse_command(command, empresa), fallback=[])
        minutes = bad.read("ov_bot_timeout_minutes", lambda: bot.parse_minutes(
            get("ov_bot_timeout_minutes"), "ov_bot_timeout_minutes"), fallback=0.0)
        workdir = bad.read("ov_bot_workdir", lambda: _bot_workdir(get("ov_bot_workdir"),
                                                                   empresa), fallback=None)
        bad.raise_if_any()
        hard_limit = context["task"].execution_timeout
        if hard_limit and minutes * 60 > hard_limit.total_seconds() - 300:
            minutes = max(1.0, hard_limit.total_seconds() / 60 - 5)
            log.warning("ov_bot_timeout_minutes is above the scrape task's execution_timeout"
                        " (%s): the bot gets %g min", hard_limit, minutes)
        log.info("scrape %s: command mode (Variable %s is set): %s, working directory %s, "
                 "timeout %g min", empresa, command_variable, bot.describe_command(argv),
                 workdir or "(the worker's)", minutes)
        try:
            result = bot.run_bot(argv, empresa=empresa, workdir=workdir, timeout_minutes=minutes,
                                 lock_file=bot.bot_lock(get("ov_landing_root"), empresa))
        except bot.BotBusy as exc:
            # Waiting is no failure: look again later (reschedule mode holds no worker slot).
            log.info("%s; looking again in %.0f s", exc, bot.BUSY_RECHECK_SECONDS)
            raise reschedule_at(
                datetime.now(UTC) + timedelta(seconds=bot.BUSY_RECHECK_SECONDS)) from None
        except bot.BotStopped:
            raise
        except BotFailed as exc:
            ti = context["ti"]
            retries_left = (ti.max_tries or 0) - ti.try_number + 1
            raise BotFailed(f"{exc}; the task will be retried" if retries_left > 0 else
                            f"{exc}; no retries left: fix the bot and clear the task") from None
        log.info("bot for %s finished in %.1f s (%d output lines)", empresa, result.seconds,
                 result.lines)
        return PokeReturnValue(is_done=True, xcom_value=result.as_xcom())
    quiet = bad.read("ov_landing_quiet_minutes", lambda: bot.parse_minutes(
        get("ov_landing_quiet_minutes"), "ov_landing_quiet_minutes"), fallback=0.0)
    wait = bad.read("ov_landing_wait_minutes", lambda: bot.parse_minutes(
        get("ov_landing_wait_minutes"), "ov_landing_wait_minutes"), fallback=0.0)
    bad.raise_if_any()
    log.info("scrape %s: quiet mode (Variable %s is not set: the bot runs elsewhere)",
             empresa, command_variable)
    # Counted from this task's first poke: for a scheduled run the run's start (scrape is
    # its first task); clearing the task starts a new count.
    now = datetime.now(UTC)
    since = context["ti"].get_first_reschedule_date(context) or now
    check = bot.check_landing(get("ov_landing_root"), empresa, waiting_since=since.timestamp(),
                              quiet_minutes=quiet, wait_minutes=wait, now=now.timestamp())
    if not check.done:
        raise reschedule_at(now + timedelta(seconds=check.next_check_in))
    return PokeReturnValue(is_done=True, xcom_value=check.as_xcom(quiet, wait))


def _bot_workdir(value: str, empresa: str) -> Path | None:
    """Variable ``ov_bot_workdir`` as a folder that exists (empty: the worker's)."""
    workdir = Path(value) if value else None
    if workdir is not None and not workdir.is_dir():
        raise BotConfigError(f"working directory {str(workdir)!r} of the bot for {empresa} does "
                             "not exist or is not a directory: fix Variable ov_bot_workdir")
    return workdir


def extract(company: Company, context: dict[str, Any]) -> dict[str, Any]:
    """Body of ``extract``: landing folder → registry (``pending``) + the run's manifest.

    When files could not be quarantined (a full disk) the task fails after the batch; its
    counts are still pushed, so ``report_stats`` records what it did and what it could not.
    """
    from extractorov import pipeline
    from extractorov.errors import QuarantineIncomplete

    with airflow_errors(), warehouse_connection() as conn:
        try:
            summary = pipeline.extract(
                conn, company, settings_from_variables(), context["run_id"],
                readmit_quarantine=bool(context["params"].get("readmit_quarantine", False)),
                attempt=context["ti"].try_number, wait_seconds=WRITER_WAIT_SECONDS)
        except QuarantineIncomplete as exc:
            context["ti"].xcom_push(key="return_value", value={
                **asdict(exc.summary), "attempt": context["ti"].try_number})
            raise
    # Which try did this work: a cleared run adds to its report, never replaces it.
    return {**asdict(summary), "attempt": context["ti"].try_number}


def load_db(company: Company, extract_summary: dict[str, Any],
            context: dict[str, Any]) -> dict[str, Any]:
    """Body of ``load_db``: the manifest's requests into the company table, one transaction."""
    from extractorov import pipeline

    with airflow_errors(), warehouse_connection() as conn:
        return asdict(pipeline.load(conn, company, extract_summary["manifest"],
                                    run_id=context["run_id"],
                                    wait_seconds=WRITER_WAIT_SECONDS))


def check_data(company: Company, extract_summary: dict[str, Any],
               load_summary: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Body of ``check_data``: the table and the registry agree with what the load said.

    Only when every check passes is the table's Asset event emitted (with the load's
    counts): a downstream DAG never starts on data that failed a check.
    """
    from extractorov import assets, checks, pipeline, runsteps
    from extractorov.errors import DataCheckFailed
    from extractorov.settings import SCHEMA

    run_id = context["run_id"]
    with warehouse_connection() as conn:
        try:
            keys = pipeline.manifest_keys(conn, company, extract_summary["manifest"])
        except FileNotFoundError:
            # Gone after this run's checks passed (retention, or a removal on request,
            # deletes a manifest only then): a cleared check_data has nothing to look at.
            passed = runsteps.recorded(conn, run_id, company.empresa, runsteps.CHECK_DATA)
            conn.commit()
            if not passed:
                raise
            log.info("the checks of this run passed at %s; its manifest is gone since "
                     "(retention or a removal on request): not checked again",
                     passed[-1].recorded_at.isoformat(timespec="seconds"))
            return passed[-1].counts
        if keys.removed_after_load:
            log.info("%d of the %s record(s) the load reported were removed since on request "
                     "(%s): not expected in the table", keys.removed_after_load,
                     load_summary["records"], "ov_remove_request")
        report = checks.run_checks(conn, company, bucket=keys.bucket,
                                   records_loaded=(int(load_summary["records"])
                                                   - keys.removed_after_load),
                                   radicados=keys.radicados, json_files=keys.json_files)
        if not report.failed:
            ti = context.get("ti")
            runsteps.record(conn, run_id, company.empresa, runsteps.CHECK_DATA,
                            str(getattr(ti, "try_number", None) or 1), report.as_xcom())
        conn.commit()
    for result in report.results:
        log.info("check %-26s %s (%d found): %s", result.name, "ok" if result.ok else "FAILED",
                 result.found, result.what)
    log.info("rows with a blank fecha (allowed, counted): %d", report.fecha_missing)
    if report.failed:
        with airflow_errors():
            raise DataCheckFailed(checks.failure_message(company, report))
    context["outlet_events"][assets.table_asset(company)].extra = assets.event_extra(
        load_summary, assets.LOAD_EVENT_FIELDS, run_id=context["run_id"],
        table=f"{SCHEMA}.{company.table}", checks="passed")
    return report.as_xcom()


DATABASE_ONLY_SKIP = (
    "database_only=true: S3 upload skipped; registered files stay 'pending' and are "
    "uploaded by the next hourly ov_s3_reconcile or the next run of this DAG with "
    "database_only=false, whichever comes first"
)


def upload_s3(company: Company, context: dict[str, Any]) -> dict[str, Any]:
    """Body of ``upload_s3``: every ``pending``/``error`` file of the company to S3."""
    from airflow.sdk.exceptions import AirflowSkipException

    from extractorov import pipeline

    if context["params"]["database_only"]:
        log.warning(DATABASE_ONLY_SKIP)  # the skip itself logs only "Skipping task."
        raise AirflowSkipException(DATABASE_ONLY_SKIP)
    from extractorov import assets, registry
    from extractorov.storage import company_prefix

    with airflow_errors():
        settings = settings_from_variables()
        client = s3_client(settings.aws_conn_id, workers=settings.upload_workers)
        with warehouse_connection() as conn:
            summary = pipeline.upload(conn, client, company, settings, run_id=context["run_id"],
                                      wait_seconds=WRITER_WAIT_SECONDS)
            # The run's counts, every try included (a cleared partial upload counts once).
            run_counts = registry.upload_counts_for_run(conn, company.empresa,
                                                        context["run_id"])
            conn.commit()
    run_counts["files"] = sum(run_counts[k] for k in ("s3_uploaded", "s3_pre_existing",
                                                      "s3_errors"))
    result = summary.as_dict()
    prefix = company_prefix(settings.base_path, company.empresa)
    context["outlet_events"][assets.s3_asset(company)].extra = assets.event_extra(
        {**result, **run_counts}, assets.UPLOAD_EVENT_FIELDS, run_id=context["run_id"],
        prefix=f"s3://{settings.bucket}/{prefix}")
    return result


def retention(company: Company, context: dict[str, Any]) -> dict[str, Any]:
    """Body of ``retention``: local copies of files verified in the bucket leave
    ``processed/`` after ``ov_local_retention_days``; loaded manifests and reason files
    without their file go after their own period (:mod:`extractorov.retention`).

    ``database_only``: no S3 in this run, so no local copy is verified or removed; the rest
    (interrupted removals, manifests, reason files) is done."""
    from extractorov import retention as keeping

    database_only = bool(context["params"].get("database_only", False))
    with airflow_errors():
        settings = settings_from_variables()
        client = None if database_only else s3_client(settings.aws_conn_id,
                                                      workers=keeping.VERIFY_WORKERS)
        with warehouse_connection() as conn:
            summary = keeping.run(conn, client, company, settings, run_id=context["run_id"],
                                  attempt=context["ti"].try_number,
                                  wait_seconds=WRITER_WAIT_SECONDS)
    return summary.as_dict()


def report_stats(company: Company, context: dict[str, Any]) -> dict[str, Any]:
    """Body of ``report_stats``: record the run, log both tables, return them."""
    from extractorov import stats, warehouse

    ti = context["ti"]
    run_id = context["run_id"]
    database_only = bool(context["params"].get("database_only", False))
    summaries = {step: ti.xcom_pull(task_ids=step) for step in STEPS}
    states = task_states(context, STEPS)
    if not states:  # fall back on what the XComs tell
        states = {step: "success" if summaries[step] is not None else "failed" for step in STEPS}
        if database_only:
            states[UPLOAD_S3] = "skipped"
    with warehouse_connection() as conn:
        warehouse.ensure_schema(conn, [company])
        conn.commit()
        report = stats.report_run(
            conn, run_id=run_id, empresa=company.empresa, dag_id=company.dag_id,
            logical_date=context.get("logical_date"),
            data_interval_start=context.get("data_interval_start"),
            data_interval_end=context.get("data_interval_end"),
            database_only=database_only, summaries=summaries, task_states=states,
            quarantined=_quarantined_by(company, run_id))
        registry_stats = stats.get_s3_registry_stats(conn)
    log.info("run report\n%s", stats.format_run_report(report))
    log.info("registry\n%s", stats.format_registry_stats(registry_stats))
    return {"run": report.as_xcom(), "registry": registry_stats}


def _quarantined_by(company: Company, run_id: str) -> int | None:
    """Files in the company's ``quarantine/`` whose reason names this run; ``None`` when
    the landing folder cannot be read here (the recorded count stands)."""
    from extractorov import landing

    try:
        folders = landing.require_company_folders(settings_from_variables().landing_root,
                                                  company.empresa, processed=False)
        return sum(entry.run_id == landing.printable(run_id)
                   for entry in landing.read_quarantine(folders))
    except (OSError, ConfigurationError):
        return None


def watcher() -> None:
    """Fails the run when any step failed (``report_stats`` alone would mark it green)."""
    from extractorov.taskfail import NotRetried

    message = "a step of this run failed: see the failed task's log"
    log.error("%s", message)
    raise NotRetried(message)


# --------------------------------------------------------------------------- reconcile DAG


def reconcile_task_id(company: Company) -> str:
    return f"reconcile_{company.empresa}"


def reconcile(company: Company, context: dict[str, Any]) -> dict[str, Any]:
    """Body of a ``reconcile_{empresa}`` task: repair, record, fail if a NEW question needs a
    human (one failure, so one e-mail, per question: the ones announced before wait on the
    open list and in the daily reminder, and this log says how many remain)."""
    from extractorov import alerts, findings
    from extractorov import reconcile as reconciliation

    run_id = context["run_id"]
    with airflow_errors():
        settings = settings_from_variables()
        client = s3_client(settings.aws_conn_id, workers=settings.upload_workers)
        with warehouse_connection() as conn:
            report = reconciliation.reconcile(conn, client, company, settings, run_id=run_id,
                                              wait_seconds=WRITER_WAIT_SECONDS)
            still = findings.open_counts(conn, company.empresa)
            conn.commit()
        log.info("reconcile report\n%s", reconciliation.format_report(report))
        answered = len(report.needs_human) - len(report.awaiting_answer)
        if answered:
            log.info("%d finding(s) that need a human were answered before (same cause): "
                     "not asked again", answered)
        log.info("%s: %d question(s) remain open: %d wait for an answer (%d of them new in "
                 "this check), %d answer(s) wait to be applied, %d left open; the list: "
                 "data_general.open_findings", company.empresa, sum(still.values()),
                 still["unanswered"], len(report.new_questions), still["answer_waiting"],
                 still["left_open"])
        if report.new_questions:
            kinds = Counter(f.kind for f in report.new_questions)
            # For the run's failure e-mail (one per run, all companies): kinds and keys or
            # file names only, never the findings' detail texts.
            context["ti"].xcom_push(key=alerts.DETAIL_XCOM_KEY,
                                    value=alerts.findings_detail(report))
            raise FindingsNeedHuman(
                f"{len(report.new_questions)} new finding(s) need a human for "
                f"{company.empresa}: answer them in Airflow's Required actions\n"
                f"{dict(kinds)}; asked by DAG ov_review_findings (started by this run's "
                f"'{ANNOUNCE_FINDINGS}' task); details in the log above and in "
                f"{reconciliation.FINDINGS_TABLE} (run_id {run_id})")
    return report.as_xcom()


REMIND_OPEN_FINDINGS = "remind_open_findings"


def remind_open_findings(context: dict[str, Any]) -> dict[str, Any]:
    """Body of ``remind_open_findings`` (hourly, in ``ov_s3_reconcile``): from 08:00 Bogotá,
    e-mail once a day the questions that still wait for an answer (see
    :func:`extractorov.alerts.remind_open_findings`)."""
    from datetime import UTC, datetime

    from extractorov import alerts, warehouse

    dag_run = context["dag_run"]
    now = (getattr(dag_run, "run_after", None) or context.get("logical_date")
           or datetime.now(UTC))
    with warehouse_connection() as conn:
        warehouse.ensure_schema(conn)
        conn.commit()
        return alerts.remind_open_findings(conn, now=now, run_id=context["run_id"])


# --------------------------------------------------------------------------- S3 check DAG


def s3_check(context: dict[str, Any]) -> dict[str, Any]:
    """Body of ``ov_s3_check``: the report in the log; fails (no retry) on any FAIL line."""
    from extractorov import s3check
    from extractorov.runtime import s3_check_clients

    with airflow_errors():
        settings = settings_from_variables()
    report = s3check.run(settings, s3_check_clients)
    log.info("S3 check\n%s", report.format())
    if report.failed():
        with airflow_errors():
            raise ConfigurationError(report.failure_message())
    return report.as_xcom()


CHECK_MORNING_RUNS = "check_morning_runs"


def check_morning_runs(context: dict[str, Any]) -> dict[str, str]:
    """Body of ``check_morning_runs`` (hourly, in ``ov_s3_reconcile``): at or after 06:00
    Bogotá, e-mail once per company and day whose scheduled morning run has not succeeded.

    The run's time is its ``run_after`` (the scheduled hour; a manual trigger: now). The
    company runs' states come from Airflow's task API (``get_dr_count``), never its DB.
    """
    from datetime import UTC, datetime

    from extractorov import alerts, warehouse
    from extractorov.companies import COMPANIES

    dag_run = context["dag_run"]
    now = (getattr(dag_run, "run_after", None) or context.get("logical_date")
           or datetime.now(UTC))
    with warehouse_connection() as conn:
        warehouse.ensure_schema(conn)
        conn.commit()
        states = alerts.check_morning_runs(conn, context["ti"].get_dr_count, now=now,
                                           run_id=context["run_id"],
                                           companies=COMPANIES.values())
    return states


DELIVER_ALERTS = "deliver_alerts"


def deliver_alerts(context: dict[str, Any]) -> dict[str, int]:
    """Body of ``deliver_alerts`` (hourly, in ``ov_s3_reconcile``, whatever the checks end
    with): send the alerts still owed in the outbox; the log lists what stays owed (see
    :func:`extractorov.alerts.deliver_owed`)."""
    from extractorov import alerts, warehouse

    with warehouse_connection() as conn:
        warehouse.ensure_schema(conn)
        conn.commit()
        return alerts.deliver_owed(conn, sender=context["run_id"])


ANNOUNCE_FINDINGS = "announce_findings"


def announce_findings(context: dict[str, Any]) -> dict[str, Any]:
    """Body of ``announce_findings``: update Asset ``ov_findings`` (which starts
    ``ov_review_findings``) only when a question waits to be asked; skip otherwise."""
    from airflow.sdk.exceptions import AirflowSkipException

    from extractorov import assets, findings, review

    with airflow_errors(), warehouse_connection() as conn:
        waiting = findings.count_askable(conn, stale_after=review.STALE_ASK)
    if not waiting:
        raise AirflowSkipException("no finding waits for an answer: nothing to announce")
    by_kind: Counter[str] = Counter()
    by_empresa: Counter[str] = Counter()
    for (empresa, kind), n in waiting.items():
        by_kind[kind] += n
        by_empresa[empresa] += n
    extra = {"questions": sum(waiting.values()), "by_kind": dict(sorted(by_kind.items())),
             "by_empresa": dict(sorted(by_empresa.items()))}
    context["outlet_events"][assets.FINDINGS].extra = extra
    log.info("%d question(s) wait for an answer %s: ov_review_findings asks them",
             extra["questions"], extra["by_kind"])
    return extra


# --------------------------------------------------------------------------- review DAG


def collect_findings(context: dict[str, Any]) -> list[dict[str, Any]]:
    """Body of ``collect``: claim the open questions for this review run; one form each."""
    from extractorov import review

    with airflow_errors():
        settings = settings_from_variables()
        client = s3_client(settings.aws_conn_id, workers=1)
        with warehouse_connection() as conn:
            forms = review.collect(conn, client, settings, context["run_id"])
    log.info("%d question(s) to ask: %s", len(forms),
             dict(Counter(f["finding"]["kind"] for f in forms)))
    return forms


# --------------------------------------------------------------------------- removal DAG


def removal_params(context: dict[str, Any]) -> tuple[Company, str, str]:
    """The company, ``numero_radicado`` and reason the removal run was triggered with."""
    from extractorov.companies import COMPANIES

    params = context["params"]
    empresa = str(params.get("empresa") or "")
    company = COMPANIES.get(empresa)
    if company is None:
        raise ConfigurationError(f"param empresa {empresa!r} is no registered company: "
                                 f"trigger again with one of {', '.join(sorted(COMPANIES))}")
    radicado = str(params.get("numero_radicado") or "").strip()
    if not radicado or len(radicado) > 64 or not radicado.isprintable():
        raise ConfigurationError("param numero_radicado must be the request's number (1 to 64 "
                                 "printable characters): trigger again with it")
    reason = str(params.get("reason") or "").strip()
    if not reason:
        raise ConfigurationError("param reason is required (why the request is removed, e.g. "
                                 "'captured by mistake', 'orden judicial N° …'): trigger again")
    return company, radicado, reason


def _removal_s3(settings: Any) -> tuple[Any, Any]:
    """The S3 client the removal uses (Variable ``ov_removal_aws_conn_id``, else the
    pipeline's connection) and the settings naming it."""
    from dataclasses import replace

    from extractorov.settings import REMOVAL_AWS_CONN_VARIABLE

    conn_id = variable(REMOVAL_AWS_CONN_VARIABLE) or settings.aws_conn_id
    return s3_client(conn_id, workers=1), replace(settings, aws_conn_id=conn_id)


def find_request(context: dict[str, Any]) -> dict[str, Any]:
    """Body of ``find_request``: every place the request lives, as counts and keys or
    paths (the XCom the approval form shows). Reads only."""
    from extractorov import removal, warehouse

    with airflow_errors():
        check_run_conf(context)
        company, radicado, _ = removal_params(context)
        client, settings = _removal_s3(settings_from_variables())
        with warehouse_connection() as conn:
            warehouse.ensure_schema(conn, [company])
            conn.commit()
            listing = removal.find(conn, client, company, settings, radicado)
            cut_short = removal.unfinished(conn, company.empresa, radicado)
            conn.rollback()
    removal.log_listing(listing)
    if cut_short is not None:
        log.info("removal %d of this request was cut short (%s): approving finishes it",
                 cut_short.id, cut_short.status)
    if context["params"].get("list_only"):
        log.info("list_only=true: nothing is asked and nothing is removed")
    return {**listing.as_dict(), "unfinished": cut_short.id if cut_short else None}


def removal_form(context: dict[str, Any], *, find_task_id: str) -> tuple[str, str]:
    """Subject and body of the approval form (skips it for ``list_only`` or when nothing of
    the request was found)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from extractorov import removal

    with airflow_errors():
        company, radicado, reason = removal_params(context)
    if context["params"].get("list_only"):
        raise AirflowSkipException("list_only=true: nothing is asked, nothing is removed")
    listing = context["ti"].xcom_pull(task_ids=find_task_id)
    if not removal.removable(listing) and not (listing or {}).get("unfinished"):
        raise AirflowSkipException(f"nothing of {company.empresa} numero_radicado {radicado} "
                                   "was found: nothing to remove")
    subject = f"Remove {company.empresa} request {radicado} everywhere?"
    body = "\n".join([
        f"**{company.empresa}** · numero_radicado `{radicado}` · run `{context['run_id']}`",
        "",
        f"Reason given: {reason}",
        "",
        "**Approve** removes all of it, for good: the table row, the registry rows, every "
        "S3 version and delete marker, the local files, the request's rows in run manifests "
        "(a manifest not loaded yet keeps the other requests' rows), its loaded marks, "
        "findings and first sightings; then records who approved, when, why and what was "
        "removed (`data_general.request_removals`). It runs when no run writes the company "
        "and removes **only what is listed below** (by name, key or row id): files that "
        "come after this listing under other names (a re-scrape while this waits) are left "
        "to the next run; trigger the removal again for them. **Reject** removes nothing.",
        "",
        *([f"A removal of this request was cut short (audit row {listing['unfinished']}): "
           "approving finishes it in that row.", ""] if listing.get("unfinished") else []),
        "Found (counts, keys and paths; never a field value):",
        "",
        *removal.describe(listing),
    ])
    return subject, body


def record_removal_decision(payload: dict[str, Any], context: dict[str, Any], *,
                            find_task_id: str) -> dict[str, Any]:
    """After the approval form was answered (or timed out, which rejects): record who
    decided what, when and why; the return value (XCom) names no user."""
    from datetime import UTC, datetime

    from airflow.providers.standard.operators.hitl import ApprovalOperator

    from extractorov import removal, warehouse

    [choice] = payload["chosen_options"]
    user = payload.get("responded_by_user")
    approved = choice == ApprovalOperator.APPROVE and user is not None
    by = (user.get("name") or user.get("id")) if user else None
    at = payload.get("responded_at") or datetime.now(UTC)
    with airflow_errors():
        company, radicado, reason = removal_params(context)
        listing = context["ti"].xcom_pull(task_ids=find_task_id) or {}
        dag_run = context.get("dag_run")
        with warehouse_connection() as conn:
            warehouse.ensure_schema(conn, [company])
            conn.commit()
            removal_id = removal.record_decision(
                conn, company.empresa, radicado, run_id=context["run_id"], approved=approved,
                decided_by=by, decided_at=at, reason=reason, shown=listing,
                requested_by=getattr(dag_run, "triggering_user_name", None))
    if approved:
        log.info("removal %d of %s numero_radicado %s approved by %s: removed by %s when the "
                 "company is free", removal_id, company.empresa, radicado, by,
                 f"remove_{company.empresa}")
    else:
        log.info("removal %d of %s numero_radicado %s %s: nothing is removed", removal_id,
                 company.empresa, radicado,
                 f"rejected by {by}" if by else "not answered in time (rejected)")
    return {"decision": "approved" if approved else "rejected", "removal_id": removal_id,
            "empresa": company.empresa, "numero_radicado": radicado}


def remove_request(company: Company, context: dict[str, Any]) -> dict[str, Any]:
    """Body of ``remove_{empresa}``: remove everything of the approved request, holding the
    company's writer exclusion (a run writing the company: the task reschedules itself and
    looks again, no worker slot held)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from extractorov import removal

    with airflow_errors():
        wanted, radicado, _ = removal_params(context)
    if wanted.empresa != company.empresa:  # the approval skips it; never another's request
        raise AirflowSkipException(f"this run removes a request of {wanted.empresa}")
    with airflow_errors():
        client, settings = _removal_s3(settings_from_variables())
        with warehouse_connection() as conn:
            outcome = removal.remove(conn, client, company, settings, radicado,
                                     run_id=context["run_id"], wait_seconds=WRITER_WAIT_SECONDS)
    log.info("removal %d of %s numero_radicado %s: %s%s", outcome.removal_id, company.empresa,
             radicado, outcome.status,
             " (by an earlier try of this run)" if outcome.already else "")
    return outcome.as_dict()


__all__ = [
    "ANNOUNCE_FINDINGS",
    "REMIND_OPEN_FINDINGS",
    "RESCHEDULE_SECONDS",
    "STEPS",
    "airflow_error",
    "airflow_errors",
    "announce_findings",
    "check_data",
    "check_morning_runs",
    "check_run_conf",
    "collect_findings",
    "deliver_alerts",
    "extract",
    "find_request",
    "load_db",
    "reconcile",
    "record_removal_decision",
    "remind_open_findings",
    "removal_form",
    "removal_params",
    "remove_request",
    "report_stats",
    "retention",
    "s3_check",
    "scrape",
    "upload_s3",
    "watcher",
]
