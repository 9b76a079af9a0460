"""A known secret key and known personal data never reach logs, XCom or error messages."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from extractorov.landing import company_folders
from tests.helpers import query, write_request

pytestmark = pytest.mark.e2e

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETo42"
PERSON = {
    "nombres_apellidos": "Gumersinda Ybarra Quintanilla",
    "documento_identidad": "1098765432",
    "correo_electronico": "gumersinda.ybarra@correo-privado.co",
    "telefono": "6057778899",
    "celular": "3157654321",
}


def test_secret_and_personal_data_stay_out_of_logs_xcom_and_errors(
        airflow_db, db, bucket, landing, moto_server, monkeypatch, capfd):
    conn = json.loads(moto_server.conn_json())
    conn["password"] = SECRET
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    write_request(landing, "afinia", "RE100", "R-100", **PERSON)
    write_request(landing, "afinia", "RE101", "R-101", fecha="no es una fecha", **PERSON)
    processed = company_folders(landing, "afinia").processed
    (processed / "RE102_data_20251008_093221.json").write_text(
        '{"nombres_apellidos": "' + PERSON["nombres_apellidos"] + '", oops', encoding="utf-8")
    os.utime(processed / "RE102_data_20251008_093221.json", (1_700_000_000, 1_700_000_000))
    # A different object already at one key: the upload fails and says why.
    key = "oficina-virtual/afinia/raw_data/RE100/RE100_20251008_093221.pdf"
    conn_client = moto_server.client()
    conn_client.put_object(Bucket=bucket, Key=key, Body=b"not the same bytes")

    dags = DagBag(dag_folder=Path(__file__).resolve().parents[2] / "dags").dags
    runs = [
        dags["ov_afinia"].test(logical_date=datetime(2025, 10, 9, 9, tzinfo=UTC)),
        dags["ov_s3_reconcile"].test(logical_date=datetime(2025, 10, 9, 15, tzinfo=UTC)),
    ]
    assert [str(r.state) for r in runs] == ["failed", "failed"]  # both have errors to report
    output = capfd.readouterr()

    texts = {"task output": output.out + output.err}
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    for path in logs.rglob("*") if logs.exists() else []:
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        for run in runs:
            for row in session.query(XComModel).filter_by(dag_id=run.dag_id,
                                                          run_id=run.run_id):
                texts[f"xcom {row.task_id}/{row.key}"] = json.dumps(row.value, default=str)
    texts["registry errors"] = json.dumps(query(
        db, "SELECT last_error, metadata FROM data_general.s3_files_registry"), default=str)
    texts["runs table"] = json.dumps(query(
        db, "SELECT * FROM data_general.post_processing_runs"), default=str)
    texts["findings"] = json.dumps(query(
        db, "SELECT detail, subject, cause FROM data_general.reconcile_findings"), default=str)
    # The review forms ov_review_findings would show for these findings.
    from extractorov import review, runtime

    forms = review.collect(db, runtime.s3_client(), runtime.settings_from_variables(),
                           "leak-check")
    assert forms, "the reconcile run left questions to ask"
    texts["review forms"] = json.dumps(forms, ensure_ascii=False)
    for reason in company_folders(landing, "afinia").quarantine.glob("*.reason.txt"):
        texts[str(reason)] = reason.read_text()

    assert any("xcom" in name for name in texts), "XCom values were collected"
    assert any("different object already exists" in t for t in texts.values())
    assert any("fecha is not a date" in t for t in texts.values())
    # The personal data did reach its table: the check below is not vacuous.
    assert query(db, "SELECT nombres_apellidos FROM data_general.ov_afinia") == [
        (PERSON["nombres_apellidos"],)]
    for name, text in texts.items():
        assert SECRET not in text, f"secret key in {name}"
        for field, value in PERSON.items():
            assert value not in text, f"{field} in {name}"
