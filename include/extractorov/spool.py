"""What ``extract`` collects for a whole run, kept on disk instead of in memory.

A first backfill is hundreds of thousands of files: held as Python objects until the
end of the run, each request's parsed record (~2 KB) and each file's registry entry
(~0.6 KB) took ~1 GB of a worker's memory at 250,000 files (docs/performance.md).
Here each is written to an anonymous temporary file (gone when closed or when the
process dies) as it is made, and only what the run decides with stays in memory. The
files are the worker's own (the system temp folder, ``TMPDIR``), never the shared
landing volume: ~1 KB per file at most, read back by the same process.
"""

from __future__ import annotations

import os
import pickle
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Generic, TypeVar

from extractorov.registry import RegistryEntry

_BUFFER = 1024 * 1024
_LENGTH = struct.Struct("<I")
T = TypeVar("T")


class Spool(Generic[T]):
    """Objects in the order they were appended, read back in that order."""

    def __init__(self, folder: Path | None = None) -> None:
        # Closed by close(): the owner holds it for the run (contextlib.closing).
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=folder, buffering=_BUFFER)  # noqa: SIM115
        self._count = 0

    def append(self, item: T) -> None:
        # One pickle per item, each with its own memo (one long stream would keep every
        # object read back alive), framed by its length: pickle.load() on a buffered
        # file copies the whole buffer to find each pickle's end.
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.write(_LENGTH.pack(len(data)))
        self._file.write(data)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[T]:
        self._file.flush()
        self._file.seek(0)
        read = self._file.read
        for _ in range(self._count):
            (length,) = _LENGTH.unpack(read(_LENGTH.size))
            # Only what append() wrote, to a file no other process can open (no name).
            yield pickle.loads(read(length))  # noqa: S301
        self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        self._file.close()


class EntrySpool(Spool[RegistryEntry]):
    """Registry entries in the order they were appended, read back once to register."""

    def __init__(self, folder: Path | None = None) -> None:
        super().__init__(folder)
        self.bytes_total = 0
        """Sum of the entries' ``file_size``."""

    def append(self, item: RegistryEntry) -> None:
        super().append(item)
        self.bytes_total += item.file_size


@dataclass(slots=True)
class Latest:
    """The newest record of one ``numero_radicado`` seen so far, its row on disk."""

    extracted: str
    """Extraction timestamp (ISO 8601, the bot's zone; "" when unknown)."""
    archivo_origen: str
    offset: int
    length: int
    incomplete: tuple[str, ...]
    fecha: datetime | None
    numero_reclamo_sgc: str | None
    files: str | tuple[str, ...]
    """Every request JSON of the radicado read so far, newest or not (one: the name)."""

    @property
    def order(self) -> tuple[str, str]:
        """(extraction timestamp, file name): the larger is the newer (no tuple held: a
        backlog has one per request)."""
        return self.extracted, self.archivo_origen

    @property
    def json_files(self) -> tuple[str, ...]:
        return (self.files,) if isinstance(self.files, str) else self.files


class LatestRows:
    """The newest table row per ``numero_radicado``: rows on disk, their index in memory.

    A row is written only when it is the newest of its radicado so far; an older
    re-scrape read later is not written at all. The manifest copies the winners out
    in the order each radicado was first seen, each with all its request JSONs.
    """

    def __init__(self, folder: Path | None = None) -> None:
        # Closed by close(): the owner holds it for the run (contextlib.closing).
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=folder, buffering=_BUFFER)  # noqa: SIM115
        self._end = 0
        self.index: dict[str, Latest] = {}

    def offer(self, radicado: str, order: tuple[str, str], row: str,
              incomplete: tuple[str, ...], fecha: datetime | None,
              numero_reclamo_sgc: str | None, json_file: str) -> None:
        """Count ``json_file`` as one of ``radicado``'s; keep ``row`` if it is the newest
        of ``radicado`` so far (ties: the first)."""
        current = self.index.get(radicado)
        if current is not None:
            current.files = (*current.json_files, json_file)
            if not order > current.order:
                return
        data = row.encode("utf-8")
        self._file.write(data)
        if current is None:
            self.index[radicado] = Latest(*order, self._end, len(data), incomplete, fecha,
                                          numero_reclamo_sgc, json_file)
        else:
            current.extracted, current.archivo_origen = order
            current.offset, current.length = self._end, len(data)
            current.incomplete, current.fecha = incomplete, fecha
            current.numero_reclamo_sgc = numero_reclamo_sgc
        self._end += len(data)

    def __len__(self) -> int:
        return len(self.index)

    def rows(self) -> Iterator[tuple[str, bytes, tuple[str, ...]]]:
        """(radicado, its row, its request JSONs) in the order radicados were first seen."""
        self._file.flush()
        fd = self._file.fileno()
        for radicado, latest in self.index.items():
            yield radicado, os.pread(fd, latest.length, latest.offset), latest.json_files

    def close(self) -> None:
        self._file.close()
