"""Alerts that reach a person: e-mail through connection ``smtp_default`` to the
addresses in Variable ``ov_alert_emails``.

Four alerts, each a short message with ids, task names, links and counts only:
no field value of a request (names, ID numbers, e-mails, phones) and no error
text ever goes into one.

* **A failed run** (every DAG): :class:`RunFailureNotifier`, attached at DAG level
  (``on_failure_callback=[RunFailureNotifier(...)]``). Airflow runs it in the
  dag-processor when a run fails; it names the DAG, the run, the failed tasks
  with their log URLs, what they reported for the alert (XCom ``alert_detail``,
  e.g. reconcile findings: kinds and S3 keys / file names) and the run's counts
  (the ``return_value`` XCom of the tasks given, e.g. ``report_stats``).
* **New reconcile findings that need a human**: a ``reconcile_{empresa}`` task fails
  only when it finds a question no earlier check found (a new one), and pushes those
  as ``alert_detail`` before failing, so the run's one failure message lists them
  (each question is announced once, by the run that first finds it).
* **Questions still waiting, once a day**: :func:`remind_open_findings`, a task of the
  hourly ``ov_s3_reconcile``; from 08:00 Bogotá, one message a day listing the
  questions announced before that still wait for an answer (or for their answer to be
  applied), recorded in ``data_general.open_findings_reminders``.
* **The morning run has not succeeded by 06:00 Bogotá** (never started, queued,
  still running or failed), **or succeeded with no new request JSON** (the bot did
  not run, or wrote elsewhere, looks exactly like a quiet morning; Variable
  ``ov_expect_quiet`` names the companies for which that is expected):
  :func:`check_morning_runs`, a task of the hourly ``ov_s3_reconcile``; one message
  per company and day, recorded in ``data_general.morning_run_alerts``.

Every one of them goes through the outbox (:mod:`extractorov.outbox`, table
``data_general.alert_outbox``): written there once per logical alert (its dedup key)
before any send is tried, then sent by whoever wrote it; what the mail server refused or
could not take is delivered by the hourly ``ov_s3_reconcile`` task ``deliver_alerts``
(:func:`deliver_owed`). An alert is never lost because SMTP was down, and an owed one is
visible: the stats page, the morning check's log, the sender's log.

No Variable (or an empty one): no e-mail, and a warning in the log; nothing is recorded
(no alert is owed to nobody). The Variable is read when the alert is raised, the
connection when it is delivered, never while a DAG file is parsed. Only the notifier's
base class is imported with the module (the DAG files attach the notifier); every other
Airflow import is local.
"""

from __future__ import annotations

import html
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context

from extractorov import outbox
from extractorov.settings import (
    ALERT_EMAILS_VARIABLE,
    BOGOTA,
    DAILY_CRON,
    EXPECT_QUIET_VARIABLE,
    SMTP_CONN_ID,
)

log = logging.getLogger(__name__)

DETAIL_XCOM_KEY = "alert_detail"
"""XCom key a task pushes before failing: lines for the failure message (no personal data)."""
SUBJECT_PREFIX = "[extractorov]"
MORNING_DEADLINE = time(6, 0)
"""By this time (Bogotá) the day's scheduled run of each company must have succeeded."""
MORNING_ALERTS_TABLE = "data_general.morning_run_alerts"
REMINDER_TIME = time(8, 0)
"""From this time (Bogotá) the day's reminder of the questions still waiting is sent."""
REMINDERS_TABLE = "data_general.open_findings_reminders"
MAX_DETAIL_LINES = 50
"""Per failed task; the rest are counted, and are in the task log and the findings table."""
_FIELD = re.compile(r"[a-z_][a-z0-9_]{0,62}\Z")


# --------------------------------------------------------------------------- sending


def recipients(value: str | None) -> list[str]:
    """The addresses of ``ov_alert_emails``: comma- (or semicolon-) separated."""
    return [a.strip() for a in re.split(r"[,;]", value or "") if a.strip()]


def alert_recipients() -> list[str]:
    """Read Variable ``ov_alert_emails`` now (at send time, never at parse time)."""
    from airflow.sdk import Variable

    return recipients(Variable.get(ALERT_EMAILS_VARIABLE, default=""))


