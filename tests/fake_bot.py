"""A stand-in for the Oficina Virtual bot (``ExtractorMerc``), for the scrape step's tests.

Writes one request the way the bot does, into
``{landing}/{empresa}/oficina_virtual/processed/``: first the detail PDF
``{sgc}_{YYYYMMDD_HHMMSS}.pdf``, then (after ``--sleep`` seconds) the request JSON
``{sgc}_data_{YYYYMMDD_HHMMSS}.json`` with a later timestamp. It logs like the real
bot: its progress messages (``legacy/Legacy_OV/components/afinia_pqr_processor.py``)
in its console format (``unified_logging_config``:
``[YYYY-MM-DD_HH:MM:SS][afinia][pqr][processor][INFO] - …``, on stderr, as the
bot's ``StreamHandler``), every field value included (personal data), and a few
lines no known message has (a client's name, an e-mail, a cédula, a phone) so tests
can check that only known progress reaches the task log.

``--exit-code N``: log, then exit with N before writing anything.
``--hang``: start a ``sleep 300`` child and never finish; with ``--pid-file`` the bot
writes ``{bot pid} {child pid}`` there once both run.
``--exclusive FILE``: hold ``flock`` on FILE while running; if another bot holds it,
log an error and exit 3 (tests use it to see two bots at once).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

PERSON = {
    "nombres_apellidos": "María José Núñez Peña",
    "documento_identidad": "1045678901",
    "correo_electronico": "maria.nunez@example.com",
    "telefono": "6053334455",
    "celular": "3001234567",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--landing", required=True, type=Path)
    parser.add_argument("--empresa", required=True)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--sgc", default="RE123")
    parser.add_argument("--radicado", default="R-123")
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--pid-file", type=Path)
    parser.add_argument("--exclusive", type=Path)
    parser.add_argument("--password", default="")
    args = parser.parse_args(argv)

    if args.exclusive:
        held = args.exclusive.open("a")
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("ERROR", "otro bot está corriendo: saliendo")
            return 3
    print("[INIT][system][config][logging][INFO] - Sistema de logging profesional inicializado",
          flush=True)
    log("INFO", "OficinaVirtualAfiniaModular inicializado - Modo: Headless")
    log("INFO", "Iniciando proceso de login para usuario: maria.nunez")
    if args.password:
        log("DEBUG", f"login con clave {args.password}")
    log("INFO", "=== INICIANDO PROCESAMIENTO DE PQR (SECUENCIA ESPECÍFICA AFINIA) ===")
    log("INFO", "Total de botones encontrados para procesar: 1")
    log("INFO", "=== Procesando PQR #1 de 1 ===")
    log("INFO", f"Procesando solicitud de {PERSON['nombres_apellidos']}")
    log("INFO", f"LISTA Número SGC extraído: {args.sgc}")
    if args.exit_code:
        log("ERROR", f"ERROR Error en secuencia específica para PQR 1: la sesión expiró "
                     f"({PERSON['correo_electronico']})")
        return args.exit_code
    if args.hang:
        child = subprocess.Popen(["sleep", "300"])
        if args.pid_file:
            args.pid_file.write_text(f"{os.getpid()} {child.pid}\n")
        log("INFO", "PAGINA === PROCESANDO PÁGINA 1 ===")
        while True:
            time.sleep(60)

    processed = args.landing / args.empresa / "oficina_virtual" / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    pdf_at = datetime.now()
    pdf_ts = f"{pdf_at:%Y%m%d_%H%M%S}"
    pdf = processed / f"{args.sgc}_{pdf_ts}.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% detalle " + args.sgc.encode() + b"\n%%EOF\n")
    log("INFO", f"EXITOSO PDF generado exitosamente: {pdf}")
    time.sleep(args.sleep)
    log("INFO", "GUARDANDO Extrayendo datos JSON para PQR #1")
    for field, value in PERSON.items():
        log("INFO", f"LISTA {field}: {value}")
    print(f"Cliente: {PERSON['nombres_apellidos']}", flush=True)
    print(f"Contacto del cliente {PERSON['correo_electronico']} / 300 123 4567", flush=True)
    print(f"Cédula 1.045.678.901, NIC {PERSON['documento_identidad']}", flush=True)
    json_at = max(datetime.now(), pdf_at + timedelta(seconds=1))
    ts = f"{json_at:%Y%m%d_%H%M%S}"
    record = {
        "record_number": 1, "sgc_number": args.sgc, "extraction_timestamp": ts,
        "page_url": "https://caribemar.facture.co/x", "page_title": "Detalle",
        "numero_radicado": args.radicado, "numero_reclamo_sgc": args.sgc,
        "fecha": "2025/10/07 14:05", "estado_solicitud": "Finalizado", "tipo_pqr": "Reclamo",
        "nic": "1234567", **PERSON, "lectura": "12345",
        "canal_respuesta": "Correo electrónico", "documento_prueba": "",
        "cuerpo_reclamacion": "Cobro excesivo en la factura.",
    }
    data = processed / f"{args.sgc}_data_{ts}.json"
    data.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    log("INFO", f"EXITOSO JSON guardado exitosamente: {data}")
    log("INFO", f"PROCESADOS Campos extraídos: {sum(1 for v in record.values() if v)}")
    log("INFO", "METRICAS Resultados PQR #1: PDF=True, Adjuntos=False, JSON=True")
    log("INFO", "PROCESO_COMPLETADO PROCESAMIENTO PÁGINA ACTUAL COMPLETADO: 1/1 registros "
                "exitosos")
    return 0


def log(level: str, message: str) -> None:
    """One line as the bot's console handler writes it (to stderr)."""
    print(f"[{datetime.now():%Y-%m-%d_%H:%M:%S}][afinia][pqr][processor][{level}] - {message}",
          file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
