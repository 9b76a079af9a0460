"""The landing folder the scraper writes: scanning, file names, quarantine.

Layout per company (``docs/data-contract.md``)::

    {landing_root}/{empresa}/oficina_virtual/processed/    the scraper's output (read)
    {landing_root}/{empresa}/oficina_virtual/quarantine/   rejected files + ``.reason.txt``
    {landing_root}/{empresa}/oficina_virtual/manifests/    one manifest per DAG run
    {landing_root}/{empresa}/oficina_virtual/bot.lock      held while the bot runs (command mode)

Every state these folders can be in, at every instant, is one a reader understands:

* A file moves to ``quarantine/`` only once its reason file is complete on disk (written
  to a temporary file, fsynced, renamed to its name): a crash, a kill or a full disk at
  any step leaves it in ``processed/`` (perhaps with a reason file and no file next to
  it in ``quarantine/``, which readers ignore) or in ``quarantine/`` with its whole
  reason. A failure to quarantine (:class:`NotQuarantined`) leaves it in ``processed/``.
* A file in ``quarantine/`` whose reason file is missing, empty or unreadable (an older
  version stopped between its two steps, a hand move) is still listed, with reason
  :data:`REASON_LOST`.
* Re-admission moves the file back first, then removes its reason file.
* An entry renamed or removed while a folder is read (a download finishing) is skipped.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import mimetypes
import os
import re
import secrets
import stat
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter
from pathlib import Path

from extractorov.errors import LandingMissing
from extractorov.records import MAX_JSON_BYTES, attachment_named_in
from extractorov.settings import BOGOTA

_TS = r"(?P<ts>\d{8}_\d{6})"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Order matters: the first match wins.
    # The download manager's list of a session's requests (a JSON array), before
    # ``{sgc}_data_{ts}`` which it also matches (with "sgc" ``{empresa}_pqr``).
    ("lista", re.compile(rf"(?P<sgc>[A-Za-z0-9]+)_pqr_data_{_TS}\.json\Z")),
    # The detail writer (``pqr_detail_extractor``): ``pqr_data_{sgc}_{ts}.json``, with an
    # empty SGC part (``pqr_data__{ts}.json``) when the portal's SGC field was blank.
    ("data", re.compile(rf"pqr_data_(?P<sgc>.*)_{_TS}\.json\Z")),
    # The bot's request JSON (also an older bot's ``pqr_{n}_data_{ts}.json``).
    ("data", re.compile(rf"(?P<sgc>.+)_data_{_TS}\.json\Z")),
    # Attachments keep the portal file's extension, case and all: any 1-10 letters/digits.
    # Before the detail PDF: ``{sgc}_adjunto_{ts}.pdf`` also matches ``{sgc}_{ts}.pdf``.
    # (At least one letter: a customer's "cedula.1045678901" is no extension.)
    ("adjunto", re.compile(
        rf"(?P<sgc>.+)_adjunto_{_TS}\.(?P<ext>(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{{1,10}})\Z")),
    # The detail writer's PDF: ``{sgc}_PQR_{n}_{ts}.pdf`` (``_PQR_{n}_{ts}.pdf``: SGC blank).
    ("detalle", re.compile(rf"(?P<sgc>.*?)_PQR_[0-9]+_{_TS}\.pdf\Z", re.I)),
    ("detalle", re.compile(rf"(?P<sgc>.+)_{_TS}\.pdf\Z", re.I)),
)
IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".swp")
"""Suffixes of a file still being written. A hidden name (``.name``, rsync's and many copy
tools' ``.name.XXXXXX``) is one too: :func:`is_temporary`."""
_BOT_SGC = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9 -]{0,63}"
                      r"|(?i:pqr)_[0-9]{1,4}(?:_ERROR|_[0-9]{8}_[0-9]{6})?)?\Z")
