"""Alerts reach a person: e-mails received by a real SMTP server (aiosmtpd).

Runs go through ``dag.test()`` against the real PostgreSQL and moto S3; a run's failure
callback is then run the way production runs it, by a real dag-processor subprocess
(:func:`tests.mail.run_failure_callback_in_dag_processor`). The requests written into
the landing folder carry known personal data, which no message may contain.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from extractorov import outbox, pipeline
from extractorov.alerts import MORNING_ALERTS_TABLE, morning_logical_date
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders, shown_key
from extractorov.settings import BOGOTA
from tests.helpers import query, seen_hours_ago, write_request
from tests.mail import Inbox, Mail, run_failure_callback_in_dag_processor

pytestmark = pytest.mark.e2e

DAGS = Path(__file__).resolve().parents[2] / "dags"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "alerts"
BASE_URL = "https://airflow.example.test/"
RECIPIENTS = "ops@example.test, oncall@example.test"
PERSONAL = {
    "nombres_apellidos": "Gloria Esperanza Restrepo Quintero",
    "documento_identidad": "52987654",
    "correo_electronico": "gloria.restrepo@example.org",
    "telefono": "6057654321",
    "celular": "3157654321",
    "cuerpo_reclamacion": "Me cobraron de mas en la factura de septiembre",
}


def _personal_request(landing: Path, empresa: str, sgc: str, radicado: str,
                      ts: str = "20251008_093221") -> list[Path]:
    return write_request(landing, empresa, sgc, radicado, ts, **PERSONAL)


def _assert_no_personal_data(mail: Mail) -> None:
    for name, value in PERSONAL.items():
        assert value not in mail.text, f"{name} in the e-mail"


def _keep(mail: Mail, name: str) -> None:
    """The message as received, for a reader of the test run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.html").write_text(f"<!-- To: {', '.join(mail.to)} -->\n"
                                            f"<h3>{mail.subject}</h3>\n{mail.html}\n")


def _url(dag_id: str, run_id: str, task_id: str) -> str:
    return f"{BASE_URL.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id)}/tasks/{task_id}"


@pytest.fixture
def alerting(monkeypatch: pytest.MonkeyPatch, smtp: Inbox) -> Inbox:
    monkeypatch.setenv("AIRFLOW_VAR_OV_ALERT_EMAILS", RECIPIENTS)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    return smtp


def test_a_failed_run_emails_its_dag_run_failed_task_log_url_and_counts(
        dags, db, s3, bucket, landing, alerting, monkeypatch):
    _personal_request(landing, "afinia", "RE1", "R-1")
    _personal_request(landing, "afinia", "RE2", "R-2", "20251008_093300")
    # The bucket does not exist: upload_s3 fails at once (a configuration error), after
    # extract and load_db did their work.
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_BUCKET", "ov-no-such-bucket")
    run = dags["ov_afinia"].test(logical_date=datetime(2025, 10, 8, 9, tzinfo=UTC))
    assert str(run.state) == "failed"
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["upload_s3"] == "failed" and states["report_stats"] == "success"

    # dag.test() runs the callback in its own process, without the task API: the message
    # still names the DAG, the run and the last task to fail, and says what it lacks.
    [local] = alerting.messages
    assert "ov_afinia" in local.subject and run.run_id in local.text
    assert _url("ov_afinia", run.run_id, "") in local.text
    assert "could not be read where this alert ran" in local.text
    _assert_no_personal_data(local)

    # The alert is one per run: the dag-processor's callback for the same run finds it
    # recorded (by dag.test()'s own callback) and sends nothing more.
    run_failure_callback_in_dag_processor(run.run_id, "ov_afinia", DAGS / "ov_companies.py")
    assert len(alerting.messages) == 1
    assert query(db, f"SELECT dedup_key, sent_by FROM {outbox.OUTBOX_TABLE}") == [
        (f"run_failed:ov_afinia:{run.run_id}:0", "on_failure_callback")]

    # Production: only the dag-processor runs it, with the task API.
    _forget_dag_test_alert(db)
    run_failure_callback_in_dag_processor(run.run_id, "ov_afinia", DAGS / "ov_companies.py")
    assert len(alerting.messages) == 2
    mail = alerting.messages[1]
    _keep(local, "run-failed-dag-test")
    _keep(mail, "run-failed")
    assert mail.to == ["ops@example.test", "oncall@example.test"]
    assert mail.mail_from == "airflow@extractorov.test"
    assert mail.subject == f"[extractorov] ov_afinia failed (upload_s3): run {run.run_id}"
    text = mail.text
    assert "DAG <b>ov_afinia</b>" in text and f"run <code>{run.run_id}</code>" in text
    assert f'<b>upload_s3</b>: log <a href="{_url("ov_afinia", run.run_id, "upload_s3")}">' \
        in text
    assert "<b>watcher</b>" not in text  # it fails because upload_s3 did: not a cause
    assert "records_found 2" in text and "db_inserted 2" in text
    assert "files_registered 4" in text and "s3_uploaded 0" in text
    _assert_no_personal_data(mail)
    [(subject, body, sent_by)] = query(db, f"SELECT subject, html_body, sent_by "
                                           f"FROM {outbox.OUTBOX_TABLE}")
    assert (subject, sent_by) == (mail.subject, "on_failure_callback")
    for name, value in PERSONAL.items():
        assert value not in subject + body, f"{name} in the outbox"


