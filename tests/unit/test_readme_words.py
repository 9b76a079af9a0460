"""The README names task states, never their colours (the UI's palette changes)."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_states_are_named_not_coloured():
    assert not re.search(r"\b(grey|gray|pink|light green|dark green|orange|yellow)\b",
                         README, re.I)
    for state in ("skipped", "success", "queued"):
        assert f"**{state}**" in README


def test_make_airflow_port_and_morning_are_documented():
    assert "make airflow PORT=8081" in README
    assert "make morning" in README
    assert "Each start is fresh" in README
