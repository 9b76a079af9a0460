"""A landing folder shaped exactly like the real Oficina Virtual bot's output.

The bot (``afinia_pqr_processor.py`` of ExtractorMerc) writes, per company, into
``{landing}/{empresa}/oficina_virtual/processed/``, for each request:

1. ``{sgc}_{YYYYMMDD_HHMMSS}.pdf`` (the detail page),
2. ``{sgc}_adjunto_{ts}.{ext}`` (the customer's evidence; ``ext`` as the portal
   spelled it, case kept),
3. ``{sgc}_data_{ts}.json`` **last** (``json.dump(ensure_ascii=False, indent=2)``),

each stamped with its own ``datetime.now()`` (seconds apart, minutes when the
attachment download is retried). When the SGC cannot be read it uses
``PQR_{n}_ERROR`` or ``PQR_{n}_{ts}`` (``n`` = the row on the result page, so
unrelated requests share it). Older bot versions wrote ``pqr_{n}_data_{ts}.json``,
``pqr_data_{sgc}_{ts}.json``, ``{sgc}_PQR_{n}_{ts}.pdf`` and the download
manager's list file ``{empresa}_pqr_data_{ts}.json``.

:func:`generate` builds such a folder in memory (pure Python, deterministic for
a seed); :meth:`Corpus.write` puts it on disk. Every :class:`BotFile` carries its
expected outcome:

* ``("bucket", key)``: uploaded to ``key`` and registered ``uploaded``;
* ``("quarantine", fragment)``: moved to ``quarantine/`` with a reason containing
  ``fragment``, not registered;
* ``("waiting",)``: left in ``processed/``, counted in ``files_waiting``;
* ``("in_progress",)``: left in ``processed/`` (still being written: a temporary
  suffix or a fresh mtime), counted in ``files_in_progress``.

``python -m tests.botlike.corpus DIR`` writes the corpus into ``DIR``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from extractorov.landing import company_folders
from extractorov.settings import BOGOTA

EMPRESAS = ("afinia", "aire")
BASE_PATH = "oficina-virtual"
DEFAULT_SEED = 20251006

D1 = datetime(2025, 10, 6)
D2 = datetime(2025, 10, 7)
D3 = datetime(2025, 10, 8)

# Reason fragments, as the rules word them.
R_LIST = "list file"
R_EMPTY = "empty file"
R_INVALID = "invalid request JSON"
R_BLANK_RADICADO = "numero_radicado is missing or blank"
R_FECHA = "fecha is not a date in a known format"
R_FOLLOWS = "request JSON quarantined, no real SGC"

PORTAL = {"afinia": "caribemar.facture.co", "aire": "caribesol.facture.co"}
AFINIA_ONLY = ("finalizar", "adjuntar_archivo", "comentarios")

# Attachment extensions as the portal spelled them (case kept), per company.
EXTENSIONS = {
    "afinia": ("jpg", "JPG", "jpeg", "png", "gif", "pdf", "PDF", "doc", "docx", "txt", "zip",
               "rar", "xlsx", "msg", "tif", "bin", "Jpeg", "HEIC", "7z", "xyz"),
    "aire": ("jpg", "JPG", "png", "PNG", "pdf", "PDF", "docx", "DOC", "msg", "tif", "bin",
             "xlsx", "zip", "xyz"),
}

FECHA_FORMATS: tuple[tuple[str, bool], ...] = (
    # (strftime format, has a time of day)
    ("%Y/%m/%d %H:%M", True),
    ("%Y-%m-%d %H:%M:%S", True),
    ("%Y/%m/%d %H:%M:%S", True),
    ("%Y-%m-%d %H:%M", True),
    ("%d/%m/%Y %H:%M", True),
    ("%d-%m-%Y %H:%M", True),
    ("%Y-%m-%d", False),
    ("%d/%m/%Y", False),
    ("%d-%m-%Y", False),
    ("%Y/%m/%d", False),
)

FIRST = ("María José", "Luis Ángel", "Ñusta", "José Hernán", "Yésica", "Álvaro", "Zoë",
         "Fabián Andrés", "Lucía", "Ramón Elías", "Begoña", "Iñaki")
LAST = ("Núñez", "Peñaloza", "Gutiérrez", "Ibáñez", "Pérez", "Muñoz", "Ordóñez", "Martínez",
        "Sánchez", "Quiñones", "Valdés", "Ospiña")
TIPOS = ("Reclamo", "Petición", "Queja", "Recurso de reposición")
CANALES = ("Correo electrónico", "Dirección de correspondencia", "Notificación personal")
ESTADOS = ("Radicado", "En trámite", "Asignado a área", "Finalizado")
CUERPOS = (
    "Cobro excesivo en la factura de septiembre.",
    "Solicito revisión del medidor, la lectura no corresponde.",
    "El servicio fue suspendido sin aviso previo.",
    "Reclamo por daño de electrodomésticos tras variación de voltaje.",
)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d_%H%M%S")


def s3_key(empresa: str, folder: str, name: str) -> str:
    return f"{BASE_PATH}/{empresa}/raw_data/{folder}/{name}"


@dataclass
class BotFile:
    empresa: str
    name: str
    data: bytes
    moment: datetime | None
    """The bot clock's (Bogotá) moment of its mtime; ``None``: modified now."""
    expect: tuple[str, ...]
    scenario: str
    metadata: dict[str, Any] = field(default_factory=dict)
    """Registry ``metadata`` items the file's row must have (bucket files)."""

    @property
    def outcome(self) -> str:
        return self.expect[0]

    def write(self, landing: Path) -> Path:
        processed = company_folders(landing, self.empresa).processed
        processed.mkdir(parents=True, exist_ok=True)
        path = processed / self.name
        path.write_bytes(self.data)
        when = (time.time() if self.moment is None
                else self.moment.replace(tzinfo=BOGOTA).timestamp())
        os.utime(path, (when, when))
        return path