def _forget_dag_test_alert(db) -> None:
    """Forget what dag.test()'s own callback (run in the test process, without the task API)
    recorded in the outbox: in production only the dag-processor runs the DAG's callback."""
    db.execute(f"DELETE FROM {outbox.OUTBOX_TABLE} WHERE kind = 'run_failed'")
    db.commit()


def test_without_the_variable_no_email_and_a_warning(dags, db, s3, bucket, landing, smtp,
                                                     monkeypatch, capfd, caplog):
    monkeypatch.delenv("AIRFLOW_VAR_OV_ALERT_EMAILS", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    caplog.set_level(logging.WARNING)
    run = dags["ov_aire"].test(logical_date=datetime(2025, 10, 8, 9, tzinfo=UTC),
                               run_conf={"databse_only": True})  # fails its first task
    assert str(run.state) == "failed"
    run_failure_callback_in_dag_processor(run.run_id, "ov_aire", DAGS / "ov_companies.py")
    assert smtp.messages == []
    warning = f"ov_aire run {run.run_id} failed; no alert e-mail: Variable ov_alert_emails " \
              "is not set"
    assert any(r.levelno == logging.WARNING and r.getMessage() == warning
               for r in caplog.records)  # dag.test()'s own callback
    assert warning in capfd.readouterr().out  # the dag-processor's log


def _age(path: Path, hours: float) -> None:
    when = time.time() - hours * 3600
    os.utime(path, (when, when))


def test_reconcile_findings_that_need_a_human_are_one_message_per_run(
        dags, db, s3, bucket, settings, landing, alerting):
    afinia, aire = COMPANIES["afinia"], COMPANIES["aire"]
    prefix = "oficina-virtual/afinia/raw_data/"
    for n in range(2):
        _personal_request(landing, "afinia", f"RE{n}", f"R-{n}", f"20251008_09000{n}")
    extracted = pipeline.extract(db, afinia, settings, "day-1")
    pipeline.load(db, afinia, extracted.manifest)
    pipeline.upload(db, s3, afinia, settings, run_id="day-1")
    different = f"{prefix}RE1/RE1_20251008_090001.pdf"
    outside = f"{prefix}loose-file.txt"
    s3.put_object(Bucket=bucket, Key=different, Body=b"%PDF-1.4 tampered, longer than before")
    s3.put_object(Bucket=bucket, Key=outside, Body=b"x")
    # Requests whose JSON nobody registered: the finding's detail names the radicado.
    for company, sgc in ((afinia, "RE9"), (aire, "AI9")):
        db.execute(f"INSERT INTO data_general.{company.table} (numero_radicado, "
                   "numero_reclamo_sgc, fecha, hash_registro, hash_contenido, archivo_origen) "
                   f"VALUES ('RAD-GHOST-{sgc}', '{sgc}', now(), 'h', 'h', "
                   f"'{sgc}_data_20250101_000000.json')")
    db.commit()
    # A detail PDF that has waited days for its request JSON.
    waiting = company_folders(landing, "aire").processed / "AI7_20250901_080000.pdf"
    waiting.parent.mkdir(parents=True, exist_ok=True)
    waiting.write_bytes(b"%PDF-1.4 waiting")
    _age(waiting, 100)
    seen_hours_ago(db, landing, "aire", waiting.name, hours=100)  # the age that counts

    # 05:00 Bogotá: before the morning check's deadline, so only the findings alert.
    when = datetime(2025, 10, 9, 5, tzinfo=BOGOTA)
    run = dags["ov_s3_reconcile"].test(logical_date=when, run_after=when)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {"reconcile_afinia": "failed", "reconcile_aire": "failed",
                      "check_morning_runs": "success", "announce_findings": "success",
                      "watcher": "failed", "remind_open_findings": "success",
                      "deliver_alerts": "success"}
    alerting.messages.clear()  # dag.test()'s own callback (see the first test)
    _forget_dag_test_alert(db)

    run_failure_callback_in_dag_processor(run.run_id, "ov_s3_reconcile",
                                          DAGS / "ov_s3_reconcile.py")
    [mail] = alerting.messages
    _keep(mail, "reconcile-findings")
    text = mail.text
    assert "ov_s3_reconcile failed (reconcile_afinia, reconcile_aire)" in mail.subject
    for task_id in ("reconcile_afinia", "reconcile_aire"):
        assert _url("ov_s3_reconcile", run.run_id, task_id) in text
    for line in (f"object_different: S3 key {different}",
                 f"object_outside_layout: S3 key {shown_key(outside)}",
                 "request_without_file: file RE9_data_20250101_000000.json",
                 "request_without_file: file AI9_data_20250101_000000.json",
                 "document_waiting: file AI7_20250901_080000.pdf"):
        assert line in text
    # The tampered object also blocks the upload of the PDF it replaced: asked once, as
    # object_different (not again as upload_failed).
    assert "upload_failed" not in text
    assert "afinia: 3 finding(s) need a human (object_different 1, object_outside_layout 1, " \
           "request_without_file 1)" in text
    assert "aire: 2 finding(s) need a human (document_waiting 1, request_without_file 1)" \
        in text
    # Never the findings' detail texts (a radicado, sizes, advice).
    assert "RAD-GHOST" not in text and "registry size" not in text
    assert "has waited" not in text
    _assert_no_personal_data(mail)


def test_by_0600_a_person_hears_once_a_day_of_a_morning_run_that_has_not_succeeded(
        dags, db, s3, bucket, landing, smtp, monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_VAR_OV_ALERT_EMAILS", raising=False)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    # Days no other test of the session runs a company DAG for (one metadata database).
    day = date(2025, 11, 20)
    morning = morning_logical_date(day)
    assert morning == datetime(2025, 11, 19, 4, tzinfo=BOGOTA)
    # ov_afinia's scheduled run of the day failed (an unknown conf key fails it at once);
    # ov_aire's never started.
    starts = datetime(2025, 11, 20, 4, tzinfo=BOGOTA)
    failed = dags["ov_afinia"].test(logical_date=morning, run_after=starts,
                                    run_conf={"databse_only": True})
    assert str(failed.state) == "failed"
    reconcile = dags["ov_s3_reconcile"]

    def check_at(hour: int, on: date = day) -> dict[str, str]:
        when = datetime(on.year, on.month, on.day, hour, tzinfo=BOGOTA)
        run = reconcile.test(logical_date=when, run_after=when)
        assert str(run.state) == "success"
        [ti] = [ti for ti in run.get_task_instances() if ti.task_id == "check_morning_runs"]
        return ti.xcom_pull(task_ids="check_morning_runs") or {}

    def morning_mails() -> list[Mail]:
        return smtp.with_subject("has not succeeded by 06:00")

    # 05:00: before the deadline, nothing is checked.
    assert check_at(5) == {}
    # 06:00 without Variable ov_alert_emails: warnings, no e-mail, nothing recorded.
    caplog.set_level(logging.WARNING)
    assert check_at(6) == {"afinia": "failed", "aire": "never started"}
    assert morning_mails() == []
    assert sorted(r.getMessage().split(":")[0] for r in caplog.records
                  if r.name == "extractorov.alerts" and r.levelno == logging.WARNING
                  and r.getMessage().startswith("morning check")
                  and "no alert e-mail: Variable ov_alert_emails is not set" in r.getMessage()
                  ) == ["morning check ov_afinia", "morning check ov_aire"]
    assert query(db, f"SELECT count(*) FROM {MORNING_ALERTS_TABLE}") == [(0,)]

    # 07:00 with the Variable: the first check that can tell someone does, once per company.
    monkeypatch.setenv("AIRFLOW_VAR_OV_ALERT_EMAILS", RECIPIENTS)
    check_at(7)
    mails = sorted(morning_mails(), key=lambda m: m.subject)
    assert [m.subject for m in mails] == [
        "[extractorov] ov_afinia: the morning run of 2025-11-20 has not succeeded by 06:00 "
        "Bogotá (failed)",
        "[extractorov] ov_aire: the morning run of 2025-11-20 has not succeeded by 06:00 "
        "Bogotá (never started)"]
    assert mails[0].to == ["ops@example.test", "oncall@example.test"]
    _keep(mails[1], "morning-run")
    assert f'href="{BASE_URL}dags/ov_afinia"' in mails[0].html
    assert "2025-11-19T04:00:00-05:00" in mails[0].text  # the run it looked for
    assert query(db, f"SELECT empresa, day, state FROM {MORNING_ALERTS_TABLE} ORDER BY 1") == [
        ("afinia", day, "failed"), ("aire", day, "never started")]

    # 08:00: already told today, silent.
    check_at(8)
    assert len(morning_mails()) == 2

    # Next day: ov_aire's run is still running at 06:00, ov_afinia's succeeded with a new
    # request (a green run with no new request JSON is an alert of its own).
    next_day = day + timedelta(days=1)
    write_request(landing, "afinia", "RE7771", "R-7771")
    ok = dags["ov_afinia"].test(logical_date=morning_logical_date(next_day),
                                run_after=starts + timedelta(days=1),
                                run_conf={"database_only": True})
    assert str(ok.state) == "success"
    _running_run("ov_aire", morning_logical_date(next_day))
    assert check_at(6, next_day) == {"afinia": "success", "aire": "still running"}
    [mail] = [m for m in morning_mails() if "2025-11-21" in m.subject]
    assert mail.subject.startswith("[extractorov] ov_aire:") and "(still running)" in mail.subject


def _running_run(dag_id: str, logical_date: datetime) -> None:
    """A run of ``dag_id`` that a scheduler started and has not finished (test setup through
    Airflow's own trigger function and ORM: the code under test reads it via the task API)."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    run = trigger_dag(dag_id, run_id=f"scheduled_test_{logical_date:%Y%m%d}",
                      logical_date=logical_date, triggered_by=None)
    with create_session() as session:
        session.merge(run).set_state(DagRunState.RUNNING)


def test_an_unanswered_question_fails_one_check_and_is_reminded_once_a_day(
        dags, db, s3, bucket, settings, landing, alerting):
    outside = "oficina-virtual/afinia/raw_data/loose-file.txt"
    s3.put_object(Bucket=bucket, Key=outside, Body=b"x")
    reconcile = dags["ov_s3_reconcile"]
    day = date(2025, 12, 3)  # days no other test of the session checks

    def check_at(hour: int, on: date = day) -> tuple[str, dict[str, str]]:
        when = datetime(on.year, on.month, on.day, hour, tzinfo=BOGOTA)
        run = reconcile.test(logical_date=when, run_after=when)
        return str(run.state), {ti.task_id: str(ti.state) for ti in run.get_task_instances()}

    def failures() -> list[Mail]:
        return alerting.with_subject("ov_s3_reconcile failed")

    def reminders() -> list[Mail]:
        return alerting.with_subject("wait for an answer")

    # 07:00: a new question. The check fails once (its failure e-mail announces it) and
    # announce_findings starts the review.
    state, states = check_at(7)
    assert (state, states["reconcile_afinia"], states["announce_findings"]) == (
        "failed", "failed", "success")
    assert len(failures()) == 1 and reminders() == []
    # 08:00 and 09:00: the same question still waits. Green checks, no failure e-mail; one
    # reminder that day.
    for hour in (8, 9):
        state, states = check_at(hour)
        assert (state, states["reconcile_afinia"]) == ("success", "success"), hour
    assert len(failures()) == 1
    [reminder] = reminders()
    _keep(reminder, "open-findings-reminder")
    assert f"object_outside_layout: S3 key {shown_key(outside)}" in reminder.text
    _assert_no_personal_data(reminder)
    # Still on the open list.
    assert query(db, "SELECT kind, s3_key FROM data_general.open_findings") == [
        ("object_outside_layout", outside)]
    # The next day: one reminder more, still no failure.
    state, _ = check_at(8, day + timedelta(days=1))
    assert state == "success"
    assert len(reminders()) == 2 and len(failures()) == 1


def _stats_page() -> str:
    """The stats page as the api-server renders it (extractorov.ui), every company."""
    from extractorov.ui import data, render

    return render.stats_page(data.load_snapshot(COMPANIES.values()))


def test_a_failure_alert_sent_while_smtp_is_down_arrives_once_when_it_is_back(
        dags, db, s3, bucket, landing, smtp, smtp_server, monkeypatch, capfd):
    """The dag-processor's failure callback with the mail server down: the alert is
    recorded, owed and visible (callback log, outbox, stats page), not lost in the
    dag-processor's log; the next hourly ov_s3_reconcile (task deliver_alerts) sends it,
    exactly once."""
    import json

    from devtools.services import free_port

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    # dag.test() runs the DAG's callback itself, in this process: without the Variable it
    # raises nothing, so the alert is the dag-processor's, as in production.
    monkeypatch.delenv("AIRFLOW_VAR_OV_ALERT_EMAILS", raising=False)
    run = dags["ov_aire"].test(logical_date=datetime(2025, 11, 26, 9, tzinfo=UTC),
                               run_conf={"databse_only": True})  # fails its first task
    assert str(run.state) == "failed"
    monkeypatch.setenv("AIRFLOW_VAR_OV_ALERT_EMAILS", RECIPIENTS)
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": free_port(),  # nothing listens
         "login": "alerts-user", "password": "s3cr3t-smtp-pass",
         "extra": {"from_email": "airflow@extractorov.test", "disable_tls": True,
                   "disable_ssl": True, "timeout": 5, "retry_limit": 0}}))
    capfd.readouterr()

    run_failure_callback_in_dag_processor(run.run_id, "ov_aire", DAGS / "ov_companies.py")
    assert smtp.messages == []
    log = capfd.readouterr().out
    assert "not delivered: ConnectionRefusedError" in log  # the sender's log says so
    assert "Failed to send notification" not in log  # nothing left to Airflow's lone line
    [(kind, key, subject, body, attempts, error, sent_at)] = query(
        db, f"SELECT kind, dedup_key, subject, html_body, attempts, last_error, sent_at "
            f"FROM {outbox.OUTBOX_TABLE}")
    assert (kind, key, attempts, sent_at) == ("run_failed",
                                              f"run_failed:ov_aire:{run.run_id}:0", 1, None)
    assert subject == f"[extractorov] ov_aire failed (scrape): run {run.run_id}"
    assert error.startswith("ConnectionRefusedError")
    for secret in ("s3cr3t-smtp-pass", "alerts-user", "ops@example.test"):
        assert secret not in error and secret not in log
    assert f"run <code>{run.run_id}</code> failed" in body

    page = _stats_page()
    owed = page.split('id="alerts-not-delivered"', 1)[1].split("</section>", 1)[0]
    assert 'data-field="alerts-owed" data-value="1"' in owed
    assert f"ov_aire failed (scrape): run {run.run_id}" in owed
    assert "ConnectionRefusedError" in owed and 'data-value="1">1</td>' in owed

    # The mail server is back. The next hour's check (05:00 Bogotá: before the morning
    # deadline, so no other alert) delivers it, whatever its checks end with.
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.conn_json())
    db.execute(f"UPDATE {outbox.OUTBOX_TABLE} SET next_attempt_at = next_attempt_at "
               "- interval '1 hour'")  # its backoff has passed
    db.commit()
    reconcile = dags["ov_s3_reconcile"]
    when = datetime(2025, 11, 27, 5, tzinfo=BOGOTA)
    check = reconcile.test(logical_date=when, run_after=when)
    [ti] = [ti for ti in check.get_task_instances() if ti.task_id == "deliver_alerts"]
    assert str(ti.state) == "success"
    assert ti.xcom_pull(task_ids="deliver_alerts") == {"sent": 1, "failed": 0, "owed": 0}
    [mail] = smtp.messages
    _keep(mail, "run-failed-delivered-late")
    assert mail.subject == subject and mail.to == ["ops@example.test", "oncall@example.test"]
    assert "Delivered late: this alert was recorded at" in mail.html
    assert f'<b>scrape</b>: log <a href="{_url("ov_aire", run.run_id, "scrape")}">' in mail.text
    assert query(db, f"SELECT attempts, sent_by FROM {outbox.OUTBOX_TABLE}") == [
        (2, check.run_id)]
    assert "None: every alert was delivered." in _stats_page()

    # Exactly once: not again by the next hour's delivery, nor by the callback run again.
    later = datetime(2025, 11, 27, 4, tzinfo=BOGOTA)
    reconcile.test(logical_date=later, run_after=later)
    run_failure_callback_in_dag_processor(run.run_id, "ov_aire", DAGS / "ov_companies.py")
    assert len(smtp.messages) == 1
