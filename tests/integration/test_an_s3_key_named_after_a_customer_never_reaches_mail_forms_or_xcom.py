"""A regression test: an object whose key ends in a file name that is not the bot's (a customer's
upload named after them: name and ID number; what the old system or the detail writer
leaves) is shown whole in the failure e-mail of the hourly check, and in the removal
form and its XCom. The documented rule (docs/operacion.md, Ley 1581 table): logs, XCom and
alert e-mails hold no personal data; a name that is not the bot's shows as its length."""

from __future__ import annotations

import json

import pytest

from extractorov import alerts, pipeline, reconcile, removal
from tests.helpers import write_request
from tests.landing_files import AFINIA, prefix

pytestmark = pytest.mark.integration

ID_NUMBER = "1099887766"
CUSTOMERS_FILE = f"Zoraida Quinones CC {ID_NUMBER}.pdf"


def _delivered(db, s3, settings, landing) -> None:
    write_request(landing, "afinia", "RE1", "R-1", "20251008_090000")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, extracted.manifest, run_id="day-1")
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")


def test_the_hourly_checks_alert_never_names_a_customers_file(db, s3, bucket, settings,
                                                                landing):
    _delivered(db, s3, settings, landing)
    # An object outside the layout, named as the customer named their upload.
    s3.put_object(Bucket=bucket, Key=prefix() + CUSTOMERS_FILE, Body=b"%PDF cedula")
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    assert [f.kind for f in report.needs_human] == ["object_outside_layout"]
    # What the failure e-mail lists (alerts.findings_detail → the task's alert_detail XCom).
    text = "\n".join(alerts.findings_detail(report))
    assert ID_NUMBER not in text, text


def test_the_removal_form_and_its_xcom_never_name_a_customers_file(db, s3, bucket, settings,
                                                                   landing):
    _delivered(db, s3, settings, landing)
    # In R-1's SGC folder, an object nobody filed (kept, "not tied"), named by a customer.
    s3.put_object(Bucket=bucket, Key=prefix() + "RE1/" + CUSTOMERS_FILE, Body=b"%PDF cedula")
    listing = removal.find(db, s3, AFINIA, settings, "R-1")
    db.rollback()
    found = listing.as_dict()  # find_request's return value: the XCom the form shows
    text = json.dumps(found, ensure_ascii=False) + "\n".join(removal.describe(found))
    assert ID_NUMBER not in text
