"""The landing folder the scraper writes: scanning, file names, quarantine.

Layout per company (``docs/data-contract.md``)::

    {landing_root}/{empresa}/oficina_virtual/processed/    the scraper's output (read)
    {landing_root}/{empresa}/oficina_virtual/quarantine/   rejected files + ``.reason.txt``
    {landing_root}/{empresa}/oficina_virtual/manifests/    one manifest per DAG run

An entry renamed or removed while a folder is read (a download finishing) is skipped.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import mimetypes
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter
from pathlib import Path

from extractorov.settings import BOGOTA

_TS = r"(?P<ts>\d{8}_\d{6})"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Order matters: the first match wins.
    # The download manager's list of a session's requests (a JSON array), before
    # ``{sgc}_data_{ts}`` which it also matches (with "sgc" ``{empresa}_pqr``).
    ("lista", re.compile(rf"(?P<sgc>[A-Za-z0-9]+)_pqr_data_{_TS}\.json\Z")),
    # An older bot: ``pqr_data_{sgc}_{ts}.json``.
    ("data", re.compile(rf"pqr_data_(?P<sgc>.+)_{_TS}\.json\Z")),
    # The bot's request JSON (also an older bot's ``pqr_{n}_data_{ts}.json``).
    ("data", re.compile(rf"(?P<sgc>.+)_data_{_TS}\.json\Z")),
    # Attachments keep the portal file's extension, case and all: any 1-10 letters/digits.
    # Before the detail PDF: ``{sgc}_adjunto_{ts}.pdf`` also matches ``{sgc}_{ts}.pdf``.
    ("adjunto", re.compile(rf"(?P<sgc>.+)_adjunto_{_TS}\.(?P<ext>[A-Za-z0-9]{{1,10}})\Z")),
    # An older bot's detail PDF: ``{sgc}_PQR_{n}_{ts}.pdf``.
    ("detalle", re.compile(rf"(?P<sgc>.+?)_PQR_[0-9]+_{_TS}\.pdf\Z", re.I)),
    ("detalle", re.compile(rf"(?P<sgc>.+)_{_TS}\.pdf\Z", re.I)),
)
IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".swp")

CONTENT_TYPES: dict[str, str] = {
    "json": "application/json",
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "heic": "image/heic",
    "webp": "image/webp",
    "txt": "text/plain",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "zip": "application/zip",
    "rar": "application/vnd.rar",
    "7z": "application/x-7z-compressed",
    "msg": "application/vnd.ms-outlook",
    "eml": "message/rfc822",
    "mp3": "audio/mpeg",
    "mp4": "video/mp4",
}
"""Content types by lower-case extension. Python's built-in table (never the host's
``/etc/mime.types``, so every worker agrees) answers the rest; unknown ones are
``application/octet-stream``."""

_BUILTIN_TYPES = mimetypes.MimeTypes(filenames=())


def content_type_for(extension: str) -> str:
    ext = extension.lower()
    known = CONTENT_TYPES.get(ext)
    if known:
        return known
    guessed, _ = _BUILTIN_TYPES.guess_type(f"file.{ext}", strict=False)
    return guessed or "application/octet-stream"


class FileKind(StrEnum):
    DATA = "data"
    """The request's JSON."""
    DETALLE = "detalle"
    """The detail page printed to PDF."""
    ADJUNTO = "adjunto"
    """The customer's evidence file."""
    LISTA = "lista"
    """The download manager's list of a session's requests: not one request."""


_KINDS: dict[str, FileKind] = {kind.value: kind for kind in FileKind}
DOCUMENT_KINDS = frozenset({FileKind.DETALLE, FileKind.ADJUNTO})
"""The files that belong to a request JSON and go to its S3 folder."""


@dataclass(frozen=True, slots=True)
class FileName:
    """What a scraper file name says: kind, SGC number, timestamp, extension."""

    kind: FileKind
    sgc: str
    """The SGC part of the name: a real SGC or the bot's placeholder (``PQR_4_ERROR``)."""
    timestamp: datetime | None
    extension: str
    """Lower case (the name itself keeps its case)."""

    @property
    def content_type(self) -> str:
        return content_type_for(self.extension)


def parse_file_name(name: str, bot_timezone: tzinfo = BOGOTA) -> FileName | None:
    """Classify a scraper file name, or ``None`` if it is none of the known kinds.

    The scraper never writes control or format characters (newline, tab, ESC,
    bidi overrides), bytes that are not UTF-8 (surrogate escapes) or a backslash
    (a Windows path unzipped on Linux): such a name is not its output, and could
    not be an S3 key or one line of a reason file. ``bot_timezone`` is the zone of
    the bot host's naive clock (Variable ``ov_bot_timezone``).
    """
    if not name.isprintable() or "\\" in name:
        return None
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(name)
        if match:
            return FileName(
                kind=_KINDS[kind],
                sgc=match["sgc"],
                timestamp=_file_timestamp(match["ts"], bot_timezone),
                extension=sys.intern(name.rsplit(".", 1)[-1].lower()),
            )
    return None