@dataclass
class Row:
    """What the company table must hold for one ``numero_radicado``."""

    numero_radicado: str
    numero_reclamo_sgc: str | None
    fecha: datetime | None
    estado_solicitud: str
    archivo_origen: str
    extraction: datetime
    sgc_placeholder: str | None
    cuerpo_reclamacion: str
    extras_keys: tuple[str, ...] = ()


@dataclass
class Corpus:
    seed: int
    files: list[BotFile] = field(default_factory=list)
    rows: dict[str, dict[str, Row]] = field(default_factory=dict)
    personal: set[str] = field(default_factory=set)
    """Names, e-mails, phone and ID numbers written into the JSONs."""

    def of(self, empresa: str, outcome: str | None = None) -> list[BotFile]:
        return [f for f in self.files
                if f.empresa == empresa and (outcome is None or f.outcome == outcome)]

    def by_name(self, empresa: str, name: str) -> BotFile:
        [found] = [f for f in self.files if f.empresa == empresa and f.name == name]
        return found

    def write(self, landing: Path) -> None:
        for file in self.files:
            file.write(landing)


class _Bot:
    """Writes one company's output the way the bot does."""

    def __init__(self, corpus: Corpus, empresa: str, rng: random.Random) -> None:
        self.corpus = corpus
        self.empresa = empresa
        self.rng = rng
        self.rows: dict[str, Row] = corpus.rows.setdefault(empresa, {})
        self._sgc = rng.randrange(10_000, 20_000) * 1000 + (1 if empresa == "afinia" else 2)
        self._radicado = rng.randrange(100_000, 200_000)
        self._record_number = 0
        self.people: dict[str, dict[str, str]] = {}
        self.fechas: dict[str, tuple[str, datetime | None]] = {}
        self.crlf = empresa == "aire"
        """The aire bot runs on a Windows host: its JSONs have CRLF line ends."""

    # ------------------------------------------------------------------ identities

    def sgc(self) -> str:
        self._sgc += self.rng.randrange(3, 40)
        return f"45{self._sgc:08d}"

    def radicado(self) -> str:
        self._radicado += self.rng.randrange(1, 25)
        prefix = "RE" if self.empresa == "afinia" else "AI"
        return f"{prefix}2025-{self._radicado:07d}"

    def person(self, radicado: str) -> dict[str, str]:
        """The customer of a request (the same on every re-scrape of it)."""
        if radicado in self.people:
            return self.people[radicado]
        rng = self.rng
        first, last1, last2 = rng.choice(FIRST), rng.choice(LAST), rng.choice(LAST)
        name = f"{first} {last1} {last2}"
        user = unicodedata.normalize("NFKD", (first.split()[0] + "." + last1).lower())
        user = user.encode("ascii", "ignore").decode()
        values = {
            "documento_identidad": str(rng.randrange(1_000_000_000, 1_199_999_999)),
            "nombres_apellidos": name,
            "correo_electronico": f"{user}{rng.randrange(10, 99)}@correo-{self.empresa}.co",
            "telefono": f"605{rng.randrange(1_000_000, 9_999_999)}",
            "celular": f"3{rng.randrange(0, 2)}{rng.randrange(10_000_000, 99_999_999)}",
        }
        self.corpus.personal.update(values.values())
        self.people[radicado] = values
        return values

    # ------------------------------------------------------------------ file builders

    def add(self, name: str, data: bytes, moment: datetime | None, expect: tuple[str, ...],
            scenario: str, **metadata: Any) -> BotFile:
        file = BotFile(self.empresa, name, data, moment, expect, scenario, metadata)
        assert not any(f.empresa == self.empresa and f.name == name for f in self.corpus.files)
        self.corpus.files.append(file)
        return file

    def pdf_bytes(self, label: str) -> bytes:
        filler = bytes(self.rng.randrange(32, 127) for _ in range(self.rng.randrange(200, 900)))
        return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Title (" + label.encode() + b") >>\n" + \
            filler + b"\n%%EOF\n"

    def attachment_bytes(self, ext: str) -> bytes:
        head = {"jpg": b"\xff\xd8\xff\xe0JFIF", "jpeg": b"\xff\xd8\xff\xe0JFIF",
                "png": b"\x89PNG\r\n\x1a\n", "gif": b"GIF89a", "pdf": b"%PDF-1.7\n",
                "zip": b"PK\x03\x04", "docx": b"PK\x03\x04", "xlsx": b"PK\x03\x04",
                "txt": "Adjunto de prueba: señor, anexo copia.\r\n".encode()}.get(ext.lower(), b"")
        return head + bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(64, 2048)))

    def record(self, *, sgc_number: str, numero_reclamo_sgc: str, radicado: str,
               json_moment: datetime, fecha: str, estado: str, person: dict[str, str],
               cuerpo: str | None = None, adjunto: str = "") -> dict[str, Any]:
        """The bot's JSON, keys in the bot's order."""
        rng = self.rng
        self._record_number += 1
        data: dict[str, Any] = {
            "record_number": self._record_number % 10 + 1,
            "sgc_number": sgc_number,
            "extraction_timestamp": stamp(json_moment),
            "page_url": f"https://{PORTAL[self.empresa]}/Oficina-Virtual/PQR/Detalle",
            "page_title": "Oficina Virtual - Detalle de la solicitud",
            "nic": str(rng.randrange(1_000_000, 9_999_999)),
            "fecha": fecha,
            "documento_identidad": person["documento_identidad"],
            "nombres_apellidos": person["nombres_apellidos"],
            "lectura": str(rng.randrange(100, 99_999)),
            "correo_electronico": person["correo_electronico"],
            "telefono": person["telefono"],
            "celular": person["celular"],
            "tipo_pqr": rng.choice(TIPOS),
            "canal_respuesta": rng.choice(CANALES),
            "documento_prueba": adjunto,
            "cuerpo_reclamacion": cuerpo if cuerpo is not None else rng.choice(CUERPOS),
            "numero_radicado": radicado,
            "estado_solicitud": estado,
        }
        if self.empresa == "afinia":
            data["finalizar"] = "Finalizar"
            data["adjuntar_archivo"] = "Adjuntar archivo" if adjunto else ""
        data["numero_reclamo_sgc"] = numero_reclamo_sgc
        if self.empresa == "afinia":
            data["comentarios"] = rng.choice(("", "Se remite al área comercial.",
                                              "Cliente solicita respuesta por correo."))
            data["tabla_n°_radicado_pqr"] = radicado
            data["tabla_correo_electrónico"] = person["correo_electronico"]
            data["tabla_estado"] = estado
            data["tabla_fecha_de_registro"] = fecha
        return data

    def dump(self, data: Any) -> bytes:
        text = json.dumps(data, ensure_ascii=False, indent=2)
        if self.crlf:
            text = text.replace("\n", "\r\n")  # a Windows text-mode write
        return text.encode("utf-8")

    def expect_row(self, data: dict[str, Any], json_name: str, moment: datetime,
                   fecha: datetime | None, placeholder: str | None) -> None:
        radicado = data["numero_radicado"]
        current = self.rows.get(radicado)
        if current is not None and current.extraction > moment:
            return
        sgc = data["numero_reclamo_sgc"] or None
        self.rows[radicado] = Row(
            numero_radicado=radicado,
            numero_reclamo_sgc=sgc if sgc and not sgc.upper().startswith("PQR_") else None,
            fecha=fecha,
            estado_solicitud=data["estado_solicitud"],
            archivo_origen=json_name,
            extraction=moment,
            sgc_placeholder=placeholder,
            cuerpo_reclamacion=data["cuerpo_reclamacion"].strip(),
            extras_keys=tuple(k for k in data if k.startswith("tabla_")),
        )

    # ------------------------------------------------------------------ one request

    def request(self, scenario: str, prefix: str, start: datetime, *,
                radicado: str | None = None, real_sgc: str | None = None,
                adjunto: str | None = None, adjunto_after: float | None = None,
                json_after: float | None = None, pdf: bool = True, json_: str = "ok",
                fecha: tuple[str, datetime | None] | None = None, estado: str | None = None,
                cuerpo: str | None = None, folder: str | None = None,
                doc_expect: tuple[str, ...] | None = None, blank_all: bool = False,
                json_fresh: bool = False, json_temp: str = "") -> dict[str, str]:
        """Write one request as the bot does; return its file names by kind.

        ``prefix``: the SGC part of the file names (real or placeholder).
        ``real_sgc``: what the JSON's ``numero_reclamo_sgc`` holds ("" for none).
        ``json_``: ``ok`` / ``missing`` / ``empty`` (0 bytes) / ``truncated``.
        ``folder``: the expected S3 folder of the request (``None``: computed).
        ``doc_expect``: expected outcome of the PDF and attachment (``None``: bucket).
        """
        rng = self.rng
        placeholder = prefix.upper().startswith("PQR_")
        if real_sgc is None:
            real_sgc = "" if placeholder else prefix
        radicado = radicado or self.radicado()
        person = self.person(radicado)
        names: dict[str, str] = {}
        moment = start
        pdf_moment = moment
        if adjunto is not None:
            adj_moment = moment + timedelta(seconds=adjunto_after
                                            if adjunto_after is not None else rng.randrange(2, 9))
            moment = adj_moment
        json_moment = moment + timedelta(seconds=json_after
                                         if json_after is not None else rng.randrange(1, 6))
        if fecha is None:
            fecha = self.fechas.get(radicado)
        if fecha is None:
            day = start - timedelta(days=rng.randrange(1, 20), hours=rng.randrange(0, 6))
            day = day.replace(minute=rng.randrange(60), second=0)
            fecha = (day.strftime("%Y/%m/%d %H:%M"), day)
        self.fechas[radicado] = fecha
        fecha_text, fecha_value = fecha
        estado = estado or rng.choice(ESTADOS)
        portal_name = ""
        if adjunto is not None:
            portal_name = f"evidencia {rng.randrange(1, 99)}.{adjunto}"
        data = self.record(sgc_number=prefix if not prefix.startswith("pqr_") else "",
                           numero_reclamo_sgc=real_sgc, radicado=radicado,
                           json_moment=json_moment, fecha=fecha_text, estado=estado,
                           person=person, cuerpo=cuerpo, adjunto=portal_name)
        if blank_all:
            for key in data:
                if key not in ("record_number", "sgc_number", "extraction_timestamp",
                               "page_url", "page_title"):
                    data[key] = ""
        if folder is None:
            if real_sgc and not real_sgc.upper().startswith("PQR_"):
                folder = real_sgc
            else:
                folder = f"sin_sgc/{radicado}"
        if json_.startswith("pqr_data"):
            json_name = f"pqr_data_{prefix}_{stamp(json_moment)}.json"
        else:
            json_name = f"{prefix}_data_{stamp(json_moment)}.json"

        json_ok = json_ == "ok" and not blank_all and not json_fresh and not json_temp
        json_quarantined = (json_ in ("empty", "truncated") or blank_all
                            or (fecha_value is None and bool(fecha_text)))
        if doc_expect is None:
            if json_quarantined and placeholder:
                doc_expect = ("quarantine", R_FOLLOWS)
            else:
                doc_expect = ("bucket",)
        meta = {"request_json_status": "quarantined"} if json_quarantined else {}

        def doc(name: str, data: bytes, when: datetime) -> None:
            expect = doc_expect
            if expect == ("bucket",):
                expect = ("bucket", s3_key(self.empresa, folder, name))
            self.add(name, data, when, expect, scenario, **(meta if expect[0] == "bucket" else {}))

        if pdf:
            names["pdf"] = f"{prefix}_{stamp(pdf_moment)}.pdf"
            doc(names["pdf"], self.pdf_bytes(radicado), pdf_moment)
        if adjunto is not None:
            names["adjunto"] = f"{prefix}_adjunto_{stamp(adj_moment)}.{adjunto}"
            doc(names["adjunto"], self.attachment_bytes(adjunto), adj_moment)
        if json_ == "missing":
            return names
        raw = self.dump(data)
        names["json"] = json_name
        if json_temp:
            names["json"] = json_name + json_temp
            # A live writer touches its temporary file: modified now (None), not at json_moment.
            self.add(names["json"], raw[: len(raw) // 2], None, ("in_progress",), scenario)
            return names
        if json_fresh:
            self.add(json_name, raw, None, ("in_progress",), scenario)
            return names
        if json_ == "empty":
            self.add(json_name, b"", json_moment, ("quarantine", R_EMPTY), scenario)
        elif json_ == "truncated":
            self.add(json_name, raw[: int(len(raw) * 0.6)], json_moment,
                     ("quarantine", R_INVALID), scenario)
        elif blank_all:
            self.add(json_name, raw, json_moment, ("quarantine", R_BLANK_RADICADO), scenario)
        elif fecha_value is None and fecha_text:
            self.add(json_name, raw, json_moment, ("quarantine", R_FECHA), scenario)
            return names
        else:
            assert json_ok or json_.startswith("pqr_data")
            self.add(json_name, raw, json_moment,
                     ("bucket", s3_key(self.empresa, folder, json_name)), scenario)
            self.expect_row(data, json_name, json_moment,
                            fecha_value.replace(tzinfo=BOGOTA) if fecha_value else None,
                            None if (real_sgc and not real_sgc.upper().startswith("PQR_"))
                            else (data["sgc_number"] or prefix))
        return names


def _company(corpus: Corpus, empresa: str) -> None:
    rng = random.Random(f"{corpus.seed}-{empresa}")
    bot = _Bot(corpus, empresa, rng)
    at = lambda day, h, m, s=0: day.replace(hour=h, minute=m, second=s)  # noqa: E731

    # Normal requests with attachments of many extensions (upper case included).
    normal: list[tuple[str, str]] = []
    for i, ext in enumerate(EXTENSIONS[empresa]):
        sgc = bot.sgc()
        radicado = bot.radicado()
        bot.request("attachment", sgc, at(D1, 8, 0) + timedelta(minutes=3 * i),
                    radicado=radicado, adjunto=ext, estado="En trámite")
        normal.append((sgc, radicado))

    # Requests without attachments.
    for i in range(3):
        bot.request("no attachment", bot.sgc(), at(D1, 9, 30) + timedelta(minutes=2 * i))

    # Re-scrape of the same request on a later day: same radicado, estado changed; and a
    # re-scrape whose JSON was never written: its PDF waits for that JSON (a re-scrape's
    # JSON comes last, maybe minutes later), and only once it has waited
    # ov_orphan_after_hours does it go to the earlier JSON's folder, tied to no request.
    sgc, radicado = normal[0]
    bot.request("re-scrape", sgc, at(D2, 10, 0), radicado=radicado, adjunto="jpg",
                estado="Finalizado")
    bot.request("re-scrape without JSON", sgc, at(D3, 10, 0), radicado=radicado,
                json_="missing", doc_expect=("waiting",))

    # Unrelated requests sharing PQR_4_ERROR on the same day, seconds apart.
    shared = []
    for i, ext in enumerate(("jpg", "PDF", "png")):
        radicado = bot.radicado()
        shared.append(radicado)
        bot.request("PQR_4_ERROR shared", "PQR_4_ERROR",
                    at(D1, 11, 0, 5) + timedelta(seconds=40 * i),
                    radicado=radicado, adjunto=ext, adjunto_after=4, json_after=5)
    # ... one of them re-scraped the next day under the same placeholder,
    bot.request("PQR_4_ERROR re-scrape", "PQR_4_ERROR", at(D2, 11, 0), radicado=shared[1],
                estado="Finalizado")
    # ... another re-scraped under a different placeholder: the same sin_sgc folder,
    bot.request("re-scrape, other placeholder", "PQR_2_ERROR", at(D2, 9, 0), radicado=shared[2],
                adjunto="gif", estado="Finalizado")
    # ... and a PDF newer than every PQR_4_ERROR JSON: the bot died before the JSON.
    bot.request("PQR_4_ERROR newest PDF", "PQR_4_ERROR", at(D3, 15, 0), json_="missing",
                doc_expect=("waiting",))

    # PQR_{n}_{ts} fallbacks.
    bot.request("PQR_n_ts", "PQR_2_20251006_101500", at(D1, 10, 15, 2), adjunto="png")
    bot.request("PQR_n_ts", "PQR_6_20251007_142233", at(D2, 14, 22, 40))

    # A placeholder-named JSON whose field holds the real SGC (read later from the page),
    # then an unrelated PQR_5_ERROR request without one.
    real = bot.sgc()
    bot.request("placeholder name, real SGC field", "PQR_5_ERROR", at(D1, 12, 0),
                real_sgc=real, adjunto="jpg")
    bot.request("placeholder name, no SGC", "PQR_5_ERROR", at(D1, 12, 5), adjunto="docx")

    # Blank fecha: stays NULL; blank then completed by a later extraction.
    bot.request("blank fecha", bot.sgc(), at(D1, 13, 0), fecha=("", None))
    sgc, radicado = bot.sgc(), bot.radicado()
    bot.request("blank fecha, completed later", sgc, at(D1, 13, 10), radicado=radicado,
                fecha=("", None))
    bot.request("blank fecha, completed later", sgc, at(D2, 13, 10), radicado=radicado,
                fecha=("2025/09/29 08:45", datetime(2025, 9, 29, 8, 45)))
    bot.request("blank fecha, placeholder SGC", "PQR_1_20251006_131500", at(D1, 13, 15, 3),
                fecha=("", None))

    # Every fecha format.
    for i, (fmt, with_time) in enumerate(FECHA_FORMATS):
        value = datetime(2025, 9, 17 + i % 10, 15, 7 if with_time else 0,
                         33 if fmt.endswith("%S") else 0)
        if not with_time:
            value = value.replace(hour=0, minute=0, second=0)
        bot.request(f"fecha {fmt}", bot.sgc(), at(D1, 14, 0) + timedelta(minutes=2 * i),
                    fecha=(value.strftime(fmt), value))
    # ... and a fecha in no known format: the JSON is quarantined, its PDF uploaded.
    bot.request("fecha unknown format", bot.sgc(), at(D1, 14, 40), adjunto="png",
                fecha=("17 de septiembre de 2025", None))

    # All fields blank: the JSON is quarantined; a real SGC's documents are uploaded,
    # a placeholder's follow the JSON into quarantine.
    bot.request("all blank, real SGC", bot.sgc(), at(D1, 15, 0), adjunto="docx",
                blank_all=True)
    bot.request("all blank, placeholder", "PQR_6_ERROR", at(D1, 15, 10), adjunto="jpg",
                blank_all=True)

    # Killed mid-write: a 0-byte / truncated JSON with its PDF already written.
    sgc, radicado = bot.sgc(), bot.radicado()
    bot.request("0-byte JSON", sgc, at(D1, 16, 0), radicado=radicado, json_="empty")
    bot.request("0-byte JSON, re-scraped", sgc, at(D2, 16, 0), radicado=radicado,
                doc_expect=None)
    bot.request("truncated JSON", bot.sgc(), at(D1, 16, 10), adjunto="xlsx", json_="truncated")
    bot.request("0-byte JSON, placeholder", "PQR_9_ERROR", at(D1, 16, 20), json_="empty")
    bot.request("truncated JSON, placeholder", "PQR_10_ERROR", at(D1, 16, 30), pdf=False,
                adjunto="JPG", json_="truncated")

    # Older bot versions.
    _older_writers(bot, at)

    # CRLF, emoji, multi-line text (the aire host writes CRLF anyway; force it here).
    crlf = bot.crlf
    bot.crlf = True
    bot.request("CRLF emoji multi-line", bot.sgc(), at(D1, 17, 40), adjunto="txt",
                cuerpo="Buenas tardes 🙏\nLa factura llegó con cobro doble 😡⚡\n\n"
                       "Gracias — señora Ñ.\r\nAtt: el cliente 👍🏽")
    bot.crlf = crlf

    # Documents whose JSON is not written yet: none at all, still being written (temp
    # suffix), modified just now.
    bot.request("JSON not written yet", bot.sgc(), at(D3, 17, 0), adjunto="png",
                json_="missing", doc_expect=("waiting",))
    sgc = bot.sgc()
    names = bot.request("JSON .tmp", sgc, at(D3, 17, 10), json_temp=".tmp",
                        doc_expect=("waiting",))
    assert names["json"].endswith(".tmp")
    partial = at(D3, 17, 10, 4)
    bot.add(f"{sgc}_adjunto_{stamp(partial)}.pdf.crdownload", b"%PDF-1.7\npartial", None,
            ("in_progress",), "attachment .crdownload")
    # A temporary file a dead writer left days ago: not in progress for ever; it waits for a
    # human, and ov_s3_reconcile reports it (temp_file_stale).
    bot.add(f"{sgc}_data_{stamp(partial)}.json.part", b'{"numero_radicado": "', partial,
            ("waiting",), "stale temporary file")
    bot.request("JSON modified just now", bot.sgc(), at(D3, 17, 20), json_fresh=True,
                doc_expect=("waiting",))

    # Placeholders whose owner cannot be told: two PQR_7_ERROR PDFs before one JSON; a
    # PDF with the same stamp as another request's JSON (then both PDFs up to that JSON
    # are rivals and wait); a JSON over 30 minutes later.
    first = at(D1, 18, 0)
    bot.add(f"PQR_7_ERROR_{stamp(first)}.pdf", bot.pdf_bytes("x"), first, ("waiting",),
            "two PDFs before one JSON")
    bot.request("two PDFs before one JSON", "PQR_7_ERROR", first + timedelta(seconds=20),
                json_after=10, doc_expect=("waiting",))
    a = at(D1, 18, 30)
    bot.request("same stamp", "PQR_8_ERROR", a, json_after=8, doc_expect=("waiting",))
    b_pdf = a + timedelta(seconds=8)
    radicado_b = bot.radicado()
    bot.add(f"PQR_8_ERROR_{stamp(b_pdf)}.pdf", bot.pdf_bytes("b"), b_pdf, ("waiting",),
            "same stamp")
    bot.request("same stamp", "PQR_8_ERROR", b_pdf + timedelta(seconds=4), pdf=False,
                radicado=radicado_b, adjunto="jpg", adjunto_after=0, json_after=3)
    # A fast request: its PDF and its JSON written within the same second are one request.
    bot.request("PDF and JSON in one second", "PQR_9_ERROR", at(D1, 18, 45), json_after=0)
    bot.request("JSON over 30 minutes later", "PQR_3_ERROR", at(D1, 19, 0),
                json_after=31 * 60, doc_expect=("waiting",))
    # An attachment retried for minutes: still certain (within 30 minutes). The bot stamps
    # each step when it starts (its source: the attachment step takes its time stamp before
    # it downloads): the attachment's name is seconds after the PDF's, the JSON's minutes.
    bot.request("attachment retried", "PQR_1_ERROR", at(D1, 19, 40), adjunto="PDF",
                adjunto_after=5, json_after=4 * 60 + 30)

    # The download manager's list file.
    when = at(D3, 18, 0)
    listing = [bot.record(sgc_number=bot.sgc(), numero_reclamo_sgc="", radicado=bot.radicado(),
                          json_moment=when, fecha="2025/10/01 10:00", estado="Radicado",
                          person=bot.person(f"list-{i}")) for i in range(2)]
    bot.add(f"{empresa}_pqr_data_{stamp(when)}.json", bot.dump(listing), when,
            ("quarantine", R_LIST), "list file")


def _older_writers(bot: _Bot, at: Any) -> None:
    # pqr_data_{sgc}_{ts}.json with {sgc}_PQR_{n}_{ts}.pdf.
    sgc = bot.sgc()
    pdf_at = at(D1, 17, 0)
    pdf = f"{sgc}_PQR_3_{stamp(pdf_at)}.pdf"
    bot.add(pdf, bot.pdf_bytes("old"), pdf_at, ("bucket", s3_key(bot.empresa, sgc, pdf)),
            "older pqr_data_{sgc}")
    bot.request("older pqr_data_{sgc}", sgc, pdf_at + timedelta(seconds=5), pdf=False,
                json_="pqr_data")
    # pqr_{n}_data_{ts}.json naming the real SGC, with {sgc}_PQR_{n}_{ts}.pdf.
    sgc = bot.sgc()
    pdf_at = at(D1, 17, 10)
    pdf = f"{sgc}_PQR_2_{stamp(pdf_at)}.pdf"
    bot.add(pdf, bot.pdf_bytes("old2"), pdf_at, ("bucket", s3_key(bot.empresa, sgc, pdf)),
            "older pqr_{n}_data")
    bot.request("older pqr_{n}_data", "pqr_2", pdf_at + timedelta(seconds=6), pdf=False,
                real_sgc=sgc)
    # pqr_{n}_data_{ts}.json without an SGC: sin_sgc/{radicado}.
    bot.request("older pqr_{n}_data, no SGC", "pqr_5", at(D1, 17, 20), pdf=False)


def generate(seed: int = DEFAULT_SEED) -> Corpus:
    corpus = Corpus(seed)
    for empresa in EMPRESAS:
        _company(corpus, empresa)
    return corpus


if __name__ == "__main__":  # pragma: no cover
    target = Path(sys.argv[1])
    built = generate(int(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_SEED)
    built.write(target)
    for f in built.files:
        print(f.empresa, f.name, *f.expect, sep="\t")
