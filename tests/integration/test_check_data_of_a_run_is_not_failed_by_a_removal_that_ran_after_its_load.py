"""A regression test: ``check_data`` is no writer (not in the company's writer pool) but reads the
run's manifest and checks the run's rows in the table. An approved ``remove_{empresa}``
that takes the writer slot after this run's ``load_db`` (right away on a ``database_only``
run, whose ``upload_s3`` is skipped) deletes the loaded manifest and the removed request's
row: ``check_data`` then fails the run (the manifest is gone; or, had it been read, "load
reported 2, table holds 1"), and the operator gets a failure e-mail for data that is
exactly as intended."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from extractorov import pipeline, removal, tasks
from tests.helpers import write_request
from tests.landing_files import AFINIA

pytestmark = pytest.mark.integration


class _Events(dict):
    def __missing__(self, key):
        self[key] = SimpleNamespace(extra=None)
        return self[key]


def test_check_data_of_a_run_is_not_failed_by_a_removal_that_ran_after_its_load(
        db, s3, bucket, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1", "20251008_090000")
    write_request(landing, "afinia", "RE2", "R-2", "20251008_090500")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    loaded = pipeline.load(db, AFINIA, extracted.manifest, run_id="day-1")
    # The approved removal of R-1 gets the writer slot before this run's check_data runs.
    shown = removal.find(db, s3, AFINIA, settings, "R-1").as_dict()
    db.rollback()
    removal.record_decision(db, "afinia", "R-1", run_id="rm-1", approved=True,
                            decided_by="reviewer", decided_at=datetime.now(UTC),
                            reason="captured by mistake", shown=shown)
    assert removal.remove(db, s3, AFINIA, settings, "R-1", run_id="rm-1").status == "completed"
    # The run's check_data (what the task runs, with the run's XComs).
    context = {"outlet_events": _Events(), "run_id": "day-1"}
    result = tasks.check_data(AFINIA, {"manifest": extracted.manifest},
                              {"records": loaded.records}, context)
    assert result["failed"] == []
    # The manifest was rewritten without R-1's row (R-2's stays), noting what it took.
    keys = pipeline.manifest_keys(db, AFINIA, extracted.manifest)
    assert (keys.radicados, keys.removed_after_load) == (["R-2"], 1)


def test_a_cleared_check_data_after_its_manifest_was_removed_says_it_passed(
        db, s3, bucket, settings, landing):
    """Once the run's checks passed, a removal deletes its loaded manifest whole; clearing
    check_data then returns what passed, never "rerun the extract task"."""
    write_request(landing, "afinia", "RE1", "R-1", "20251008_090000")
    write_request(landing, "afinia", "RE2", "R-2", "20251008_090500")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    loaded = pipeline.load(db, AFINIA, extracted.manifest, run_id="day-1")
    context = {"outlet_events": _Events(), "run_id": "day-1"}
    first = tasks.check_data(AFINIA, {"manifest": extracted.manifest},
                             {"records": loaded.records}, context)
    assert first["failed"] == []
    listing = removal.find(db, s3, AFINIA, settings, "R-1")
    db.rollback()
    assert [m.action for m in listing.manifests] == ["delete"]
    removal.record_decision(db, "afinia", "R-1", run_id="rm-1", approved=True,
                            decided_by="reviewer", decided_at=datetime.now(UTC),
                            reason="captured by mistake", shown=listing.as_dict())
    assert removal.remove(db, s3, AFINIA, settings, "R-1", run_id="rm-1").status == "completed"
    assert not Path(extracted.manifest).exists()
    again = tasks.check_data(AFINIA, {"manifest": extracted.manifest},
                             {"records": loaded.records}, context)
    assert again == first
