"""A stand-in for the Oficina Virtual bot (``ExtractorMerc``), for the scrape step's tests.

Writes one request the way the bot does, into
``{landing}/{empresa}/oficina_virtual/processed/``: first the detail PDF
``{sgc}_{YYYYMMDD_HHMMSS}.pdf``, then (after ``--sleep`` seconds) the request JSON
``{sgc}_data_{YYYYMMDD_HHMMSS}.json`` with a later timestamp. Like the real bot
it prints field values, personal data included, so tests can check redaction.

``--exit-code N``: print, then exit with N before writing anything.
``--hang``: start a ``sleep 300`` child (its pid printed as ``child pid N``) and
never finish, to test the timeout kills the whole process group.
"""

from __future__ import annotations

import argparse
import json
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
    parser.add_argument("--password", default="")
    args = parser.parse_args(argv)

    say(f"INFO Iniciando extracción Oficina Virtual {args.empresa}")
    say(f"INFO Procesando solicitud {args.sgc}")
    for field, value in PERSON.items():
        say(f"LISTA {field}: {value}")
    say(f"Contacto del cliente {PERSON['correo_electronico']} / 300 123 4567")
    say(f"Cédula 1.045.678.901, NIC {PERSON['documento_identidad']}")
    if args.password:
        say(f"DEBUG login con clave {args.password}")
    print("WARNING una línea en stderr", file=sys.stderr, flush=True)
    if args.exit_code:
        say(f"ERROR la sesión expiró; saliendo con código {args.exit_code}")
        return args.exit_code
    if args.hang:
        child = subprocess.Popen(["sleep", "300"])
        say(f"child pid {child.pid}")
        while True:
            time.sleep(60)

    processed = args.landing / args.empresa / "oficina_virtual" / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    pdf_at = datetime.now()
    pdf_ts = f"{pdf_at:%Y%m%d_%H%M%S}"
    pdf = processed / f"{args.sgc}_{pdf_ts}.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% detalle " + args.sgc.encode() + b"\n%%EOF\n")
    say(f"PDF guardado: {pdf.name}")
    time.sleep(args.sleep)
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
    say(f"JSON guardado: {data.name}")
    say("INFO Extracción terminada")
    return 0


def say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
