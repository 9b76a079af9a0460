"""Every on-disk state of ``quarantine/`` is one a reader understands, at every instant.

A file is either still in ``processed/`` or in ``quarantine/`` with its complete reason
file; a crash, a kill or a full disk between the steps of a move leaves one of those
(plus, at most, a reason file without its file, which readers ignore). A file whose reason
is missing, empty or unreadable (an older version, a hand move) is listed as quarantined
with reason "reason lost", never dropped. Real files on disk; a full disk is a fault
injected where the reason file is written; a kill is a real child process SIGKILLed
between two steps.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from extractorov import landing
from extractorov.landing import (
    CompanyFolders,
    company_folders,
    quarantine,
    read_quarantine,
    readmit,
)
from tests.diskfull import fill_the_disk_for_reason_files

NAME = "PQR_4_ERROR_data_20251008_122537.json"
DATA = b'{"numero_radicado": ""}'
REASON = "invalid request JSON: numero_radicado is missing or blank"


@pytest.fixture
def folders(tmp_path: Path) -> CompanyFolders:
    result = company_folders(tmp_path / "landing", "afinia")
    result.processed.mkdir(parents=True)
    return result


def put(folders: CompanyFolders, name: str = NAME, data: bytes = DATA) -> Path:
    path = folders.processed / name
    path.write_bytes(data)
    return path


def in_quarantine(folders: CompanyFolders) -> set[str]:
    return set(os.listdir(folders.quarantine)) if folders.quarantine.is_dir() else set()


def assert_readable(folders: CompanyFolders, name: str = NAME, data: bytes = DATA,
                    reason: str = REASON) -> str:
    """The file is in exactly one place a reader understands; returns which."""
    listed = read_quarantine(folders)
    # Nothing in quarantine/ is invisible: every file there is listed (reason files and
    # reason files without their file are not files of their own).
    files = {n for n in in_quarantine(folders) if not n.endswith(".reason.txt")}
    assert files == {q.path.name for q in listed}, (files, listed)
    mine = [q for q in listed if q.original_name == name]
    here = (folders.processed / name).exists()
    assert here != bool(mine), f"in processed/: {here}; listed in quarantine/: {mine}"
    if here:
        assert (folders.processed / name).read_bytes() == data
        return "processed"
    [entry] = mine
    assert entry.reason == reason and entry.path.read_bytes() == data
    return "quarantine"


# --------------------------------------------------------------------------- full disk


def test_quarantine_survives_a_full_disk(folders: CompanyFolders,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    source = put(folders)
    fill_the_disk_for_reason_files(monkeypatch)
    with pytest.raises(OSError) as info:
        quarantine(source, REASON, folders, run_id="run-1")
    assert info.value.errno == errno.ENOSPC
    # The file stays where it was, whole; nothing half-done is left in quarantine/.
    assert source.read_bytes() == DATA
    assert in_quarantine(folders) == set()
    assert assert_readable(folders) == "processed"
    # With room again, the next try quarantines it with its reason.
    monkeypatch.undo()
    quarantine(source, REASON, folders, run_id="run-2")
    assert assert_readable(folders) == "quarantine"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EIO])
def test_a_reason_that_cannot_be_written_leaves_the_file_in_processed(
        folders: CompanyFolders, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    source = put(folders)

    def no_room(path: Path, text: str) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(landing, "_write_reason", no_room)
    with pytest.raises(landing.NotQuarantined) as info:
        quarantine(source, REASON, folders, run_id="run-1")
    assert info.value.errno == code
    assert info.value.disk_full is (code in (errno.ENOSPC, errno.EDQUOT))
    assert source.read_bytes() == DATA
    assert in_quarantine(folders) == set()  # its claim on the name was given back


def test_a_full_disk_at_fsync_leaves_no_temporary_file(folders: CompanyFolders,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    source = put(folders)

    def fsync(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(landing.NotQuarantined):
        quarantine(source, REASON, folders, run_id="run-1")
    assert source.read_bytes() == DATA
    assert in_quarantine(folders) == set()


def test_a_file_that_vanished_is_not_given_a_reason(folders: CompanyFolders) -> None:
    with pytest.raises(FileNotFoundError):
        quarantine(folders.processed / NAME, REASON, folders, run_id="run-1")
    assert in_quarantine(folders) == set()


# --------------------------------------------------------------------------- kills

_CHILD = r"""
import os, sys, time
from pathlib import Path
from extractorov import landing

