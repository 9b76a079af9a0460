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
