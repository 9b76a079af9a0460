"""A company whose request R-1 lives everywhere, next to requests that must stay.

Shared by tests/integration/test_remove_request.py (the plain functions) and
tests/e2e/test_remove_request_dag.py (the DAG, answered through the REST API). Built with
the pipeline's own steps on the real services (PostgreSQL, moto S3 over HTTP with
versioning on), then a few things operators and the bucket do by hand.

Request R-1 (afinia, SGC ``RE1``), the one to remove:

* day 1: JSON, detail PDF and attachment filed, loaded, checked and uploaded (run
  ``day-1``);
* its PDF's key then got a second version by hand (a different object: reconcile asks
  about it, ``object_different``); its attachment was deleted by hand (a delete marker)
  and uploaded again by the hourly check (a third version at that key);
* day 2: a re-scrape (JSON and PDF) extracted (run ``day-2``) but not loaded yet: its
  manifest is still to be loaded; a truncated copy of its JSON is in ``quarantine/``;
* a copy of its day-1 JSON in ``archive/2025-10/``; a first sighting of its PDF.

Requests that stay: R-2 shares the SGC folder ``RE1`` (day 1 and a day-2 re-scrape in the
same manifests), R-3 is in ``RE3``; an object put by hand in ``RE1/`` belongs to nobody
known (registered by the hourly check, tied to no request). A copy of R-2's PDF is in the
archive too.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from extractorov import pipeline, reconcile, removal, runsteps
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders, read_quarantine
from tests.helpers import query, seen_hours_ago, write_request

AFINIA = COMPANIES["afinia"]
PREFIX = "oficina-virtual/afinia/raw_data/"
RADICADO = "R-1"
PERSONAL = ("María José Núñez Peña", "1045678901", "maria.nunez@example.com", "3001234567",
            "6053334455", "Cobro excesivo")
"""Field values of every request written here (tests.helpers.write_request)."""


@dataclass
class World:
    a_day1: list[Path]
    a_day2: list[Path]
    b_day1: list[Path]
    b_day2: list[Path]
    c_day1: list[Path]
    quarantined: str
    archived_a: Path
    archived_b: Path
    unrelated_key: str
    day2_manifest: str
    day1_manifest: str
    a_keys: dict[str, str] = field(default_factory=dict)

    def key(self, path: Path, sgc: str = "RE1") -> str:
        return f"{PREFIX}{sgc}/{path.name}"

    @property
    def b_keys(self) -> set[str]:
        return {self.key(p) for p in self.b_day1}


def enable_versioning(s3, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def build(db, s3, bucket: str, settings, landing: Path) -> World:
    enable_versioning(s3, bucket)
    folders = company_folders(landing, "afinia")
    a_day1 = write_request(landing, "afinia", "RE1", RADICADO, "20251008_090000", adjunto="jpg")
    b_day1 = write_request(landing, "afinia", "RE1", "R-2", "20251008_090500")
    c_day1 = write_request(landing, "afinia", "RE3", "R-3", "20251008_091000")
    day1 = pipeline.extract(db, AFINIA, settings, "day-1")
    pipeline.load(db, AFINIA, day1.manifest, run_id="day-1")
    # Its check_data passed (what the DAG runs after load_db): a removal then deletes the
    # loaded manifest whole (before, it rewrites it: tests/integration/
    # test_check_data_of_a_run_is_not_failed_by_a_removal_that_ran_after_its_load.py).
    runsteps.record(db, "day-1", "afinia", runsteps.CHECK_DATA, "1", {"failed": []})
    db.commit()
    pipeline.upload(db, s3, AFINIA, settings, run_id="day-1")

    pdf_key = f"{PREFIX}RE1/{a_day1[1].name}"
    adjunto_key = f"{PREFIX}RE1/{a_day1[2].name}"
    s3.put_object(Bucket=bucket, Key=pdf_key, Body=b"%PDF someone else's detail page")
    s3.delete_object(Bucket=bucket, Key=adjunto_key)  # a delete marker
    unrelated = f"{PREFIX}RE1/RE1_20250101_000000.pdf"
    s3.put_object(Bucket=bucket, Key=unrelated, Body=b"%PDF put here by hand")
    # The hourly check: asks about the PDF, uploads the attachment again, registers the
    # unrelated object (pre_existing, tied to no request).
    reconcile.reconcile(db, s3, AFINIA, settings, run_id="check-1")

    a_day2 = write_request(landing, "afinia", "RE1", RADICADO, "20251009_090000",
                           estado_solicitud="En trámite")
    b_day2 = write_request(landing, "afinia", "RE1", "R-2", "20251009_090500",
                           estado_solicitud="En trámite")
    truncated = folders.processed / "RE1_data_20251009_100000.json"
    truncated.write_text('{"numero_radicado": "R-1", "nombres_apellidos": "María José Núñez '
                         'Peña", "fecha": ', encoding="utf-8")
    os.utime(truncated, (a_day2[0].stat().st_mtime,) * 2)
    day2 = pipeline.extract(db, AFINIA, settings, "day-2")  # its load_db has not run yet
    assert not truncated.exists()  # quarantined: invalid JSON

    archive = folders.root / "archive" / "2025-10"
    archive.mkdir(parents=True)
    archived_a = archive / a_day1[0].name
    archived_b = archive / b_day1[1].name
    shutil.copy2(a_day1[0], archived_a)
    shutil.copy2(b_day1[1], archived_b)
    seen_hours_ago(db, landing, "afinia", a_day1[1].name, hours=1)
    return World(a_day1, a_day2, b_day1, b_day2, c_day1, truncated.name, archived_a,
                 archived_b, unrelated, day2.manifest, day1.manifest,
                 {"json": f"{PREFIX}RE1/{a_day1[0].name}", "pdf": pdf_key,
                  "adjunto": adjunto_key})


def versions(s3, bucket: str, prefix: str = PREFIX) -> list[tuple[str, bool]]:
    """(key, is a delete marker) of every version under ``prefix``."""
    found: list[tuple[str, bool]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        found += [(v["Key"], False) for v in page.get("Versions", [])]
        found += [(m["Key"], True) for m in page.get("DeleteMarkers", [])]
    return sorted(found)


def everything(db, s3, bucket: str, landing: Path) -> dict:
    """What a removal may change (to compare before and after)."""
    folders = company_folders(landing, "afinia")
    return {
        "rows": query(db, "SELECT numero_radicado, hash_contenido FROM data_general.ov_afinia "
                          "ORDER BY 1"),
        "registry": query(db, "SELECT id, s3_key, upload_status FROM "
                              "data_general.s3_files_registry ORDER BY id"),
        "marks": query(db, "SELECT filename FROM data_general.s3_files_loaded ORDER BY 1"),
        "findings": query(db, "SELECT id FROM data_general.reconcile_findings ORDER BY id"),
        "first_seen": query(db, "SELECT filename FROM data_general.landing_first_seen "
                                "ORDER BY 1"),
        "versions": versions(s3, bucket),
        "files": sorted(str(p.relative_to(folders.root)) for p in folders.root.rglob("*")
                        if p.is_file()),
    }


def assert_removed(db, s3, bucket: str, settings, landing: Path, world: World) -> None:
    """Nothing of R-1 anywhere; R-2, R-3 and the unrelated object untouched."""
    folders = company_folders(landing, "afinia")
    assert query(db, "SELECT numero_radicado FROM data_general.ov_afinia ORDER BY 1") == [
        ("R-2",), ("R-3",)]
    keys = {k for (k,) in query(db, "SELECT s3_key FROM data_general.s3_files_registry")}
    a_names = {p.name for p in world.a_day1 + world.a_day2} | {world.quarantined}
    assert not {k for k in keys if k.rsplit("/", 1)[-1] in a_names}
    assert world.b_keys | {world.unrelated_key} <= keys
    left = versions(s3, bucket)
    assert not [k for k, _ in left if k.rsplit("/", 1)[-1] in a_names], left
    assert {k for k, marker in left if not marker} >= world.b_keys | {world.unrelated_key}
    assert not (set(os.listdir(folders.processed)) & a_names)
    assert {p.name for p in world.b_day1 + world.b_day2 + world.c_day1} <= set(
        os.listdir(folders.processed))
    assert not [q for q in read_quarantine(folders) if q.original_name in a_names]
    assert not list(folders.quarantine.glob(f"{world.quarantined}*"))
    assert not world.archived_a.exists() and world.archived_b.exists()
    marks = {n for (n,) in query(db, "SELECT filename FROM data_general.s3_files_loaded")}
    assert not marks & a_names and world.b_day1[0].name in marks
    assert query(db, "SELECT count(*) FROM data_general.reconcile_findings WHERE s3_key = "
                     "ANY(%s)", list(world.a_keys.values())) == [(0,)]
    assert query(db, "SELECT count(*) FROM data_general.landing_first_seen WHERE filename = "
                     "ANY(%s)", sorted(a_names)) == [(0,)]
    assert removal.find(db, s3, AFINIA, settings, RADICADO).removable is False
    db.rollback()
