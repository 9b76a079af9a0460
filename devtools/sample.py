"""Deterministic generator of realistic scraper output ("landing data").

Used by the demo, the tests and the benchmarks. It writes what the scraper bot
writes (see ``docs/data-contract.md``), one flat folder per company::

    {root}/{empresa}/oficina_virtual/processed/
        {sgc}_data_{YYYYMMDD_HHMMSS}.json       the request's fields
        {sgc}_{YYYYMMDD_HHMMSS}.pdf             the detail page printed to PDF
        {sgc}_adjunto_{YYYYMMDD_HHMMSS}.{ext}   the customer's evidence file, if any

Everything is fake but shaped like production: Spanish names with accents,
Colombian cédulas and phone numbers, several SGC number formats (including the
bot's ``PQR_{n}_{YYYYMMDD_HHMMSS}`` fallback), a few ``fecha`` values in
unusual formats, and requests re-scraped on later days with or without content
changes.

Guarantees:

* Deterministic: the same arguments give byte-identical files with the same
  modification times. Each company has its own ``random.Random`` seeded from
  ``(seed, empresa)``, so a company's output does not depend on which other
  companies are generated with it.
* Files' mtimes are their timestamps (America/Bogota local time) as epoch.
* SGC numbers are unique per company for distinct requests, and the number
  spaces of different companies never overlap (each company owns a fixed
  "slot"; afinia and aire have slots 0 and 1).
* Standard library only. Existing files with the same names are overwritten;
  other files in the folder are left alone.
* Nothing personal is printed: the CLI prints counts only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from devtools.documents import PdfMaker, attachment
from extractorov.companies import COMPANIES, Company
from extractorov.landing import company_folders
from extractorov.settings import BOGOTA

__all__ = ["SampleSummary", "generate_landing", "main"]

# --------------------------------------------------------------------------- constants

_SAFE_EMPRESA = re.compile(r"^[a-z][a-z0-9_]{0,40}$")

_FALLBACK_SHARE = 0.02
"""Share of new requests whose SGC number the bot could not read."""
_RE_SHARE = 0.60
"""Share of new requests with an ``RE`` + 13 digits SGC number (the rest: 8 digits)."""
_ODD_FECHA_SHARE = 0.05
"""Share of ``fecha`` values not in the usual ``YYYY/MM/DD HH:MM`` format."""

_WINDOW_SECONDS = 55 * 60
"""Each company's scraping session fits in 55 minutes, starting at 04:00 + slot hours."""
_MAX_STEP_SECONDS = 24.0
"""Average seconds between two requests when the day is not crowded."""

_TABLE_LABELS: tuple[str, ...] = ("historial", "lecturas", "pagos", "visitas", "consumos")

_HOMBRES = (
    "José", "Juan", "Carlos", "Luis", "Andrés", "Jesús", "Álvaro", "Víctor", "Óscar",
    "Rafael", "Jorge", "Miguel Ángel", "Sebastián", "Héctor", "Ramón", "Julián", "Germán",
    "Efraín", "Rubén", "Darío", "José Luis", "Juan Camilo", "Nicolás", "Hernán",
)
_MUJERES = (
    "María", "Ana", "Luz Marina", "Carmen", "Rosa", "Sofía", "Mónica", "Ángela", "Lucía",
    "Inés", "Patricia", "Yolanda", "Beatriz", "Dayana", "Yesenia", "Marlene", "Xiomara",
    "Leidy", "Dolores", "Mariana", "María José", "Ana Belén", "Zoraida", "Nelly",
)
_APELLIDOS = (
    "Núñez", "Peña", "Pérez", "Gómez", "Rodríguez", "Martínez", "Hernández", "García",
    "López", "Díaz", "Muñoz", "Ramírez", "Jiménez", "Suárez", "Álvarez", "Castaño", "Ortiz",
    "Vásquez", "Fernández", "Sánchez", "Castro", "Mendoza", "Barrios", "Arrieta", "Julio",
    "Montes", "Pacheco", "Orozco", "Mejía", "Zúñiga", "Salcedo", "Ibáñez", "Cárdenas",
    "Guzmán", "De La Hoz", "Polo", "Ariza", "Escorcia", "Villalba", "Acuña",
)
_DOMINIOS = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.es", "yahoo.com", "hotmail.es")
_PREFIJOS_CELULAR = (
    "300", "301", "302", "304", "305", "310", "311", "312", "313", "314", "315", "316",
    "317", "318", "320", "321", "322", "323", "324", "350", "351",
)