point, root, name, reason = sys.argv[1:5]
folders = landing.CompanyFolders(Path(root))


def stop():
    print("stopped", flush=True)
    time.sleep(600)


real_replace = os.replace


def replace(src, dst, *args, **kwargs):
    moving = Path(src).parent == folders.processed
    if moving and point == "before_move":
        stop()
    real_replace(src, dst, *args, **kwargs)
    if moving and point == "after_move":
        stop()


os.replace = replace
if point == "writing_reason":
    os.fsync = lambda fd: stop()
landing.quarantine(folders.processed / name, reason, folders, run_id="killed-run")
print("finished", flush=True)
"""


@pytest.mark.parametrize("point", ["writing_reason", "before_move", "after_move"])
def test_a_quarantine_killed_at_any_point_leaves_a_readable_state(
        folders: CompanyFolders, point: str) -> None:
    put(folders)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, point, str(folders.root), NAME,
                              REASON], stdout=subprocess.PIPE, text=True)
    try:
        said = child.stdout.readline().strip()
        if said == "stopped":
            child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
        child.stdout.close()
    assert said in {"stopped", "finished"}
    where = assert_readable(folders)
    if where == "processed":
        # The next run quarantines it again: whatever the killed run left is tolerated.
        quarantine(folders.processed / NAME, REASON, folders, run_id="next-run")
        assert assert_readable(folders) == "quarantine"


def test_a_reason_file_without_its_file_is_ignored_and_tolerated(
        folders: CompanyFolders) -> None:
    folders.quarantine.mkdir()
    # A quarantine stopped before its move, or a re-admission before its clean-up.
    (folders.quarantine / f"{NAME}.reason.txt").write_text(
        f"file: {NAME}\nreason: old reason\nrun_id: r0\nquarantined_at: x\n")
    (folders.quarantine / ".0123456789abcdef.tmp.reason.txt").write_text("file: x\n")
    assert read_quarantine(folders) == []
    quarantine(put(folders), REASON, folders, run_id="run-1")
    assert assert_readable(folders) == "quarantine"
    [entry] = read_quarantine(folders)
    assert entry.run_id == "run-1"


def test_readmission_is_readable_at_each_step(folders: CompanyFolders,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    quarantine(put(folders), REASON, folders, run_id="run-1")
    [entry] = read_quarantine(folders)

    def stopped_before_cleanup(self: Path, *args, **kwargs) -> None:
        raise KeyboardInterrupt  # a kill after the file is back, before its reason goes

    monkeypatch.setattr(Path, "unlink", stopped_before_cleanup)
    with pytest.raises(KeyboardInterrupt):
        readmit(entry, folders)
    monkeypatch.undo()
    assert assert_readable(folders) == "processed"
    assert read_quarantine(folders) == []


# --------------------------------------------------------------------------- reason lost


def lose_reason(folders: CompanyFolders, stored: str, how: str) -> None:
    folders.quarantine.mkdir(exist_ok=True)
    (folders.quarantine / stored).write_bytes(DATA)
    reason = folders.quarantine / f"{stored}.reason.txt"
    if how == "empty":
        reason.write_bytes(b"")
    elif how == "not_utf8":
        reason.write_bytes(b"\xff\xfe garbage")
    elif how == "cut_mid_line":  # an older version stopped while writing it
        reason.write_bytes(f"file: {NAME}\nreason: inval".encode())
    elif how == "a_directory":
        reason.mkdir()
    elif how == "a_link":
        reason.symlink_to(folders.root / "elsewhere.txt")


@pytest.mark.parametrize("how", ["missing", "empty", "not_utf8", "cut_mid_line", "a_directory",
                                 "a_link"])
def test_a_quarantined_file_whose_reason_is_lost_is_still_listed(
        folders: CompanyFolders, how: str) -> None:
    lose_reason(folders, NAME, how)
    [entry] = read_quarantine(folders)
    assert entry.path == folders.quarantine / NAME
    assert entry.original_name == NAME
    assert entry.reason == "reason lost"
    assert entry.reason_lost


@pytest.mark.parametrize(("stored", "original"), [
    (f"{NAME}.1", NAME),                      # the collision suffix is undone
    (f"{NAME}.12", NAME),
    ("RE1_adjunto_20251008_122537.7z", "RE1_adjunto_20251008_122537.7z"),  # an extension
    ("RE1_adjunto_20251008_122537.7z.1", "RE1_adjunto_20251008_122537.7z"),
    ("notes.txt", "notes.txt"),
    ("notes.txt.3", "notes.txt"),
    ("x.reason.txt~", "x.reason.txt"),        # a name that ends like a reason file
    ("x.reason.txt~.2", "x.reason.txt"),
])
def test_the_original_name_of_a_file_whose_reason_is_lost(
        folders: CompanyFolders, stored: str, original: str) -> None:
    lose_reason(folders, stored, "missing")
    [entry] = read_quarantine(folders)
    assert (entry.path.name, entry.original_name, entry.reason) == (stored, original,
                                                                    "reason lost")


def test_a_cut_long_name_whose_reason_is_lost_keeps_its_stored_name(
        folders: CompanyFolders) -> None:
    long = "R" * 300 + "_data_20251008_122537.json"
    stored = landing._quarantine_name(long)
    assert "~" in stored and len(os.fsencode(stored)) < 255
    lose_reason(folders, stored, "empty")
    [entry] = read_quarantine(folders)
    assert (entry.original_name, entry.reason) == (stored, "reason lost")


def test_a_file_whose_reason_is_lost_is_readmitted(folders: CompanyFolders) -> None:
    lose_reason(folders, f"{NAME}.1", "empty")
    [entry] = read_quarantine(folders)
    assert readmit(entry, folders)
    assert (folders.processed / NAME).read_bytes() == DATA
    assert in_quarantine(folders) == set()


def test_a_name_ending_like_a_reason_file_is_stored_so_it_cannot_pass_for_one(
        folders: CompanyFolders) -> None:
    target = quarantine(put(folders, "x.reason.txt", b"evidence"), "unknown", folders,
                        run_id="r1")
    assert target.name == "x.reason.txt~"
    (folders.quarantine / "x.reason.txt~.reason.txt").unlink()  # and then its reason is lost
    [entry] = read_quarantine(folders)
    assert (entry.original_name, entry.reason) == ("x.reason.txt", "reason lost")


# --------------------------------------------------------------------------- vanishing


def test_readmit_of_a_file_that_vanished_meanwhile_is_false(folders: CompanyFolders) -> None:
    quarantine(put(folders), REASON, folders, run_id="run-1")
    [entry] = read_quarantine(folders)
    entry.path.unlink()
    assert readmit(entry, folders) is False


def test_read_quarantine_skips_a_file_readmitted_while_it_reads(
        folders: CompanyFolders, monkeypatch: pytest.MonkeyPatch) -> None:
    quarantine(put(folders), REASON, folders, run_id="run-1")
    quarantine(put(folders, "other.txt"), "unknown", folders, run_id="run-1")
    real = landing._reason_fields

    def racing(path: Path) -> dict[str, str]:
        if path.name.startswith(NAME):  # someone re-admits it between the listing and here
            os.replace(folders.quarantine / NAME, folders.processed / NAME)
        return real(path)

    monkeypatch.setattr(landing, "_reason_fields", racing)
    assert [q.original_name for q in read_quarantine(folders)] == ["other.txt"]


def test_a_document_that_followed_its_request_json_names_it_in_a_field_of_its_reason(
        folders: CompanyFolders) -> None:
    """What a removal of that JSON's request reads to take the document along; reason files
    written before the field name the JSON in the reason's text only."""
    pdf = folders.processed / "PQR_4_ERROR_20251008_090000.pdf"
    pdf.write_bytes(b"%PDF")
    landing.quarantine(pdf, "request JSON quarantined, no real SGC: its request JSON "
                       "PQR_4_ERROR_data_20251008_090005.json was quarantined and …", folders,
                       run_id="day-1", request_json="PQR_4_ERROR_data_20251008_090005.json")
    [entry] = read_quarantine(folders)
    assert entry.request_json == "PQR_4_ERROR_data_20251008_090005.json"
    assert landing.followed_json(entry) == "PQR_4_ERROR_data_20251008_090005.json"
    older = landing.QuarantinedFile(entry.path, entry.reason_path, entry.original_name,
                                    entry.reason, "day-1")
    assert landing.followed_json(older) == "PQR_4_ERROR_data_20251008_090005.json"
    other = landing.QuarantinedFile(entry.path, entry.reason_path, entry.original_name,
                                    "invalid request JSON: …", "day-1")
    assert landing.followed_json(other) == ""