"""The SGC part of a document name the bot writes: an SGC as the portal lists it
(letters, digits, ``-``, a space; never ``_`` nor ``.``), one of its placeholders
(``PQR_{n}_ERROR``, ``PQR_{n}_{ts}``, ``pqr_{n}``), or nothing (the detail writer's blank
SGC). Anything else in that place (a customer's own file name: ``RE5_Cédula_María_…``)
makes the name someone else's."""

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
    """The SGC part of the name: a real SGC or the bot's placeholder (``PQR_4_ERROR``), or
    ``""`` (the detail writer's names when the SGC was blank: a placeholder too)."""
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
            if kind in ("detalle", "adjunto") and not _BOT_SGC.match(match["sgc"]):
                # The pattern's shape around text the bot never writes there: a document
                # named after a customer's own file (a request JSON's name only ever holds
                # what the portal's list showed, and its content names its request).
                return None
            return FileName(
                kind=_KINDS[kind],
                sgc=match["sgc"],
                timestamp=_file_timestamp(match["ts"], bot_timezone),
                extension=sys.intern(name.rsplit(".", 1)[-1].lower()),
            )
    return None


def is_temporary(name: str) -> bool:
    """A name a writer uses before its final rename: a temporary suffix
    (:data:`IN_PROGRESS_SUFFIXES`) or a hidden name (``.name``, and ``.name.XXXXXX`` as
    rsync, ``scp`` pipelines and many copy tools write). Such a file is "in progress" only
    until ``ov_orphan_after_hours`` after the pipeline first saw it unchanged
    (:mod:`extractorov.firstseen`); then it is a stopped writer's, reported."""
    return name.startswith(".") or name.endswith(IN_PROGRESS_SUFFIXES)


def attachment_named_at(path: Path) -> bool | None:
    """Whether the request JSON at ``path`` names an attachment
    (:func:`extractorov.records.attachment_named_in`); ``None`` when it cannot be read."""
    try:
        return attachment_named_in(read_regular(path, MAX_JSON_BYTES))
    except OSError:  # (NotRegularFile too)
        return None


def may_name_documents(sgc: str) -> bool:
    """Whether a file-name SGC part is one the bot's documents can carry (:data:`_BOT_SGC`):
    a request JSON whose part is not can own no document."""
    return _BOT_SGC.match(sgc) is not None


def final_name(name: str, bot_timezone: tzinfo = BOGOTA) -> str | None:
    """The bot's name a temporary (or refused) entry is, or will be once its writer renames
    it: without the leading dots, the temporary suffixes and (for a hidden name) a last
    ``.XXXXXX`` a copy tool added; ``None`` when that is none of the bot's names.

    Every entry with a request JSON's final name is a mark in the write order, whatever
    state it is in (being written, stopped, a link, quarantined): pairing never concludes
    from its absence."""
    base = name.lstrip(".")
    for suffix in IN_PROGRESS_SUFFIXES:
        base = base.removesuffix(suffix)
    if parse_file_name(base, bot_timezone) is not None:
        return base
    if name.startswith(".") and "." in base:
        cut = base.rpartition(".")[0]
        if parse_file_name(cut, bot_timezone) is not None:
            return cut
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

    @property
    def bot_lock(self) -> Path:
        """Held while the company's bot runs (command mode): ``extractorov.botlock``."""
        return self.root / "bot.lock"

    def require(self, *, processed: bool = True) -> CompanyFolders:
        """``self``, once the bot's folders are there: ``{landing_root}``, ``{empresa}/``,
        ``oficina_virtual/`` and (``processed``) ``processed/``; else :class:`LandingMissing`
        naming the first one missing and the likely causes.

        The pipeline never creates these folders: an unmounted share or a wrong
        ``ov_landing_root`` must fail the run, not give a quiet, green one (only its own
        folders, ``quarantine/`` and ``manifests/``, are made, inside this one).
        """
        landing_root, empresa = self.root.parent.parent, self.root.parent.name
        levels = [(landing_root, "the landing root"),
                  (landing_root / empresa, f"the folder of company {empresa}"),
                  (self.root, f"the bot's folder of {empresa}")]
        if processed:
            levels.append((self.processed, f"the bot's output folder of {empresa}"))
        for path, what in levels:
            if path.is_dir():
                continue
            empty = ""
            if path.parent.is_dir() and path != landing_root:
                with contextlib.suppress(OSError):
                    if not any(os.scandir(path.parent)):
                        empty = f" ({printable(str(path.parent))} is empty)"
            raise LandingMissing(
                f"{what}, {printable(str(path))}, does not exist or is not a folder{empty}. "
                "Likely causes: the landing share is not mounted on this worker, Variable "
                f"ov_landing_root is wrong (it is {printable(str(landing_root))}), or the "
                "company folder was renamed or moved. Nothing was done and the pipeline "
                "never creates the bot's folders: mount the share, fix the Variable or the "
                "folder's name, then clear the task.")
        return self


