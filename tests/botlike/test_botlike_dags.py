"""The real bot's output (:mod:`tests.botlike.corpus`) through whole DAG runs.

Both companies' folders are filled with what the bot writes (normal requests,
placeholder SGCs shared by unrelated requests, blank fields, every fecha format,
killed writes, older writers, files still being written, ambiguous placeholders),
``ov_afinia`` and ``ov_aire`` run with ``dag.test()``, and then, file by file,
each file must be in exactly the place its expectation says: in the bucket under
its key with an ``uploaded`` registry row, in ``quarantine/`` with a reason, or
still in ``processed/`` (waiting for its request JSON / still being written).
Then the tables, the run counts, content types and the absence of personal data
in reasons and logs are checked, and a second run of both DAGs must change nothing.

All problems are collected and reported together (one failure lists them all).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag

from extractorov.landing import company_folders
from extractorov.settings import BOGOTA
from tests.botlike.corpus import EMPRESAS, Corpus, generate
from tests.e2e.test_dag_runs import runtime_xcom
from tests.helpers import list_keys, query, seen_hours_ago

pytestmark = pytest.mark.e2e

DAGS = Path(__file__).resolve().parents[2] / "dags"
SETTLE_SECONDS = 3600
"""A file modified within the last hour is still being written (the corpus's 'fresh' JSON)."""
FIRST = datetime(2025, 10, 9, 9, tzinfo=UTC)
SECOND = datetime(2025, 10, 10, 9, tzinfo=UTC)

CONTENT_TYPES = {
    "jpg": "image/jpeg", "JPG": "image/jpeg", "jpeg": "image/jpeg", "Jpeg": "image/jpeg",
    "png": "image/png", "PNG": "image/png", "gif": "image/gif", "pdf": "application/pdf",
    "PDF": "application/pdf", "tif": "image/tiff", "txt": "text/plain",
    "msg": "application/vnd.ms-outlook", "zip": "application/zip",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "bin": "application/octet-stream", "xyz": "application/octet-stream",
    "json": "application/json",
}


@pytest.fixture(scope="module")
def dags(airflow_db):
    bag = DagBag(dag_folder=DAGS)
    assert bag.import_errors == {}
    return bag.dags


class Problems(list):
    def check(self, condition: Any, message: str) -> bool:
        if not condition:
            self.append(message)
        return bool(condition)


def _states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def _registry(db) -> dict[tuple[str, str], list[dict[str, Any]]]:
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for empresa, filename, key, status, metadata, sgc, ctype, size, digest in query(
            db, "SELECT empresa, filename, s3_key, upload_status, metadata, numero_reclamo_sgc, "
                "content_type, file_size, file_hash FROM data_general.s3_files_registry"):
        rows.setdefault((empresa, filename), []).append({
            "s3_key": key, "upload_status": status, "metadata": metadata, "sgc": sgc,
            "content_type": ctype, "file_size": size, "file_hash": digest})
    return rows


def _quarantine(landing: Path) -> dict[tuple[str, str], str]:
    """(empresa, original name) → reason file text; every quarantined file has one."""
    found: dict[tuple[str, str], str] = {}
    for empresa in EMPRESAS:
        folder = company_folders(landing, empresa).quarantine
        if not folder.is_dir():
            continue
        names = set(os.listdir(folder))
        for name in names:
            if name.endswith(".reason.txt"):
                text = (folder / name).read_text(encoding="utf-8")
                original = text.splitlines()[0].removeprefix("file: ")
                assert name.removesuffix(".reason.txt") in names, f"reason without file: {name}"
                found[(empresa, original)] = text
            else:
                assert name + ".reason.txt" in names, f"{empresa}/{name} has no reason file"
    return found


def _processed(landing: Path) -> dict[str, set[str]]:
    return {e: set(os.listdir(company_folders(landing, e).processed)) for e in EMPRESAS}


def _snapshot(db, s3, bucket: str, landing: Path) -> dict[str, Any]:
    quarantine = {}
    for empresa in EMPRESAS:
        folder = company_folders(landing, empresa).quarantine
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                quarantine[f"{empresa}/{path.name}"] = path.read_bytes()
    return {
        "objects": list_keys(s3, bucket),
        "registry": query(db, "SELECT empresa, filename, s3_key, upload_status, attempts, "
                              "file_hash, metadata, updated_at FROM data_general.s3_files_registry "
                              "ORDER BY s3_key"),
        "rows": {e: query(db, f"SELECT numero_radicado, numero_reclamo_sgc, fecha, "
                              f"estado_solicitud, hash_contenido, archivo_origen, updated_at "
                              f"FROM data_general.ov_{e} ORDER BY 1") for e in EMPRESAS},
        "quarantine": quarantine,
        "processed": _processed(landing),
    }


def _run_both(dags, logical: datetime, problems: Problems) -> dict[str, Any]:
    runs = {}
    for empresa in EMPRESAS:
        run = dags[f"ov_{empresa}"].test(logical_date=logical, run_after=logical)
        runs[empresa] = run
        problems.check(str(run.state) == "success",
                       f"ov_{empresa} run {run.run_id}: state {run.state}, tasks {_states(run)}")
    return runs


def check_files(corpus: Corpus, db, s3, bucket: str, landing: Path, problems: Problems) -> None:
    """Every corpus file is in exactly the place its expectation says, and nothing else is."""
    keys = list_keys(s3, bucket)
    registry = _registry(db)
    quarantine = _quarantine(landing)
    processed = _processed(landing)
    by_name = {}
    for empresa in EMPRESAS:
        for name in keys:
            if name.startswith(f"oficina-virtual/{empresa}/"):
                by_name.setdefault((empresa, name.rsplit("/", 1)[-1]), []).append(name)

    for file in corpus.files:
        where = f"{file.empresa}/{file.name} [{file.scenario}] expected {file.expect}"
        ident = (file.empresa, file.name)
        rows = registry.get(ident, [])
        objects = by_name.get(ident, [])
        quarantined = quarantine.get(ident)
        if file.outcome == "bucket":
            key = file.expect[1]
            problems.check(objects == [key], f"{where}: objects with its name: {objects}")
            problems.check(quarantined is None, f"{where}: quarantined: {quarantined!r}")
            if not problems.check(len(rows) == 1, f"{where}: registry rows {rows}"):
                continue
            [row] = rows
            problems.check(row["s3_key"] == key and row["upload_status"] == "uploaded",
                           f"{where}: registry row {row['s3_key']} {row['upload_status']}")
            problems.check(row["file_hash"] == hashlib.sha256(file.data).hexdigest()
                           and row["file_size"] == len(file.data) == keys.get(key),
                           f"{where}: size/hash differ (registry {row['file_size']}, "
                           f"bucket {keys.get(key)}, file {len(file.data)})")
            for item, value in file.metadata.items():
                problems.check(row["metadata"].get(item) == value,
                               f"{where}: registry metadata {item}={row['metadata'].get(item)!r}")
            if "request_json_status" not in file.metadata:
                problems.check("request_json_status" not in row["metadata"],
                               f"{where}: registry metadata {row['metadata']}")
            folder = key.split("/raw_data/", 1)[1].rsplit("/", 1)[0]
            expected_sgc = None if folder.startswith("sin_sgc/") else folder
            problems.check(row["sgc"] == expected_sgc,
                           f"{where}: registry numero_reclamo_sgc {row['sgc']!r}")
            problems.check(file.name in processed[file.empresa],
                           f"{where}: no longer in processed/")
        elif file.outcome == "quarantine":
            fragment = file.expect[1]
            if problems.check(quarantined is not None, f"{where}: not in quarantine/ (registry "
                                                       f"{rows}, objects {objects})"):
                lines = quarantined.splitlines()
                problems.check(lines[0] == f"file: {file.name}" and lines[1].startswith("reason: ")
                               and fragment in lines[1], f"{where}: reason file {quarantined!r}")
            problems.check(file.name not in processed[file.empresa],
                           f"{where}: still in processed/")
            problems.check(not rows, f"{where}: registry rows {rows}")
            problems.check(not objects, f"{where}: objects {objects}")
        else:  # waiting / in_progress
            problems.check(file.name in processed[file.empresa], f"{where}: not in processed/")
            problems.check(quarantined is None, f"{where}: quarantined: {quarantined!r}")
            problems.check(not rows, f"{where}: registry rows {rows}")
            problems.check(not objects, f"{where}: objects {objects}")

    expected = {(f.empresa, f.name) for f in corpus.files}
    expected_keys = {f.expect[1] for f in corpus.files if f.outcome == "bucket"}
    problems.check(set(keys) <= expected_keys, f"unexpected objects: {set(keys) - expected_keys}")
    problems.check(set(registry) <= expected,
                   f"unexpected registry rows: {set(registry) - expected}")
    problems.check(set(quarantine) <= expected,
                   f"unexpected quarantined files: {set(quarantine) - expected}")
    for empresa in EMPRESAS:
        extra = processed[empresa] - {f.name for f in corpus.of(empresa)}
        problems.check(not extra, f"{empresa}: unexpected files in processed/: {extra}")


def check_run_counts(corpus: Corpus, db, runs: dict[str, Any], first: bool,
                     problems: Problems) -> None:
    for empresa, run in runs.items():
        rows = query(db, "SELECT files_waiting, files_in_progress, files_quarantined, "
                         "records_incomplete, incomplete_fields, status "
                         "FROM data_general.post_processing_runs "
                         "WHERE run_id = %s AND empresa = %s", run.run_id, empresa)
        if not problems.check(len(rows) == 1, f"{empresa} {run.run_id}: runs rows {rows}"):
            continue
        waiting, in_progress, quarantined, incomplete, fields, status = rows[0]
        want_waiting = len(corpus.of(empresa, "waiting"))
        want_in_progress = len(corpus.of(empresa, "in_progress"))
        want_quarantined = len(corpus.of(empresa, "quarantine")) if first else 0
        expected_rows = corpus.rows[empresa].values()
        blank_fecha = sum(r.fecha is None for r in expected_rows)
        placeholder = sum(r.numero_reclamo_sgc is None for r in expected_rows)
        want_fields = {"fecha": blank_fecha, "numero_reclamo_sgc": placeholder} if first else {}
        want_incomplete = (sum(r.fecha is None or r.numero_reclamo_sgc is None
                               for r in expected_rows) if first else 0)
        got = (waiting, in_progress, quarantined, incomplete, fields, status)
        want = (want_waiting, want_in_progress, want_quarantined, want_incomplete, want_fields,
                "success")
        problems.check(got == want, f"{empresa} {run.run_id}: post_processing_runs (files_waiting, "
                                    f"files_in_progress, files_quarantined, records_incomplete, "
                                    f"incomplete_fields, status) = {got}, expected {want}")
        xcom = runtime_xcom(run, "extract") or {}
        problems.check(xcom.get("files_waiting") == want_waiting,
                       f"{empresa} {run.run_id}: extract XCom files_waiting "
                       f"{xcom.get('files_waiting')}, expected {want_waiting}")


def check_rows(corpus: Corpus, db, problems: Problems) -> None:
    for empresa in EMPRESAS:
        expected = corpus.rows[empresa]
        with db.cursor() as cur:
            cur.execute(f"SELECT numero_radicado, numero_reclamo_sgc, fecha, estado_solicitud, "
                        f"archivo_origen, extras, cuerpo_reclamacion, extraction_timestamp "
                        f"FROM data_general.ov_{empresa}")
            names = [d.name for d in cur.description]
            rows = {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
        db.commit()
        problems.check(set(rows) == set(expected),
                       f"{empresa}: radicados missing {set(expected) - set(rows)}, "
                       f"unexpected {set(rows) - set(expected)}")
        problems.check(len(rows) == len(expected), f"{empresa}: {len(rows)} rows")
        for radicado, want in expected.items():
            row = rows.get(radicado)
            if row is None:
                continue
            where = f"{empresa} row {radicado} ({want.archivo_origen})"
            got = (row["numero_reclamo_sgc"], row["fecha"], row["estado_solicitud"],
                   row["archivo_origen"], row["extras"].get("sgc_placeholder"),
                   row["cuerpo_reclamacion"], row["extraction_timestamp"])
            exp = (want.numero_reclamo_sgc, want.fecha, want.estado_solicitud,
                   want.archivo_origen, want.sgc_placeholder, want.cuerpo_reclamacion or None,
                   want.extraction.replace(tzinfo=BOGOTA))
            problems.check(got == exp, f"{where}: (sgc, fecha, estado, archivo_origen, "
                                       f"placeholder, cuerpo, extraction) = {got}, expected {exp}")
            for key in want.extras_keys:
                problems.check(key in row["extras"], f"{where}: extras lacks {key}")
            if empresa == "aire":
                problems.check(not any(k.startswith("tabla_") for k in row["extras"]),
                               f"{where}: aire extras {sorted(row['extras'])}")


def check_content_types(corpus: Corpus, s3, bucket: str, problems: Problems) -> int:
    checked = 0
    for file in corpus.files:
        if file.outcome != "bucket" or ("_adjunto_" not in file.name
                                        and not file.name.endswith(".json")):
            continue
        ext = file.name.rsplit(".", 1)[1]
        if ext not in CONTENT_TYPES:
            continue
        head = s3.head_object(Bucket=bucket, Key=file.expect[1])
        checked += 1
        problems.check(head["ContentType"] == CONTENT_TYPES[ext],
                       f"{file.empresa}/{file.name}: content type {head['ContentType']}, "
                       f"expected {CONTENT_TYPES[ext]}")
    return checked


def _texts(landing: Path, capfd, caplog, runs: list[Any]) -> dict[str, str]:
    output = capfd.readouterr()
    texts = {"task output": output.out + output.err, "caplog": caplog.text}
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    run_ids = {r.run_id for r in runs}
    for path in logs.rglob("*") if logs.exists() else []:
        if path.is_file() and any(run_id in str(path) for run_id in run_ids):
            texts[str(path)] = path.read_text(errors="replace")
    for empresa in EMPRESAS:
        for reason in company_folders(landing, empresa).quarantine.glob("*.reason.txt"):
            texts[str(reason)] = reason.read_text(encoding="utf-8")
    for run in runs:
        for task in ("scrape", "extract", "load_db", "upload_s3", "report_stats"):
            texts[f"xcom {run.dag_id} {task}"] = json.dumps(runtime_xcom(run, task),
                                                            ensure_ascii=False, default=str)
    return texts


def check_no_personal_data(corpus: Corpus, texts: dict[str, str], problems: Problems) -> None:
    for name, text in texts.items():
        leaked = sorted(v for v in corpus.personal if v in text)
        problems.check(not leaked, f"personal values {leaked} in {name}")


def test_bot_output_file_by_file_then_rerun_changes_nothing(
        dags, db, s3, bucket, landing, monkeypatch, capfd, caplog):
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0")
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_SETTLE_SECONDS", str(SETTLE_SECONDS))
    caplog.set_level("INFO")
    corpus = generate()
    corpus.write(landing)
    # A dead writer's temporary file is stale once the pipeline first saw it over
    # ov_orphan_after_hours ago (its old modification time alone does not make it so).
    for file in corpus.files:
        if file.scenario == "stale temporary file":
            seen_hours_ago(db, landing, file.empresa, file.name, hours=100)
    problems = Problems()

    first = _run_both(dags, FIRST, problems)
    check_files(corpus, db, s3, bucket, landing, problems)
    check_run_counts(corpus, db, first, True, problems)
    check_rows(corpus, db, problems)
    checked = check_content_types(corpus, s3, bucket, problems)
    assert checked >= 20, "content types of the attachments were looked at"
    texts = _texts(landing, capfd, caplog, list(first.values()))
    # Not vacuous: the runs' logs were captured, and the personal data is in the tables.
    assert any("extract" in t for n, t in texts.items() if not n.startswith("xcom")), texts.keys()
    names = query(db, "SELECT nombres_apellidos FROM data_general.ov_afinia "
                      "UNION ALL SELECT nombres_apellidos FROM data_general.ov_aire")
    assert {n for (n,) in names} <= corpus.personal and len(names) > 50
    check_no_personal_data(corpus, texts, problems)

    # Both DAGs again, on the next day: nothing changes (waiting files still wait).
    before = _snapshot(db, s3, bucket, landing)
    second = _run_both(dags, SECOND, problems)
    after = _snapshot(db, s3, bucket, landing)
    for part in before:
        problems.check(after[part] == before[part], f"second run changed {part}: "
                       f"{_diff(before[part], after[part])}")
    check_files(corpus, db, s3, bucket, landing, problems)
    check_run_counts(corpus, db, second, False, problems)
    check_no_personal_data(corpus, _texts(landing, capfd, caplog, list(second.values())),
                           problems)

    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def _diff(before: Any, after: Any) -> str:
    if isinstance(before, dict) and isinstance(after, dict):
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        return ", ".join(sorted(map(str, changed)))[:2000]
    if isinstance(before, list) and isinstance(after, list):
        gone = [r for r in before if r not in after]
        new = [r for r in after if r not in before]
        return f"gone {gone[:5]}, new {new[:5]}"[:2000]
    return "differs"
