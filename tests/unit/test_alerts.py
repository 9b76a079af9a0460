"""The pure parts of ``extractorov.alerts``: addresses, message text, the morning rules.

Sending, the notifier in a DAG run and the 06:00 check against Airflow's API are tested
with a real SMTP server in tests/e2e/test_alert_emails.py.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from extractorov.alerts import (
    FailedTask,
    FailureReport,
    findings_detail,
    flat_counts,
    log_url,
    morning_logical_date,
    morning_message,
    morning_run_state,
    recipients,
    reminder_message,
)
from extractorov.findings import OpenQuestion
from extractorov.reconcile import Finding, ReconcileReport
from extractorov.settings import BOGOTA


@pytest.mark.parametrize(("value", "expected"), [
    (None, []),
    ("", []),
    ("  ", []),
    ("ops@example.test", ["ops@example.test"]),
    (" a@x.test, b@x.test ;c@x.test,, ", ["a@x.test", "b@x.test", "c@x.test"]),
])
def test_recipients_are_the_comma_separated_addresses(value, expected):
    assert recipients(value) == expected


def test_log_url_is_built_as_airflow_builds_ti_log_url():
    assert log_url("https://airflow.example.test/", "ov_afinia",
                   "scheduled__2025-10-09T09:00:00+00:00", "upload_s3") == (
        "https://airflow.example.test/dags/ov_afinia/runs/"
        "scheduled__2025-10-09T09%3A00%3A00%2B00%3A00/tasks/upload_s3")


def test_counts_are_integers_only_and_report_stats_gives_the_runs_own():
    xcom = {
        "run": {"run_id": "r1", "empresa": "afinia", "status": "failed",
                "database_only": False, "files_found": 4, "db_inserted": 2,
                "incomplete_fields": {"fecha": 1}, "task_states": {"extract": "success"}},
        "registry": {"totals": {"total_files": 999}},
    }
    assert flat_counts(xcom) == ["files_found 4", "db_inserted 2", "incomplete_fields.fecha 1"]
    reconcile = {"empresa": "aire", "objects_listed": 3, "findings": {"object_missing": 1},
                 "needs_human": 0, "upload": {"s3_uploaded": 1}}
    assert flat_counts(reconcile) == ["objects_listed 3", "findings.object_missing 1",
                                      "needs_human 0", "upload.s3_uploaded 1"]
    # A key that is not a field name (e.g. a value that became a key) is left out.
    assert flat_counts({"María José": 1, "ok": 2}) == ["ok 2"]
    assert flat_counts(None) == [] and flat_counts([1, 2]) == []


def test_failure_message_names_run_tasks_urls_and_counts_escaped():
    report = FailureReport(
        dag_id="ov_afinia", run_id="manual__2025-10-09T09:00:00+00:00",
        failed=[FailedTask("upload_s3", "https://x.test/dags/ov_afinia/runs/r/tasks/upload_s3",
                           ["object_different: S3 key a/<b>.pdf"])],
        not_run=["report_x"], counts={"report_stats": "records_found 2, db_inserted 2"},
        counts_from=("report_stats",))
    assert report.subject() == ("[extractorov] ov_afinia failed (upload_s3): run "
                                "manual__2025-10-09T09:00:00+00:00")
    body = report.html()
    assert "run <code>manual__2025-10-09T09:00:00+00:00</code> failed" in body
    assert '<a href="https://x.test/dags/ov_afinia/runs/r/tasks/upload_s3">' in body
    assert "a/&lt;b&gt;.pdf" in body and "<b>.pdf" not in body
    assert "Not run because of it: report_x" in body
    assert "report_stats: records_found 2, db_inserted 2" in body
    none = FailureReport("ov_aire", "r", [], [], {}, ("report_stats",)).html()
    assert "Counts of the run: none (report_stats returned none: failed or not run)" in none
    unreadable = FailureReport("ov_aire", "r", [], [], None, ("report_stats",)).html()
    assert "Counts" not in unreadable and "Failed task(s)" not in unreadable


def test_findings_detail_names_kinds_and_keys_never_the_detail_text():
    report = ReconcileReport("afinia", objects_listed=7, registry_rows=6, findings=[
        Finding("object_different", "base/afinia/raw_data/RE1/RE1_20251008_090000.pdf",
                "registry size 10, bucket size 12", False, True, new=True),
        Finding("request_without_file", None,
                "numero_radicado R-123: source file RE9_data_x.json is not in the registry",
                False, True, file_name="RE9_data_x.json", new=True),
        Finding("upload_failed", None, "1 of 1 files failed to upload", False, True, new=True),
        Finding("object_missing", "base/afinia/raw_data/RE2/RE2_20251008_090000.pdf",
                "repaired", True, False),
        # Announced by an earlier check and still waiting: not listed again.
        Finding("object_outside_layout", "base/afinia/raw_data/RE3.txt", "", False, True),
    ])
    lines = findings_detail(report)
    assert lines == [
        "afinia: 3 finding(s) need a human (object_different 1, request_without_file 1, "
        "upload_failed 1); 7 objects listed, 6 registry rows",
        "object_different: S3 key base/afinia/raw_data/RE1/RE1_20251008_090000.pdf",
        "request_without_file: file RE9_data_x.json",
        "upload_failed: no S3 key or file (see the task log)",
    ]
    text = "\n".join(lines)
    assert "R-123" not in text and "bucket size" not in text and "RE2" not in text
    assert "RE3" not in text


def test_findings_detail_is_bounded():
    report = ReconcileReport("aire", findings=[
        Finding("document_waiting", None, "", False, True, file_name=f"AI{n}_x.pdf", new=True)
        for n in range(60)])
    lines = findings_detail(report, limit=50)
    assert len(lines) == 52
    assert lines[-1] == "… 10 more in data_general.reconcile_findings"


KEY = "base/afinia/raw_data/RE1/RE1_20251008_090000.pdf"


def test_the_daily_reminder_names_kinds_keys_and_files_never_a_radicado():
    since = datetime(2025, 10, 9, 15, tzinfo=BOGOTA)
    questions = [
        OpenQuestion("afinia", "object_different", KEY, KEY, "registry sha256 …", True, since),
        OpenQuestion("aire", "request_without_file", None, "RAD-123",
                     "source file AI9_data_20251008_093221.json", False, since),
        OpenQuestion("aire", "document_waiting", None, "AI7_20251008_093220.pdf",
                     "11 bytes, …", False, since),
        # A name that is not the bot's own (a customer's file) is never spelled out.
        OpenQuestion("aire", "temp_file_stale", None, "Cédula_Núñez_1045678901.pdf.part",
                     "11 bytes, …", False, since),
    ]
    subject, body = reminder_message(questions, 2, date(2025, 10, 10),
                                     "https://airflow.example.test/")
    assert subject == ("[extractorov] ov_review_findings: 4 question(s) still wait for an "
                       "answer (2025-10-10)")
    assert "(afinia 1, aire 3)" in body
    assert (f"afinia · object_different: S3 key {KEY} (answer "
            "chosen, waiting to be applied by the next check); waiting since 2025-10-09 "
            "15:00") in body
    assert "aire · request_without_file: file AI9_data_20251008_093221.json;" in body
    assert "aire · document_waiting: file AI7_20251008_093220.pdf;" in body
    assert ("aire · temp_file_stale: file &lt;a file name that is not the bot&#x27;s own "
            "(32 characters)&gt;;") in body
    assert "RAD-123" not in body and "bytes" not in body and "1045678901" not in body
    assert "2 more answered <i>Leave open</i>" in body
    assert 'href="https://airflow.example.test/dags/ov_review_findings"' in body


def test_the_morning_run_of_a_day_started_at_0400_with_the_previous_days_logical_date():
    assert morning_logical_date(date(2025, 10, 9)) == datetime(2025, 10, 8, 4, tzinfo=BOGOTA)
    # A later schedule the deadline still follows: the last run due by 06:00.
    assert morning_logical_date(date(2025, 10, 9), "30 5 * * *") == datetime(
        2025, 10, 8, 5, 30, tzinfo=BOGOTA)


class FakeRuns:
    """Stands in for ``get_dr_count`` (pure logic: which answer means what)."""

    def __init__(self, states: list[str]) -> None:
        self.states = states

    def __call__(self, *, dag_id: str, logical_dates: list, states: list[str] | None = None
                 ) -> int:
        return sum(1 for s in self.states if states is None or s in states)


@pytest.mark.parametrize(("runs", "expected"), [
    ([], "never started"),
    (["queued"], "queued"),
    (["running"], "still running"),
    (["failed"], "failed"),
    (["success"], "success"),
])
def test_morning_run_state(runs, expected):
    logical = datetime(2025, 10, 8, 4, tzinfo=BOGOTA)
    assert morning_run_state(FakeRuns(runs), "ov_aire", logical) == expected


def test_morning_message_holds_ids_and_a_link_only():
    subject, body = morning_message("ov_aire", "aire", date(2025, 10, 9), "never started",
                                    datetime(2025, 10, 8, 4, tzinfo=BOGOTA),
                                    "https://airflow.example.test/")
    assert subject == ("[extractorov] ov_aire: the morning run of 2025-10-09 has not "
                       "succeeded by 06:00 Bogotá (never started)")
    assert '<a href="https://airflow.example.test/dags/ov_aire">' in body
    assert "2025-10-08T04:00:00-05:00" in body


def test_without_the_task_api_the_message_says_what_is_known(caplog):
    """Outside the dag-processor (``airflow dags test``; this test process) task states
    cannot be read: the message names the task the callback was given, and the reason."""
    from types import SimpleNamespace

    from extractorov.alerts import failure_report

    context = {"dag": SimpleNamespace(dag_id="ov_s3_reconcile"), "run_id": "r1",
               "reason": "timed_out",
               "ti": SimpleNamespace(task_id="reconcile_afinia", log_url="https://x.test/l")}
    report = failure_report(context, counts_task_ids=["reconcile_afinia"])
    assert [(t.task_id, t.url) for t in report.failed] == [("reconcile_afinia",
                                                             "https://x.test/l")]
    assert report.note.startswith("Airflow ended the run: timed_out. Which tasks failed")
    assert report.counts is None
    assert "task states not readable here" in caplog.text


# --------------------------------------------------------------------------- the outbox (issue 21)


def test_every_alert_the_project_sends_goes_through_the_outbox():
    """One rule for every send path: only the outbox's Mailer hands a message to the SMTP
    server; the direct send is only the notifier's last resort when the outbox itself cannot
    be written. A new send path that calls SmtpHook (or send_email) breaks this test."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    callers: dict[str, set[str]] = {}
    for path in [*(root / "include" / "extractorov").glob("*.py"), *(root / "dags").glob("*.py"),
                 *(root / "plugins").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef):
                continue
            for node in ast.walk(func):
                name = (node.func.attr if isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Attribute) else
                        node.func.id if isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Name) else None)
                if name in {"send_email_smtp", "send_email", "SmtpHook", "sendmail"}:
                    callers.setdefault(name, set()).add(f"{path.stem}.{func.name}")
    assert callers == {"SmtpHook": {"alerts.send_email", "outbox._open"},
                       "send_email_smtp": {"alerts.send_email", "outbox.send"},
                       "send_email": {"alerts.post"}}