@lru_cache(maxsize=4096)
def _file_timestamp(text: str, tz: tzinfo = BOGOTA) -> datetime | None:
    """``YYYYMMDD_HHMMSS`` (the bot's clock) → aware datetime, or ``None`` if no such moment.

    Every file of a scan goes through here, so the common case (ASCII digits) is
    built directly, ~5x faster than ``strptime``; the result is the same: each
    field is exactly two (year: four) digits and ``datetime`` rejects what
    ``strptime`` rejects. Other digits (``\\d`` also matches non-ASCII ones) take
    the ``strptime`` path. Cached: a request's files share their second, and one
    ``datetime`` for them all keeps a backlog's names small in memory.
    """
    if text.isascii():
        try:
            return datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[9:11]),
                            int(text[11:13]), int(text[13:15]), tzinfo=tz)
        except ValueError:
            return None
    try:
        return datetime.strptime(text, "%Y%m%d_%H%M%S").replace(tzinfo=tz)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class LandingFile:
    """A regular file found in ``processed/``.

    A backlog folder holds hundreds of thousands: each keeps its folder (shared) and
    name, and makes its ``Path`` only when asked (a ``Path`` each costs ~0.3 KB).
    """

    folder: Path
    name: str
    size: int
    mtime: float

    @property
    def path(self) -> Path:
        return self.folder / self.name


@dataclass(frozen=True)
class CompanyFolders:
    root: Path

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"


def company_folders(landing_root: Path | str, empresa: str) -> CompanyFolders:
    return CompanyFolders(Path(landing_root) / empresa / "oficina_virtual")


@dataclass
class Scan:
    """The content of ``processed/`` split by what can be done with it now."""

    files: list[LandingFile]
    in_progress: list[str]
    """Names still being written (temp suffixes, modified within the settle time)."""
    not_regular: list[Path]
    """Symlinks and other non-regular entries: never followed, quarantined."""
    stale: list[LandingFile] = field(default_factory=list)
    """Temporary files (``.part``…) untouched for over ``stale_seconds``: a writer died."""
    vanished: list[str] = field(default_factory=list)
    """Names listed but gone (renamed, removed) before they could be looked at: skipped.
    A finished download (``x.crdownload`` renamed to ``x``) is one; the next scan sees it."""


def _lstat(entry: os.DirEntry[str]) -> os.stat_result | None:
    """The entry's own ``stat`` (links not followed), or ``None`` if it is gone meanwhile."""
    try:
        return entry.stat(follow_symlinks=False)
    except FileNotFoundError:
        return None


def scan(processed: Path, *, settle_seconds: float, now: float | None = None,
         stale_seconds: float | None = None) -> Scan:
    """List ``processed/`` in one pass (``os.scandir``: no stat per file beyond one).

    The bot writes while this reads: an entry renamed or removed between the listing and
    its ``stat`` is skipped (:attr:`Scan.vanished`), never an error.
    """
    now = datetime.now(UTC).timestamp() if now is None else now
    result = Scan(files=[], in_progress=[], not_regular=[])
    found: list[LandingFile] = []
    try:
        entries = os.scandir(processed)
    except (FileNotFoundError, NotADirectoryError):
        return result
    with entries:
        for entry in entries:
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                if not entry.is_dir(follow_symlinks=False):
                    result.not_regular.append(Path(entry.path))
                continue
            if entry.name.endswith(IN_PROGRESS_SUFFIXES) and stale_seconds is not None:
                stat = _lstat(entry)
                if stat is None:
                    result.vanished.append(entry.name)
                    continue
                if now - stat.st_mtime > stale_seconds:
                    result.stale.append(LandingFile(processed, entry.name, stat.st_size,
                                                    stat.st_mtime))
                    continue
            if entry.name.startswith(".") or entry.name.endswith(IN_PROGRESS_SUFFIXES):
                result.in_progress.append(entry.name)
                continue
            stat = _lstat(entry)
            if stat is None:
                result.vanished.append(entry.name)
                continue
            if now - stat.st_mtime < settle_seconds:
                result.in_progress.append(entry.name)
                continue
            found.append(LandingFile(processed, entry.name, stat.st_size, stat.st_mtime))
    found.sort(key=attrgetter("name"))
    result.files = found
    return result


class NotRegularFile(OSError):
    """The name is (now) a symbolic link, a FIFO, a device or a directory: never read."""


