"""The alert outbox: every alert e-mail is written down before anyone tries to send it.

The rule (``data_general.alert_outbox``, ``sql/012_alert_outbox.sql``):

1. **Record first.** An alert (kind, dedup key, subject, HTML body, recipients) is inserted
   with :func:`record` before any send is tried, once per logical alert: a second insert
   with the same dedup key does nothing (``ON CONFLICT DO NOTHING``).
2. **Then deliver.** :func:`deliver` claims one owed row at a time (``SELECT … FOR UPDATE
   SKIP LOCKED``: two senders never hold the same row), hands it to the SMTP server and
   marks it sent in the same transaction, which commits only after the server accepted
   the message. A refused or unreachable server leaves the row owed, with the attempt
   counted, the error (no secret, no address) and the next attempt after a backoff
   (:data:`BACKOFF_MINUTES`).
3. **Whoever recorded it tries at once**; what is still owed is delivered by the hourly
   ``ov_s3_reconcile`` task ``deliver_alerts``, which does not depend on the checks.

At-least-once, and its window: the row is marked sent (``UPDATE``, sent before the
message) in the transaction that holds its lock, and the only step left after the SMTP
server's "250 accepted" is the ``COMMIT``. A process killed, or a warehouse connection
lost, between that 250 and the ``COMMIT`` leaves the row owed, and the next delivery sends
the message again: a duplicate, never a loss. Every copy of an alert carries the same
``Message-ID`` (:func:`message_id`), so mail systems that collapse duplicates by it show
one. Concurrent senders never cause a duplicate: the row is locked until it is committed,
and a committed row is no longer owed.

Only :class:`Mailer` imports the SMTP provider, when it first sends.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from extractorov.settings import BOGOTA, SCHEMA, SMTP_CONN_ID
from extractorov.sqlrow import one

log = logging.getLogger(__name__)

OUTBOX_TABLE = f"{SCHEMA}.alert_outbox"
BACKOFF_MINUTES = (1, 5, 15, 60)
"""Wait before the next delivery attempt, by failed attempts so far (then every hour; the
hourly ``deliver_alerts`` runs 04:00-22:00 Bogotá)."""
DELIVER_LIMIT = 200
"""Rows one delivery pass tries at most (the rest wait for the next pass)."""
OWED_SHOWN = 50
"""Owed alerts listed on the stats page and in the logs (the rest are counted)."""
DEFAULT_FROM = "extractorov-airflow@localhost"
"""Sender when connection ``smtp_default`` has no ``from_email`` extra (set one: relays
often refuse unknown senders)."""

RUN_FAILED, MORNING_RUN, OPEN_FINDINGS_REMINDER = (
    "run_failed", "morning_run", "open_findings_reminder")
"""The kinds of alert the project sends."""

_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class Alert:
    """One logical alert: what it says, to whom, and the key that makes it one."""

    kind: str
    dedup_key: str
    subject: str
    html: str
    recipients: tuple[str, ...]


def run_failure_key(dag_id: str, run_id: str, clear_number: int = 0) -> str:
    """A run's failure: once per run and per clear (a cleared run that fails again is a new
    failure, with a new message)."""
    return f"{RUN_FAILED}:{dag_id}:{run_id}:{int(clear_number or 0)}"


def morning_key(empresa: str, day: date) -> str:
    return f"{MORNING_RUN}:{empresa}:{day.isoformat()}"


def reminder_key(day: date) -> str:
    return f"{OPEN_FINDINGS_REMINDER}:{day.isoformat()}"


def retry_delay(failed_attempts: int) -> timedelta:
    """How long after its ``failed_attempts``-th failed attempt a row is tried again."""
    index = min(max(failed_attempts, 1), len(BACKOFF_MINUTES)) - 1
    return timedelta(minutes=BACKOFF_MINUTES[index])


def record(conn: Any, alert: Alert, *, recorded_by: str) -> int | None:
    """Write ``alert`` into the outbox (in the caller's transaction; not committed here).

    Returns the new row's id, or ``None`` when the dedup key was recorded before (the
    alert exists already: it is not sent again).
    """
    with conn.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {OUTBOX_TABLE} (kind, dedup_key, subject, html_body, recipients,
                                            recorded_by)
                VALUES (%s, %s, %s, %s, %s, %s)
                ON CONFLICT (dedup_key) DO NOTHING RETURNING id""",
            (alert.kind, alert.dedup_key, alert.subject, alert.html, list(alert.recipients),
             recorded_by))
        row = cur.fetchone()
    return None if row is None else int(row[0])


# --------------------------------------------------------------------------- delivery


@dataclass
class Row:
    id: int
    kind: str
    dedup_key: str
    subject: str
    html_body: str
    recipients: list[str]
    created_at: datetime
    attempts: int
    """Attempts before this one."""


