"""What each step of a company run returns: counts only.

Safe for XCom (no records, no personal data). A module of its own, importing nothing
of the package, so :mod:`extractorov.errors` can carry a summary without importing
the steps that raise it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ExtractSummary:
    manifest: str = ""
    files_found: int = 0
    files_handled_before: int = 0
    files_new: int = 0
    files_in_progress: int = 0
    files_waiting: int = 0
    """Documents left in ``processed/`` for a later run: their request JSON is not there
    yet, or which request owns them cannot be told for sure."""
    files_readmitted: int = 0
    """Files an earlier version quarantined under rules since retired, moved back."""
    manifest_failed: bool = False
    """The run manifest could not be written (a full landing volume): nothing to load."""
    files_reread: int = 0
    """Request JSONs registered by an earlier run whose load has not happened (it failed,
    or that run's load_db waits its turn): read again and loaded by this run, not new."""
    files_quarantined: int = 0
    files_quarantine_failed: int = 0
    """Files that could not be moved to ``quarantine/`` (a full disk…): left in
    ``processed/`` for the next run; the task fails once the rest of the batch is filed."""
    files_reason_lost: int = 0
    """Files in ``quarantine/`` whose reason file is missing, empty or unreadable."""
    files_vanished: int = 0
    files_registered: int = 0
    files_retied: int = 0
    """Filed documents tied anew to the request pairing now gives them (their own JSON, or
    another request's documents, reached ``processed/`` after them)."""
    files_retie_unsure: int = 0
    """Filed documents in a placeholder request's folder whose request cannot be told any
    more: left there, for a person to check (a warning names them)."""
    records_found: int = 0
    records: int = 0
    records_superseded: int = 0
    records_incomplete: int = 0
    """Records loaded with fields the bot left blank (``fecha``, a real SGC)."""
    incomplete_fields: dict[str, int] = field(default_factory=dict)
    bytes_new: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class LoadSummary:
    records: int = 0
    db_inserted: int = 0
    db_updated: int = 0
    db_duplicates: int = 0
    db_stale: int = 0
    """Older extractions with other content than the row: not applied (newest wins)."""
    db_errors: int = 0
    json_files_loaded: int = 0
    seconds: float = 0.0


@dataclass
class UploadSummary:
    files: int = 0
    s3_uploaded: int = 0
    s3_pre_existing: int = 0
    s3_errors: int = 0
    s3_bytes: int = 0
    s3_moved: int = 0
    """Objects that followed their request from ``sin_sgc/`` to its SGC's folder."""
    s3_errors_retryable: int = 0
    seconds: float = 0.0
    errors_by_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