def open_regular(path: Path) -> int:
    """Open for reading without following a link or blocking on a FIFO; regular files only.

    The scan saw a regular file, but it can be swapped before it is read: every read
    of a landing file goes through here (``O_NOFOLLOW``, then ``fstat`` on the open
    descriptor), so a link planted after the scan is never followed.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegularFile(errno.ELOOP, "is a symbolic link") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotRegularFile(errno.EINVAL, "is not a regular file")
    return fd


def read_regular(path: Path, limit: int) -> bytes:
    """The whole file (at most ``limit`` + 1 bytes: the caller sees it is over the limit)."""
    with os.fdopen(open_regular(path), "rb") as handle:
        return handle.read(limit + 1)


def sha256_file(path: Path) -> tuple[str, int]:
    """SHA-256 hex and size of a file from one read: the one place file hashes are computed.

    Size and hash come from the same bytes, so a file that grows after the scan is
    registered as it was read, never with a size that no object will match.
    """
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(open_regular(path), "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def quarantine(path: Path, reason: str, folders: CompanyFolders, *, run_id: str) -> Path:
    """Move a file (or link, never its target) to ``quarantine/`` with a reason file.

    The reason must not contain personal data: it names fields, not values.
    """
    folders.quarantine.mkdir(parents=True, exist_ok=True)
    name = _quarantine_name(path.name)
    target = folders.quarantine / name
    counter = 1
    while _taken(target) or _taken(target.with_name(target.name + _REASON_SUFFIX)):
        target = folders.quarantine / f"{name}.{counter}"
        counter += 1
    os.replace(path, target)
    when = datetime.now(UTC).isoformat(timespec="seconds")
    # One line per field: a name or reason with a newline must not add (or fake) a line.
    text = (f"file: {printable(path.name)}\nreason: {printable(reason)}\n"
            f"run_id: {printable(run_id)}\nquarantined_at: {when}\n")
    # O_EXCL | O_NOFOLLOW: never overwrite, never write through a planted link.
    fd = os.open(target.with_name(target.name + _REASON_SUFFIX),
                 os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return target


def _taken(path: Path) -> bool:
    return path.exists() or path.is_symlink()


_REASON_SUFFIX = ".reason.txt"
_NAME_MAX = 255
"""Bytes in one file name (Linux, most file systems)."""


def _quarantine_name(name: str) -> str:
    """The name in ``quarantine/``: the original, unless ``.N.reason.txt`` would not fit.

    A scraper name can use all 255 bytes; its reason file needs 11 more. Such a name
    is cut and ends in a hash of the full one; the reason file keeps the full name.
    """
    raw = os.fsencode(name)
    room = _NAME_MAX - len(_REASON_SUFFIX) - len(".99999")
    if len(raw) <= room:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:12]
    return os.fsdecode(raw[: room - len(digest) - 1]) + "~" + digest


def printable(text: str) -> str:
    """``text`` on one visible line: non-printable characters become escapes.

    A byte that was not UTF-8 in a file name (a surrogate escape) shows as ``\\xNN``.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            out.append(ascii(ch)[1:-1])
    return "".join(out)


@dataclass(frozen=True)
class QuarantinedFile:
    """A file in ``quarantine/`` and what its reason file says."""

    path: Path
    reason_path: Path
    original_name: str
    """The name it had in ``processed/`` (the reason file's ``file:`` line)."""
    reason: str
    run_id: str = ""
    """The run that quarantined it (as the reason file spells it)."""


def read_quarantine(folders: CompanyFolders) -> list[QuarantinedFile]:
    """Every quarantined file that still has its reason file (one small read each)."""
    if not folders.quarantine.is_dir():
        return []
    found: list[QuarantinedFile] = []
    with os.scandir(folders.quarantine) as entries:
        reason_files = [e.name for e in entries
                        if e.name.endswith(_REASON_SUFFIX) and e.is_file(follow_symlinks=False)]
    for reason_name in sorted(reason_files):
        reason_path = folders.quarantine / reason_name
        try:
            fields = _reason_fields(reason_path)
        except (OSError, UnicodeDecodeError):
            continue
        original = fields.get("file", "")
        path = reason_path.with_name(reason_name.removesuffix(_REASON_SUFFIX))
        if original and os.path.lexists(path):
            found.append(QuarantinedFile(path, reason_path, original, fields.get("reason", ""),
                                         fields.get("run_id", "")))
    return found


def _reason_fields(path: Path) -> dict[str, str]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, encoding="utf-8") as handle:
        text = handle.read(64 * 1024)
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key not in fields:
            fields[key] = value
    return fields


def readmit(entry: QuarantinedFile, folders: CompanyFolders) -> bool:
    """Move a quarantined file back to ``processed/`` under its name; drop its reason.

    Only a regular file whose original name is printable (so the reason file spells
    it exactly) and free in ``processed/`` comes back; anything else stays as it is.
    """
    name = entry.original_name
    if (not name.isprintable() or "/" in name or "\\" in name or name in {".", ".."}
            or entry.path.is_symlink() or not entry.path.is_file()):
        return False
    target = folders.processed / name
    if os.path.lexists(target):
        return False
    folders.processed.mkdir(parents=True, exist_ok=True)
    os.replace(entry.path, target)
    # A crash here leaves a reason file without its file: harmless, read_quarantine skips it.
    with contextlib.suppress(FileNotFoundError):
        entry.reason_path.unlink()
    return True
