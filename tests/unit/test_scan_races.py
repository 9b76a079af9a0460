"""A file renamed or removed while ``processed/`` is scanned is skipped, never a crash.

The bot's browser renames ``x.crdownload`` to ``x`` when a download finishes: between
``readdir`` (which lists the old name) and ``stat`` the old name is gone.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from extractorov import bot, landing
from extractorov.landing import company_folders, scan

NOW = 1_760_000_000.0
ROUNDS = 10


@pytest.fixture
def processed(tmp_path: Path) -> Path:
    folder = company_folders(tmp_path / "landing", "afinia").processed
    folder.mkdir(parents=True)
    return folder


def write(path: Path, age: float = 3600.0) -> Path:
    path.write_bytes(b"%PDF-1.4")
    os.utime(path, (NOW - age, NOW - age))
    return path


class _Entry:
    """A directory entry whose file is renamed by someone just before it is looked at."""

    def __init__(self, entry: os.DirEntry, rename: dict[str, str]) -> None:
        self._entry = entry
        self._rename = rename
        self.name, self.path = entry.name, entry.path

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        new = self._rename.pop(self.name, None)
        if new is not None:
            os.replace(self.path, Path(self.path).with_name(new))
        return self._entry.stat(follow_symlinks=follow_symlinks)

    def __getattr__(self, name: str):
        return getattr(self._entry, name)


def rename_between_readdir_and_stat(monkeypatch: pytest.MonkeyPatch, folder: Path,
                                    rename: dict[str, str]) -> None:
    real = os.scandir

    class Listing:
        def __init__(self, path) -> None:
            self._it = real(path)

        def __enter__(self) -> Listing:
            return self

        def __exit__(self, *exc) -> None:
            self._it.close()

        def __iter__(self):
            return (_Entry(e, rename) for e in self._it)

        def close(self) -> None:
            self._it.close()

    def scandir(path=".") -> object:
        return Listing(path) if Path(path) == folder else real(path)

    monkeypatch.setattr(os, "scandir", scandir)


@pytest.mark.parametrize("stale_seconds", [None, 48 * 3600.0])
def test_scan_skips_a_download_finished_between_readdir_and_stat(
        processed: Path, monkeypatch: pytest.MonkeyPatch, stale_seconds) -> None:
    write(processed / "RE1_20251008_122537.pdf.crdownload", age=100 * 3600)
    write(processed / "RE2_20251008_122537.pdf")
    write(processed / "RE3_20251008_122537.pdf")
    rename_between_readdir_and_stat(monkeypatch, processed, {
        "RE1_20251008_122537.pdf.crdownload": "RE1_20251008_122537.pdf",
        "RE2_20251008_122537.pdf": "RE2_20251008_122537.pdf.moved"})
    result = scan(processed, settle_seconds=30, now=NOW, stale_seconds=stale_seconds)
    names = {f.name for f in result.files} | set(result.in_progress)
    assert {"RE3_20251008_122537.pdf"} <= names
    assert "RE2_20251008_122537.pdf" not in names
    assert "RE2_20251008_122537.pdf" in result.vanished


def test_newest_change_skips_a_file_renamed_while_it_looks(
        processed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(processed / "a.pdf.crdownload", age=10)
    write(processed / "b.pdf", age=20)
    rename_between_readdir_and_stat(monkeypatch, processed, {"a.pdf.crdownload": "a.pdf"})
    assert bot.newest_change(processed) is not None


def test_scan_never_crashes_while_downloads_finish(processed: Path) -> None:
    """Free-running: a thread renames a thousand ``.crdownload`` files back and forth while
    the folder is scanned again and again (bounded; no timing assumption: it checks only
    what every scan saw, and that the last one, after the renames, sees every file)."""
    steady = [write(processed / f"RE{i:05d}_20251008_122537.pdf").name for i in range(2000)]
    downloads = [write(processed / f"RE{i:05d}_adjunto_20251008_122537.jpg.crdownload",
                       age=100 * 3600).name for i in range(1000)]
    done = threading.Event()

    def finish_downloads() -> None:
        # Back and forth a few times (bounded), to overlap many scans; ends finished.
        for rounds_left in range(ROUNDS - 1, -1, -1):
            for name in downloads:
                os.replace(processed / name, processed / name.removesuffix(".crdownload"))
            if rounds_left:
                for name in downloads:
                    os.replace(processed / name.removesuffix(".crdownload"), processed / name)
        done.set()

    finished = {name.removesuffix(".crdownload") for name in downloads}
    known = set(steady) | set(downloads) | finished
    vanished = 0
    worker = threading.Thread(target=finish_downloads)
    worker.start()
    scans = 0
    try:
        while scans < 400 and (not done.is_set() or scans < 3):
            result = scan(processed, settle_seconds=0, now=NOW, stale_seconds=48 * 3600)
            scans += 1
            seen = ({f.name for f in result.files} | set(result.in_progress)
                    | {f.name for f in result.stale} | set(result.vanished))
            # Files nobody touches are always there; a renamed one may be listed under
            # either name, both, or (readdir's rule for entries renamed while it reads)
            # neither; nothing else is ever listed.
            assert set(steady) <= {f.name for f in result.files}
            assert seen <= known
            vanished += len(result.vanished)
    finally:
        worker.join()
    final = scan(processed, settle_seconds=0, now=NOW, stale_seconds=48 * 3600)
    assert {f.name for f in final.files} == set(steady) | finished
    assert (final.in_progress, final.stale, final.vanished) == ([], [], [])
    print(f"\n{scans} scans during the renames, {vanished} entries seen vanishing")


def test_scan_of_a_folder_removed_meanwhile_is_empty(processed: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def gone(path=".") -> object:
        raise FileNotFoundError(2, "No such file or directory", str(path))

    monkeypatch.setattr(os, "scandir", gone)
    result = landing.scan(processed, settle_seconds=0, now=NOW)
    assert (result.files, result.in_progress, result.not_regular) == ([], [], [])