def test_the_backoff_is_1_5_15_then_60_minutes():
    from datetime import timedelta

    from extractorov.outbox import retry_delay

    assert [retry_delay(n) for n in range(1, 7)] == [timedelta(minutes=m)
                                                     for m in (1, 5, 15, 60, 60, 60)]


def test_last_error_holds_no_password_login_or_address():
    import smtplib

    from extractorov.outbox import safe_error

    refused = smtplib.SMTPAuthenticationError(
        535, b"5.7.8 Username alerts@corp.example and password hunter2xyz not accepted")
    text = safe_error(refused, ["hunter2xyz", "alerts@corp.example"])
    assert text == ("SMTPAuthenticationError: 535 5.7.8 Username <secret> and password "
                    "<secret> not accepted")
    recipients = smtplib.SMTPRecipientsRefused({"ops@example.test": (550, b"no such user")})
    assert safe_error(recipients) == "SMTPRecipientsRefused: 1 recipient(s) refused"
    assert safe_error(ConnectionRefusedError(111, "Connection refused")) == (
        "ConnectionRefusedError: [Errno 111] Connection refused")
    assert safe_error(OSError("mail to a@b.example failed\n" + "x" * 400)).startswith(
        "OSError: mail to <address> failed x")
    assert len(safe_error(OSError("x" * 400))) <= 300 + len("OSError: ")


