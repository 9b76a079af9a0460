"""Quarantine and scans in states left by crashes, full disks and older versions, through
``pipeline.extract`` and ``reconcile`` on the real services.

A quarantined request JSON is a mark in the bot's write order (``pairing``): if it drops
out of view, a placeholder PDF written before it is paired with the next request's JSON,
another customer's folder. These tests check that it never drops out of view.
"""

from __future__ import annotations

import os
import time

import pytest

from extractorov import reconcile
from extractorov.landing import company_folders
from tests.review._common import (
    AFINIA,
    write_pdf,
)

pytestmark = pytest.mark.integration

SIN_SGC = "oficina-virtual/afinia/raw_data/sin_sgc/"


def test_reconcile_waiting_scan_survives_a_file_vanishing(db, s3, bucket, settings, landing,
                                                          monkeypatch):
    lonely = write_pdf(landing, "RE1234", 0, "lonely")
    gone = write_pdf(landing, "RE1235", 0, "gone")
    folders = company_folders(landing, "afinia")
    hours_ago = time.time() - 80 * 3600
    for name in (lonely, gone):
        os.utime(folders.processed / name, (hours_ago, hours_ago))
    real = os.scandir

    class Entry:
        def __init__(self, entry):
            self._entry, self.name, self.path = entry, entry.name, entry.path

        def stat(self, *, follow_symlinks=True):
            if self.name == gone:  # moved away by a human between readdir and stat
                (folders.processed / gone).unlink(missing_ok=True)
            return self._entry.stat(follow_symlinks=follow_symlinks)

        def __getattr__(self, attr):
            return getattr(self._entry, attr)

    class Listing:
        def __init__(self, path):
            self._it = real(path)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._it.close()

        def __iter__(self):
            return (Entry(e) for e in self._it)

    monkeypatch.setattr(os, "scandir", lambda path=".": Listing(path)
                        if os.fspath(path) == os.fspath(folders.processed) else real(path))
    report = reconcile.reconcile(db, s3, AFINIA, settings, run_id="rec-1", upload=False)
    assert [f.file_name for f in report.findings if f.kind == "document_waiting"] == [lonely]