_TIPOS_PQR = ("Reclamo", "Petición", "Queja", "Sugerencia", "Denuncia")
_TIPOS_PQR_CUM = (45, 75, 90, 95, 100)
_CANALES = (
    "Correo electrónico", "Presencial", "Telefónico", "Mensaje de texto (SMS)",
    "Correspondencia física",
)
_CANALES_CUM = (60, 72, 84, 92, 100)
_EXTENSIONES = ("pdf", "jpg", "png", "docx")
_EXTENSIONES_CUM = (70, 82, 92, 100)

_MESES = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
    "septiembre", "octubre", "noviembre", "diciembre",
)
_BARRIOS = (
    "El Bosque", "Olaya Herrera", "La Esperanza", "San Fernando", "Los Almendros",
    "Villa Estrella", "Nelson Mandela", "Rebolo", "La Chinita", "El Prado", "Las Flores",
)
_PUNTOS_PAGO = ("Efecty", "Bancolombia", "Baloto", "la oficina comercial", "PSE")

_FRASES_POR_TIPO: dict[str, tuple[str, ...]] = {
    "Reclamo": (
        "Solicito la revisión de la factura del mes de {mes} porque el valor cobrado de "
        "$ {valor} no corresponde a mi consumo habitual.",
        "La lectura del medidor registrada en la factura ({kwh} kWh) no coincide con la "
        "lectura real que marca el medidor.",
        "Me están cobrando un consumo estimado aunque el medidor funciona correctamente.",
        "El servicio fue suspendido a pesar de que la factura fue pagada a tiempo en "
        "{punto}.",
        "Se cobró una reconexión que nunca se realizó en el predio.",
    ),
    "Petición": (
        "Solicito una visita técnica para verificar el estado del medidor y de la acometida.",
        "Requiero un acuerdo de pago para la deuda pendiente de $ {valor}.",
        "Solicito el cambio de titular del contrato de servicio del predio.",
        "Pido copia de las facturas de los últimos {n} meses para un trámite bancario.",
        "Solicito la instalación de un nuevo medidor porque el actual está deteriorado.",
    ),
    "Queja": (
        "Desde hace {n} días se presentan cortes de energía frecuentes en el barrio "
        "{barrio}, lo que ha dañado electrodomésticos de la vivienda.",
        "Se presentan variaciones de voltaje en horas de la noche que afectan el "
        "funcionamiento de la nevera.",
        "El personal que realizó la visita no dejó constancia del trabajo realizado.",
        "La atención en la línea telefónica fue demorada y no resolvieron el problema.",
    ),
    "Sugerencia": (
        "Sugiero ampliar los horarios de atención en la oficina comercial de {municipio}.",
        "Propongo que la factura llegue también por correo electrónico y mensaje de texto.",
        "Sería útil informar con anticipación los cortes de energía programados.",
    ),
    "Denuncia": (
        "Denuncio una posible conexión ilegal en el barrio {barrio}, que genera sobrecargas "
        "en el transformador.",
        "El poste ubicado frente a la vivienda tiene cables sueltos que representan un "
        "riesgo para la comunidad.",
        "Personas que dicen ser contratistas están cobrando por reconexiones en {municipio}.",
    ),
}
_FRASES_COMUNES = (
    "El problema se viene presentando desde el mes de {mes}.",
    "Ya había presentado una solicitud anterior sin obtener respuesta de fondo.",
    "Adjunto la evidencia para que sea tenida en cuenta.",
    "Agradezco una respuesta por escrito al canal de respuesta indicado.",
    "En la vivienda viven adultos mayores que dependen del servicio de energía.",
    "Quedo atento a la visita del personal técnico.",
    "Solicito que se revise el historial de consumo del último semestre.",
)
_ADENDAS = (
    "Actualización: el cliente aportó una nueva evidencia del cobro.",
    "Actualización: se reprogramó la visita técnica solicitada.",
    "Actualización: el cliente reitera la solicitud por falta de solución.",
    "Actualización: se adjunta copia del comprobante de pago.",
)
_COMENTARIOS = (
    "Se realizó visita técnica y se verificó el funcionamiento del medidor.",
    "Se ajustó la facturación del periodo reclamado.",
    "Se envió respuesta al cliente por el canal indicado.",
    "No procede el ajuste: la lectura corresponde al consumo real.",
    "Se programó revisión de la red en el sector.",
    "Se remitió el caso al área de pérdidas para su verificación.",
)
_MUNICIPIOS: dict[str, tuple[str, ...]] = {
    "afinia": ("Cartagena", "Montería", "Sincelejo", "Magangué", "Turbaco", "Lorica", "Cereté"),
    "aire": ("Barranquilla", "Soledad", "Santa Marta", "Riohacha", "Malambo", "Ciénaga", "Maicao"),
}
_MUNICIPIOS_OTROS = ("Valledupar", "Aguachica", "El Banco", "Fundación")

# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class SampleSummary:
    """What :func:`generate_landing` wrote (counts only, no personal data)."""

    requests: int
    """Distinct ``numero_radicado`` written (across all days and companies)."""
    json_files: int
    pdf_files: int
    """Detail-page PDFs (attachments that happen to be PDFs are not counted here)."""
    attachments: int
    rescraped_same: int
    """JSON files re-saving an earlier request with identical content (only bot metadata
    differs)."""
    rescraped_changed: int
    """JSON files re-saving an earlier request with changed content."""
    total_bytes: int
    by_company: dict[str, int] = field(default_factory=dict)
    """``empresa`` -> files written."""

    @property
    def files(self) -> int:
        """All files written (JSON + detail PDFs + attachments)."""
        return self.json_files + self.pdf_files + self.attachments


def generate_landing(
    root: Path,
    *,
    companies: Sequence[str] = tuple(COMPANIES),
    days: int = 2,
    requests_per_day: int = 20,
    start: date = date(2025, 10, 7),
    seed: int = 42,
    rescrape_ratio: float = 0.15,
    changed_ratio: float = 0.5,
    attachment_ratio: float = 0.6,
    pdf_size: int = 4_000,
) -> SampleSummary:
    """Write ``days`` days of scraper output for each company under ``root``.

    Each day and company writes ``requests_per_day`` request JSON files (plus
    their detail PDF and, for ``attachment_ratio`` of the requests, an
    attachment). From the second day on, ``rescrape_ratio`` of a day's requests
    are earlier requests saved again (same SGC number and radicado, new file
    names); ``changed_ratio`` of those have edited content, the rest differ only
    in the bot's metadata. ``pdf_size`` is the approximate size in bytes of
    every PDF written.
    """
    _check_arguments(companies, days, requests_per_day, rescrape_ratio, changed_ratio,
                     attachment_ratio, pdf_size)
    root = Path(root)
    pdf = PdfMaker(pdf_size)
    totals = _Totals()
    for empresa in companies:
        profile = _profile(empresa)
        folder = company_folders(root, empresa).processed
        folder.mkdir(parents=True, exist_ok=True)
        _Company(
            profile=profile,
            folder=str(folder),
            rng=random.Random(f"extractorov-sample:{seed}:{empresa}"),
            pdf=pdf,
            totals=totals,
            attachment_ratio=attachment_ratio,
        ).run(days, requests_per_day, start, rescrape_ratio, changed_ratio)
    return SampleSummary(
        requests=totals.requests,
        json_files=totals.json_files,
        pdf_files=totals.pdf_files,
        attachments=totals.attachments,
        rescraped_same=totals.rescraped_same,
        rescraped_changed=totals.rescraped_changed,
        total_bytes=totals.total_bytes,
        by_company=dict(totals.by_company),
    )


def _check_arguments(
    companies: Sequence[str], days: int, requests_per_day: int, rescrape_ratio: float,
    changed_ratio: float, attachment_ratio: float, pdf_size: int,
) -> None:
    if isinstance(companies, str):
        raise TypeError("companies must be a sequence of names, not a string")
    if len(set(companies)) != len(companies):
        raise ValueError("companies must not repeat a name")
    for empresa in companies:
        if not isinstance(empresa, str) or not _SAFE_EMPRESA.match(empresa):
            raise ValueError(f"empresa {empresa!r} is not a safe identifier")
    if days < 0 or requests_per_day < 0:
        raise ValueError("days and requests_per_day must be >= 0")
    for name, ratio in (("rescrape_ratio", rescrape_ratio), ("changed_ratio", changed_ratio),
                        ("attachment_ratio", attachment_ratio)):
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1")
    if pdf_size < 0:
        raise ValueError("pdf_size must be >= 0")