def send_email(to: list[str], subject: str, html_body: str) -> None:
    """One message through ``SmtpHook`` (connection ``smtp_default``), outside the outbox;
    raises if not sent. Only :func:`post`'s last resort when the outbox cannot be written."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as hook:
        hook.send_email_smtp(to=to, subject=subject, html_content=html_body,
                             from_email=hook.from_email or outbox.DEFAULT_FROM)
    log.info("alert e-mail sent to %d address(es): %s", len(to), subject)


def deliver_now(conn: Any, ids: list[int], *, sender: str) -> None:
    """Try the alerts just recorded (``ids``) at once; a failure is logged, never raised:
    the alert stays owed and ``deliver_alerts`` sends it later."""
    if not ids:
        return
    try:
        outbox.deliver(conn, sender=sender, ids=ids)
    except Exception as exc:  # the warehouse went away: the rows stay owed
        log.warning("alert(s) %s recorded, not delivered now (%s); deliver_alerts of "
                    "ov_s3_reconcile sends them", ids, outbox.safe_error(exc))


def post(alert: outbox.Alert, *, recorded_by: str, sender: str) -> None:
    """Record ``alert`` in the outbox (a warehouse connection of its own), then try to send
    it. Recorded before (same dedup key): not sent again.

    The outbox cannot be written (the warehouse is down): the message is sent directly,
    once, and a failure of that send is raised (the caller's log says so). That is the one
    case where an alert can be lost: warehouse and mail server down at once.
    """
    from extractorov import warehouse
    from extractorov.runtime import warehouse_connection

    try:
        with warehouse_connection() as conn:
            warehouse.ensure_schema(conn)
            conn.commit()
            with conn.transaction():
                row_id = outbox.record(conn, alert, recorded_by=recorded_by)
    except Exception as exc:
        log.error("alert %s could not be recorded in %s (%s): sending it directly, not "
                  "tried again if this fails", alert.dedup_key, outbox.OUTBOX_TABLE,
                  outbox.safe_error(exc))
        send_email(list(alert.recipients), alert.subject, alert.html)
        return
    if row_id is None:
        log.info("alert %s was recorded before: not sent again", alert.dedup_key)
        return
    log.info("alert %d recorded (%s): %s", row_id, alert.kind, alert.subject)
    try:
        with warehouse_connection() as conn:
            deliver_now(conn, [row_id], sender=sender)
    except Exception as exc:  # connecting again failed: the row stays owed
        log.warning("alert %d recorded, not delivered now (%s); deliver_alerts of "
                    "ov_s3_reconcile sends it", row_id, outbox.safe_error(exc))


def warn_owed(conn: Any, who: str) -> int:
    """Log (WARNING) the alerts not delivered yet, if any; returns how many."""
    rows, total = outbox.owed(conn)
    conn.commit()
    if total:
        log.warning("%s: %s", who, outbox.owed_summary(rows, total))
        for line in outbox.owed_lines(rows, total):
            log.warning("%s: %s", who, line)
    return total


def deliver_owed(conn: Any, *, sender: str) -> dict[str, int]:
    """Body of ``deliver_alerts``: send every owed alert that is due, then say what is still
    owed (the task does not fail for it: a failure would only raise one more alert)."""
    done = outbox.deliver(conn, sender=sender)
    owed = warn_owed(conn, "deliver_alerts")
    log.info("deliver_alerts: %d alert(s) delivered, %d failed again, %d still owed",
             len(done.sent), len(done.failed), owed)
    return {**done.as_dict(), "owed": owed}


def log_url(base_url: str, dag_id: str, run_id: str, task_id: str) -> str:
    """The task's log page in the UI, as Airflow 3 builds ``ti.log_url`` (latest try)."""
    return (f"{base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id)}"
            f"/tasks/{quote(task_id)}")


def api_base_url() -> str:
    """``[api] base_url`` (``AIRFLOW__API__BASE_URL``), as ``ti.log_url`` reads it."""
    from airflow.sdk import conf

    return conf.get("api", "base_url", fallback="http://localhost:8080/")


# --------------------------------------------------------------------------- run failure


@dataclass
class FailedTask:
    task_id: str
    url: str
    detail: list[str]


@dataclass
class FailureReport:
    """What the failure message says; every field is an id, a URL, a count or a kind."""

    dag_id: str
    run_id: str
    failed: list[FailedTask]
    not_run: list[str]
    counts: dict[str, str] | None
    """Task id → its counts; ``None``: not readable where the alert ran."""
    counts_from: tuple[str, ...] = ()
    note: str = ""

    def subject(self) -> str:
        tasks = ", ".join(t.task_id for t in self.failed) or "see the run"
        return f"{SUBJECT_PREFIX} {self.dag_id} failed ({tasks}): run {self.run_id}"

    def html(self) -> str:
        e = html.escape
        parts = [f"<p>DAG <b>{e(self.dag_id)}</b>, run <code>{e(self.run_id)}</code> failed.</p>"]
        if self.note:
            parts.append(f"<p>{e(self.note)}</p>")
        if self.failed:
            parts.append("<p>Failed task(s):</p><ul>")
        for task in self.failed:
            parts.append(f'<li><b>{e(task.task_id)}</b>: log <a href="{e(task.url)}">'
                         f"{e(task.url)}</a>")
            if task.detail:
                parts.append("<ul>" + "".join(f"<li>{e(line)}</li>" for line in task.detail)
                             + "</ul>")
            parts.append("</li>")
        if self.failed:
            parts.append("</ul>")
        if self.not_run:
            parts.append(f"<p>Not run because of it: {e(', '.join(self.not_run))}</p>")
        if self.counts:
            parts.append("<p>Counts of the run:</p><ul>")
            parts.extend(f"<li>{e(task)}: {e(line)}</li>" for task, line in self.counts.items())
            parts.append("</ul>")
        elif self.counts is not None and self.counts_from:
            parts.append(f"<p>Counts of the run: none ({e(', '.join(self.counts_from))} "
                         "returned none: failed or not run).</p>")
        parts.append("<p>This message holds no request data: read the task logs for "
                     "details.</p>")
        return "\n".join(parts)


def flat_counts(value: Any, prefix: str = "") -> list[str]:
    """``name n`` for every integer in a task's summary XCom (nested dicts flattened).

    Only integers under identifier-like keys: a count never carries personal data;
    strings (ids, states, times) are left out. ``report_stats`` returns
    ``{"run": ..., "registry": ...}``: only the run's own counts are taken.
    """
    if isinstance(value, dict) and not prefix and isinstance(value.get("run"), dict):
        value = value["run"]
    if not isinstance(value, dict):
        return []
    out: list[str] = []
    for key, item in value.items():
        if not isinstance(key, str) or not _FIELD.match(key):
            continue
        name = f"{prefix}{key}"
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            out.append(f"{name} {item}")
        elif isinstance(item, dict):
            out.extend(flat_counts(item, f"{name}."))
    return out


def _task_states(ti: Any, dag_id: str, run_id: str) -> dict[str, str]:
    """Every task's state in the run, through the public task-instance API
    (``airflow.sdk.TaskInstance.get_task_states``) of the instance the callback was given;
    raises where that API is absent (no task instance, or no supervisor to answer it)."""
    if ti is None:
        raise LookupError("no task instance in the callback context")
    states = ti.get_task_states(dag_id=dag_id, run_ids=[run_id])
    return {task: str(state) for task, state in states.get(run_id, {}).items()}


def _xcom(ti: Any, dag_id: str, run_id: str, task_id: str, key: str) -> Any:
    """One XCom of another task of the run, through the public ``ti.xcom_pull``
    (``map_indexes=None``: the task's unmapped value)."""
    return ti.xcom_pull(task_ids=task_id, dag_id=dag_id, run_id=run_id, key=key,
                        map_indexes=None)


def _is_watcher(dag: Any, task_id: str) -> bool:
    """A task that fails *because* another failed (``one_failed``): not a cause."""
    try:
        rule: str = dag.get_task(task_id).trigger_rule
        return rule == "one_failed"
    except Exception:  # a task removed since the run
        return False


def failure_report(context: Mapping[str, Any], *, counts_task_ids: Iterable[str] = ()
                   ) -> FailureReport:
    """Collect the failure message from the callback context and Airflow's task API.

    In the dag-processor (production) the context holds the run's last task instance
    (``ti``); task states and XComs are read through its public API
    (``ti.get_task_states``, ``ti.xcom_pull``). Where that API is absent (``airflow dags
    test`` runs DAG callbacks in its own process; a run that failed with no task instance
    to pass) the message names the last task to fail, if any, and says so.
    """
    dag = context["dag"]
    dag_id, run_id = dag.dag_id, context["run_id"]
    counts_from = tuple(counts_task_ids)
    reason = str(context.get("reason") or "")
    ended = (f"Airflow ended the run: {reason}." if reason and reason != "task_failure"
             else "")
    ti = context.get("ti")
    last = [FailedTask(ti.task_id, ti.log_url, [])] if ti is not None else []
    base = api_base_url()
    try:
        states = _task_states(ti, dag_id, run_id)
    except Exception as exc:  # no task API here: say what is known
        log.warning("task states not readable here (%s): the alert names the last failed task",
                    type(exc).__name__)
        return FailureReport(dag_id, run_id, last, [], None, counts_from, note=" ".join(filter(
            None, [ended, "Which tasks failed, and the run's counts, could not be read where "
                   "this alert ran (outside the dag-processor, e.g. `airflow dags test`): "
                   "open the run in the UI." + ("" if last else
                                                " No failed task was passed to the alert.")])))
    failed_ids = sorted(t for t, s in states.items() if s == "failed")
    causes = [t for t in failed_ids if not _is_watcher(dag, t)] or failed_ids
    failed = []
    for task_id in causes:
        try:
            detail = _xcom(ti, dag_id, run_id, task_id, DETAIL_XCOM_KEY) or []
        except Exception as exc:
            log.warning("alert detail of %s not readable (%s)", task_id, type(exc).__name__)
            detail = []
        failed.append(FailedTask(task_id, log_url(base, dag_id, run_id, task_id),
                                 [str(line) for line in detail][:MAX_DETAIL_LINES + 2]))
    if not failed and last:  # e.g. the run timed out: the task that was running
        ended += f" Last task: {last[0].task_id}."
        failed = last
    not_run = sorted(t for t, s in states.items() if s == "upstream_failed")
    counts: dict[str, str] = {}
    for task_id in counts_from:
        try:
            value = _xcom(ti, dag_id, run_id, task_id, "return_value")
        except Exception as exc:
            log.warning("counts of %s not readable (%s)", task_id, type(exc).__name__)
            continue
        if line := ", ".join(flat_counts(value)):
            counts[task_id] = line
    return FailureReport(dag_id, run_id, failed, not_run, counts, counts_from, note=ended)


FAILURE_SENDER = "on_failure_callback"
"""``sent_by`` of a failure alert delivered by the callback itself (in the dag-processor)."""


class RunFailureNotifier(BaseNotifier):
    """DAG-level ``on_failure_callback``: e-mail the run's failure to ``ov_alert_emails``,
    through the outbox (see the README, *Architecture*, for why not the smtp provider's
    ``SmtpNotifier``).

    ``counts_task_ids``: tasks whose ``return_value`` XCom holds the run's counts
    (``report_stats``; the ``reconcile_*`` tasks). Nothing is read when the DAG file is
    parsed; the Variable, the connection and the run's state are read when it fires.
    """

    template_fields = ()

    def __init__(self, *, counts_task_ids: Iterable[str] = ()) -> None:
        super().__init__()
        self.counts_task_ids = tuple(counts_task_ids)

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing is templated. (``dag.test()`` passes the scheduler's serialized DAG,
        which has no template environment: rendering would fail before sending.)"""

    def notify(self, context: Context) -> None:
        """Record the failure message in the outbox, once per run and clear, then try to
        send it (:func:`post`): a mail server that is down leaves it owed, and the hourly
        ``deliver_alerts`` sends it; this callback's log says so."""
        dag_id, run_id = context["dag"].dag_id, context["run_id"]
        to = alert_recipients()
        if not to:
            log.warning("%s run %s failed; no alert e-mail: Variable %s is not set",
                        dag_id, run_id, ALERT_EMAILS_VARIABLE)
            return
        report = failure_report(context, counts_task_ids=self.counts_task_ids)
        clear_number = getattr(context.get("dag_run"), "clear_number", 0) or 0
        post(outbox.Alert(outbox.RUN_FAILED, outbox.run_failure_key(dag_id, run_id,
                                                                    clear_number),
                          report.subject(), report.html(), tuple(to)),
             recorded_by=f"{dag_id}/{run_id}", sender=FAILURE_SENDER)


# --------------------------------------------------------------------------- reconcile


def findings_detail(report: Any, *, limit: int = MAX_DETAIL_LINES) -> list[str]:
    """Lines for the failure message of a reconcile that needs a human: the company's
    counts, then each finding's kind and S3 key or file name. Never ``detail``: its
    text may name a numero_radicado or sizes of someone's files. Only the new questions
    (findings answered before, or announced by an earlier check, are not listed again)."""
    from extractorov.landing import shown_key

    needs = list(getattr(report, "new_questions", report.needs_human))
    counts = ", ".join(f"{kind} {n}" for kind, n in sorted(Counter(f.kind for f in needs).items()))
    lines = [f"{report.empresa}: {len(needs)} finding(s) need a human ({counts}); "
             f"{report.objects_listed} objects listed, {report.registry_rows} registry rows"]
    for finding in needs[:limit]:
        where = (f"S3 key {shown_key(finding.s3_key)}" if finding.s3_key
                 else f"file {finding.file_name}" if finding.file_name
                 else "no S3 key or file (see the task log)")
        lines.append(f"{finding.kind}: {where}")
    if len(needs) > limit:
        lines.append(f"… {len(needs) - limit} more in data_general.reconcile_findings")
    return lines


# --------------------------------------------------------------------------- reminder


def _where(question: Any) -> str:
    """S3 key or file name of an open question (never a numero_radicado)."""
    from extractorov.landing import shown_key, shown_name

    if question.s3_key:
        return f"S3 key {shown_key(question.s3_key)}"

    if question.kind in {"document_waiting", "temp_file_stale"} and question.subject:
        return f"file {shown_name(question.subject)}"
    if question.kind == "request_without_file" and question.cause:
        return f"file {shown_name(question.cause.removeprefix('source file '))}"
    return "see data_general.open_findings"


def reminder_message(questions: list[Any], left_open: int, day: date, base_url: str
                     ) -> tuple[str, str]:
    """Subject and body of the daily reminder: kinds, S3 keys and file names only."""
    e = html.escape
    subject = (f"{SUBJECT_PREFIX} ov_review_findings: {len(questions)} question(s) still "
               f"wait for an answer ({day.isoformat()})")
    url = f"{base_url.rstrip('/')}/dags/{quote('ov_review_findings')}"
    by_company = Counter(q.empresa for q in questions)
    parts = [f"<p>{len(questions)} question(s) of <b>ov_s3_reconcile</b> announced before "
             "still wait (" + e(", ".join(f"{c} {n}" for c, n in sorted(by_company.items())))
             + "). Answer them in Airflow's <b>Required actions</b> (DAG "
             f'<a href="{e(url)}">ov_review_findings</a>).</p>', "<ul>"]
    for question in questions[:MAX_DETAIL_LINES]:
        note = (" (answer chosen, waiting to be applied by the next check)"
                if question.answer_waiting else "")
        parts.append(f"<li>{e(question.empresa)} · {e(question.kind)}: "
                     f"{e(_where(question))}{e(note)}; waiting since "
                     f"{e(question.first_seen.astimezone(BOGOTA).strftime('%Y-%m-%d %H:%M'))}"
                     "</li>")
    parts.append("</ul>")
    if len(questions) > MAX_DETAIL_LINES:
        parts.append(f"<p>… {len(questions) - MAX_DETAIL_LINES} more in "
                     "data_general.open_findings.</p>")
    if left_open:
        parts.append(f"<p>{left_open} more answered <i>Leave open</i> stay on the open list "
                     "(data_general.open_findings).</p>")
    parts.append("<p>One reminder a day. A new question fails its hourly check once (that "
                 "run's failure e-mail); while it waits, the checks stay green.</p>")
    return subject, "\n".join(parts)


def remind_open_findings(conn: Any, *, now: datetime, run_id: str) -> dict[str, Any]:
    """From :data:`REMINDER_TIME` Bogotá, e-mail once a day the questions that still wait
    for an answer, or for their answer to be applied, and were announced by an earlier
    check (a question this run found first is announced by its own failure).

    Recorded in :data:`REMINDERS_TABLE` and in the outbox in one transaction (a day's
    reminder is raised once), then sent; a mail server that is down leaves it owed in the
    outbox, and ``deliver_alerts`` sends it. Nothing waiting: nothing sent, nothing
    recorded. No Variable: a warning, nothing recorded.
    """
    from extractorov import findings

    local = now.astimezone(BOGOTA)
    day = local.date()
    if local.time() < REMINDER_TIME:
        return {"day": day.isoformat(), "sent": False, "why": "before the reminder time"}
    with conn.cursor() as cur:
        cur.execute(f"SELECT 1 FROM {REMINDERS_TABLE} WHERE day = %s", (day,))
        done = cur.fetchone() is not None
    questions, left_open = findings.open_questions(conn, not_found_by=run_id)
    conn.commit()
    summary: dict[str, Any] = {"day": day.isoformat(), "waiting": len(questions),
                               "left_open": left_open, "sent": False}
    if done or not questions:
        log.info("open findings reminder of %s: %s", day,
                 "already sent today" if done else "no question waits")
        return summary
    to = alert_recipients()
    if not to:
        log.warning("open findings reminder of %s: %d question(s) wait for an answer; no "
                    "alert e-mail: Variable %s is not set", day, len(questions),
                    ALERT_EMAILS_VARIABLE)
        return summary
    subject, body = reminder_message(questions, left_open, day, api_base_url())
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(f"""INSERT INTO {REMINDERS_TABLE} (day, questions, run_id)
                        VALUES (%s, %s, %s) ON CONFLICT (day) DO NOTHING RETURNING 1""",
                    (day, len(questions), run_id))
        if cur.fetchone() is None:  # another check got there first
            return summary
        row_id = outbox.record(conn, outbox.Alert(
            outbox.OPEN_FINDINGS_REMINDER, outbox.reminder_key(day), subject, body,
            tuple(to)), recorded_by=f"ov_s3_reconcile/{run_id}")
    deliver_now(conn, [row_id] if row_id else [], sender=run_id)
    # "sent": raised and recorded (delivered now, or owed in the outbox).
    summary["sent"] = True
    return summary


# --------------------------------------------------------------------------- morning check


def morning_logical_date(day: date, cron: str = DAILY_CRON) -> datetime:
    """Logical date of the scheduled company run that should have succeeded by
    :data:`MORNING_DEADLINE` on ``day``: the interval that ends at the schedule's last
    time at or before the deadline (04:00 → the run of the interval day-1 04:00 → day
    04:00, whose logical date is its start)."""
    import pendulum
    from croniter import croniter  # Airflow's own cron library (a locked dependency)

    deadline = datetime.combine(day, MORNING_DEADLINE, BOGOTA)
    fires = croniter(cron, deadline + timedelta(seconds=1))  # a fire at the deadline counts
    fires.get_prev(datetime)  # the end of the interval: the last fire at or before it
    start: datetime = fires.get_prev(datetime)
    return pendulum.instance(start)


DrCount = Callable[..., int]
"""``RuntimeTaskInstance.get_dr_count(dag_id=, logical_dates=, states=)``."""


def morning_run_state(count: DrCount, dag_id: str, logical_date: datetime) -> str:
    """``success``, ``never started``, ``queued``, ``still running`` or ``failed``."""
    dates = [logical_date]
    if count(dag_id=dag_id, logical_dates=dates) == 0:
        return "never started"
    if count(dag_id=dag_id, logical_dates=dates, states=["success"]):
        return "success"
    if count(dag_id=dag_id, logical_dates=dates, states=["running"]):
        return "still running"
    if count(dag_id=dag_id, logical_dates=dates, states=["queued"]):
        return "queued"
    return "failed"


NO_NEW_JSON = "succeeded, no new request JSON"
"""The morning run succeeded but read no new request JSON: the bot did not run (or wrote
elsewhere), which looks exactly like a quiet morning."""


def expected_quiet() -> set[str]:
    """The companies of Variable ``ov_expect_quiet`` (comma-separated), read now."""
    from extractorov.runtime import variable

    return {name.strip() for name in variable(EXPECT_QUIET_VARIABLE).split(",")
            if name.strip()}


def morning_new_requests(conn: Any, empresa: str, dag_id: str, logical_date: datetime
                         ) -> int | None:
    """Requests the morning run read from *new* request JSON files: its report's
    ``records_found`` less the JSONs an earlier run registered and did not load, read
    again (``files_reread`` of its extract tries): after a failed load, a bot that did not
    run must not look like a normal morning. ``None`` when it recorded no report."""
    from extractorov import runsteps

    with conn.cursor() as cur:
        cur.execute("SELECT run_id, records_found FROM data_general.post_processing_runs "
                    "WHERE empresa = %s AND dag_id = %s AND logical_date = %s",
                    (empresa, dag_id, logical_date))
        row = cur.fetchone()
    conn.commit()
    if row is None:
        return None
    run_id, records_found = row
    extract = runsteps.run_totals(conn, run_id, empresa).get(runsteps.EXTRACT, {})
    conn.commit()
    return max(int(records_found or 0) - int(extract.get("files_reread") or 0), 0)


def _quiet_morning(conn: Any, company: Any, logical_date: datetime, quiet: set[str]) -> str:
    """``success``, or :data:`NO_NEW_JSON` for a morning run that read no new request JSON
    of a company not in ``ov_expect_quiet``."""
    if morning_new_requests(conn, company.empresa, company.dag_id, logical_date) != 0:
        return "success"
    if company.empresa in quiet:
        log.info("morning check %s: no new request JSON, as Variable %s expects",
                 company.dag_id, EXPECT_QUIET_VARIABLE)
        return "success"
    return NO_NEW_JSON


def morning_message(dag_id: str, empresa: str, day: date, state: str, logical_date: datetime,
                    base_url: str, *, owed: int = 0) -> tuple[str, str]:
    e = html.escape
    url = f"{base_url.rstrip('/')}/dags/{quote(dag_id)}"
    if state == NO_NEW_JSON:
        subject = (f"{SUBJECT_PREFIX} {dag_id}: the morning run of {day.isoformat()} "
                   "brought no new request JSON")
        body = "\n".join([
            f"<p>Company <b>{e(empresa)}</b>: the scheduled run of DAG <b>{e(dag_id)}</b> for "
            f"{e(day.isoformat())} (logical date "
            f"{e(logical_date.astimezone(BOGOTA).isoformat())}) succeeded but read <b>no new "
            f"request JSON</b> (0 new requests) at the {MORNING_DEADLINE:%H:%M} Bogotá "
            "check.</p>",
            "<p>That is what a morning looks like when the bot did not run or wrote "
            "elsewhere: check the bot (its scheduled task, its log) and the landing folder. "
            f"If the company is expected to be quiet (a holiday, the portal down), add it to "
            f"Variable <code>{EXPECT_QUIET_VARIABLE}</code> (e.g. <code>{e(empresa)}</code>) "
            "and remove it afterwards.</p>",
            f'<p>Runs of the DAG: <a href="{e(url)}">{e(url)}</a></p>',
            "<p>One message per company and day: later checks of the day stay silent.</p>",
        ])
        return subject, body
    subject = (f"{SUBJECT_PREFIX} {dag_id}: the morning run of {day.isoformat()} has not "
               f"succeeded by {MORNING_DEADLINE:%H:%M} Bogotá ({state})")
    body = "\n".join([
        f"<p>Company <b>{e(empresa)}</b>: the scheduled run of DAG <b>{e(dag_id)}</b> for "
        f"{e(day.isoformat())} (logical date "
        f"{e(logical_date.astimezone(BOGOTA).isoformat())}) is "
        f"<b>{e(state)}</b> at the {MORNING_DEADLINE:%H:%M} Bogotá check.</p>",
        f'<p>Runs of the DAG: <a href="{e(url)}">{e(url)}</a></p>',
        "<p>One message per company and day: later checks of the day stay silent. "
        "A failed run also sends its own failure message.</p>",
        *([f"<p><b>{owed} earlier alert(s) are not delivered yet</b> (the mail server "
           "refused them or could not be reached): see the stats page, <i>Alerts not "
           "delivered</i>.</p>"] if owed else []),
    ])
    return subject, body


def check_morning_runs(conn: Any, count: DrCount, *, now: datetime, run_id: str,
                       companies: Iterable[Any]) -> dict[str, str]:
    """At or after 06:00 Bogotá: e-mail once per company and day whose morning run has not
    succeeded, or succeeded with no new request JSON (:data:`NO_NEW_JSON`; not for the
    companies of Variable ``ov_expect_quiet``). Returns ``{empresa: state}`` (empty before
    the deadline).

    The alert is recorded in :data:`MORNING_ALERTS_TABLE` and in the outbox in one
    transaction (raised once per company and day), then sent; a mail server that is down
    leaves it owed in the outbox, and ``deliver_alerts`` sends it. No Variable: a warning,
    nothing recorded. Every hour it also says (WARNING) when alerts are owed.
    """
    owed = warn_owed(conn, "morning check")
    local = now.astimezone(BOGOTA)
    if local.time() < MORNING_DEADLINE:
        log.info("morning check: %s Bogotá is before %s, nothing to check", f"{local:%H:%M}",
                 f"{MORNING_DEADLINE:%H:%M}")
        return {}
    day = local.date()
    logical = morning_logical_date(day)
    to: list[str] | None = None
    states: dict[str, str] = {}
    recorded: list[int] = []
    quiet: set[str] | None = None
    for company in companies:
        state = morning_run_state(count, company.dag_id, logical)
        if state == "success":  # "the bot did not run" looks exactly like a quiet morning
            quiet = expected_quiet() if quiet is None else quiet
            state = _quiet_morning(conn, company, logical, quiet)
        states[company.empresa] = state
        if state == "success":
            log.info("morning check %s: run of %s succeeded", company.dag_id, day)
            continue
        if _already_alerted(conn, company.empresa, day):
            log.info("morning check %s: run of %s is %s; already alerted today",
                     company.dag_id, day, state)
            continue
        if to is None:
            to = alert_recipients()
        if not to:
            log.warning("morning check %s: run of %s is %s at %s Bogotá; no alert e-mail: "
                        "Variable %s is not set", company.dag_id, day, state,
                        f"{local:%H:%M}", ALERT_EMAILS_VARIABLE)
            continue
        subject, body = morning_message(company.dag_id, company.empresa, day, state, logical,
                                        api_base_url(), owed=owed)
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(f"""INSERT INTO {MORNING_ALERTS_TABLE}
                            (empresa, day, dag_id, state, run_id) VALUES (%s, %s, %s, %s, %s)
                            ON CONFLICT (empresa, day) DO NOTHING RETURNING 1""",
                        (company.empresa, day, company.dag_id, state, run_id))
            if cur.fetchone() is None:  # another check got there first
                continue
            row_id = outbox.record(conn, outbox.Alert(
                outbox.MORNING_RUN, outbox.morning_key(company.empresa, day), subject, body,
                tuple(to)), recorded_by=f"ov_s3_reconcile/{run_id}")
        if row_id is not None:
            recorded.append(row_id)
        log.warning("morning check %s: run of %s is %s; alert raised", company.dag_id, day,
                    state)
    deliver_now(conn, recorded, sender=run_id)
    return states


def _already_alerted(conn: Any, empresa: str, day: date) -> bool:
    with conn.cursor() as cur:
        cur.execute(f"SELECT 1 FROM {MORNING_ALERTS_TABLE} WHERE empresa = %s AND day = %s",
                    (empresa, day))
        found = cur.fetchone() is not None
    conn.commit()
    return found


__all__ = [
    "DETAIL_XCOM_KEY",
    "RunFailureNotifier",
    "check_morning_runs",
    "deliver_owed",
    "expected_quiet",
    "failure_report",
    "findings_detail",
    "morning_logical_date",
    "morning_new_requests",
    "morning_run_state",
    "post",
    "recipients",
    "remind_open_findings",
]
