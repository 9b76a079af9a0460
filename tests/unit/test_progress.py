"""Progress lines of long steps (``extractorov.progress``)."""

from __future__ import annotations

import logging

import pytest

from extractorov import progress
from extractorov.progress import Progress


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(1000.0)
    monkeypatch.setattr(progress.time, "monotonic", fake)
    return fake


@pytest.fixture
def progress_log(caplog: pytest.LogCaptureFixture) -> logging.Logger:
    logger = logging.getLogger("tests.unit.progress")
    caplog.set_level(logging.INFO, logger=logger.name)
    return logger


class TestProgress:
    def test_logs_rate_and_time_left(self, clock: FakeClock, progress_log: logging.Logger,
                                     caplog: pytest.LogCaptureFixture) -> None:
        progress = Progress("upload_s3", 100, every=10, logger=progress_log)
        clock.now = 1010.0
        progress.update(50)
        assert caplog.messages == ["upload_s3: 50 / 100 (5/s, 10s left)"]

    def test_throttled_to_every(self, clock: FakeClock, progress_log: logging.Logger,
                                caplog: pytest.LogCaptureFixture) -> None:
        progress = Progress("upload_s3", 100, every=10, logger=progress_log)
        clock.now = 1005.0
        progress.update(10)
        assert caplog.messages == []
        clock.now = 1010.0
        progress.update(20)
        clock.now = 1015.0
        progress.update(30)
        assert caplog.messages == ["upload_s3: 20 / 100 (2/s, 40s left)"]
        clock.now = 1020.0
        progress.update(40)
        assert len(caplog.messages) == 2
        assert caplog.messages[1] == "upload_s3: 40 / 100 (2/s, 30s left)"

    def test_force_logs_immediately(self, clock: FakeClock, progress_log: logging.Logger,
                                    caplog: pytest.LogCaptureFixture) -> None:
        progress = Progress("extract", 4, every=3600, logger=progress_log)
        clock.now = 1002.0
        progress.update(4, force=True)
        assert caplog.messages == ["extract: 4 / 4 done (2/s)"]

    def test_nothing_done_yet(self, clock: FakeClock, progress_log: logging.Logger,
                              caplog: pytest.LogCaptureFixture) -> None:
        progress = Progress("upload_s3", 10, every=0, logger=progress_log)
        progress.update(0, force=True)
        assert caplog.messages == ["upload_s3: 0 / 10 (0/s, unknown time left)"]

    def test_no_line_for_empty_work(self, clock: FakeClock, progress_log: logging.Logger,
                                    caplog: pytest.LogCaptureFixture) -> None:
        """A step with nothing to do says so itself; "0 / 0 (0/s, -1s left)" told nothing."""
        progress = Progress("load_db", 0, every=0, logger=progress_log)
        progress.update(0, force=True)
        assert caplog.messages == []