# --------------------------------------------------------------------------- companies


@dataclass(frozen=True)
class _Profile:
    empresa: str
    slot: int
    """Fixed per company: separates SGC number spaces and scraping windows."""
    display_name: str
    portal: str
    afinia_style: bool
    """Records carry ``finalizar``, ``adjuntar_archivo``, ``comentarios`` and ``tabla_*``."""
    radicado_prefix: str
    """``""`` for afinia (``YYYY`` + 10 digits), else ``PFX-YYYY-`` + 7 digits."""
    municipios: tuple[str, ...]


_RADICADO_PREFIX = {"afinia": "", "aire": "AIR"}


def _profile(empresa: str) -> _Profile:
    """Company facts from :data:`COMPANIES`; only the fake data's shape is decided here."""
    company: Company | None = COMPANIES.get(empresa)
    if company is not None:
        return _Profile(empresa, list(COMPANIES).index(empresa), company.display_name,
                        company.portal, bool(company.extra_fields),
                        _RADICADO_PREFIX.get(empresa, empresa[:3].upper()),
                        _MUNICIPIOS.get(empresa, _MUNICIPIOS_OTROS))
    # Any other company: a stable slot 2..9 from its name (not from hash(), which is salted).
    slot = 2 + int(hashlib.sha256(empresa.encode()).hexdigest(), 16) % 8
    return _Profile(empresa, slot, empresa.capitalize(), f"{empresa}.facture.co", False,
                    empresa[:3].upper(), _MUNICIPIOS_OTROS)


# --------------------------------------------------------------------------- generation


@dataclass
class _Totals:
    requests: int = 0
    json_files: int = 0
    pdf_files: int = 0
    attachments: int = 0
    rescraped_same: int = 0
    rescraped_changed: int = 0
    total_bytes: int = 0
    by_company: dict[str, int] = field(default_factory=dict)


@dataclass
class _Request:
    sgc: str
    """``""`` while the bot's fallback is used (computed per file)."""
    content: dict[str, Any]
    """Every field but the bot's metadata, in file order."""
    attachment_ext: str
    """``""`` when the request has no evidence file."""


def _pick(rng: random.Random, values: Sequence[str], cum: Sequence[int]) -> str:
    return rng.choices(values, cum_weights=cum)[0]


