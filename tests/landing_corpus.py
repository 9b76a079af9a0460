"""A corpus of malformed, unusual and malicious landing-folder input, built in code (no
binary blobs).

Every :class:`Case` is something a scraper bot or a person could really leave
in ``{landing_root}/{empresa}/oficina_virtual/processed/``: a file, a small set
of files, a link, a pipe or a folder. Each :class:`Entry` names one of them and
says what the pipeline must do with it:

``quarantined``
    moved to ``quarantine/`` next to a ``.reason.txt`` containing ``reason``
    (a fragment an operator can act on);
``loaded``
    a request JSON whose record is the row of the company table
    (``archivo_origen``), registered and uploaded (optionally with ``row``:
    column values the row must have);
``superseded``
    a request JSON registered, uploaded and marked loaded, while a newer
    extraction of the same ``numero_radicado`` is the row;
``stored``
    a detail PDF or attachment, registered and uploaded;
``waiting``
    still being written: left in ``processed/`` for the next run (neither
    registered nor quarantined); when ``becomes`` / ``then`` are set, the test
    finishes the write (rename or age the file) and the next run must reach
    ``then``;
``not_descended``
    a directory: left as it is, its content never read.

Names are unique per case (the case tag, ``HX..``, is the SGC and the prefix
of every radicado), so :data:`CASES` can also be written all at once into one
landing folder. Every record carries the same personal data (:data:`PII`):
none of it may appear in a reason file, a step summary or a log line.

:func:`materialize` writes cases to disk; ``python -m tests.landing_corpus DIR``
writes the whole corpus into ``DIR`` to look at it.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from extractorov.landing import company_folders
from extractorov.settings import BOGOTA

TS = "20251008_093221"
TS_LATER = "20251009_101500"
OLD_MTIME = datetime(2025, 10, 8, 9, 32, 21, tzinfo=BOGOTA).timestamp()
"""Every finished file is this old; only ``fresh`` entries are modified 'now'."""

SETTLE_SECONDS = 300.0
"""The settle time the corpus runs use: a file modified within it is still being written."""

PII: dict[str, str] = {
    "documento_identidad": "1098765432",
    "nombres_apellidos": "Hostil Ñandú Pérez",
    "correo_electronico": "hostil.nandu@example.org",
    "telefono": "6057778899",
    "celular": "3157778899",
}
PERSONAL_VALUES: tuple[str, ...] = (*PII.values(), "Ñandú")


class Outcome(StrEnum):
    QUARANTINED = "quarantined"
    LOADED = "loaded"
    SUPERSEDED = "superseded"
    STORED = "stored"
    WAITING = "waiting"
    NOT_DESCENDED = "not_descended"


@dataclass(frozen=True)
class Entry:
    """One thing written into ``processed/`` and what must become of it."""

    name: str
    """File name in ``processed/`` (non-UTF-8 bytes as surrogate escapes, like ``os.listdir``)."""
    outcome: Outcome
    data: bytes = b""
    reason: str = ""
    """QUARANTINED: fragment the ``.reason.txt`` must contain."""
    empresa: str = "afinia"
    kind: str = "file"
    """``file``, ``symlink``, ``fifo`` or ``dir``."""
    target: str = ""
    """symlink: ``outside-file``, ``outside-dir``, ``dangling`` or a name in ``processed/``."""
    children: dict[str, bytes] = field(default_factory=dict)
    """dir: files written inside it."""
    fresh: bool = False
    """Modified just now (the writer may still be appending)."""
    becomes: str | None = None
    """WAITING: the name once the write completes (``None``: same name, just aged)."""
    then: Outcome | None = None
    """WAITING: the outcome of the next run once the write completed."""
    row: dict[str, Any] = field(default_factory=dict)
    """LOADED: column values the table row must have."""

    @property
    def final_name(self) -> str:
        return self.becomes or self.name


@dataclass(frozen=True)
class Case:
    name: str
    why: str
    """How a scraper or a person ends up producing it."""
    entries: tuple[Entry, ...]

    @property
    def companies(self) -> tuple[str, ...]:
        return tuple(sorted({e.empresa for e in self.entries}))


# --------------------------------------------------------------------------- builders


def data_name(sgc: str, ts: str = TS) -> str:
    return f"{sgc}_data_{ts}.json"


def pdf_name(sgc: str, ts: str = TS) -> str:
    return f"{sgc}_{ts}.pdf"


def adjunto_name(sgc: str, ext: str = "jpg", ts: str = TS) -> str:
    return f"{sgc}_adjunto_{ts}.{ext}"


def record(sgc: str, n: int = 1, ts: str = TS, **fields: Any) -> dict[str, Any]:
    """A valid scraper record (radicado ``{sgc}-R{n}``); ``fields`` override or add keys."""
    data: dict[str, Any] = {
        "record_number": n, "sgc_number": sgc, "extraction_timestamp": ts,
        "page_url": "https://caribemar.facture.co/pqr/detalle", "page_title": "Detalle PQR",
        "numero_radicado": f"{sgc}-R{n}", "numero_reclamo_sgc": sgc,
        "fecha": "2025/10/07 14:05", "estado_solicitud": "Finalizado", "tipo_pqr": "Reclamo",
        "nic": "7654321", **PII, "lectura": "12345", "canal_respuesta": "Correo electrónico",
        # Names an evidence file (a JSON naming none never owns an attachment).
        "documento_prueba": "3f2a9c1e-6b7d-4e2f-9a10-5c3b2d1e0f9a.png",
        "cuerpo_reclamacion": "Cobro excesivo en la factura de octubre.",
    }
    data.update(fields)
    return data


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


def js(data: Any, **kwargs: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, **kwargs).encode("utf-8")


def pdf_bytes(label: str) -> bytes:
    return b"%PDF-1.4\n% hostile corpus " + label.encode("utf-8", "replace") + b"\n%%EOF\n"


def q(name: str, data: bytes, reason: str, **kw: Any) -> Entry:
    return Entry(name, Outcome.QUARANTINED, data, reason=reason, **kw)


def loaded(name: str, data: bytes, **kw: Any) -> Entry:
    return Entry(name, Outcome.LOADED, data, **kw)


def stored(name: str, data: bytes | None = None, **kw: Any) -> Entry:
    return Entry(name, Outcome.STORED, pdf_bytes(name) if data is None else data, **kw)


def request(sgc: str, n: int = 1, ts: str = TS, *, pdf: bool = True, adjunto: str | None = None,
            empresa: str = "afinia", row: dict[str, Any] | None = None,
            **fields: Any) -> tuple[Entry, ...]:
    """A complete, valid request as the scraper writes it (JSON, detail PDF, attachment)."""
    entries = [loaded(data_name(sgc, ts), js(record(sgc, n, ts, **fields)), empresa=empresa,
                      row=row or {})]
    if pdf:
        entries.append(stored(pdf_name(sgc, ts), empresa=empresa))
    if adjunto:
        entries.append(stored(adjunto_name(sgc, adjunto, ts), empresa=empresa))
    return tuple(entries)


def good_request(empresa: str) -> tuple[Entry, ...]:
    """The well-formed request written next to every case: it must not be affected."""
    return request(f"GOOD{empresa.upper()}", adjunto="png", empresa=empresa)


def _at(day: int, hour: int, minute: int, second: int = 0, tz: Any = BOGOTA) -> datetime:
    return datetime(2025, 10, day, hour, minute, second, tzinfo=tz)


# Reason fragments, as the pipeline words them.
BAD_NAME = "file name not recognised"
NOT_REGULAR = "not a regular file: a symbolic link or device"
EMPTY = "empty file: 0 bytes"
UNSAFE_KEY = "file name cannot be used in an S3 key"


def waiting(name: str, data: bytes, **kw: Any) -> Entry:
    """A document whose request JSON is not there: it stays in processed/, never quarantined."""
    return Entry(name, Outcome.WAITING, data, **kw)
UNSAFE_SGC = "is not a safe identifier (letters, digits, '_' and '-', at most 64 characters)"

# A name of the longest SGC the file system allows in a data file name: 255 bytes in all.
LONG_SGC = "HX29" + "L" * (255 - len(data_name("")) - 4)
_TRUNCATED = json.dumps(record("HX03"), ensure_ascii=False).encode("utf-8")[:211]


CASES: tuple[Case, ...] = (
    Case("empty_files", "the bot crashed right after opening the files; a disk ran full", (
        q(data_name("HX01"), b"", EMPTY),
        q(data_name("HX01B"), b"  \r\n\t \n", "invalid request JSON: empty file"),
        stored(pdf_name("HX01")),  # its JSON was quarantined; the SGC is real: uploaded
    )),
    Case("not_json", "a truncated write, a saved HTML error page, a Python repr, two "
                     "objects appended, a PDF saved under the .json name", (
        q(data_name("HX03"), _TRUNCATED, "invalid request JSON: invalid JSON at line 1 column"),
        q(data_name("HX03B"), b"<!DOCTYPE html><html><body>Sesi\xc3\xb3n expirada</body></html>",
          "invalid JSON at line 1 column 1"),
        q(data_name("HX03C"), repr(record("HX03C")).encode("utf-8"),
          "invalid JSON at line 1 column 2"),
        q(data_name("HX03D"), js(record("HX03D")) + b"\n" + js(record("HX03D", 2)),
          "invalid JSON at line 2 column 1"),
        q(data_name("HX03E"), pdf_bytes("HX03E"), "invalid JSON at line 1 column 1"),
    )),
    Case("json_not_an_object", "the bot dumped its whole list, or null when a page failed", (
        q(data_name("HX04"), js([record("HX04")]), "JSON is a list, expected an object"),
        q(data_name("HX04B"), b"null", "expected an object"),
        q(data_name("HX04C"), b'"Finalizado"', "JSON is a str, expected an object"),
    )),
    Case("utf8_bom", "saved by a Windows editor: the code accepts a UTF-8 BOM as UTF-8", (
        loaded(data_name("HX05"), b"\xef\xbb\xbf" + js(record("HX05")),
               row={"nombres_apellidos": PII["nombres_apellidos"]}),
        stored(pdf_name("HX05")),
    )),
    Case("not_utf8", "re-saved as Windows-1252 / Latin-1, or as Notepad's 'Unicode' (UTF-16)", (
        q(data_name("HX06"), json.dumps(record("HX06"), ensure_ascii=False).encode("latin-1"),
          "not UTF-8 text (byte offset"),
        q(data_name("HX06B"), json.dumps(record("HX06B"), ensure_ascii=False).encode("utf-16"),
          "not UTF-8 text (byte offset 0)"),
    )),
    Case("numero_radicado_missing_or_blank", "the page had not finished loading", (
        q(data_name("HX07"), js(without(record("HX07"), "numero_radicado")),
          "numero_radicado is missing or blank"),
        q(data_name("HX07B"), js(record("HX07B", numero_radicado="")),
          "numero_radicado is missing or blank"),
        q(data_name("HX07C"), js(record("HX07C", numero_radicado=" \n\t ")),
          "numero_radicado is missing or blank"),
        q(data_name("HX07D"), js(record("HX07D", numero_radicado=None)),
          "numero_radicado is missing or blank"),
        q(data_name("HX07E"), js(record("HX07E", numero_radicado="R" * 65)),
          "numero_radicado is longer than 64 characters"),
        stored(pdf_name("HX07")),
    )),
    Case("fecha_unparseable", "free text, impossible dates, an epoch number, empty", (
        q(data_name("HX08"), js(record("HX08", fecha="ayer por la tarde")),
          "fecha is not a date in a known format"),
        q(data_name("HX08B"), js(record("HX08B", fecha="2025/13/45 10:00")),
          "fecha is not a date in a known format"),
        q(data_name("HX08C"), js(record("HX08C", fecha="31/02/2025")),
          "fecha is not a date in a known format"),
        q(data_name("HX08D"), js(record("HX08D", fecha=1759863900)),
          "fecha is not a date in a known format"),
        loaded(data_name("HX08E"), js(record("HX08E", fecha="")), row={"fecha": None}),
        q(data_name("HX08F"), js(record("HX08F", fecha="1899/12/31 23:59")),
          "fecha is outside the years 2000-2100"),
    )),
    Case("fecha_other_formats", "the portal changed its date format; accepted ones load", (
        loaded(data_name("HX09A"), js(record("HX09A", fecha="07/10/2025 14:05")),
               row={"fecha": _at(7, 14, 5)}),
        loaded(data_name("HX09B"), js(record("HX09B", fecha="2025-10-07T14:05:00-05:00")),
               row={"fecha": _at(7, 14, 5)}),
        loaded(data_name("HX09C"), js(record("HX09C", fecha="2025-10-07 19:05:00Z")),
               row={"fecha": _at(7, 19, 5, tz=UTC)}),
        loaded(data_name("HX09D"), js(record("HX09D", fecha="7/10/2025 2:05 p. m.")),
               row={"fecha": _at(7, 14, 5)}),
        loaded(data_name("HX09E"), js(record("HX09E", fecha="2025/10/07")),
               row={"fecha": _at(7, 0, 0)}),
        loaded(data_name("HX09F"), js(record("HX09F", fecha="  2025/10/07\n 14:05 ")),
               row={"fecha": _at(7, 14, 5)}),
        loaded(data_name("HX09G"), js(record("HX09G", fecha="2025-10-07 14:05:59")),
               row={"fecha": _at(7, 14, 5, 59)}),
    )),
    Case("huge_text_field", "a customer pasted a whole document into the request body", (
        q(data_name("HX10"), js(record("HX10", cuerpo_reclamacion="x" * (5 * 1024 * 1024))),
          "request JSON too large: 5.0 MiB, over the 1 MiB limit"),
        stored(pdf_name("HX10")),
        loaded(data_name("HX10B"), js(record("HX10B", cuerpo_reclamacion="á" * 450_000)),
               row={"cuerpo_reclamacion": "á" * 450_000}),
    )),
    Case("wrong_types", "a newer bot version returned structures, booleans, floats", (
        q(data_name("HX11"), js(record("HX11", nombres_apellidos={
            "nombre": "Hostil Ñandú", "apellido": "Pérez", "cedula": PII["documento_identidad"]})),
          "field nombres_apellidos must be text, got an object"),
        q(data_name("HX11B"), js(record("HX11B", nic=["7654321", PII["celular"]])),
          "field nic must be text, got a list"),
        q(data_name("HX11C"), js(record("HX11C", estado_solicitud=True)),
          "field estado_solicitud must be text, got a boolean"),
        q(data_name("HX11D"), js(record("HX11D", record_number="uno")),
          "field record_number must be an integer"),
        q(data_name("HX11E"), js(record("HX11E", record_number=1.5)),
          "field record_number must be an integer"),
        q(data_name("HX11F"), js(record("HX11F", record_number=False)),
          "field record_number must be an integer, got a boolean"),
        loaded(data_name("HX11G"), js(record("HX11G", numero_radicado=20251000777, nic=7654321)),
               row={"numero_radicado": "20251000777", "nic": "7654321"}),
    )),
    Case("sgc_escapes_in_numero_reclamo_sgc", "the SGC cell held a path, a space, accents, "
                                              "full-width digits or a pasted paragraph", (
        q(data_name("HX12"), js(record("HX12", numero_reclamo_sgc="../../../etc")),
          "SGC number from numero_reclamo_sgc " + UNSAFE_SGC),
        stored(pdf_name("HX12")),
        q(data_name("HX12B"), js(record("HX12B", numero_reclamo_sgc="RE/2210/../../afinia")),
          "SGC number from numero_reclamo_sgc " + UNSAFE_SGC),
        q(data_name("HX12C"), js(record("HX12C", numero_reclamo_sgc="RE 2210")),
          "SGC number from numero_reclamo_sgc " + UNSAFE_SGC),
        q(data_name("HX12D"), js(record("HX12D", numero_reclamo_sgc="RÉ2210")),
          "SGC number from numero_reclamo_sgc " + UNSAFE_SGC),
        q(data_name("HX12E"), js(record("HX12E", numero_reclamo_sgc="ＲＥ２２１０")),
          "SGC number from numero_reclamo_sgc " + UNSAFE_SGC),
        q(data_name("HX12F"), js(record("HX12F", numero_reclamo_sgc="R" * 300)),
          "SGC number from numero_reclamo_sgc " + UNSAFE_SGC),
        q(data_name("HX12G"), js(record("HX12G", numero_reclamo_sgc="..")),
          "SGC number from numero_reclamo_sgc " + UNSAFE_SGC),
        q(data_name("HX12H"), js(record("HX12H", numero_reclamo_sgc="", sgc_number="..\\x")),
          "SGC number from sgc_number " + UNSAFE_SGC),
    )),
    Case("odd_sgc_in_file_name", "the bot built the file name from what the list showed; the "
                                 "JSON's own SGC is valid, so the S3 folder is that one", (
        loaded(data_name("HX13 A"), js(record("HX13A")), row={"numero_reclamo_sgc": "HX13A"}),
        stored(pdf_name("HX13 A")),
        loaded(data_name("HX13Ñ"), js(record("HX13N")), row={"numero_reclamo_sgc": "HX13N"}),
        loaded(data_name("HX13N\u0303D"), js(record("HX13ND"))),  # macOS NFD spelling
        loaded(data_name(LONG_SGC), js(record("HX29"))),
        # A document name whose "SGC" is longer than any SGC is not the bot's (its text
        # could be a customer's own file name): set aside, shown by its length only.
        q(pdf_name(LONG_SGC), pdf_bytes("HX29"), BAD_NAME),
        loaded(data_name("HX13#?%+&=;'\""), js(record("HX13S"))),
    )),
    Case("odd_sgc_in_file_name_only", "the JSON has no SGC, so the file name's would be used", (
        q(data_name("HX14 A"), js(record("HX14A", numero_reclamo_sgc="", sgc_number="")),
          "SGC number from the file name " + UNSAFE_SGC),
        q(data_name("HX14Ñ"), js(record("HX14N", numero_reclamo_sgc="", sgc_number="")),
          "SGC number from the file name " + UNSAFE_SGC),
        q(data_name("L" * 229), js(record("HX14L", numero_reclamo_sgc="", sgc_number="")),
          "SGC number from the file name " + UNSAFE_SGC),
        q(pdf_name("L" * 229), pdf_bytes("HX14L"), BAD_NAME),
        loaded(data_name("PQR_14_ERROR"), js(record("HX14P", numero_reclamo_sgc="",
                                                    sgc_number="")),
               row={"numero_reclamo_sgc": None}),
    )),
    Case("same_radicado_twice", "re-scraped within one run with a changed state", (
        Entry(data_name("HX15"), Outcome.SUPERSEDED,
              js(record("HX15", estado_solicitud="En trámite"))),
        stored(pdf_name("HX15")),
        loaded(data_name("HX15", TS_LATER), js(record("HX15", ts=TS_LATER)),
               row={"estado_solicitud": "Finalizado"}),
        stored(pdf_name("HX15", TS_LATER)),
        Entry(data_name("HX15B"), Outcome.SUPERSEDED,
              js(record("HX15B", numero_radicado="HX15-R1", estado_solicitud="Abierto"))),
    )),
    Case("same_sgc_both_companies", "SGC numbers are per company and do collide", (
        *request("HX16", empresa="afinia", adjunto="pdf"),
        *request("HX16", empresa="aire", adjunto="pdf"),
    )),
    Case("zero_byte_companions", "the print-to-PDF or the evidence download failed", (
        loaded(data_name("HX17"), js(record("HX17"))),
        q(pdf_name("HX17"), b"", EMPTY),
        q(adjunto_name("HX17", "png"), b"", EMPTY),
    )),
    Case("still_being_written", "the bot is writing while the run starts", (
        Entry(data_name("HX18") + ".part", Outcome.WAITING, js(record("HX18")), fresh=True,
              becomes=data_name("HX18"), then=Outcome.LOADED),
        Entry(data_name("HX18B"), Outcome.WAITING, js(record("HX18B")), fresh=True,
              then=Outcome.LOADED),
        Entry(pdf_name("HX18B"), Outcome.WAITING, pdf_bytes("HX18B"), fresh=True,
              then=Outcome.STORED),
        loaded(data_name("HX18C"), js(record("HX18C"))),
        Entry(adjunto_name("HX18C", "jpg") + ".crdownload", Outcome.WAITING, b"\xff\xd8\xff",
              fresh=True,
              becomes=adjunto_name("HX18C", "jpg"), then=Outcome.STORED),
        Entry(data_name("HX18D") + ".tmp", Outcome.WAITING, js(record("HX18D"))[:40],
              fresh=True),
    )),
    Case("json_written_after_its_pdf", "the bot saved the PDF first; the JSON is still open",
         (
             Entry(data_name("HX19") + ".part", Outcome.WAITING, js(record("HX19")), fresh=True,
                   becomes=data_name("HX19"), then=Outcome.LOADED),
             Entry(pdf_name("HX19"), Outcome.WAITING, pdf_bytes("HX19"), then=Outcome.STORED),
         )),
    Case("links_and_devices", "a person linked files in instead of copying them", (
        Entry(data_name("HX20"), Outcome.QUARANTINED, reason=NOT_REGULAR, kind="symlink",
              target="outside-file"),
        Entry(pdf_name("HX20"), Outcome.QUARANTINED, reason=NOT_REGULAR, kind="symlink",
              target="outside-dir"),
        Entry(data_name("HX20B"), Outcome.QUARANTINED, reason=NOT_REGULAR, kind="symlink",
              target="dangling"),
        loaded(data_name("HX20C"), js(record("HX20C"))),
        Entry(data_name("HX20C", TS_LATER), Outcome.QUARANTINED, reason=NOT_REGULAR,
              kind="symlink", target=data_name("HX20C")),
        Entry(data_name("HX20D"), Outcome.QUARANTINED, reason=NOT_REGULAR, kind="fifo"),
    )),
    Case("orphans_and_lonely_json", "the JSON was deleted by hand, or the request had no files", (
        waiting(adjunto_name("HX21", "jpg"), b"\xff\xd8\xff\xe0 jpeg"),
        waiting(pdf_name("HX21B"), pdf_bytes("HX21B")),
        loaded(data_name("HX21C"), js(record("HX21C"))),
    )),
    Case("control_characters_in_names", "names built from page text with newlines, tabs, "
                                        "terminal escapes, bidi overrides", (
        q(data_name("HX22") + "\nreason: loaded fine", js(record("HX22")), BAD_NAME),
        q(data_name("HX22\t1"), js(record("HX22B")), BAD_NAME),
        q(pdf_name("HX22\t1"), pdf_bytes("HX22B"), BAD_NAME),
        q(data_name("HX22\x1b[2J"), js(record("HX22C")), BAD_NAME),
        q(data_name("HX22\u202egpj"), js(record("HX22D")), BAD_NAME),
        q(data_name("HX22\x7f"), js(record("HX22E")), BAD_NAME),
    )),
    Case("windows_path_in_name", "a zip made on Windows, unzipped on Linux: the folder and "
                                 "the backslashes become part of the name", (
        q("descargas\\" + data_name("HX36"), js(record("HX36")), BAD_NAME),
        q("descargas\\" + pdf_name("HX36"), pdf_bytes("HX36"), BAD_NAME),
    )),
    Case("non_utf8_file_name", "copied from a Windows share with a Latin-1 code page", (
        q(data_name("HX23\udcd1"), js(record("HX23")), BAD_NAME),
        q(pdf_name("HX23\udcd1"), pdf_bytes("HX23"), BAD_NAME),
    )),
    Case("names_that_are_not_scraper_output", "browser duplicates, OS litter, notes, renamed "
                                              "extensions, unsupported attachment types", (
        q(data_name("HX24").replace(".json", " (1).json"), js(record("HX24")), BAD_NAME),
        q(data_name("HX24B").replace(".json", ".JSON"), js(record("HX24B")), BAD_NAME),
        loaded(data_name("HX24C"), js(record("HX24C"))),
        stored(adjunto_name("HX24C", "heic"), b"ftypheic"),  # any 1-10 letter extension
        q("Thumbs.db", b"\xd0\xcf\x11\xe0", BAD_NAME),
        q("HX24 notas del operador.txt", b"revisar luego", BAD_NAME),
        q(pdf_name("HX24D") + ":Zone.Identifier", b"[ZoneTransfer]\r\nZoneId=3\r\n", BAD_NAME),
        Entry(".DS_Store", Outcome.WAITING, b"\x00\x00\x00\x01Bud1"),
    )),
    Case("directory_in_processed", "someone archived a day's files into a sub-folder", (
        Entry("HX25-2025-10-07", Outcome.NOT_DESCENDED, kind="dir", children={
            data_name("HX25"): js(record("HX25")), pdf_name("HX25"): pdf_bytes("HX25")}),
        Entry(data_name("HX25B") + ".d", Outcome.NOT_DESCENDED, kind="dir"),
    )),
    Case("nul_characters", "a NUL escaped in a value, raw in the file, in an extra key", (
        q(data_name("HX26"), js(record("HX26", cuerpo_reclamacion="texto\u0000oculto")),
          "field cuerpo_reclamacion contains a NUL character"),
        q(data_name("HX26B"), js(record("HX26B")).replace(b'"Reclamo"', b'"Recl\x00amo"'),
          "invalid JSON at line 1 column"),
        q(data_name("HX26C"), js(record("HX26C", tabla_historial=["ok", "a\u0000b"])),
          "field tabla_historial contains a NUL character"),
        q(data_name("HX26D"), js(record("HX26D", **{"campo\u0000raro": "x"})),
          "a field name contains a NUL character"),
    )),
    Case("deep_nesting", "a recursive structure serialized without a limit", (
        q(data_name("HX27"), b'{"numero_radicado": "HX27-R1", "x": ' + b"[" * 100_000
          + b"]" * 100_000 + b"}", "invalid JSON: nested too deeply"),
        q(data_name("HX27B"), js(record("HX27B"))[:-1] + b', "tabla_arbol": '
          + b'{"a": ' * 900 + b"1" + b"}" * 900 + b"}", "invalid JSON: nested too deeply"),
        # Passes json.loads in extract, overflows json.dumps in load (found by probing 930-998).
        q(data_name("HX27D"), js(record("HX27D"))[:-1] + b', "tabla_arbol": '
          + b'{"a": ' * 954 + b"1" + b"}" * 954 + b"}", "invalid JSON: nested too deeply"),
        loaded(data_name("HX27C"), js(record("HX27C", tabla_historial=[
            {"fecha": "2025-10-01", "evento": "Radicado", "detalle": {"por": "portal"}}]))),
    )),
    Case("duplicate_keys", "a hand-edited file where the old value was left above the new one", (
        q(data_name("HX28"), js(record("HX28"))[:-1] + b', "numero_radicado": "HX28-R9"}',
          "duplicate key numero_radicado"),
        q(data_name("HX28B"), js(record("HX28B"))[:-1] + b', "tabla_x": {"a": 1, "a": 2}}',
          "duplicate key"),
    )),
    Case("huge_and_odd_numbers", "numbers a JavaScript scraper can emit", (
        q(data_name("HX30"), js(record("HX30", record_number=10**30)),
          "field record_number must be an integer"),
        q(data_name("HX30B"), js(record("HX30B"))[:-1] + b', "consumo": ' + b"9" * 5000 + b"}",
          "invalid JSON: a number is too long"),
        q(data_name("HX30C"), js(record("HX30C"))[:-1] + b', "consumo": 1e400}',
          "invalid JSON: a number is out of range"),
        q(data_name("HX30D"), js(record("HX30D"))[:-1] + b', "consumo": NaN}',
          "invalid JSON: NaN and Infinity are not JSON numbers"),
        q(data_name("HX30E"), js(record("HX30E"))[:-1] + b', "consumo": -Infinity}',
          "invalid JSON: NaN and Infinity are not JSON numbers"),
        loaded(data_name("HX30F"), js(record("HX30F", record_number="007",
                                             tabla_consumo=123456789012345678901234567890))),
    )),
    Case("broken_unicode", "a JavaScript scraper cut a string between the halves of an emoji", (
        q(data_name("HX31"), js(record("HX31", cuerpo_reclamacion="hola @")).replace(
            b"hola @", b"hola \\ud83d"),
          "field cuerpo_reclamacion contains an unpaired surrogate"),
        q(data_name("HX31B"), js(record("HX31B"))[:-1] + b', "tabla_notas": ["\\udc00"]}',
          "field tabla_notas contains an unpaired surrogate"),
        loaded(data_name("HX31C"), js(record("HX31C", cuerpo_reclamacion="hola 😀 ✓ ñ 中文")),
               row={"cuerpo_reclamacion": "hola 😀 ✓ ñ 中文"}),
    )),
    Case("keys_shaped_like_internal_columns", "extra keys named like the table's own columns", (
        loaded(data_name("HX32"), js(record(
            "HX32", id=1, hash_registro="forged", hash_contenido="forged", extras={"x": 1},
            archivo_origen="../../etc/passwd", created_at="1999-01-01", updated_at=None)),
            row={"archivo_origen": data_name("HX32")}),
        loaded(data_name("HX32B"), js(record("HX32B", numero_radicado="../HX32B-R1")),
               row={"numero_radicado": "../HX32B-R1"}),
    )),
    Case("harmless_oddities", "variants that must load: pretty-printed CRLF, impossible "
                              "timestamp in the name, garbage bot metadata, afinia fields in "
                              "an aire record, thousands of tabla_ keys", (
        loaded(data_name("HX33"), json.dumps(record("HX33"), ensure_ascii=False, indent=2)
               .replace("\n", "\r\n").encode("utf-8")),
        loaded(data_name("HX33B", "20251399_999999"), js(record("HX33B"))),
        loaded(data_name("HX33C"), js(record("HX33C", extraction_timestamp="ayer",
                                             page_url=None, sgc_number=""))),
        loaded(data_name("HX33D"), js(record("HX33D", comentarios="sí", finalizar="x")),
               empresa="aire"),
        loaded(data_name("HX33E"), js(record("HX33E", **{f"tabla_{i}": str(i)
                                                         for i in range(2000)}))),
    )),
    Case("sgc_mismatch_and_partial_rescrape", "the file name's SGC differs from the JSON's; a "
                                              "second copy of a request is corrupt", (
        loaded(data_name("HX34A"), js(record("HX34A", numero_reclamo_sgc="HX34B")),
               row={"numero_reclamo_sgc": "HX34B"}),
        stored(pdf_name("HX34A")),
        loaded(data_name("HX35"), js(record("HX35"))),
        q(data_name("HX35", TS_LATER), js(record("HX35", ts=TS_LATER))[:100],
          "invalid JSON at line 1 column"),
        stored(pdf_name("HX35")),
        stored(pdf_name("HX35", TS_LATER)),
    )),
)
"""The corpus; every entry of every case is tried."""


# --------------------------------------------------------------------------- writing


def outside_target(outside: Path, case: Case, entry: Entry) -> Path:
    """Where a symlink of the corpus points when it points out of the landing folder."""
    if entry.target == "outside-dir":
        return outside / "etc"
    return outside / f"{case.name}-{entry.target}.json"


def materialize(cases: tuple[Case, ...] | list[Case], landing: Path, outside: Path) -> None:
    """Write cases into ``landing`` (one ``processed/`` per company).

    Symlinks that point out of the landing folder point into ``outside``,
    which holds a valid request with personal data (it must never be read).
    """
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "etc").mkdir(exist_ok=True)
    (outside / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    for case in cases:
        for entry in case.entries:
            processed = company_folders(landing, entry.empresa).processed
            processed.mkdir(parents=True, exist_ok=True)
            path = processed / entry.name
            if entry.kind == "symlink":
                if entry.target in {"outside-file", "outside-dir"}:
                    target = outside_target(outside, case, entry)
                    if entry.target == "outside-file":
                        target.write_bytes(js(record("HX99", numero_radicado="OUTSIDE-R1")))
                elif entry.target == "dangling":
                    target = outside / "does-not-exist.json"
                else:
                    target = Path(entry.target)  # relative: a file next to the link
                os.symlink(target, path)
                continue
            if entry.kind == "fifo":
                os.mkfifo(path)
                continue
            if entry.kind == "dir":
                path.mkdir()
                for child, data in entry.children.items():
                    (path / child).write_bytes(data)
                    os.utime(path / child, (OLD_MTIME, OLD_MTIME))
                continue
            path.write_bytes(entry.data)
            if not entry.fresh:
                os.utime(path, (OLD_MTIME, OLD_MTIME))


def finish_writing(entry: Entry, landing: Path) -> None:
    """What the writer does when it is done: rename the temp file, stop touching it."""
    processed = company_folders(landing, entry.empresa).processed
    path = processed / entry.name
    if entry.becomes:
        path = path.rename(processed / entry.becomes)
    os.utime(path, (OLD_MTIME, OLD_MTIME))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.landing_corpus DIR", file=sys.stderr)
        return 2
    root = Path(argv[0])
    materialize(CASES, root / "landing", root / "outside")
    files = sum(len(c.entries) for c in CASES)
    print(f"{len(CASES)} cases, {files} entries written under {root / 'landing'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
