"""Alerts are durable: written to the outbox before any send, delivered once (real
PostgreSQL, a real SMTP server from tests/mail.py).

The company runs' states are stood in for by a function (here: no run at all); the check
against Airflow's own API, and the failure callback in a real dag-processor, are in
tests/e2e/test_alert_emails.py. What is tested here is what a send that fails leaves
behind (an owed alert, visible), and that the next delivery sends it exactly once, also
with two senders at once; and what happens when a sender is lost between the server's
acceptance and its commit (one more copy, the same Message-ID).
"""

from __future__ import annotations

import json
import threading
from datetime import date, datetime

import pytest

from devtools.services import free_port
from extractorov import alerts, outbox, warehouse
from extractorov.companies import COMPANIES
from extractorov.runtime import warehouse_connection
from extractorov.settings import BOGOTA
from tests.helpers import query

RECIPIENTS = "ops@example.test"


def no_runs(*, dag_id: str, logical_dates: list, states: list | None = None) -> int:
    return 0


def _smtp_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connection smtp_default points at a port nothing listens on (connection refused)."""
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": free_port(),
         "login": "alerts-user", "password": "s3cr3t-smtp-pass",
         "extra": {"from_email": "a@x.test", "disable_tls": True, "disable_ssl": True,
                   "timeout": 5, "retry_limit": 0}}))


def _an_hour_later(db) -> None:
    """What the next hourly run finds: every owed alert's backoff has passed (the outbox's
    times moved back an hour instead of waiting)."""
    db.execute(f"""UPDATE {outbox.OUTBOX_TABLE}
                   SET created_at = created_at - interval '1 hour',
                       last_attempt_at = last_attempt_at - interval '1 hour',
                       next_attempt_at = next_attempt_at - interval '1 hour'
                   WHERE sent_at IS NULL""")
    db.commit()


def _owed(db) -> list[tuple]:
    return query(db, f"SELECT kind, dedup_key, attempts, last_error FROM {outbox.OUTBOX_TABLE} "
                     "WHERE sent_at IS NULL ORDER BY id")


@pytest.fixture
def schema(db):
    warehouse.ensure_schema(db)
    db.commit()
    return db


def test_a_morning_alert_raised_while_smtp_is_down_is_kept_and_sent_once_when_it_is_back(
        schema, smtp, smtp_server, monkeypatch, caplog):
    db = schema
    monkeypatch.setenv("AIRFLOW_VAR_OV_ALERT_EMAILS", RECIPIENTS)
    seven = datetime(2025, 12, 3, 7, tzinfo=BOGOTA)

    def check(at: datetime, run_id: str) -> dict[str, str]:
        return alerts.check_morning_runs(db, no_runs, now=at, run_id=run_id,
                                         companies=COMPANIES.values())

    # The mail server is down: the check does not fail; both alerts are recorded (once per
    # company and day) and owed, each with its failed attempt and why, never a secret.
    _smtp_down(monkeypatch)
    assert check(seven, "r7") == {"afinia": "never started", "aire": "never started"}
    owed = _owed(db)
    assert [(kind, key, attempts) for kind, key, attempts, _ in owed] == [
        ("morning_run", "morning_run:afinia:2025-12-03", 1),
        ("morning_run", "morning_run:aire:2025-12-03", 1)]
    for *_, error in owed:
        assert error.startswith("ConnectionRefusedError: ")
        assert "s3cr3t" not in error and "alerts-user" not in error
    assert query(db, f"SELECT empresa, run_id FROM {alerts.MORNING_ALERTS_TABLE} ORDER BY 1"
                 ) == [("afinia", "r7"), ("aire", "r7")]
    assert "not delivered: ConnectionRefusedError" in caplog.text

    # 08:00, still down: nothing raised twice; the check says that alerts are owed.
    _an_hour_later(db)
    caplog.clear()
    check(seven.replace(hour=8), "r8")
    assert query(db, f"SELECT count(*) FROM {outbox.OUTBOX_TABLE}") == [(2,)]
    assert "morning check: 2 alert(s) not delivered yet (oldest recorded" in caplog.text

    # The mail server is back: the hourly delivery sends each alert exactly once.
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.conn_json())
    _an_hour_later(db)
    assert alerts.deliver_owed(db, sender="deliver-r9") == {"sent": 2, "failed": 0, "owed": 0}
    assert sorted(m.subject.split(":")[0] for m in smtp.messages) == [
        "[extractorov] ov_afinia", "[extractorov] ov_aire"]
    assert all("Delivered late: this alert was recorded at" in m.html for m in smtp.messages)
    # One failed attempt at 07:00, the one that worked now.
    assert query(db, f"SELECT attempts, sent_by FROM {outbox.OUTBOX_TABLE} ORDER BY id") == [
        (2, "deliver-r9"), (2, "deliver-r9")]
    # And never again: not by the next delivery, not by the day's later checks.
    assert alerts.deliver_owed(db, sender="deliver-r10") == {"sent": 0, "failed": 0,
                                                              "owed": 0}
    check(seven.replace(hour=10), "r10")
    assert len(smtp.messages) == 2
    # The next day is a new day, sent at once.
    check(datetime(2025, 12, 4, 6, tzinfo=BOGOTA), "r-next")
    assert len(smtp.messages) == 4


def test_the_daily_reminder_raised_while_smtp_is_down_is_kept_and_sent_once(
        schema, smtp, smtp_server, monkeypatch):
    db = schema
    monkeypatch.setenv("AIRFLOW_VAR_OV_ALERT_EMAILS", RECIPIENTS)
    db.execute("""INSERT INTO data_general.reconcile_findings
                      (run_id, empresa, kind, s3_key, detail, repaired, needs_human, subject,
                       cause, open)
                  VALUES ('earlier', 'afinia', 'object_outside_layout',
                          'oficina-virtual/afinia/raw_data/loose.txt', '', false, true,
                          'oficina-virtual/afinia/raw_data/loose.txt', 'c', true)""")
    db.commit()
    nine = datetime(2025, 12, 3, 9, tzinfo=BOGOTA)

    _smtp_down(monkeypatch)
    assert alerts.remind_open_findings(db, now=nine, run_id="r9")["sent"] is True
    [(kind, key, attempts, error)] = _owed(db)
    assert (kind, key, attempts) == ("open_findings_reminder",
                                     "open_findings_reminder:2025-12-03", 1)
    assert error.startswith("ConnectionRefusedError")
    # The next hour does not raise the day's reminder again.
    _an_hour_later(db)
    alerts.remind_open_findings(db, now=nine.replace(hour=10), run_id="r10")
    assert len(_owed(db)) == 1

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.conn_json())
    assert alerts.deliver_owed(db, sender="r11")["sent"] == 1
    alerts.deliver_owed(db, sender="r12")
    [mail] = smtp.messages
    assert "wait for an answer (2025-12-03)" in mail.subject
    # A file name that is not the bot's shows as its length (it may be a customer's).
    assert ("object_outside_layout: S3 key oficina-virtual/afinia/raw_data/<a file name "
            "that is not the bot's own (9 characters)>") in mail.text


def _owed_alert(db, n: int) -> int:
    with db.transaction():
        row_id = outbox.record(db, outbox.Alert(
            outbox.RUN_FAILED, outbox.run_failure_key("ov_aire", f"run-{n}"),
            f"[extractorov] ov_aire failed (extract): run run-{n}", f"<p>run-{n}</p>",
            (RECIPIENTS,)), recorded_by=f"ov_aire/run-{n}")
    assert row_id is not None
    return row_id


class Gate:
    """A mailer around the real one that stops inside ``send`` until told to go on: a
    sender caught holding its row (claimed, before or after the server's acceptance)."""

    def __init__(self, *, pause: str) -> None:
        self.real = outbox.Mailer()
        self.pause = pause  # "before" or "after" the real send
        self.holding = threading.Event()
        self.go_on = threading.Event()

    def send(self, row) -> None:
        if self.pause == "after":
            self.real.send(row)
        self.holding.set()
        assert self.go_on.wait(60), "the test never let the sender go on"
        if self.pause == "before":
            self.real.send(row)

    def describe(self, exc):
        return self.real.describe(exc)

    def close(self) -> None:
        self.real.close()


def _deliver_in_thread(mailer, result: dict, sender: str) -> threading.Thread:
    def run() -> None:
        with warehouse_connection() as conn:
            result[sender] = outbox.deliver(conn, sender=sender, mailer=mailer)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("pause", ["before", "after"])
def test_two_senders_at_once_deliver_an_owed_alert_exactly_once(schema, smtp, pause):
    """``pause="after"``: the second delivery comes while the first has had the message
    accepted and has not marked it yet; it skips the row the first one holds."""
    db = schema
    row_id = _owed_alert(db, 1)
    gate = Gate(pause=pause)
    result: dict = {}
    first = _deliver_in_thread(gate, result, "first")
    assert gate.holding.wait(60)
    with warehouse_connection() as conn:  # the second sender, while the first holds the row
        result["second"] = outbox.deliver(conn, sender="second")
    gate.go_on.set()
    first.join(60)
    gate.close()
    assert (result["first"].sent, result["second"].sent) == ([row_id], [])
    assert len(smtp.messages) == 1
    assert query(db, f"SELECT attempts, sent_by FROM {outbox.OUTBOX_TABLE}") == [(1, "first")]


def test_many_senders_at_once_send_each_owed_alert_exactly_once(schema, smtp):
    db = schema
    ids = [_owed_alert(db, n) for n in range(12)]
    result: dict = {}
    threads = [_deliver_in_thread(outbox.Mailer(), result, f"sender-{n}") for n in range(4)]
    for thread in threads:
        thread.join(120)
    assert sorted(i for done in result.values() for i in done.sent) == ids
    assert sorted(m.subject for m in smtp.messages) == sorted(
        f"[extractorov] ov_aire failed (extract): run run-{n}" for n in range(12))
    assert query(db, f"SELECT count(*) FROM {outbox.OUTBOX_TABLE} WHERE sent_at IS NULL "
                     "OR attempts <> 1") == [(0,)]


class LostAfterAcceptance(BaseException):
    """The sender's process dies after the server's 250 and before its COMMIT (a SIGKILL,
    a lost warehouse connection): nothing after the send runs."""


def test_a_sender_lost_between_acceptance_and_commit_means_one_more_copy_same_message_id(
        schema, smtp):
    """The documented at-least-once window: the row was marked sent in the transaction that
    holds it, but that transaction never committed, so the alert is still owed and the next
    delivery sends it again. Never lost; the copy carries the same Message-ID (and nothing
    but a lost process in exactly that window makes a copy: see the test above)."""
    db = schema
    row_id = _owed_alert(db, 1)

    class DiesAfterSend(outbox.Mailer):
        def send(self, row) -> None:
            super().send(row)
            raise LostAfterAcceptance

    with pytest.raises(LostAfterAcceptance), warehouse_connection() as conn:
        outbox.deliver(conn, sender="lost", mailer=DiesAfterSend())
    assert len(smtp.messages) == 1
    assert query(db, f"SELECT sent_at, attempts FROM {outbox.OUTBOX_TABLE}") == [(None, 0)]

    assert outbox.deliver(db, sender="next").sent == [row_id]
    first, second = smtp.messages
    assert first.message_id == second.message_id == outbox.message_id(
        row_id, "run_failed:ov_aire:run-1:0", "airflow@extractorov.test")
    assert query(db, f"SELECT attempts, sent_by FROM {outbox.OUTBOX_TABLE}") == [(1, "next")]
    assert outbox.deliver(db, sender="again").sent == []
    assert len(smtp.messages) == 2


def test_without_recipients_nothing_is_owed(schema, smtp, monkeypatch, caplog):
    """No Variable ov_alert_emails: a warning, no e-mail, and no alert recorded as owed
    (an alert to nobody could never be delivered)."""
    db = schema
    monkeypatch.delenv("AIRFLOW_VAR_OV_ALERT_EMAILS", raising=False)
    _smtp_down(monkeypatch)
    alerts.check_morning_runs(db, no_runs, now=datetime(2025, 12, 3, 7, tzinfo=BOGOTA),
                              run_id="r7", companies=COMPANIES.values())
    assert query(db, f"SELECT count(*) FROM {outbox.OUTBOX_TABLE}") == [(0,)]
    assert "no alert e-mail: Variable ov_alert_emails is not set" in caplog.text
    assert smtp.messages == []


def all_succeeded(*, dag_id: str, logical_dates: list, states: list | None = None) -> int:
    return 1  # every morning run exists and succeeded


def _morning_report(db, empresa: str, logical: datetime, records_found: int) -> None:
    """The report the morning run's report_stats writes (the part the check reads)."""
    with db.cursor() as cur:
        cur.execute("INSERT INTO data_general.post_processing_runs (run_id, empresa, dag_id, "
                    "logical_date, database_only, status, records_found) VALUES "
                    "(%s, %s, %s, %s, false, 'success', %s)",
                    (f"scheduled__{logical.isoformat()}", empresa, f"ov_{empresa}", logical,
                     records_found))
    db.commit()


def test_a_morning_run_that_read_no_new_request_json_is_reported_unless_expected_quiet(
        db, smtp, monkeypatch):
    """'The bot did not run' looks exactly like 'nothing happened': a successful morning run
    with no new request JSON is an anomaly the 06:00 check e-mails (once), except for the
    companies of Variable ov_expect_quiet."""
    warehouse.ensure_schema(db)
    db.commit()
    monkeypatch.setenv("AIRFLOW_VAR_OV_ALERT_EMAILS", "ops@example.test")
    day = date(2025, 12, 10)
    logical = alerts.morning_logical_date(day)
    _morning_report(db, "afinia", logical, records_found=0)  # green, and nothing new
    _morning_report(db, "aire", logical, records_found=12)
    six = datetime(2025, 12, 10, 6, tzinfo=BOGOTA)

    states = alerts.check_morning_runs(db, all_succeeded, now=six, run_id="r6",
                                       companies=COMPANIES.values())
    assert states == {"afinia": alerts.NO_NEW_JSON, "aire": "success"}
    [mail] = smtp.messages
    assert mail.subject == ("[extractorov] ov_afinia: the morning run of 2025-12-10 brought "
                            "no new request JSON")
    assert "the bot did not run" in mail.text and "ov_expect_quiet" in mail.text
    assert query(db, f"SELECT empresa, state FROM {alerts.MORNING_ALERTS_TABLE}") == [
        ("afinia", alerts.NO_NEW_JSON)]
    alerts.check_morning_runs(db, all_succeeded, now=six.replace(hour=7), run_id="r7",
                              companies=COMPANIES.values())
    assert len(smtp.messages) == 1  # once a day

    # The next day afinia is expected to be quiet (a holiday): no message.
    monkeypatch.setenv("AIRFLOW_VAR_OV_EXPECT_QUIET", "afinia, otra")
    next_day = date(2025, 12, 11)
    _morning_report(db, "afinia", alerts.morning_logical_date(next_day), records_found=0)
    _morning_report(db, "aire", alerts.morning_logical_date(next_day), records_found=3)
    states = alerts.check_morning_runs(db, all_succeeded,
                                       now=datetime(2025, 12, 11, 6, tzinfo=BOGOTA),
                                       run_id="r-next", companies=COMPANIES.values())
    assert states == {"afinia": "success", "aire": "success"}
    assert len(smtp.messages) == 1
