"""A regression test: a hidden partial file (a name starting with '.', as rsync, scp -p pipelines
and many copy tools write before their final rename: ``.{name}.XXXXXX``) whose writer
stopped is counted "in progress" by every run for ever and never reported, while the same
partial named ``….crdownload`` is reported as ``temp_file_stale`` after
``ov_orphan_after_hours``. The document it was to become never arrives, and nothing says
so."""

from __future__ import annotations

import dataclasses

import pytest

from extractorov import pipeline, reconcile
from tests.helpers import write_request
from tests.landing_files import AFINIA, write

pytestmark = pytest.mark.integration


def test_a_hidden_partial_file_whose_writer_stopped_is_reported(db, s3, bucket, settings,
                                                                 landing):
    # 0: ask at once (the README's step 5); the age counts from first seen either way.
    settings = dataclasses.replace(settings, orphan_after_hours=0)
    write_request(landing, "afinia", "RE1", "R-1", "20251008_090000")
    # Two copies of the next request's PDF cut short by a writer that stopped.
    write(landing, "RE2_20251008_090100.pdf.crdownload", b"%PDF-1.4 partial")
    write(landing, ".RE2_20251008_090100.pdf.Xy12Ab", b"%PDF-1.4 partial")
    extracted = pipeline.extract(db, AFINIA, settings, "day-1")
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")
    stale = sorted(f.subject for f in report.findings if f.kind == "temp_file_stale")
    assert "RE2_20251008_090100.pdf.crdownload" in stale  # the suffix kind is asked about
    # The hidden one is a temporary file too: same writer, same stop, same question.
    assert ".RE2_20251008_090100.pdf.Xy12Ab" in stale, (stale, extracted.files_in_progress)
