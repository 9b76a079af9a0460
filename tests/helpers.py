"""Helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from extractorov.landing import company_folders
from extractorov.settings import BOGOTA


def list_keys(client, bucket: str, prefix: str = "") -> dict[str, int]:
    """Every object key under a prefix with its size (paginated listing)."""
    keys: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            keys[obj["Key"]] = obj["Size"]
    return keys


def query(conn, sql: str, *params) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    conn.commit()
    return rows


def write_request(
    landing: Path,
    empresa: str,
    sgc: str,
    radicado: str,
    ts: str = "20251008_093221",
    *,
    pdf: bool = True,
    adjunto: str | None = None,
    **fields: Any,
) -> list[Path]:
    """Write one request as the scraper does: JSON, detail PDF, optional attachment."""
    processed = company_folders(landing, empresa).processed
    processed.mkdir(parents=True, exist_ok=True)
    record = {
        "record_number": 1, "sgc_number": sgc, "extraction_timestamp": ts,
        "page_url": "https://caribemar.facture.co/x", "page_title": "Detalle",
        "numero_radicado": radicado, "numero_reclamo_sgc": sgc, "fecha": "2025/10/07 14:05",
        "estado_solicitud": "Finalizado", "tipo_pqr": "Reclamo", "nic": "1234567",
        "documento_identidad": "1045678901", "nombres_apellidos": "María José Núñez Peña",
        "correo_electronico": "maria.nunez@example.com", "telefono": "6053334455",
        "celular": "3001234567", "lectura": "12345", "canal_respuesta": "Correo electrónico",
        # The bot saves an attachment only when the page names one (documento_prueba).
        "documento_prueba": f"3f2a9c1e-6b7d-4e2f-9a10-5c3b2d1e0f9a.{adjunto}" if adjunto else "",
        "cuerpo_reclamacion": "Cobro excesivo en la factura.",
    }
    record.update(fields)
    paths = [processed / f"{sgc}_data_{ts}.json"]
    paths[0].write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    if pdf:
        paths.append(processed / f"{sgc}_{ts}.pdf")
        paths[-1].write_bytes(b"%PDF-1.4\n% detalle " + sgc.encode() + b"\n%%EOF\n")
    if adjunto:
        paths.append(processed / f"{sgc}_adjunto_{ts}.{adjunto}")
        paths[-1].write_bytes(b"adjunto " + sgc.encode() + b" " + ts.encode())
    when = datetime.strptime(ts, "%Y%m%d_%H%M%S").replace(tzinfo=BOGOTA).timestamp()
    for path in paths:
        os.utime(path, (when, when))
    return paths


def seen_hours_ago(db, landing: Path, empresa: str, *names: str, hours: float) -> None:
    """Write the first sighting of waiting files of ``processed/`` ``hours`` in the past:
    time passes for ``ov_orphan_after_hours`` (``extractorov.firstseen``), not for the
    files. Without ``names``: every document and temporary file there."""
    from extractorov import firstseen, warehouse
    from extractorov.landing import IN_PROGRESS_SUFFIXES, parse_file_name, printable

    warehouse.ensure_schema(db)
    processed = company_folders(landing, empresa).processed
    if not names:
        names = tuple(p.name for p in processed.iterdir() if p.name.endswith(
            IN_PROGRESS_SUFFIXES) or ((n := parse_file_name(p.name)) and n.kind.value in {
                "detalle", "adjunto"}))
    with db.cursor() as cur:
        for name in names:
            cur.execute(
                f"""INSERT INTO {firstseen.TABLE} (empresa, filename, file_size, first_seen)
                    VALUES (%s, %s, %s, now() - %s * interval '1 hour')
                    ON CONFLICT (empresa, filename, file_size)
                    DO UPDATE SET first_seen = EXCLUDED.first_seen""",
                (empresa, printable(name), os.lstat(processed / name).st_size, hours))
    db.commit()


def scheduler_timetable(dag):
    """The timetable the scheduler works with: the DAG serialized as the dag-processor
    stores it and read back (a DAG file declares ``airflow.sdk`` timetables; the scheduler
    computes runs with what they deserialize into)."""
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(dag)).timetable


class Outlets(dict):
    """``context["outlet_events"]``: an accessor per asset, created on first use."""

    def __missing__(self, asset):
        from types import SimpleNamespace

        self[asset] = SimpleNamespace(extra=None)
        return self[asset]


def task_context(run_id: str = "manual__2025-10-09T09:00:00+00:00", try_number: int = 1,
                 **params) -> dict:
    """The context a task body of :mod:`extractorov.tasks` gets, as the DAG files call it."""
    from types import SimpleNamespace

    return {"run_id": run_id, "ti": SimpleNamespace(try_number=try_number),
            "params": {"database_only": False, "readmit_quarantine": False, **params},
            "outlet_events": Outlets()}
