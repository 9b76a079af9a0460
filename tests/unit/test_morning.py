"""``make morning``: the next morning of sample data, deterministic, new request numbers."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from devtools.standalone import FIRST_MORNING, deliver_morning
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders


def _files(landing: Path) -> dict[str, bytes]:
    return {str(p.relative_to(landing)): p.read_bytes()
            for p in sorted(landing.rglob("*")) if p.is_file()}


def _radicados(landing: Path, empresa: str) -> set[str]:
    return {json.loads(p.read_text())["numero_radicado"]
            for p in company_folders(landing, empresa).processed.glob("*_data_*.json")}


def test_each_morning_is_deterministic_and_brings_new_requests(tmp_path: Path):
    first, again = tmp_path / "a", tmp_path / "b"
    second = FIRST_MORNING + timedelta(days=1)
    for landing in (first, again):
        deliver_morning(landing, FIRST_MORNING, requests_per_day=12, seed=42)
    before = {e: _radicados(first, e) for e in COMPANIES}
    counts = deliver_morning(first, second, requests_per_day=12, seed=42)
    deliver_morning(again, second, requests_per_day=12, seed=42)
    assert _files(first) == _files(again)  # same state, same morning, same bytes
    for empresa in COMPANIES:
        assert counts[empresa] > 0
        added = _radicados(first, empresa) - before[empresa]
        assert len(added) >= 10  # new request numbers (and a few re-scrapes of earlier ones)


def _stopped_instance(tmp_path: Path, monkeypatch) -> Path:
    """The state a stopped `make airflow` leaves: sample settings and a landing folder."""
    from devtools.standalone import state_dir

    monkeypatch.setenv("OV_DEV_DIR", str(tmp_path / ".dev"))
    state = state_dir()
    deliver_morning(state / "landing", FIRST_MORNING, requests_per_day=4, seed=42)
    (state / "sample.json").write_text(json.dumps({
        "start": FIRST_MORNING.isoformat(), "seed": 42, "requests_per_day": 4,
        "mornings": [FIRST_MORNING.isoformat()]}))
    return state


def test_make_morning_refuses_when_make_airflow_is_not_running(tmp_path, monkeypatch, capsys):
    """Its next start would wipe the morning: nothing is written, and it says why."""
    from devtools.standalone import morning

    state = _stopped_instance(tmp_path, monkeypatch)
    before = _files(state / "landing")
    assert morning(None) == 2
    err = capsys.readouterr().err
    assert "`make airflow` is not running, so nothing was delivered" in err
    assert "next start deletes" in err and "trigger" not in err
    assert _files(state / "landing") == before
    # A pid file left by a make airflow that was killed counts as not running.
    (state / "make-airflow.pid").write_text("999999999\n")
    assert morning(None) == 2 and _files(state / "landing") == before


def test_make_morning_delivers_the_next_morning_while_make_airflow_runs(
        tmp_path, monkeypatch, capsys):
    import os

    from devtools.standalone import morning

    state = _stopped_instance(tmp_path, monkeypatch)
    (state / "make-airflow.pid").write_text(f"{os.getpid()}\n")  # alive: this process
    before = _files(state / "landing")
    assert morning(None) == 0
    assert f"morning of {FIRST_MORNING + timedelta(days=1)}" in capsys.readouterr().out
    assert len(_files(state / "landing")) > len(before)
