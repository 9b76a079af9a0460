"""The run manifest: what ``extract`` hands ``load_db`` and the data checks.

A one-line JSON header next to two files in COPY text (the rows for the company
table, and line for line their keys and request JSON files), written atomically.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import Connection

from extractorov import warehouse
from extractorov.companies import Company
from extractorov.landing import (
    company_folders,
)
from extractorov.progress import Progress
from extractorov.records import (
    Record,
)
from extractorov.settings import Settings
from extractorov.spool import LatestRows

log = logging.getLogger(__name__)

def manifest_path(settings: Settings, company: Company, run_id: str) -> Path:
    # Run ids contain ':' and '+'; a checksum keeps distinct ids distinct after cleaning.
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
    return company_folders(settings.landing_root, company.empresa).manifests / (
        f"{safe}-{zlib.crc32(run_id.encode()):08x}.jsonl"
    )


MANIFEST_FORMAT = 2
"""2: the header line names two files next to it, in COPY text: the rows for the company
table (:func:`warehouse.stage_row`) and, line for line, their keys and request JSON files
(:func:`warehouse.key_row`). 1 (before): one JSON line per record after the header;
still loaded."""
ROWS_BLOCK_BYTES = 1024 * 1024
"""``load_db`` streams the rows file to ``COPY`` in blocks of this size."""


def write_manifest(path: Path, company: Company, settings: Settings, latest: LatestRows,
                    *, run_id: str, attempt: str) -> None:
    """The rows and keys files and the one-line JSON header naming them.

    Each is written to a temp file and renamed (atomic), the header last: a header is
    only ever seen with both files complete.
    """
    path.parent.mkdir(exist_ok=True)  # manifests/, in the company's existing folder
    rows, keys = path.with_suffix(".rows"), path.with_suffix(".keys")
    rows_tmp, keys_tmp = rows.with_suffix(".rows.tmp"), keys.with_suffix(".keys.tmp")
    with rows_tmp.open("wb") as rows_out, keys_tmp.open("w", encoding="utf-8",
                                                         newline="") as keys_out:
        write_row, write_key = rows_out.write, keys_out.write
        progress = Progress("extract (manifest)", len(latest))
        for done, (radicado, row, json_files) in enumerate(latest.rows(), start=1):
            write_row(row)
            write_key(warehouse.key_row(radicado, json_files))
            progress.update(done)
        progress.update(len(latest), force=bool(len(latest)))
        # On disk before they are named: a host crash never leaves a header over empty files.
        rows_out.flush()
        keys_out.flush()
        os.fsync(rows_out.fileno())
        os.fsync(keys_out.fileno())
    os.replace(rows_tmp, rows)
    os.replace(keys_tmp, keys)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        header = {"empresa": company.empresa, "bucket": settings.bucket, "records": len(latest),
                  "format": MANIFEST_FORMAT, "rows": rows.name, "keys": keys.name,
                  "run_id": run_id, "attempt": attempt}
        out.write(json.dumps(header) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def drop_manifest(path: Path) -> None:
    """What a manifest write that failed left behind (its temp files, or an older try's
    files of the same run, which no longer describe what is registered)."""
    for leftover in (path, path.with_suffix(".tmp"), path.with_suffix(".rows"),
                     path.with_suffix(".keys"), path.with_suffix(".rows.tmp"),
                     path.with_suffix(".keys.tmp")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _missing(path: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"manifest {path} is missing: rerun the extract task of this DAG run "
        "(the landing folder must be shared by every worker)"
    )


@dataclass
class Manifest:
    header: dict[str, Any]
    keys: Callable[[], Iterator[bytes]]
    rows: Callable[[], Iterator[bytes]]


def read_manifest(path: Path, company: Company) -> Manifest:
    """The header, and the keys and rows as blocks of COPY text."""
    if not path.is_file():
        raise _missing(path)
    with path.open(encoding="utf-8") as handle:
        header = json.loads(handle.readline())
    if "rows" not in header:  # format 1, written by an earlier version
        return Manifest(header, lambda: _legacy(path, company, keys=True),
                         lambda: _legacy(path, company, keys=False))
    files = {}
    for part in ("keys", "rows"):
        files[part] = path.parent / Path(header[part]).name
        if not files[part].is_file():
            raise _missing(files[part])
    return Manifest(header, lambda: row_blocks(files["keys"]),
                     lambda: row_blocks(files["rows"]))


def manifest_whole(manifest_: Manifest) -> bool:
    """Its keys and rows files each hold one line a record, as its header says."""
    if "rows" not in manifest_.header:
        return True  # format 1: load_db checks it as it reads
    records = int(manifest_.header["records"])
    return all(sum(block.count(b"\n") for block in part()) == records
               for part in (manifest_.keys, manifest_.rows))


def row_blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(ROWS_BLOCK_BYTES):
            yield block


def _legacy(path: Path, company: Company, *, keys: bool) -> Iterator[bytes]:
    """Format 1 (one JSON line per record): converted to keys or rows one by one."""
    with path.open(encoding="utf-8") as handle:
        handle.readline()
        for line in handle:
            data = json.loads(line)
            record = Record.from_manifest(data["record"])
            text = (warehouse.key_row(record.numero_radicado, data["files"]) if keys
                    else warehouse.stage_row(company, record))
            yield text.encode("utf-8")



@dataclass(frozen=True)
class ManifestKeys:
    """What the data checks need of a run's manifest: no record content."""

    bucket: str
    radicados: list[str]
    json_files: list[str]
    removed_after_load: int = 0
    """Rows a removal on request (``ov_remove_request``) took out of the manifest after its
    ``load_db`` had loaded them (and out of the table): the load counted them."""


def manifest_keys(conn: Connection, company: Company, manifest: str | Path) -> ManifestKeys:
    """The run's radicados and request JSON files, read back through PostgreSQL's own COPY
    parser (the keys file is COPY text): the exact inverse of what ``extract`` wrote."""
    found = read_manifest(Path(manifest), company)
    try:
        warehouse.stage_keys(conn, found.keys())
        with conn.cursor() as cur:
            cur.execute("SELECT numero_radicado, files FROM ov_keys")
            rows = cur.fetchall()
    finally:
        conn.rollback()  # the staging table goes with the transaction
    return ManifestKeys(found.header["bucket"], [radicado for radicado, _ in rows],
                        [name for _, files in rows for name in files or ()],
                        int(found.header.get("removed_after_load") or 0))
