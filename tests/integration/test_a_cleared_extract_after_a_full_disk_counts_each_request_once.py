"""A regression test: docs/operacion.md says, for "disk full: … could not be quarantined": free
space and clear ``extract``. The first try committed its registry rows and counts (the
rest of the batch was filed) and failed; its manifest is never loaded (``load_db`` did not
run). The cleared try re-reads the registered, unloaded request JSONs (``files_reread``)
and records its own counts: the run report (``run_steps``, added up per run) then counts
the run's requests twice (``records``, ``records_found``, ``bytes_new``) and one file more
than there were new files."""

from __future__ import annotations

import errno

import pytest

from extractorov import extract as extract_step
from extractorov import landing as landing_module
from extractorov import pipeline, runsteps
from extractorov.errors import QuarantineIncomplete
from tests.helpers import write_request
from tests.landing_files import AFINIA, write

pytestmark = pytest.mark.integration


def test_a_cleared_extract_after_a_full_disk_counts_each_request_once(
        db, s3, bucket, settings, landing, monkeypatch):
    write_request(landing, "afinia", "RE1", "R-1", "20251008_090000")
    write_request(landing, "afinia", "RE2", "R-2", "20251008_090500")
    write(landing, "RE3_data_20251008_091000.json", "{not json")  # to be quarantined

    def disk_full(*args, **kwargs):
        raise landing_module.NotQuarantined(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(extract_step, "quarantine", disk_full)
    with pytest.raises(QuarantineIncomplete):
        pipeline.extract(db, AFINIA, settings, "day-1", attempt=1)
    monkeypatch.setattr(extract_step, "quarantine", landing_module.quarantine)
    # Space freed; the operator clears extract, as the docs say.
    pipeline.extract(db, AFINIA, settings, "day-1", attempt=2)

    run = runsteps.run_totals(db, "day-1", "afinia")["extract"]
    # Five files arrived (two JSONs, two PDFs, one bad JSON); two requests were read.
    assert (run["files_new"], run["records_found"], run["records"]) == (5, 2, 2), run