def company_folders(landing_root: Path | str, empresa: str) -> CompanyFolders:
    return CompanyFolders(Path(landing_root) / empresa / "oficina_virtual")


def require_company_folders(landing_root: Path | str, empresa: str, *,
                            processed: bool = True) -> CompanyFolders:
    """:func:`company_folders`, checked (:meth:`CompanyFolders.require`)."""
    return company_folders(landing_root, empresa).require(processed=processed)


@dataclass
class Scan:
    """The content of ``processed/`` split by what can be done with it now."""

    files: list[LandingFile]
    in_progress: list[str]
    """Names still being written (temp suffixes, modified within the settle time)."""
    not_regular: list[Path]
    """Symlinks and other non-regular entries: never followed, quarantined."""
    stale: list[LandingFile] = field(default_factory=list)
    """Temporary files (``.part``…, hidden ``.name.XXXXXX``: :func:`is_temporary`) untouched
    for over ``stale_seconds``: a writer died. With ``stale_seconds=0`` every temporary
    file, with its size (:func:`extractorov.firstseen.split_stale` then sorts them by
    first-seen age)."""
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
            temporary = is_temporary(entry.name)
            if temporary and stale_seconds is not None:
                stat = _lstat(entry)
                if stat is None:
                    result.vanished.append(entry.name)
                    continue
                if now - stat.st_mtime > stale_seconds:
                    result.stale.append(LandingFile(processed, entry.name, stat.st_size,
                                                    stat.st_mtime))
                    continue
            if temporary:
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


REASON_LOST = "reason lost"
"""The reason of a quarantined file whose reason file is missing, empty or unreadable."""


class NotQuarantined(OSError):
    """The file could not be moved to ``quarantine/`` (its reason file could not be written,
    or the move failed): it is still where it was, and nothing this attempt wrote is left in
    ``quarantine/``. ``errno`` and ``strerror`` say why."""

    @property
    def disk_full(self) -> bool:
        """No space (or no quota) left on the landing volume."""
        return self.errno in (errno.ENOSPC, errno.EDQUOT)


