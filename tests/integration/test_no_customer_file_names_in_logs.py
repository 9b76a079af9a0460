"""Personal data never reaches logs, XCom or messages through file names.

The bot's detail writer names attachments after the file the customer uploaded, which
customers name after themselves: such a name is not one of the bot's own (an SGC, a
placeholder and a time stamp), so it is set aside in quarantine/ and shown everywhere
by its length only."""

from __future__ import annotations

import logging
import os
import time

import pytest

from extractorov import alerts, pipeline, reconcile
from extractorov.landing import company_folders
from tests.landing_files import AFINIA, write

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
