"""The landing folder the scraper writes: scanning, file names, quarantine.

Layout per company (``domain.md``)::

    {landing_root}/{empresa}/oficina_virtual/processed/    the scraper's output (read)
    {landing_root}/{empresa}/oficina_virtual/quarantine/   rejected files + ``.reason.txt``
    {landing_root}/{empresa}/oficina_virtual/manifests/    one manifest per DAG run
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from extractorov.records import BOGOTA

_TS = r"(?P<ts>\d{8}_\d{6})"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Order matters: an attachment name also matches the detail-PDF pattern.
    ("data", re.compile(rf"(?P<sgc>.+)_data_{_TS}\.json\Z")),
    ("adjunto", re.compile(rf"(?P<sgc>.+)_adjunto_{_TS}\.(?P<ext>pdf|jpe?g|png|docx?)\Z", re.I)),
    ("detalle", re.compile(rf"(?P<sgc>.+)_{_TS}\.pdf\Z", re.I)),
)
_IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".swp")

CONTENT_TYPES: dict[str, str] = {
    "json": "application/json",
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


class FileKind(StrEnum):
    DATA = "data"
    """The request's JSON."""
    DETALLE = "detalle"
    """The detail page printed to PDF."""
    ADJUNTO = "adjunto"
    """The customer's evidence file."""


@dataclass(frozen=True)
class FileName:
    """What a scraper file name says: kind, SGC number, timestamp, extension."""

    kind: FileKind
    sgc: str
    timestamp: datetime | None
    extension: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.extension, "application/octet-stream")


def parse_file_name(name: str) -> FileName | None:
    """Classify a scraper file name, or ``None`` if it is none of the three kinds."""
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(name)
        if match:
            try:
                ts = datetime.strptime(match["ts"], "%Y%m%d_%H%M%S").replace(tzinfo=BOGOTA)
            except ValueError:
                ts = None
            return FileName(
                kind=FileKind(kind),
                sgc=match["sgc"],
                timestamp=ts,
                extension=name.rsplit(".", 1)[-1].lower(),
            )
    return None


@dataclass(frozen=True)
class LandingFile:
    """A regular file found in ``processed/``."""

    path: Path
    size: int
    mtime: float

    @property
    def name(self) -> str:
        return self.path.name


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


def scan(processed: Path, *, settle_seconds: float, now: float | None = None) -> Scan:
    """List ``processed/`` in one pass (``os.scandir``: no stat per file beyond one)."""
    now = datetime.now(UTC).timestamp() if now is None else now
    result = Scan(files=[], in_progress=[], not_regular=[])
    if not processed.is_dir():
        return result
    with os.scandir(processed) as entries:
        for entry in entries:
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                if not entry.is_dir(follow_symlinks=False):
                    result.not_regular.append(Path(entry.path))
                continue
            if entry.name.startswith(".") or entry.name.endswith(_IN_PROGRESS_SUFFIXES):
                result.in_progress.append(entry.name)
                continue
            stat = entry.stat(follow_symlinks=False)
            if now - stat.st_mtime < settle_seconds:
                result.in_progress.append(entry.name)
                continue
            result.files.append(LandingFile(Path(entry.path), stat.st_size, stat.st_mtime))
    result.files.sort(key=lambda f: f.name)
    return result


def sha256_file(path: Path) -> str:
    """SHA-256 hex of a file: the one place file hashes are computed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def quarantine(path: Path, reason: str, folders: CompanyFolders, *, run_id: str) -> Path:
    """Move a file (or link, never its target) to ``quarantine/`` with a reason file.

    The reason must not contain personal data: it names fields, not values.
    """
    folders.quarantine.mkdir(parents=True, exist_ok=True)
    target = folders.quarantine / path.name
    counter = 1
    while _taken(target) or _taken(target.with_name(target.name + ".reason.txt")):
        target = folders.quarantine / f"{path.name}.{counter}"
        counter += 1
    os.replace(path, target)
    when = datetime.now(UTC).isoformat(timespec="seconds")
    text = f"file: {path.name}\nreason: {reason}\nrun_id: {run_id}\nquarantined_at: {when}\n"
    # O_EXCL | O_NOFOLLOW: never overwrite, never write through a planted link.
    fd = os.open(target.with_name(target.name + ".reason.txt"),
                 os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return target


def _taken(path: Path) -> bool:
    return path.exists() or path.is_symlink()