def quarantine(path: Path, reason: str, folders: CompanyFolders, *, run_id: str,
               request_json: str = "") -> Path:
    """Move a file (or link, never its target) to ``quarantine/`` with a reason file; return
    where it is now.

    The reason must not contain personal data: it names fields, not values.
    ``request_json``: for a document that follows its request JSON into quarantine, that
    JSON's name, written as a field of its own (``request_json: …``; :func:`followed_json`).

    The steps, in an order that leaves a state readers understand at every instant:

    1. claim a free name ``N`` in ``quarantine/`` by creating ``N.reason.txt`` empty
       (``O_EXCL``: no other quarantine takes it; a reason file left without its file by a
       crash is never reused, only skipped);
    2. write the reason to a temporary file, fsync it, rename it to ``N.reason.txt``, fsync
       the folder (:func:`_write_reason`);
    3. move the file to ``N`` (``os.replace``).

    Before step 3 the file is in ``processed/`` and ``N.reason.txt`` has no file (readers
    ignore it); after it, the file is in ``quarantine/`` with its whole reason. When a step
    fails (a full disk, a read-only folder) what this call wrote is removed and
    :class:`NotQuarantined` is raised, the file still in ``processed/``;
    ``FileNotFoundError`` when the file itself is gone.
    """
    when = datetime.now(UTC).isoformat(timespec="seconds")
    # One line per field: a name or reason with a newline must not add (or fake) a line.
    text = (f"file: {printable(path.name)}\nreason: {printable(reason)}\n"
            f"run_id: {printable(run_id)}\nquarantined_at: {when}\n")
    if request_json:
        text += f"{_REQUEST_JSON_FIELD}: {printable(request_json)}\n"
    if not os.path.lexists(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    try:
        # Only quarantine/ itself: never the bot's folders above it (CompanyFolders.require).
        folders.quarantine.mkdir(exist_ok=True)
        target, reason_path = _claim(folders.quarantine, _quarantine_name(path.name))
    except OSError as exc:
        raise NotQuarantined(exc.errno, exc.strerror) from exc
    try:
        _write_reason(reason_path, text)
        os.replace(path, target)
    except OSError as exc:
        with contextlib.suppress(OSError):  # the claim (and reason) of a file not moved
            os.unlink(reason_path)
        if isinstance(exc, FileNotFoundError) and not os.path.lexists(path):
            raise  # moved away by someone meanwhile: nothing to quarantine
        raise NotQuarantined(exc.errno, exc.strerror) from exc
    with contextlib.suppress(OSError):  # moved already: only the move's durability
        _sync_folder(folders.quarantine)
    return target


def _claim(folder: Path, name: str) -> tuple[Path, Path]:
    """A free name in ``folder`` (``name``, else ``name.1``, ``name.2``…) and its reason
    file, claimed by creating the reason file empty."""
    counter = 0
    while True:
        target = folder / (f"{name}.{counter}" if counter else name)
        reason = target.with_name(target.name + _REASON_SUFFIX)
        counter += 1
        if os.path.lexists(target):
            continue
        try:
            # O_EXCL | O_NOFOLLOW: never an existing reason file (another's, or one a crash
            # left without its file), never through a planted link.
            os.close(os.open(reason, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                             0o644))
        except FileExistsError:
            continue
        if not os.path.lexists(target):
            return target, reason
        os.unlink(reason)  # a file was put at that name meanwhile (by hand): not ours


def _write_reason(path: Path, text: str) -> None:
    """Put ``text`` in ``path`` whole or not at all, and durably: a temporary file (a name
    readers take for a reason file without its file), fsynced, renamed to ``path``, the
    folder fsynced. The one place a reason file is written."""
    tmp = path.with_name(f".{secrets.token_hex(8)}.tmp{_REASON_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """fsync a folder, so the renames in it survive a crash of the host (nothing where a
    file system cannot fsync a folder)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF}:
            raise
    finally:
        os.close(fd)


_REASON_SUFFIX = ".reason.txt"
_NAME_MAX = 255
"""Bytes in one file name (Linux, most file systems)."""
_PASSES_FOR_REASON = re.compile(r"\.reason\.txt~*\Z")
_COLLISION = re.compile(r"\.[1-9][0-9]*\Z")


def _quarantine_name(name: str) -> str:
    """The name in ``quarantine/``: the original, unless it would pass for a reason file
    (``x.reason.txt`` is stored as ``x.reason.txt~``) or ``.N.reason.txt`` would not fit.

    A scraper name can use all 255 bytes; its reason file needs 11 more. Such a name
    is cut and ends in a hash of the full one; the reason file keeps the full name.
    """
    if _PASSES_FOR_REASON.search(name):
        name += "~"
    raw = os.fsencode(name)
    room = _NAME_MAX - len(_REASON_SUFFIX) - len(".99999")
    if len(raw) <= room:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:12]
    return os.fsdecode(raw[: room - len(digest) - 1]) + "~" + digest


