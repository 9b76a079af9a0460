"""A regression test: ``load_db`` refuses a manifest whose files do not hold what its header says
("truncated or edited files; nothing was written: rerun the extract task, then
load_db"). Rerunning extract, as told, does nothing: a try of the same run finds the
committed try's manifest not loaded and returns its counts, keeping the damaged manifest
("returning its counts instead of scanning again"), so load_db fails again, for ever; the
run's requests are loaded only by a later run that re-reads them."""

from __future__ import annotations

import pytest

from extractorov import pipeline
from extractorov.errors import LoadFailed
from tests.helpers import query, write_request
from tests.landing_files import AFINIA

pytestmark = pytest.mark.integration


def test_rerunning_extract_as_load_db_says_repairs_a_damaged_manifest(
        db, s3, bucket, settings, landing):
    write_request(landing, "afinia", "RE1", "R-1", "20251008_090000")
    write_request(landing, "afinia", "RE2", "R-2", "20251008_090500")
    first = pipeline.extract(db, AFINIA, settings, "day-1", attempt=1)
    rows = first.manifest.removesuffix(".jsonl") + ".rows"
    with open(rows, "rb") as handle:
        lines = handle.readlines()
    with open(rows, "wb") as handle:  # one row lost (a hand edit, a restore from backup)
        handle.writelines(lines[:-1])
    with pytest.raises(LoadFailed, match="rerun the extract task"):
        pipeline.load(db, AFINIA, first.manifest, run_id="day-1")
    # What the message says: rerun extract (its next try), then load_db.
    again = pipeline.extract(db, AFINIA, settings, "day-1", attempt=2)
    pipeline.load(db, AFINIA, again.manifest, run_id="day-1")
    assert query(db, "SELECT numero_radicado FROM data_general.ov_afinia ORDER BY 1") == [
        ("R-1",), ("R-2",)]