@dataclass
class Delivery:
    """What one delivery pass did: ids sent, ids that failed (with the error and when the
    next attempt is due)."""

    sent: list[int] = field(default_factory=list)
    failed: list[tuple[int, str, datetime]] = field(default_factory=list)

    @property
    def tried(self) -> list[int]:
        return [*self.sent, *(row_id for row_id, _, _ in self.failed)]

    def as_dict(self) -> dict[str, Any]:
        return {"sent": len(self.sent), "failed": len(self.failed)}


def deliver(conn: Any, *, sender: str, ids: Sequence[int] | None = None,
            limit: int = DELIVER_LIMIT, mailer: Any = None) -> Delivery:
    """Send what is owed and due (or only the rows ``ids``), one row per transaction.

    Commits whatever the caller had pending first. ``sender`` is recorded on each row sent
    (``'dag-processor'``, or the run of the task). ``mailer``: anything with ``send(row)``,
    ``describe(exc)`` and ``close()`` (default: :class:`Mailer`, connection
    ``smtp_default``).
    """
    conn.commit()
    result = Delivery()
    own = mailer is None
    mailer = mailer or Mailer()
    try:
        while len(result.tried) < limit:
            with conn.transaction():
                row = _claim(conn, ids, result.tried)
                if row is None:
                    break
                # Marked sent before the message goes out, in the transaction that holds
                # the row: after the server's 250 only the COMMIT is left (the window in
                # which a lost process means a second copy).
                _mark_sent(conn, row.id, sender)
                try:
                    mailer.send(row)
                except Exception as exc:
                    error = mailer.describe(exc)
                    result.failed.append((row.id, error, _mark_failed(conn, row.id, error)))
                else:
                    result.sent.append(row.id)
    finally:
        if own:
            mailer.close()
    for row_id in result.sent:
        log.info("alert %d delivered (by %s)", row_id, sender)
    for row_id, error, next_at in result.failed:
        log.warning("alert %d not delivered: %s; next attempt from %s Bogotá", row_id, error,
                    f"{next_at.astimezone(BOGOTA):%Y-%m-%d %H:%M}")
    return result


def _claim(conn: Any, ids: Sequence[int] | None, tried: list[int]) -> Row | None:
    only = "AND id = ANY(%(ids)s)" if ids is not None else ""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT id, kind, dedup_key, subject, html_body, recipients, created_at, attempts
                FROM {OUTBOX_TABLE}
                WHERE sent_at IS NULL AND next_attempt_at <= now() AND NOT id = ANY(%(tried)s)
                      {only}
                ORDER BY next_attempt_at, id
                LIMIT 1
                FOR UPDATE SKIP LOCKED""",
            {"ids": list(ids or []), "tried": tried})
        found = cur.fetchone()
    return None if found is None else Row(*found)


def _mark_sent(conn: Any, row_id: int, sender: str) -> None:
    with conn.cursor() as cur:
        cur.execute(f"""UPDATE {OUTBOX_TABLE}
                        SET attempts = attempts + 1, last_attempt_at = now(), sent_at = now(),
                            sent_by = %s
                        WHERE id = %s""", (sender, row_id))


def _mark_failed(conn: Any, row_id: int, error: str) -> datetime:
    """Undo :func:`_mark_sent` (the attempt still counts): the error and the next attempt."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT attempts FROM {OUTBOX_TABLE} WHERE id = %s", (row_id,))
        (attempts,) = cur.fetchone()
        cur.execute(f"""UPDATE {OUTBOX_TABLE}
                        SET sent_at = NULL, sent_by = NULL, last_error = %s,
                            next_attempt_at = now() + %s
                        WHERE id = %s RETURNING next_attempt_at""",
                    (error, retry_delay(attempts), row_id))
        next_at: datetime = one(cur)[0]
    return next_at


def message_id(row_id: int, dedup_key: str, from_email: str) -> str:
    """The same ``Message-ID`` for every copy of one alert (a duplicate sent in the
    at-least-once window is recognisable as one)."""
    digest = hashlib.sha256(dedup_key.encode()).hexdigest()[:16]
    # The sender's domain ("Alerts <a@corp.example>" too); anything else: a reserved one.
    domain = re.sub(r"[^A-Za-z0-9.-]", "", from_email.rpartition("@")[2] if "@" in from_email
                    else "").strip(".")
    return f"<ov-alert.{int(row_id)}.{digest}@{domain or 'extractorov.invalid'}>"


def late_note(row: Row) -> str:
    """A line on top of an alert that failed before: when it was raised."""
    if not row.attempts:
        return ""
    when = row.created_at.astimezone(BOGOTA).strftime("%Y-%m-%d %H:%M")
    return (f"<p><i>Delivered late: this alert was recorded at {html.escape(when)} Bogotá; "
            f"{int(row.attempts)} earlier delivery attempt(s) failed (see the outbox, "
            "data_general.alert_outbox).</i></p>\n")


