"""Tests for ``extractorov.landing``: file names, scanning ``processed/``, quarantine."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from extractorov.landing import (
    CompanyFolders,
    FileKind,
    FileName,
    company_folders,
    final_name,
    parse_file_name,
    quarantine,
    scan,
    sha256_bytes,
    sha256_file,
)

BOGOTA = ZoneInfo("America/Bogota")
TS = datetime(2025, 10, 8, 12, 25, 37, tzinfo=BOGOTA)
NOW = 1_760_000_000.0
"""A fixed 'now' for scan(); files are dated relative to it."""


# --------------------------------------------------------------------------- file names


class TestParseFileName:
    @pytest.mark.parametrize(
        ("name", "kind", "sgc", "ext"),
        [
            ("RE2210202542239_data_20251008_122537.json", FileKind.DATA, "RE2210202542239",
             "json"),
            ("63643842_data_20251008_122537.json", FileKind.DATA, "63643842", "json"),
            ("PQR_1_20251008_122537_data_20251008_122537.json", FileKind.DATA,
             "PQR_1_20251008_122537", "json"),
            ("PQR_3_ERROR_data_20251008_122537.json", FileKind.DATA, "PQR_3_ERROR", "json"),
            ("RE2210202542239_20251008_122537.pdf", FileKind.DETALLE, "RE2210202542239", "pdf"),
            ("PQR_1_20251008_122537_20251008_122537.pdf", FileKind.DETALLE,
             "PQR_1_20251008_122537", "pdf"),
            ("PQR_3_ERROR_20251008_122537.pdf", FileKind.DETALLE, "PQR_3_ERROR", "pdf"),
            ("RE2210202542239_adjunto_20251008_122537.pdf", FileKind.ADJUNTO,
             "RE2210202542239", "pdf"),
            ("RE2210202542239_adjunto_20251008_122537.jpg", FileKind.ADJUNTO,
             "RE2210202542239", "jpg"),
            ("RE2210202542239_adjunto_20251008_122537.jpeg", FileKind.ADJUNTO,
             "RE2210202542239", "jpeg"),
            ("RE2210202542239_adjunto_20251008_122537.png", FileKind.ADJUNTO,
             "RE2210202542239", "png"),
            ("RE2210202542239_adjunto_20251008_122537.docx", FileKind.ADJUNTO,
             "RE2210202542239", "docx"),
            ("RE2210202542239_adjunto_20251008_122537.doc", FileKind.ADJUNTO,
             "RE2210202542239", "doc"),
            ("PQR_1_20251008_122537_adjunto_20251008_122537.pdf", FileKind.ADJUNTO,
             "PQR_1_20251008_122537", "pdf"),
            ("PQR_3_ERROR_adjunto_20251008_122537.png", FileKind.ADJUNTO, "PQR_3_ERROR", "png"),
            ("RE1_adjunto_20251008_122537.PDF", FileKind.ADJUNTO, "RE1", "pdf"),
            ("RE1_adjunto_20251008_122537.JPG", FileKind.ADJUNTO, "RE1", "jpg"),
            ("RE1_20251008_122537.PDF", FileKind.DETALLE, "RE1", "pdf"),
        ],
    )
    def test_known_names(self, name: str, kind: FileKind, sgc: str, ext: str) -> None:
        parsed = parse_file_name(name)
        assert parsed == FileName(kind=kind, sgc=sgc, timestamp=TS, extension=ext)

    def test_attachment_pdf_is_adjunto_not_detalle(self) -> None:
        parsed = parse_file_name("RE2210202542239_adjunto_20251008_122537.pdf")
        assert parsed is not None
        assert parsed.kind is FileKind.ADJUNTO
        assert parsed.sgc == "RE2210202542239"

    def test_timestamp_is_bogota(self) -> None:
        parsed = parse_file_name("RE1_data_20251231_235959.json")
        assert parsed is not None
        assert parsed.timestamp == datetime(2025, 12, 31, 23, 59, 59, tzinfo=BOGOTA)
        assert parsed.timestamp.utcoffset() is not None

    def test_impossible_timestamp_still_classified(self) -> None:
        parsed = parse_file_name("RE1_data_20251399_999999.json")
        assert parsed is not None
        assert parsed.kind is FileKind.DATA
        assert parsed.timestamp is None

    @pytest.mark.parametrize(
        "name",
        [
            "",
            "readme.txt",
            "RE1.json",
            "RE1_data.json",
            "_data_20251008_122537.json",
            "RE1_data_2025108_122537.json",
            "RE1_data_20251008_12253.json",
            "RE1_data_20251008-122537.json",
            "RE1_data_20251008_122537.json.tmp",
            "RE1_data_20251008_122537.JSON.part",
            "RE1_20251008_122537.json",
            "RE1_20251008_122537.jpg",
            "RE1_adjunto_20251008_122537.pdf.exe",
            "RE1_adjunto_20251008_122537",
            "RE1_data_20251008_122537json",
        ],
    )
    def test_unknown_names(self, name: str) -> None:
        assert parse_file_name(name) is None

    @pytest.mark.parametrize(
        "name",
        ["RE1_data_20251008_122537.json\n", "RE1_20251008_122537.pdf\n",
         "RE1_adjunto_20251008_122537.png\n"],
    )
    def test_trailing_newline_is_unknown(self, name: str) -> None:
        assert parse_file_name(name) is None


class TestContentTypes:
    @pytest.mark.parametrize(
        ("name", "content_type"),
        [
            ("RE1_data_20251008_122537.json", "application/json"),
            ("RE1_20251008_122537.pdf", "application/pdf"),
            ("RE1_adjunto_20251008_122537.pdf", "application/pdf"),
            ("RE1_adjunto_20251008_122537.jpg", "image/jpeg"),
            ("RE1_adjunto_20251008_122537.JPEG", "image/jpeg"),
            ("RE1_adjunto_20251008_122537.png", "image/png"),
            ("RE1_adjunto_20251008_122537.doc", "application/msword"),
            ("RE1_adjunto_20251008_122537.docx",
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ],
    )
    def test_content_type(self, name: str, content_type: str) -> None:
        parsed = parse_file_name(name)
        assert parsed is not None
        assert parsed.content_type == content_type

    def test_unknown_extension_is_octet_stream(self) -> None:
        name = FileName(kind=FileKind.ADJUNTO, sgc="RE1", timestamp=None, extension="xyz")
        assert name.content_type == "application/octet-stream"


# --------------------------------------------------------------------------- folders


def test_company_folders(tmp_path: Path) -> None:
    folders = company_folders(tmp_path, "afinia")
    assert folders.root == tmp_path / "afinia" / "oficina_virtual"
    assert folders.processed == tmp_path / "afinia" / "oficina_virtual" / "processed"
    assert folders.quarantine == tmp_path / "afinia" / "oficina_virtual" / "quarantine"
    assert folders.manifests == tmp_path / "afinia" / "oficina_virtual" / "manifests"
    assert company_folders(str(tmp_path), "aire").processed == (
        tmp_path / "aire" / "oficina_virtual" / "processed"
    )


# --------------------------------------------------------------------------- scan


@pytest.fixture
def folders(tmp_path: Path) -> CompanyFolders:
    result = company_folders(tmp_path / "landing", "afinia")
    result.processed.mkdir(parents=True)
    return result


def write(path: Path, data: bytes = b"{}", *, age: float = 3600.0) -> Path:
    path.write_bytes(data)
    os.utime(path, (NOW - age, NOW - age))
    return path


class TestScan:
    def test_regular_files_listed_sorted_with_size_and_mtime(
        self, folders: CompanyFolders
    ) -> None:
        p = folders.processed
        write(p / "RE2_data_20251008_122537.json", b'{"a": 1}')
        write(p / "RE1_20251008_122537.pdf", b"%PDF-1.4 abc", age=120)
        write(p / "notes.txt", b"x")
        result = scan(p, settle_seconds=30, now=NOW)
        assert [f.name for f in result.files] == [
            "RE1_20251008_122537.pdf", "RE2_data_20251008_122537.json", "notes.txt",
        ]
        first = result.files[0]
        assert first.path == p / "RE1_20251008_122537.pdf"
        assert first.size == len(b"%PDF-1.4 abc")
        assert first.mtime == pytest.approx(NOW - 120)
        assert result.in_progress == []
        assert result.not_regular == []

    @pytest.mark.parametrize(
        "name",
        ["RE1_data_20251008_122537.json.tmp", "RE1_20251008_122537.pdf.part",
         ".RE1_data_20251008_122537.json", ".hidden", "x.crdownload", "x.partial", ".x.swp"],
    )
    def test_temp_and_dot_files_in_progress(self, folders: CompanyFolders, name: str) -> None:
        write(folders.processed / name)
        result = scan(folders.processed, settle_seconds=30, now=NOW)
        assert result.in_progress == [name]
        assert result.files == []
        assert result.not_regular == []

    @pytest.mark.parametrize(
        "name", [".RE2_20251008_090100.pdf.Xy12Ab", ".hidden", "x.crdownload"])
    def test_hidden_and_suffixed_files_are_temporary_with_an_age(
            self, folders: CompanyFolders, name: str) -> None:
        """A hidden name (rsync's ``.name.XXXXXX``) is a temporary file like a suffixed
        one: with ``stale_seconds`` it is listed with its size, to be aged from first seen
        and reported once its writer stopped."""
        write(folders.processed / name, age=7200)
        result = scan(folders.processed, settle_seconds=30, now=NOW, stale_seconds=3600)
        assert ([f.name for f in result.stale], result.in_progress) == ([name], [])
        result = scan(folders.processed, settle_seconds=30, now=NOW, stale_seconds=3 * 3600)
        assert (result.stale, result.in_progress) == ([], [name])

    @pytest.mark.parametrize(("name", "final"), [
        ("RE1_data_20251008_122537.json.part", "RE1_data_20251008_122537.json"),
        (".RE1_data_20251008_122537.json", "RE1_data_20251008_122537.json"),
        (".RE1_data_20251008_122537.json.Xy12Ab", "RE1_data_20251008_122537.json"),
        ("RE1_data_20251008_122537.json", "RE1_data_20251008_122537.json"),
        (".hidden", None),
        ("RE1_data_20251008_122537.json.Xy12Ab", None),
    ])
    def test_the_final_name_of_a_temporary_file(self, name: str, final: str | None) -> None:
        assert final_name(name) == final

    def test_recently_modified_in_progress(self, folders: CompanyFolders) -> None:
        p = folders.processed
        write(p / "fresh_data_20251008_122537.json", age=5)
        write(p / "edge_data_20251008_122537.json", age=29.5)
        write(p / "settled_data_20251008_122537.json", age=31)
        result = scan(p, settle_seconds=30, now=NOW)
        assert sorted(result.in_progress) == [
            "edge_data_20251008_122537.json", "fresh_data_20251008_122537.json",
        ]
        assert [f.name for f in result.files] == ["settled_data_20251008_122537.json"]

    def test_settle_zero_lists_everything_regular(self, folders: CompanyFolders) -> None:
        write(folders.processed / "a.json", age=0)
        result = scan(folders.processed, settle_seconds=0, now=NOW)
        assert [f.name for f in result.files] == ["a.json"]

    def test_default_now_is_the_clock(self, folders: CompanyFolders) -> None:
        path = folders.processed / "a.json"
        path.write_bytes(b"{}")  # mtime: just now
        assert scan(folders.processed, settle_seconds=3600).in_progress == ["a.json"]
        assert [f.name for f in scan(folders.processed, settle_seconds=0).files] == ["a.json"]

    def test_symlinks_not_followed(self, folders: CompanyFolders, tmp_path: Path) -> None:
        p = folders.processed
        outside = tmp_path / "outside"
        outside.mkdir()
        secret = write(outside / "secret_data_20251008_122537.json", b'{"secret": 1}')
        inside = write(p / "real_data_20251008_122537.json")
        (p / "out_data_20251008_122537.json").symlink_to(secret)
        (p / "in_data_20251008_122537.json").symlink_to(inside)
        (p / "dir_link").symlink_to(outside, target_is_directory=True)
        (p / "dangling_data_20251008_122537.json").symlink_to(tmp_path / "missing")
        (p / ".hidden_link").symlink_to(secret)
        result = scan(p, settle_seconds=30, now=NOW)
        assert [f.name for f in result.files] == ["real_data_20251008_122537.json"]
        assert sorted(x.name for x in result.not_regular) == [
            ".hidden_link", "dangling_data_20251008_122537.json", "dir_link",
            "in_data_20251008_122537.json", "out_data_20251008_122537.json",
        ]
        assert all(x.parent == p for x in result.not_regular)
        assert result.in_progress == []
        assert secret.read_bytes() == b'{"secret": 1}'

    def test_fifo_is_not_regular(self, folders: CompanyFolders) -> None:
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs on this platform")
        os.mkfifo(folders.processed / "pipe_data_20251008_122537.json")
        result = scan(folders.processed, settle_seconds=30, now=NOW)
        assert [x.name for x in result.not_regular] == ["pipe_data_20251008_122537.json"]
        assert result.files == []

    def test_subdirectories_not_descended(self, folders: CompanyFolders) -> None:
        sub = folders.processed / "old"
        sub.mkdir()
        write(sub / "RE1_data_20251008_122537.json")
        result = scan(folders.processed, settle_seconds=30, now=NOW)
        assert result.files == []
        assert result.not_regular == []

    def test_missing_folder_is_empty(self, tmp_path: Path) -> None:
        result = scan(tmp_path / "nope", settle_seconds=30, now=NOW)
        assert (result.files, result.in_progress, result.not_regular) == ([], [], [])


# --------------------------------------------------------------------------- quarantine


def read_reason(path: Path) -> str:
    return path.with_name(path.name + ".reason.txt").read_text(encoding="utf-8")


class TestQuarantine:
    def test_moves_file_and_writes_reason(self, folders: CompanyFolders) -> None:
        source = write(folders.processed / "RE1_data_20251008_122537.json", b"not json")
        target = quarantine(source, "invalid request JSON: invalid JSON at line 1 column 1",
                            folders, run_id="scheduled__2025-10-08T09:00:00+00:00")
        assert target == folders.quarantine / "RE1_data_20251008_122537.json"
        assert not source.exists()
        assert target.read_bytes() == b"not json"
        reason = read_reason(target)
        assert "file: RE1_data_20251008_122537.json\n" in reason
        assert "reason: invalid request JSON: invalid JSON at line 1 column 1\n" in reason
        assert "run_id: scheduled__2025-10-08T09:00:00+00:00\n" in reason
        assert "quarantined_at: " in reason

    def test_does_not_overwrite_earlier_quarantined_file(self, folders: CompanyFolders) -> None:
        name = "RE1_data_20251008_122537.json"
        first = quarantine(write(folders.processed / name, b"first"), "reason one", folders,
                           run_id="run-1")
        second = quarantine(write(folders.processed / name, b"second"), "reason two", folders,
                            run_id="run-2")
        third = quarantine(write(folders.processed / name, b"third"), "reason three", folders,
                           run_id="run-3")
        assert len({first, second, third}) == 3
        assert first == folders.quarantine / name
        assert second == folders.quarantine / f"{name}.1"
        assert third == folders.quarantine / f"{name}.2"
        assert [first.read_bytes(), second.read_bytes(), third.read_bytes()] == [
            b"first", b"second", b"third",
        ]
        assert "reason one" in read_reason(first) and "run-1" in read_reason(first)
        assert "reason two" in read_reason(second) and "run-2" in read_reason(second)
        assert "reason three" in read_reason(third) and "run-3" in read_reason(third)

    def test_moves_symlink_not_its_target(self, folders: CompanyFolders, tmp_path: Path) -> None:
        outside = tmp_path / "outside.json"
        outside.write_bytes(b"outside content")
        link = folders.processed / "evil_data_20251008_122537.json"
        link.symlink_to(outside)
        target = quarantine(link, "not a regular file (symlink)", folders, run_id="run-9")
        assert target.is_symlink()
        assert os.readlink(target) == str(outside)
        assert not link.exists() and not link.is_symlink()
        assert outside.read_bytes() == b"outside content"
        assert "not a regular file (symlink)" in read_reason(target)
        assert "run-9" in read_reason(target)

    def test_dangling_symlink_in_quarantine_not_overwritten(
        self, folders: CompanyFolders, tmp_path: Path
    ) -> None:
        name = "x_data_20251008_122537.json"
        link = folders.processed / name
        link.symlink_to(tmp_path / "missing")
        first = quarantine(link, "symlink", folders, run_id="r1")
        second = quarantine(write(folders.processed / name, b"data"), "second", folders,
                            run_id="r2")
        assert first.is_symlink()
        assert second == folders.quarantine / f"{name}.1"
        assert second.read_bytes() == b"data"

    def test_creates_quarantine_folder(self, folders: CompanyFolders) -> None:
        assert not folders.quarantine.exists()
        quarantine(write(folders.processed / "a.txt"), "unknown file name", folders, run_id="r")
        assert folders.quarantine.is_dir()

    def test_reason_file_does_not_overwrite_quarantined_file(
        self, folders: CompanyFolders
    ) -> None:
        first = quarantine(write(folders.processed / "x.reason.txt", b"evidence"), "unknown",
                           folders, run_id="r1")
        quarantine(write(folders.processed / "x"), "unknown", folders, run_id="r2")
        assert first.read_bytes() == b"evidence"

    def test_reason_file_never_written_through_symlink(
        self, folders: CompanyFolders, tmp_path: Path
    ) -> None:
        outside = tmp_path / "outside.txt"
        outside.write_bytes(b"do not touch")
        (folders.processed / "x.reason.txt").symlink_to(outside)
        quarantine(folders.processed / "x.reason.txt", "symlink", folders, run_id="r1")
        quarantine(write(folders.processed / "x"), "unknown", folders, run_id="r2")
        assert outside.read_bytes() == b"do not touch"


# --------------------------------------------------------------------------- hashes


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024, 3 * 1024 * 1024 + 17])
def test_sha256_file_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert sha256_file(path) == (hashlib.sha256(data).hexdigest(), size)
    assert sha256_bytes(data) == hashlib.sha256(data).hexdigest()


def test_reads_never_follow_a_link_or_block_on_a_fifo(tmp_path: Path) -> None:
    from extractorov.landing import NotRegularFile, open_regular

    target = tmp_path / "secret"
    target.write_bytes(b"secret")
    os.symlink(target, tmp_path / "link.pdf")
    os.mkfifo(tmp_path / "fifo.pdf")
    for name in ("link.pdf", "fifo.pdf"):
        with pytest.raises(NotRegularFile):
            open_regular(tmp_path / name)
        with pytest.raises(NotRegularFile):
            sha256_file(tmp_path / name)


# ---------------------------------------------------------------- the bot's folders, never made


@pytest.mark.parametrize(("missing", "named"), [
    ("", "the landing root"),
    ("aire", "the folder of company aire"),
    ("aire/oficina_virtual", "the bot's folder of aire"),
    ("aire/oficina_virtual/processed", "the bot's output folder of aire"),
])
def test_a_missing_folder_of_the_bot_is_named_with_its_likely_causes(
        tmp_path: Path, missing: str, named: str) -> None:
    from extractorov.errors import ConfigurationError, LandingMissing
    from extractorov.landing import require_company_folders

    root = tmp_path / "landing"
    company_folders(root, "aire").processed.mkdir(parents=True)
    gone = root / missing if missing else root
    gone.rename(tmp_path / "moved-away")
    with pytest.raises(LandingMissing) as raised:
        require_company_folders(root, "aire")
    message = str(raised.value)
    assert isinstance(raised.value, ConfigurationError)  # not retried: waiting cannot fix it
    assert message.startswith(f"{named}, {gone}, does not exist")
    for cause in ("not mounted", "Variable ov_landing_root is wrong", "renamed"):
        assert cause in message
    assert str(root) in message
    assert not gone.exists(), "checking created the folder"


def test_an_empty_landing_root_says_so(tmp_path: Path) -> None:
    from extractorov.errors import LandingMissing
    from extractorov.landing import require_company_folders

    (tmp_path / "mnt").mkdir()  # a mount point with nothing mounted on it
    with pytest.raises(LandingMissing, match=r"\(.*/mnt is empty\)"):
        require_company_folders(tmp_path / "mnt", "afinia")


def test_quarantine_and_readmit_never_create_the_bots_folders(tmp_path: Path) -> None:
    from extractorov.errors import LandingMissing
    from extractorov.landing import NotQuarantined, QuarantinedFile, readmit

    folders = company_folders(tmp_path / "landing", "afinia")
    stray = tmp_path / "RE1_20251008_093221.pdf"
    stray.write_bytes(b"%PDF")
    # quarantine/ is the pipeline's own folder, but only inside the company's existing one.
    with pytest.raises(NotQuarantined):
        quarantine(stray, "test", folders, run_id="r1")
    assert not (tmp_path / "landing").exists() and stray.exists()
    # A re-admission into a processed/ that is gone fails, naming it; nothing is moved.
    folders.quarantine.mkdir(parents=True)
    kept = folders.quarantine / stray.name
    stray.rename(kept)
    entry = QuarantinedFile(kept, kept.with_name(kept.name + ".reason.txt"), kept.name, "x")
    with pytest.raises(LandingMissing, match="output folder of afinia"):
        readmit(entry, folders)
    assert kept.exists() and not folders.processed.exists()
