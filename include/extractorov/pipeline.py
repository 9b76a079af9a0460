"""The steps of a company run, as plain functions (no Airflow here).

Each takes an open psycopg connection (and for uploads a boto3 S3 client),
returns a small summary of counts (safe for XCom: no records, no personal
data) and is idempotent: running a step twice leaves the same tables,
registry and bucket as running it once.

This module only gathers them under one name; each lives with its concern:

- :mod:`extractorov.extract`: scan ``processed/``, pair, quarantine, register,
  write the run manifest;
- :mod:`extractorov.manifest`: the manifest's format, read and written;
- :mod:`extractorov.load`: the manifest's requests into the company table;
- :mod:`extractorov.upload`: the registered files to S3;
- :mod:`extractorov.summaries`: the counts each returns.

Patch a step's collaborators where they are looked up (e.g.
``extractorov.extract.scan``), not here.
"""

from __future__ import annotations

from extractorov.extract import extract
from extractorov.load import load
from extractorov.manifest import ManifestKeys, manifest_keys, manifest_path
from extractorov.summaries import ExtractSummary, LoadSummary, UploadSummary
from extractorov.upload import upload, upload_held

__all__ = [
    "ExtractSummary",
    "LoadSummary",
    "ManifestKeys",
    "UploadSummary",
    "extract",
    "load",
    "manifest_keys",
    "manifest_path",
    "upload",
    "upload_held",
]