def safe_error(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """The error's type and text for ``last_error`` and the logs: the connection's login and
    password, and any e-mail address, replaced; one line, at most 300 characters."""
    import smtplib

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = f"{len(exc.recipients)} recipient(s) refused"
    elif isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        reply = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        text = f"{exc.smtp_code} {reply}"
    else:
        text = str(exc)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "<secret>")
    text = " ".join(_ADDRESS.sub("<address>", text).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Mailer:
    """One SMTP connection (``smtp_default``, through ``SmtpHook``) for a delivery pass,
    opened on the first message; after a failure the next message opens a new one, and a
    server that cannot be reached fails the rest of the pass at once (each row's attempt
    counts, with the same error)."""

    def __init__(self, conn_id: str = SMTP_CONN_ID) -> None:
        self.conn_id = conn_id
        self._hook: Any = None
        self._unreachable: BaseException | None = None
        self._secrets: list[str | None] = []

    def _open(self) -> Any:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        if self._unreachable is not None:
            raise self._unreachable
        if self._hook is None:
            hook = SmtpHook(smtp_conn_id=self.conn_id)
            try:
                hook.get_conn()
            except Exception as exc:
                self._remember(hook)
                self._unreachable = exc
                raise
            self._remember(hook)
            self._hook = hook
        return self._hook

    def _remember(self, hook: Any) -> None:
        connection = getattr(hook, "smtp_connection", None)
        if connection is not None:
            self._secrets = [connection.password, connection.login]

    def send(self, row: Row) -> None:
        hook = self._open()
        sender = hook.from_email or DEFAULT_FROM
        try:
            hook.send_email_smtp(
                to=list(row.recipients), subject=row.subject,
                html_content=late_note(row) + row.html_body, from_email=sender,
                custom_headers={"Message-ID": message_id(row.id, row.dedup_key, sender),
                                "X-Extractorov-Alert": f"{row.kind}; outbox id {row.id}"})
        except Exception:
            self.close()  # a fresh connection for the next message
            raise

    def describe(self, exc: BaseException) -> str:
        return safe_error(exc, self._secrets)

    def close(self) -> None:
        hook, self._hook = self._hook, None
        if hook is not None:
            try:
                hook.__exit__(None, None, None)
            except Exception as exc:  # closing a broken connection
                log.debug("closing the SMTP connection: %s", type(exc).__name__)


# --------------------------------------------------------------------------- what is owed


@dataclass
class Owed:
    """An alert not delivered yet (what the stats page and the logs show)."""

    id: int
    kind: str
    subject: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "subject": self.subject,
                "attempts": self.attempts, "last_error": self.last_error,
                "created_at": self.created_at.isoformat(),
                "next_attempt_at": self.next_attempt_at.isoformat()}


def owed(conn: Any, *, limit: int = OWED_SHOWN) -> tuple[list[Owed], int]:
    """The oldest ``limit`` alerts not delivered yet, and how many there are in all (none
    before migration 012 was applied: the stats page can be read before any task ran)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (OUTBOX_TABLE,))
        if cur.fetchone()[0] is None:
            return [], 0
        cur.execute(f"SELECT count(*) FROM {OUTBOX_TABLE} WHERE sent_at IS NULL")
        (total,) = cur.fetchone()
        cur.execute(f"""SELECT id, kind, subject, attempts, last_error, created_at,
                               next_attempt_at
                        FROM {OUTBOX_TABLE} WHERE sent_at IS NULL
                        ORDER BY created_at, id LIMIT %s""", (limit,))
        rows = [Owed(*found) for found in cur.fetchall()]
    return rows, int(total)


def owed_summary(rows: list[Owed], total: int) -> str:
    """One line for a task log: how many alerts are owed and since when."""
    oldest = min((r.created_at for r in rows), default=None)
    since = (f" (oldest recorded {oldest.astimezone(BOGOTA):%Y-%m-%d %H:%M} Bogotá)"
             if oldest else "")
    return (f"{total} alert(s) not delivered yet{since}: the mail server (connection "
            f"{SMTP_CONN_ID}) refused them or could not be reached; deliver_alerts of "
            f"ov_s3_reconcile tries again every hour; the list: {OUTBOX_TABLE} WHERE sent_at "
            "IS NULL, or the stats page")


def owed_lines(rows: list[Owed], total: int) -> list[str]:
    """One line per owed alert (kind, subject, attempts, last error), for a task log."""
    lines = [f"alert {r.id} owed: {r.kind} '{r.subject}', {r.attempts} attempt(s), last "
             f"error: {r.last_error or 'none yet'}, recorded "
             f"{r.created_at.astimezone(BOGOTA):%Y-%m-%d %H:%M} Bogotá" for r in rows]
    if total > len(rows):
        lines.append(f"… {total - len(rows)} more in {OUTBOX_TABLE}")
    return lines


__all__ = [
    "BACKOFF_MINUTES",
    "OUTBOX_TABLE",
    "Alert",
    "Delivery",
    "Mailer",
    "deliver",
    "message_id",
    "morning_key",
    "owed",
    "owed_summary",
    "record",
    "reminder_key",
    "retry_delay",
    "run_failure_key",
    "safe_error",
]