def test_every_copy_of_an_alert_has_the_same_message_id():
    from extractorov.outbox import message_id, run_failure_key

    key = run_failure_key("ov_aire", "manual__1", 2)
    assert key == "run_failed:ov_aire:manual__1:2"
    first = message_id(7, key, "airflow@extractorov.test")
    assert first == message_id(7, key, "airflow@extractorov.test")
    assert first.startswith("<ov-alert.7.") and first.endswith("@extractorov.test>")
    assert message_id(8, key, "airflow@extractorov.test") != first
    assert message_id(7, key, "Alerts <alerts@corp.example>").endswith("@corp.example>")
    assert message_id(7, key, "no-at-sign").endswith("@extractorov.invalid>")


def test_an_alert_delivered_late_says_when_it_was_recorded():
    from extractorov.outbox import Row, late_note

    row = Row(1, "morning_run", "k", "s", "<p>b</p>", ["ops@example.test"],
              datetime(2025, 10, 9, 11, 0, tzinfo=BOGOTA), 0)
    assert late_note(row) == ""
    row.attempts = 3
    assert late_note(row) == (
        "<p><i>Delivered late: this alert was recorded at 2025-10-09 11:00 Bogotá; 3 earlier "
        "delivery attempt(s) failed (see the outbox, data_general.alert_outbox).</i></p>\n")


def test_the_morning_message_says_when_earlier_alerts_are_owed():
    args = ("ov_aire", "aire", date(2025, 10, 9), "failed",
            datetime(2025, 10, 8, 4, tzinfo=BOGOTA), "https://airflow.example.test/")
    assert "not delivered" not in morning_message(*args)[1]
    assert ("<b>2 earlier alert(s) are not delivered yet</b>"
            in morning_message(*args, owed=2)[1])
