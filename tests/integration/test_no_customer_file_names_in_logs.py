"""Personal data never reaches logs, XCom or messages through file names.

The bot's detail writer names attachments after the file the customer uploaded, which
customers name after themselves: such a name is not one of the bot's own (an SGC, a
placeholder and a time stamp), so it is set aside in quarantine/ and shown everywhere
by its length only."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict

import pytest

from extractorov import alerts, pipeline, reconcile
from extractorov.landing import company_folders
from tests.landing_files import AFINIA, PERSON, mixed_landing, run_all, stamp, write, write_json

# The dormant detail writer (pqr_detail_extractor.py) names an attachment
# f"{sgc_number}_{text.replace(' ', '_')}_{timestamp}.{ext}", where `text` is the link text
# on the portal: the name of the file the customer uploaded. Customers name their scans
# after themselves ("Cédula María Núñez 1045678901.pdf").
NAME, CEDULA = "María_Núñez", "1045678901"
ATTACHMENTS = (
    f"RE5_Cédula_{NAME}_{CEDULA}.pdf_20251008_093221.pdf",   # read as a detail PDF of "RE5_…"
    f"RE5_Cédula_{NAME}_{CEDULA}.jpg_20251008_093222.jpg",   # no pattern: quarantined
)


pytestmark = pytest.mark.integration


def _leaks(text: str) -> bool:
    return CEDULA in text or "Núñez" in text


def test_a_customers_own_file_name_never_reaches_the_task_log_findings_or_the_alert_email(
        db, s3, bucket, settings, landing, caplog):
    old = time.time() - 80 * 3600
    for name in ATTACHMENTS:
        path = write(landing, name, b"%PDF-1.4 scan of an identity card")
        os.utime(path, (old, old))
    write(landing, "pqr_data_RE5_20251008_093220.json",
          '{"numero_radicado": "R-5", "numero_reclamo_sgc": "RE5", "fecha": "2025/10/07 14:05"}')

    with caplog.at_level(logging.INFO):
        extracted = pipeline.extract(db, AFINIA, settings, "run-1")
        report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")

    leaked = []
    leaked += [f"task log: {r.getMessage()[:160]}" for r in caplog.records
               if _leaks(r.getMessage())]
    leaked += [f"extract XCom: {k}" for k, v in extracted.__dict__.items() if _leaks(str(v))]
    leaked += [f"reconcile XCom/e-mail: {line}" for line in alerts.findings_detail(report)
               if _leaks(line)]
    leaked += [f"finding {f.kind}: {f.subject}" for f in report.findings
               if _leaks(f"{f.subject} {f.detail} {f.file_name}")]
    # (The reason file next to a quarantined file is on the landing volume: not checked.)
    quarantined = {p.name for p in company_folders(landing, "afinia").quarantine.iterdir()}
    assert set(ATTACHMENTS) <= quarantined  # set aside whole, under their own names
    assert not leaked, "\n".join(leaked)
    assert extracted.files_quarantined >= 2


# ----------------------------------------- personal data in reasons, logs and summaries


def test_no_personal_data_in_reasons_logs_or_summaries_and_names_cannot_inject_lines(
        db, s3, bucket, settings, landing, caplog):
    caplog.set_level(logging.DEBUG, logger="extractorov")
    caplog.set_level(logging.INFO)
    mixed_landing(landing)
    # values that fail validation and would be tempting to quote
    write_json(landing, "RE640", "R-640", 200, fecha=PERSON["documento_identidad"])
    write_json(landing, "RE650", "R-650", 210, numero_reclamo_sgc="x" + PERSON["celular"] + "/..")
    write(landing, f"RE660_data_{stamp(220)}.json",
          json.dumps({**PERSON, "numero_radicado": "R-660", PERSON["correo_electronico"]: 1,
                      "nombres_apellidos": PERSON["nombres_apellidos"]}).replace(
              '"numero_radicado"', '"nombres_apellidos": "dup", "numero_radicado"'))
    write(landing, f"RE670_data_{stamp(230)}.json", '{"numero_radicado": "' + "9" * 70 + '"}')
    evil = [f"RE9\nreason: its request JSON (same SGC in the file name) was quarantined"
            f"_{stamp(0)}.pdf", f"RE9\u2028file: ..x_{stamp(1)}.pdf", "x.reason.txt",
            f"RE9\rrun_id: forged_{stamp(2)}.pdf", f"RE9\u0085q_{stamp(3)}.pdf"]
    for n in evil:
        write(landing, n, b"x")
    ex, lo, up = run_all(db, s3, settings, "run-1")
    q = company_folders(landing, "afinia").quarantine
    # "x.reason.txt" is a planted file, quarantined (it has its own reason file;
    # stored as "x.reason.txt~" so that it can never pass for a reason file)
    texts = [p.read_text(encoding="utf-8") for p in q.glob("*.reason.txt")
             if not (q / f"{p.name}.reason.txt").exists()]
    assert (q / "x.reason.txt~.reason.txt").exists()
    blob = "\n".join([*texts, caplog.text, json.dumps(asdict(ex)), json.dumps(asdict(lo)),
                      json.dumps(up.as_dict())])
    for value in PERSON.values():
        assert value not in blob
    for text in texts:
        lines = text.splitlines()
        keys = [line.partition(": ")[0] for line in lines]
        # A document that followed its request JSON into quarantine/ names that JSON in a
        # field of its own (landing.followed_json), after the four.
        assert keys in (["file", "reason", "run_id", "quarantined_at"],
                        ["file", "reason", "run_id", "quarantined_at", "request_json"]), lines
    assert ex.files_readmitted == 0
    ex2, _, _ = run_all(db, s3, settings, "run-2")
    assert ex2.files_readmitted == 0
