"""Bot-shaped landing files for the tests on the real services.

The writers put a request's files in ``processed/`` as the bot names them (an SGC or a
placeholder, a Bogotá time stamp ``OLD + seconds``) with every record carrying the same
personal data (:data:`PERSON`); :func:`run_all` runs extract → load → upload as one DAG
run does, and :func:`state` is everything a rerun must leave unchanged.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

from extractorov import pipeline
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders
from extractorov.settings import BOGOTA
from tests.helpers import query

AFINIA = COMPANIES["afinia"]
AIRE = COMPANIES["aire"]
OLD = datetime(2025, 10, 8, 4, 0, tzinfo=BOGOTA)
PERSON = {"nombres_apellidos": "Zoraida Quiñones Ibáñez", "documento_identidad": "1099887766",
          "correo_electronico": "zoraida.quinones@example.org", "celular": "3157778899",
          "telefono": "6054441122"}


def stamp(seconds: float) -> str:
    return (OLD + timedelta(seconds=seconds)).strftime("%Y%m%d_%H%M%S")


def prefix(empresa: str = "afinia") -> str:
    return f"oficina-virtual/{empresa}/raw_data/"


def record(sgc: str, radicado: str, ts: str, **fields) -> dict:
    rec = {
        "record_number": 4, "sgc_number": sgc, "extraction_timestamp": ts,
        "page_url": "https://caribemar.facture.co/x", "page_title": "Detalle",
        "nic": "1234567", "fecha": "2025/10/07 14:05", "lectura": "12345",
        "tipo_pqr": "Reclamo", "canal_respuesta": "Correo",
        # Names an evidence file unless a test says otherwise: a JSON naming none never
        # owns an attachment (pairing.JsonMark.attachment), and tests write them apart.
        "documento_prueba": "5d1c7a2e-8f3b-4c6d-9e0a-1b2c3d4e5f60.jpg",
        "cuerpo_reclamacion": "Cobro excesivo", "numero_radicado": radicado,
        "estado_solicitud": "Finalizado",
        "numero_reclamo_sgc": "" if sgc.upper().startswith("PQR") else sgc, **PERSON,
    }
    rec.update(fields)
    return rec


def write(landing: Path, name: str, data: bytes | str, *, empresa: str = "afinia",
          mtime: float | None = None) -> Path:
    processed = company_folders(landing, empresa).processed
    processed.mkdir(parents=True, exist_ok=True)
    path = processed / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    when = OLD.timestamp() if mtime is None else mtime
    os.utime(path, (when, when))
    return path


def write_json(landing: Path, sgc: str, radicado: str, at: float, *, empresa: str = "afinia",
               **fields) -> str:
    name = f"{sgc}_data_{stamp(at)}.json"
    write(landing, name, json.dumps(record(sgc, radicado, stamp(at), **fields),
                                    ensure_ascii=False, indent=2), empresa=empresa)
    return name


def write_pdf(landing: Path, sgc: str, at: float, tag: str, *, empresa: str = "afinia") -> str:
    name = f"{sgc}_{stamp(at)}.pdf"
    write(landing, name, f"%PDF-1.4 {tag}", empresa=empresa)
    return name


def write_adjunto(landing: Path, sgc: str, at: float, tag: str, ext: str = "jpg", *,
                  empresa: str = "afinia") -> str:
    name = f"{sgc}_adjunto_{stamp(at)}.{ext}"
    write(landing, name, f"adjunto {tag}", empresa=empresa)
    return name


def mixed_landing(landing: Path) -> None:
    """One landing folder of every common shape: a placeholder request with its documents,
    a placeholder pair and a real-SGC request whose JSONs are invalid, a 0-byte JSON, a
    document still without its JSON, a stray file and a request with a blank fecha."""
    write_pdf(landing, "PQR_4_ERROR", 0, "A")
    write_adjunto(landing, "PQR_4_ERROR", 2, "A")
    write_json(landing, "PQR_4_ERROR", "R-A", 5)
    write_pdf(landing, "PQR_6_ERROR", 30, "bad")
    write_json(landing, "PQR_6_ERROR", "", 35)  # blank radicado: both to quarantine
    write_pdf(landing, "RE600", 60, "real")
    write_json(landing, "RE600", "", 65)  # PDF uploaded, JSON quarantined
    write(landing, f"RE610_data_{stamp(90)}.json", b"")  # 0-byte JSON
    write_pdf(landing, "RE610", 85, "real2")
    write_pdf(landing, "RE620", 120, "waits")  # no JSON yet
    write(landing, "Thumbs.db", b"x")
    write_json(landing, "RE630", "R-630", 150, fecha="")


def run_all(db, s3, settings, run_id: str, company=AFINIA):
    extracted = pipeline.extract(db, company, settings, run_id)
    loaded = pipeline.load(db, company, extracted.manifest)
    uploaded = pipeline.upload(db, s3, company, settings, run_id=run_id)
    return extracted, loaded, uploaded


def registry_keys(db) -> dict[str, str]:
    return dict(query(db, "SELECT filename, s3_key FROM data_general.s3_files_registry"))


def state(db, s3, bucket: str, landing: Path, empresa: str = "afinia") -> dict:
    """Everything a rerun must leave unchanged (tables, registry, bucket, folders)."""
    from tests.helpers import list_keys

    folders = company_folders(landing, empresa)
    table = f"data_general.ov_{empresa}"
    return {
        "rows": query(db, f"SELECT numero_radicado, numero_reclamo_sgc, fecha, hash_contenido, "
                          f"archivo_origen, updated_at, extras FROM {table} ORDER BY 1"),
        "registry": query(db, "SELECT filename, s3_key, upload_status, file_hash, metadata "
                              "FROM data_general.s3_files_registry ORDER BY 1, 2"),
        "bucket": list_keys(s3, bucket),
        "processed": sorted(p.name for p in folders.processed.iterdir())
        if folders.processed.exists() else [],
        "quarantine": sorted(p.name for p in folders.quarantine.iterdir()
                             if not p.name.endswith(".reason.txt"))
        if folders.quarantine.exists() else [],
    }


def remove_request(db, s3, settings, radicado: str, *, company=AFINIA, run_id: str = "rm-1"):
    """The titular's supresión, as ``ov_remove_request`` does it: the listing, a reviewer
    approving exactly what it showed, the removal. Returns (what was shown, the outcome)."""
    from datetime import UTC

    from extractorov import removal

    shown = removal.find(db, s3, company, settings, radicado).as_dict()
    db.rollback()
    removal.record_decision(db, company.empresa, radicado, run_id=run_id, approved=True,
                            decided_by="reviewer", decided_at=datetime.now(UTC),
                            reason="supresión pedida por el titular", shown=shown)
    return shown, removal.remove(db, s3, company, settings, radicado, run_id=run_id)