class _Company:
    """Generates every day of one company with one random stream."""

    def __init__(self, *, profile: _Profile, folder: str, rng: random.Random, pdf: PdfMaker,
                 totals: _Totals, attachment_ratio: float) -> None:
        self.p = profile
        self.folder = folder
        self.rng = rng
        self.pdf = pdf
        self.totals = totals
        self.attachment_ratio = attachment_ratio
        self.used_sgc: set[str] = set()
        self.used_radicados: set[str] = set()
        self.files = 0
        self.title = f"Oficina Virtual {profile.display_name} - Detalle de la solicitud"

    # ---- days

    def run(self, days: int, per_day: int, start: date, rescrape_ratio: float,
            changed_ratio: float) -> None:
        eligible: list[_Request] = []  # earlier requests with a real SGC number
        for d in range(days):
            day = start + timedelta(days=d)
            n_res = 0 if d == 0 else min(round(rescrape_ratio * per_day), len(eligible))
            n_changed = round(changed_ratio * n_res)
            picks = self.rng.sample(eligible, n_res)
            plan: list[tuple[str, _Request | None]] = [("changed", r) for r in picks[:n_changed]]
            plan += [("same", r) for r in picks[n_changed:]]
            plan += [("new", None)] * (per_day - n_res)
            self.rng.shuffle(plan)
            new_today = self._run_day(day, plan)
            eligible.extend(new_today)
        self.totals.by_company[self.p.empresa] = (
            self.totals.by_company.get(self.p.empresa, 0) + self.files
        )

    def _run_day(self, day: date, plan: list[tuple[str, _Request | None]]) -> list[_Request]:
        rng = self.rng
        midnight = datetime(day.year, day.month, day.day)
        window_start = (4 + self.p.slot) * 3600 + rng.randrange(0, 120)
        window_end = window_start + _WINDOW_SECONDS
        step = min(_MAX_STEP_SECONDS, _WINDOW_SECONDS / max(len(plan), 1))
        session = f"{rng.getrandbits(48):012x}"
        t = float(window_start)
        new_today: list[_Request] = []
        for record_number, (kind, request) in enumerate(plan, start=1):
            second = min(int(t), window_end)
            if request is None:
                request = self._new_request(day)
                if request.sgc:
                    new_today.append(request)
                self.totals.requests += 1
            elif kind == "changed":
                self._change(request, day)
                self.totals.rescraped_changed += 1
            else:
                self.totals.rescraped_same += 1
            self._write_request(request, record_number, midnight, second, session)
            t += step * (0.5 + rng.random())
        return new_today

    # ---- one request

    def _new_request(self, day: date) -> _Request:
        rng = self.rng
        p = self.p
        filed = datetime(day.year, day.month, day.day) - timedelta(
            days=rng.randint(1, 30), seconds=rng.randrange(5 * 3600, 19 * 3600)
        )
        filed = filed.replace(second=rng.randrange(60))
        kind = rng.random()
        sgc = "" if kind < _FALLBACK_SHARE else self._new_sgc(filed, kind < _RE_SHARE)

        radicado = self._new_radicado(filed.year)
        tipo = _pick(rng, _TIPOS_PQR, _TIPOS_PQR_CUM)
        nombre, email = self._person()
        attachment_ext = (
            _pick(rng, _EXTENSIONES, _EXTENSIONES_CUM) if rng.random() < self.attachment_ratio
            else ""
        )
        documento = (
            f"{uuid.UUID(int=rng.getrandbits(128), version=4)}.{attachment_ext}"
            if attachment_ext else ""
        )
        content: dict[str, Any] = {
            "numero_radicado": radicado,
            "numero_reclamo_sgc": sgc,
            "fecha": self._fecha(filed),
            "estado_solicitud": "Finalizado",
            "tipo_pqr": tipo,
            "nic": str(rng.randrange(1_000_000, 100_000_000)),
            "documento_identidad": self._cedula(),
            "nombres_apellidos": nombre,
            "correo_electronico": email,
            "telefono": "" if rng.random() < 0.45 else str(rng.randrange(3_000_000, 7_000_000)),
            "celular": (
                "" if rng.random() < 0.05
                else rng.choice(_PREFIJOS_CELULAR) + f"{rng.randrange(10_000_000):07d}"
            ),
            "lectura": "" if rng.random() < 0.5 else f"{rng.randrange(100_000):05d}",
            "canal_respuesta": _pick(rng, _CANALES, _CANALES_CUM),
            "documento_prueba": documento,
            "cuerpo_reclamacion": self._cuerpo(tipo, filed),
        }
        if p.afinia_style:
            content["finalizar"] = rng.choice(("Sí", "Sí", "No", ""))
            content["adjuntar_archivo"] = (
                documento if documento and rng.random() < 0.5
                else rng.choice(("", "Ningún archivo seleccionado"))
            )
            content["comentarios"] = "" if rng.random() < 0.3 else rng.choice(_COMENTARIOS)
            for label in rng.sample(_TABLE_LABELS, rng.randint(0, 3)):
                content[f"tabla_{label}"] = self._tabla(label, filed, day)
        return _Request(sgc=sgc, content=content, attachment_ext=attachment_ext)

    def _change(self, request: _Request, day: date) -> None:
        """Edit a re-scraped request so that its content really differs."""
        rng = self.rng
        content = request.content
        stamp = f"{day:%Y/%m/%d}"
        if self.p.afinia_style and rng.random() < 0.7:
            note = f"{stamp}: {rng.choice(_COMENTARIOS)}"
            content["comentarios"] = f"{content['comentarios']} | {note}".strip(" |")
        else:
            content["cuerpo_reclamacion"] = (
                f"{content['cuerpo_reclamacion']} {rng.choice(_ADENDAS)} ({stamp})"
            )
        if rng.random() < 0.3:
            others = [c for c in _CANALES if c != content["canal_respuesta"]]
            content["canal_respuesta"] = rng.choice(others)

    def _write_request(self, request: _Request, record_number: int, midnight: datetime,
                       second: int, session: str) -> None:
        rng = self.rng
        # The bot's order: the detail PDF, then the attachment, then the JSON last, each
        # stamped with its own clock reading; a placeholder SGC is stamped when the SGC
        # could not be read, just before the PDF.
        pdf_at = midnight + timedelta(seconds=second)
        ext = request.attachment_ext
        att_at = pdf_at + timedelta(seconds=rng.randint(0, 3)) if ext else pdf_at
        json_at = att_at + timedelta(seconds=rng.randint(0, 2))
        ts = f"{json_at:%Y%m%d_%H%M%S}"
        sgc = request.sgc or f"PQR_{record_number}_{pdf_at:%Y%m%d_%H%M%S}"
        content = request.content
        radicado = content["numero_radicado"]
        record: dict[str, Any] = {
            "record_number": record_number,
            "sgc_number": sgc,
            "extraction_timestamp": ts,
            "page_url": (
                f"https://{self.p.portal}/OficinaVirtual/Solicitudes/Detalle"
                f"?radicado={radicado}&sesion={session}"
            ),
            "page_title": self.title,
        }
        record.update(content)
        data = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8")
        self._write(f"{sgc}_data_{ts}.json", data, json_at)
        self.totals.json_files += 1

        lines = (
            f"Oficina Virtual {self.p.display_name} - Detalle de la solicitud",
            f"Solicitud {sgc}",
            f"Radicado {radicado}",
            f"Tipo {content['tipo_pqr']} - Estado {content['estado_solicitud']}",
            f"Impreso {pdf_at:%Y-%m-%d %H:%M:%S}",
        )
        self._write(f"{sgc}_{pdf_at:%Y%m%d_%H%M%S}.pdf", self.pdf.make(lines), pdf_at)
        self.totals.pdf_files += 1

        if ext:
            att = attachment(ext, sgc, content["documento_prueba"], self.pdf)
            self._write(f"{sgc}_adjunto_{att_at:%Y%m%d_%H%M%S}.{ext}", att, att_at)
            self.totals.attachments += 1

    def _write(self, name: str, data: bytes, at: datetime) -> None:
        path = os.path.join(self.folder, name)
        with open(path, "wb") as handle:
            handle.write(data)
        epoch = at.replace(tzinfo=BOGOTA).timestamp()
        os.utime(path, (epoch, epoch))
        self.files += 1
        self.totals.total_bytes += len(data)

    # ---- field values

    def _new_sgc(self, filed: datetime, re_format: bool) -> str:
        rng = self.rng
        slot = self.p.slot
        if re_format:
            prefix = f"RE{filed.day:02d}{filed.month:02d}{filed.year:04d}{slot}"
            for _ in range(20):
                candidate = f"{prefix}{rng.randrange(10_000):04d}"
                if candidate not in self.used_sgc:
                    self.used_sgc.add(candidate)
                    return candidate
        base = 10_000_000 + slot * 9_000_000  # 8 digits, a disjoint range per slot
        for _ in range(1_000):
            candidate = str(base + rng.randrange(9_000_000))
            if candidate not in self.used_sgc:
                self.used_sgc.add(candidate)
                return candidate
        raise RuntimeError(f"SGC number space of {self.p.empresa} exhausted")

    def _new_radicado(self, year: int) -> str:
        rng = self.rng
        while True:
            if self.p.radicado_prefix:
                candidate = f"{self.p.radicado_prefix}-{year}-{rng.randrange(10_000_000):07d}"
            else:
                candidate = f"{year}{rng.randrange(10_000_000_000):010d}"
            if candidate not in self.used_radicados:
                self.used_radicados.add(candidate)
                return candidate

    def _fecha(self, filed: datetime) -> str:
        rng = self.rng
        if rng.random() >= _ODD_FECHA_SHARE:
            return f"{filed:%Y/%m/%d %H:%M}"
        if rng.random() < 0.5:
            return f"{filed:%d/%m/%Y %H:%M}"
        return f"{filed:%Y-%m-%d %H:%M:%S}"

    def _person(self) -> tuple[str, str]:
        rng = self.rng
        given = rng.choice(_HOMBRES if rng.random() < 0.5 else _MUJERES)
        surname1, surname2 = rng.sample(_APELLIDOS, 2)
        name = f"{given} {surname1} {surname2}"
        if rng.random() < 0.3:
            name = name.upper()
        if rng.random() < 0.06:
            return name, ""
        local = _ascii(given.split()[0] + rng.choice((".", "_", "")) + surname1)
        if rng.random() < 0.6:
            local += str(rng.randrange(1, 1000))
        return name, f"{local}@{rng.choice(_DOMINIOS)}"

    def _cedula(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            return str(rng.randrange(1_000_000_000, 1_150_000_000))
        if r < 0.9:
            return str(rng.randrange(10_000_000, 99_999_999))
        return str(rng.randrange(1_000_000, 9_999_999))

    def _cuerpo(self, tipo: str, filed: datetime) -> str:
        rng = self.rng
        frases = [rng.choice(_FRASES_POR_TIPO[tipo])]
        frases += rng.sample(_FRASES_COMUNES, rng.randint(1, 3))
        mes = _MESES[(filed.month - 2) % 12]
        valores = {
            "mes": mes,
            "valor": f"{rng.randrange(40_000, 900_000):,}".replace(",", "."),
            "kwh": rng.randrange(80, 900),
            "n": rng.randint(2, 15),
            "barrio": rng.choice(_BARRIOS),
            "municipio": rng.choice(self.p.municipios),
            "punto": rng.choice(_PUNTOS_PAGO),
        }
        return " ".join(frase.format(**valores) for frase in frases)

    def _tabla(self, label: str, filed: datetime, day: date) -> str:
        rng = self.rng
        # Follow-ups (answer, visit) happen between filing and the scraping day.
        elapsed = datetime(day.year, day.month, day.day) - filed
        later = filed + timedelta(seconds=int(elapsed.total_seconds() * rng.uniform(0.3, 0.95)))
        rows: list[str]
        if label == "historial":
            rows = ["Fecha | Estado | Observación",
                    f"{filed:%Y/%m/%d %H:%M} | Radicado | Solicitud recibida"]
            rows.append(f"{later:%Y/%m/%d %H:%M} | Finalizado | Respuesta enviada al cliente")
        elif label == "lecturas":
            rows = ["Periodo | Lectura | Consumo kWh"]
            reading = rng.randrange(1_000, 90_000)
            for back in range(3, 0, -1):
                month = (filed.month - back - 1) % 12 + 1
                year = filed.year - (1 if filed.month - back < 1 else 0)
                used = rng.randrange(80, 600)
                reading += used
                rows.append(f"{year}-{month:02d} | {reading:05d} | {used}")
        elif label == "pagos":
            rows = ["Fecha | Valor | Punto de pago"]
            for back in (2, 1):
                paid = filed - timedelta(days=30 * back + rng.randrange(10))
                value = f"{rng.randrange(40_000, 600_000):,}".replace(",", ".")
                rows.append(f"{paid:%Y/%m/%d} | $ {value} | {rng.choice(_PUNTOS_PAGO)}")
        elif label == "visitas":
            result = rng.choice(("Sin anomalía", "Medidor cambiado", "Acometida reparada"))
            rows = ["Fecha | Cuadrilla | Resultado",
                    f"{later:%Y/%m/%d} | Cuadrilla {rng.randint(1, 60)} | {result}"]
        else:
            rows = ["Mes | Consumo kWh | Valor"]
            for back in range(3, 0, -1):
                used = rng.randrange(80, 600)
                value = f"{used * 890:,}".replace(",", ".")
                rows.append(f"{_MESES[(filed.month - back - 1) % 12]} | {used} | $ {value}")
        return "\n".join(rows)


def _ascii(text: str) -> str:
    """``José Núñez`` -> ``josenunez`` (for e-mail local parts)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in folded.lower() if c.isalnum() or c in "._")


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m devtools.sample --root PATH ...``: generate and print the counts."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.sample",
        description="Write deterministic fake Oficina Virtual scraper output (landing data).",
    )
    parser.add_argument("--root", type=Path, required=True, help="landing root folder")
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--requests-per-day", type=int, default=20,
                        help="requests per day and company")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 10, 7),
                        help="first scraping day, YYYY-MM-DD")
    parser.add_argument("--pdf-size", type=int, default=4_000,
                        help="approximate bytes per PDF")
    parser.add_argument("--companies", default=",".join(COMPANIES),
                        help="comma-separated empresa names")
    args = parser.parse_args(argv)
    companies = tuple(name.strip() for name in args.companies.split(",") if name.strip())
    try:
        summary = generate_landing(
            args.root,
            companies=companies,
            days=args.days,
            requests_per_day=args.requests_per_day,
            start=args.start,
            seed=args.seed,
            pdf_size=args.pdf_size,
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    for name in ("requests", "json_files", "pdf_files", "attachments", "rescraped_same",
                 "rescraped_changed", "total_bytes"):
        print(f"{name}: {getattr(summary, name)}")
    for empresa, files in summary.by_company.items():
        print(f"files[{empresa}]: {files}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