def _original_name(stored: str) -> str:
    """The name a file had in ``processed/``, as far as its name in ``quarantine/`` tells
    (for a file whose reason file is lost): without the ``.N`` a name collision added
    (unless it is the extension of a bot file name, ``…_adjunto_{ts}.7``) and without the
    ``~`` :func:`_quarantine_name` adds. A name cut to fit (``…~{hash}``) stays as stored:
    the part cut off is known only to the lost reason file."""
    name = stored
    collision = _COLLISION.search(name)
    if collision is not None and not (parse_file_name(name) is not None
                                      and parse_file_name(name[:collision.start()]) is None):
        name = name[:collision.start()]
    if _PASSES_FOR_REASON.search(name) and name.endswith("~"):
        name = name[:-1]
    return name


def shown_name(name: str) -> str:
    """A landing file's name as logs, findings, e-mails, forms and XCom may show it.

    As it is (escaped) when it is one of the bot's own names, also while being written
    (``.crdownload``…): those hold an SGC, a placeholder and a time stamp, nothing of a
    customer's. Any other name may be a customer's (the detail writer names attachments
    after the file the customer uploaded: their name, their ID number): only its length
    is shown. The file itself is where it is (``quarantine/`` keeps it, its reason file
    names it, on the landing volume)."""
    if final_name(name) is not None:
        return printable(name)
    return f"<a file name that is not the bot's own ({len(name)} characters)>"


KEPT_BY_A_DECISION = ("a person decided this file is not to be delivered: readmit_quarantine "
                      "never brings it back")
"""In the reason of a file a human review set aside: a bulk re-validation
(``readmit_quarantine=true``) leaves it, so the decision is never undone unseen."""


def shown_key(key: str) -> str:
    """An S3 key as logs, findings, e-mails, forms and XCom may show it: its prefix and
    folders as they are (the company prefix, an SGC, ``sin_sgc/{numero_radicado}``), its
    last segment (a file name) through :func:`shown_name`. An object outside the layout
    may be named after a customer's upload (their name, their ID number): only its length
    is shown. The full key stays in the tables (registry, findings, removal audit)."""
    folder, sep, name = key.rpartition("/")
    return f"{printable(folder)}{sep}{shown_name(name)}" if name else printable(key)


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
    """The name it had in ``processed/`` (the reason file's ``file:`` line; when the reason
    file is lost, what the name in ``quarantine/`` tells: :func:`_original_name`)."""
    reason: str
    run_id: str = ""
    """The run that quarantined it (as the reason file spells it)."""
    reason_lost: bool = False
    """Its reason file is missing, empty, cut short or unreadable: ``reason`` is
    :data:`REASON_LOST`."""
    request_json: str = ""
    """The reason file's ``request_json`` field (a document that followed its request JSON
    into quarantine); read it through :func:`followed_json`, which also knows older reason
    files."""


def read_quarantine(folders: CompanyFolders) -> list[QuarantinedFile]:
    """Every file in ``quarantine/`` and what its reason file says (one small read each).

    A file whose reason file is missing, empty, cut short or unreadable is listed too, with
    reason :data:`REASON_LOST`: a quarantined file is never out of view (pairing, re-admission,
    reconcile and the run's counts all read this). Not files of their own: folders and
    reason files, including one without its file (a quarantine stopped before its move, a
    re-admission before its clean-up, a temporary one), which are ignored. An entry gone
    while it is read is skipped.
    """
    try:
        entries = os.scandir(folders.quarantine)
    except (FileNotFoundError, NotADirectoryError):
        return []
    with entries:
        names = {e.name for e in entries if not e.is_dir(follow_symlinks=False)}
    found: list[QuarantinedFile] = []
    for name in sorted(names):
        reason_name = name + _REASON_SUFFIX
        if name.endswith(_REASON_SUFFIX) and reason_name not in names:
            continue  # a reason file (its file's, or one without its file)
        path = folders.quarantine / name
        reason_path = folders.quarantine / reason_name
        fields: dict[str, str] = {}
        if reason_name in names:
            try:
                fields = _reason_fields(reason_path)
            except (OSError, UnicodeDecodeError):
                fields = {}
        if not os.path.lexists(path):
            continue  # re-admitted or removed while this read
        original, reason = fields.get("file", ""), fields.get("reason")
        if original and reason is not None:
            found.append(QuarantinedFile(path, reason_path, original, reason,
                                         fields.get("run_id", ""),
                                         request_json=fields.get(_REQUEST_JSON_FIELD, "")))
        else:
            found.append(QuarantinedFile(path, reason_path, original or _original_name(name),
                                         REASON_LOST, fields.get("run_id", ""),
                                         reason_lost=True))
    return found


