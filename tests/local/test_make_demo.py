"""``make demo`` as an operator reads it: a real ``python -m devtools demo`` process.

Its terminal output (stdout and stderr together, as a terminal shows them) says what
really happens to the planted bad files, and ends with the summary: nothing of the
embedded services' shutdown comes after it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]


def test_make_demo_says_what_happens_to_the_bad_files_and_ends_with_its_summary(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "PYTEST")) and k != "XDG_RUNTIME_DIR"}
    env.update({"OV_DEV_DIR": str(tmp_path / ".dev"), "PYTHONUNBUFFERED": "1"})
    result = subprocess.run(
        [sys.executable, "-m", "devtools", "demo", "--days", "2", "--requests-per-day", "4"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=840)
    out = result.stdout
    assert result.returncode == 0, out[-4000:]
    [morning1] = [line for line in out.splitlines() if line.startswith("=== morning 1")]
    # One bad file is quarantined, the other (rightly) waits for its JSON: said so.
    assert "a truncated request JSON, quarantined" in morning1, morning1
    assert "a PDF whose JSON never comes, left waiting in processed/" in morning1, morning1
    lines = [line for line in out.splitlines() if line.strip()]
    summary = lines[lines.index(next(x for x in lines if x.startswith("objects in s3://"))):]
    assert [line.split(":")[0] for line in summary] == [
        "objects in s3", "quarantine reason files",
        "left waiting in processed/ for their request JSON"], summary
    assert summary[1].startswith("quarantine reason files: 2 ")  # one per company
    assert summary[2].startswith("left waiting in processed/ for their request JSON: 2 ")
