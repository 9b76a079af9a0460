"""The 06:00 check's record and its e-mail are one transaction (real PostgreSQL, real SMTP).

The company runs' states are stood in for by a function (here: no run at all); the check
against Airflow's own API is in tests/e2e/test_alert_emails.py. What is tested here is what a
failed send leaves behind: nothing, so the next hourly check sends the alert.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from devtools.services import free_port
from extractorov import alerts, warehouse
from extractorov.companies import COMPANIES
from extractorov.settings import BOGOTA
from tests.helpers import query


def no_runs(*, dag_id: str, logical_dates: list, states: list | None = None) -> int:
    return 0


def test_a_failed_send_records_nothing_and_the_next_check_sends_once(db, smtp, smtp_server,
                                                                     monkeypatch):
    warehouse.ensure_schema(db)
    db.commit()
    monkeypatch.setenv("AIRFLOW_VAR_OV_ALERT_EMAILS", "ops@example.test")
    seven = datetime(2025, 12, 3, 7, tzinfo=BOGOTA)

    def check(at: datetime, run_id: str) -> dict[str, str]:
        return alerts.check_morning_runs(db, no_runs, now=at, run_id=run_id,
                                         companies=COMPANIES.values())

    # The mail server is down (nothing listens on the port): the check fails, nothing is
    # recorded.
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": free_port(),
         "extra": {"from_email": "a@x.test", "disable_tls": True, "disable_ssl": True,
                   "timeout": 5, "retry_limit": 0}}))
    with pytest.raises(OSError):
        check(seven, "r7")
    assert query(db, f"SELECT count(*) FROM {alerts.MORNING_ALERTS_TABLE}") == [(0,)]

    # The next hour it is back: one message per company, recorded with the run that sent it.
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.conn_json())
    assert check(seven.replace(hour=8), "r8") == {"afinia": "never started",
                                                  "aire": "never started"}
    assert sorted(m.subject.split(":")[0] for m in smtp.messages) == [
        "[extractorov] ov_afinia", "[extractorov] ov_aire"]
    assert query(db, f"SELECT empresa, day, run_id FROM {alerts.MORNING_ALERTS_TABLE} "
                     "ORDER BY 1") == [("afinia", date(2025, 12, 3), "r8"),
                                       ("aire", date(2025, 12, 3), "r8")]
    # And never again that day; the next day is a new day.
    check(seven.replace(hour=9), "r9")
    assert len(smtp.messages) == 2
    check(datetime(2025, 12, 4, 6, tzinfo=BOGOTA), "r-next")
    assert len(smtp.messages) == 4


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