_REQUEST_JSON_FIELD = "request_json"
_FOLLOWED_IN_REASON = re.compile(
    r"request JSON quarantined, no real SGC: its request JSON (?P<name>.+?) was quarantined ")
"""How reason files written before the ``request_json`` field named the JSON a document
followed (``extractorov.extract``'s ``Reason.REQUEST_QUARANTINED`` text)."""


def followed_json(entry: QuarantinedFile) -> str:
    """The name of the request JSON a quarantined document followed into ``quarantine/``
    (its placeholder SGC names no folder), or ``""`` when it followed none (or its reason
    is lost). The one answer to "which request does this quarantined document belong to":
    re-admission brings it back only with that JSON, and a removal of that JSON's request
    takes it along."""
    if entry.request_json:
        return entry.request_json
    match = _FOLLOWED_IN_REASON.match(entry.reason)
    return match["name"] if match else ""


def restate(entry: QuarantinedFile, reason: str) -> QuarantinedFile:
    """Replace the reason of a file that stays in ``quarantine/`` (whole or not at all, as
    :func:`quarantine` writes it), keeping its name, run and :func:`followed_json`; return
    the entry as it is now. The reason must not contain personal data."""
    when = datetime.now(UTC).isoformat(timespec="seconds")
    text = (f"file: {printable(entry.original_name)}\nreason: {printable(reason)}\n"
            f"run_id: {printable(entry.run_id)}\nrestated_at: {when}\n")
    followed = followed_json(entry)
    if followed:
        text += f"{_REQUEST_JSON_FIELD}: {printable(followed)}\n"
    _write_reason(entry.reason_path, text)
    return QuarantinedFile(entry.path, entry.reason_path, entry.original_name, reason,
                           entry.run_id, request_json=followed)


def _reason_fields(path: Path) -> dict[str, str]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, encoding="utf-8") as handle:
        text = handle.read(64 * 1024)
    fields: dict[str, str] = {}
    # Whole lines only: a last line without its newline was cut short (an older version
    # stopped while writing it), and a cut file name or reason is no name or reason.
    for line in text.split("\n")[:-1]:
        key, sep, value = line.partition(": ")
        if sep and key not in fields:
            fields[key] = value
    return fields


def readmit(entry: QuarantinedFile, folders: CompanyFolders) -> bool:
    """Move a quarantined file back to ``processed/`` under its name, then drop its reason
    file (in that order: a crash between the two leaves the file in ``processed/`` and a
    reason file without its file, which readers ignore).

    Only a regular file whose original name is printable (so the reason file spells
    it exactly) and free in ``processed/`` comes back; anything else stays as it is.
    False also when the file is gone meanwhile.
    """
    name = entry.original_name
    if (not name or not name.isprintable() or "/" in name or "\\" in name
            or name in {".", ".."} or entry.path.is_symlink() or not entry.path.is_file()):
        return False
    target = folders.processed / name
    if os.path.lexists(target):
        return False
    folders.require()  # processed/ is the bot's: never created here
    try:
        os.replace(entry.path, target)
    except FileNotFoundError:
        return False  # re-admitted or removed by someone else meanwhile
    with contextlib.suppress(OSError):  # one left behind has no file: readers ignore it
        entry.reason_path.unlink()
    return True
