"""One scraper JSON file → one validated, normalized request record.

This module is pure: no I/O beyond the bytes it is given, no Airflow. It is
also the one place that computes the two record hashes:

* ``hash_registro``: the old system's formula, kept so rows it loaded compare
  equal: SHA-256 hex of ``numero_radicado|fecha|tipo_pqr|nic|documento_identidad``
  (``fecha`` as naive Bogotá-local ISO string, missing values as ``""``).
* ``hash_contenido``: SHA-256 of the whole normalized record except the bot's
  own metadata, which decides "changed" (updated) versus "duplicate".

Rejections raise :class:`InvalidRecord` with a reason an operator can act on;
reasons name fields, never their values (values may be personal data).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from extractorov.companies import Company
from extractorov.settings import BOGOTA

BOT_METADATA_FIELDS: tuple[str, ...] = (
    "record_number",
    "sgc_number",
    "extraction_timestamp",
    "page_url",
    "page_title",
)
"""Written by the bot about its session: not content of the request."""

CONTENT_FIELDS: tuple[str, ...] = (
    "numero_radicado",
    "numero_reclamo_sgc",
    "fecha",
    "estado_solicitud",
    "tipo_pqr",
    "nic",
    "documento_identidad",
    "nombres_apellidos",
    "correo_electronico",
    "telefono",
    "celular",
    "lectura",
    "canal_respuesta",
    "documento_prueba",
    "cuerpo_reclamacion",
)
COMMON_FIELDS: tuple[str, ...] = BOT_METADATA_FIELDS + CONTENT_FIELDS

MAX_JSON_BYTES = 1024 * 1024
"""A request JSON is a few KB; anything past 1 MiB is not a scraper record."""

MAX_JSON_DEPTH = 32
"""Records are flat (``tabla_*`` values a few levels deep). A fixed limit keeps deep
nesting from passing ``json.loads`` and then overflowing the stack of a later
``json.dumps`` (the manifest, the JSONB column): that would fail every load."""
MAX_JSON_INTEGER_DIGITS = 4300
"""Python's own limit for converting integer text (``sys.get_int_max_str_digits``)."""

SAFE_SGC = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
r"""Use with ``fullmatch``/``match``: ``\Z``, unlike ``$``, rejects a trailing newline."""

_PLACEHOLDER_SGC = re.compile(r"(?:pqr_[0-9]+(?:_.*)?|sin_sgc)\Z", re.IGNORECASE | re.DOTALL)
"""The bot's stand-ins when it could not read the SGC: ``PQR_{n}_ERROR``,
``PQR_{n}_{YYYYMMDD_HHMMSS}``, an older bot's ``pqr_{n}``. ``n`` is a row on a result
page, so unrelated requests share them: they never identify a request. ``sin_sgc``
is the S3 folder of such requests and so can never be a real SGC either."""


def is_placeholder_sgc(sgc: str | None) -> bool:
    """True for the bot's fallback SGCs (and blanks): not a request identifier."""
    return not sgc or bool(_PLACEHOLDER_SGC.match(sgc))
_INTEGER = re.compile(r"-?[0-9]{1,19}")

_FECHA_FORMATS: tuple[str, ...] = (
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%Y/%m/%d %I:%M %p",
    "%Y/%m/%d %I:%M:%S %p",
    "%d/%m/%Y %I:%M %p",
    "%d/%m/%Y %I:%M:%S %p",
    "%Y/%m/%d",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
)
_MERIDIEM = re.compile(r"\b([ap])\.?\s*m\.?$", re.IGNORECASE)


class InvalidRecord(ValueError):
    """The file cannot become a request record; ``str(exc)`` is the reason."""


@dataclass(frozen=True)
class Record:
    """A normalized request, ready for the company table."""

    numero_radicado: str
    numero_reclamo_sgc: str | None
    """``None`` when the bot wrote only a placeholder (``PQR_4_ERROR``): see ``extras``."""
    fecha: datetime | None
    """``None`` when the portal page showed no date (a known bot failure)."""
    extraction_timestamp: datetime | None
    values: dict[str, Any]
    """Column name → normalized value for every common and company field."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Keys the table has no column for (``tabla_*``, unknown keys), kept as JSONB."""
    hash_registro: str = ""
    hash_contenido: str = ""
    archivo_origen: str = ""
    incomplete: tuple[str, ...] = ()
    """Names of fields the bot left blank that the table would want (never values)."""
    names_attachment: bool | None = None
    """What :func:`attachment_named` says of the file's ``documento_prueba``."""

    def to_manifest(self) -> dict[str, Any]:
        """JSON-serializable form for the run manifest (a local file, never XCom)."""
        return {
            "numero_radicado": self.numero_radicado,
            "numero_reclamo_sgc": self.numero_reclamo_sgc,
            "fecha": _iso_or_none(self.fecha),
            "extraction_timestamp": _iso_or_none(self.extraction_timestamp),
            "values": {k: _jsonable(v) for k, v in self.values.items()},
            "extras": self.extras,
            "hash_registro": self.hash_registro,
            "hash_contenido": self.hash_contenido,
            "archivo_origen": self.archivo_origen,
            "incomplete": list(self.incomplete),
            "names_attachment": self.names_attachment,
        }

    @classmethod
    def from_manifest(cls, data: dict[str, Any]) -> Record:
        values = dict(data["values"])
        for key in ("fecha", "extraction_timestamp"):
            if values.get(key):
                values[key] = datetime.fromisoformat(values[key])
        return cls(
            numero_radicado=data["numero_radicado"],
            numero_reclamo_sgc=data["numero_reclamo_sgc"],
            fecha=datetime.fromisoformat(data["fecha"]) if data["fecha"] else None,
            extraction_timestamp=(
                datetime.fromisoformat(data["extraction_timestamp"])
                if data["extraction_timestamp"]
                else None
            ),
            values=values,
            extras=data["extras"],
            hash_registro=data["hash_registro"],
            hash_contenido=data["hash_contenido"],
            archivo_origen=data["archivo_origen"],
            incomplete=tuple(data.get("incomplete", ())),
            names_attachment=data.get("names_attachment"),
        )


def _iso_or_none(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def table_columns(company: Company) -> tuple[str, ...]:
    """Typed columns a company's table holds for record fields, in table order."""
    return COMMON_FIELDS + company.extra_fields


def attachment_named(data: dict[str, Any]) -> bool | None:
    """Whether the request's page named an evidence file: its ``documento_prueba``.

    The bot's attachment step downloads only the file *Documento/prueba* names, and saves
    nothing when that field is blank; its JSON step, later on the same page, saves the same
    field. A blank field is also what the bot writes for an element it did not find, but
    the page only fills in: a field blank at the JSON step was blank at the attachment step
    before it, unless the page stopped showing the request (then ``numero_radicado`` is
    blank too). So a blank ``documento_prueba`` beside a ``numero_radicado`` says the
    request has **no** attachment (``False``). A named file (``True``) may still have
    failed to download, so it says nothing for sure. ``None``: not known (the key absent
    or not text, another writer or format; or the page no longer showed the request)."""
    value = data.get("documento_prueba")
    if not isinstance(value, str):
        return None
    if value.strip():
        return True
    radicado = data.get("numero_radicado")
    if isinstance(radicado, bool) or not isinstance(radicado, str | int):
        return None
    return False if str(radicado).strip() else None


def attachment_named_in(raw: bytes) -> bool | None:
    """:func:`attachment_named` of a file's bytes. A file that is not a JSON object (cut
    short: the bot stopped while writing it) says what its whole fields say: the bot
    writes ``documento_prueba`` before ``numero_radicado``, and a removal finds a cut file
    by the ``numero_radicado`` it shows, so the same bytes must speak for its attachment.
    ``None`` when those fields are not there whole."""
    try:
        return attachment_named(decode_json(raw))
    except InvalidRecord:
        pass
    text = raw.decode("utf-8-sig", errors="replace")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        pass  # not JSON at all (cut short): its whole fields below
    else:  # JSON, refused for its shape or values: only an object speaks
        return attachment_named(data) if isinstance(data, dict) else None
    fields: dict[str, Any] = {}
    for key in ("documento_prueba", "numero_radicado"):
        # The first occurrence of the key itself (a quote inside a JSON string is escaped),
        # with a whole value: a string up to its closing quote, or a number.
        match = re.search(rf'(?<!\\)"{key}"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|(-?[0-9]+)\s*[,}}\n])',
                          text)
        if match is None:
            return None
        try:
            fields[key] = (json.loads(f'"{match[1]}"') if match[1] is not None
                           else int(match[2]))
        except ValueError:
            return None
    return attachment_named(fields)


def decode_json(raw: bytes) -> dict[str, Any]:
    """Decode a scraper JSON file into an object, or explain why not."""
    if not raw.strip():
        raise InvalidRecord("empty file")
    if len(raw) > MAX_JSON_BYTES:
        raise InvalidRecord(
            f"file is {len(raw) / 1024 / 1024:.1f} MiB, over the "
            f"{MAX_JSON_BYTES // 1024 // 1024} MiB limit for a request JSON"
        )
    try:
        # utf-8-sig also accepts a leading BOM, which some editors add.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRecord(f"not UTF-8 text (byte offset {exc.start})") from None
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_int=_parse_int,
                          parse_float=_parse_float, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"invalid JSON at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InvalidRecord("invalid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidRecord(f"JSON is a {type(data).__name__}, expected an object")
    _check_values(data)
    return data


# json.loads accepts what UTF-8, PostgreSQL (text, jsonb) or our hashes cannot hold: these
# hooks and _check_values turn it into a reason instead of a crash in a later step.


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise InvalidRecord(f"duplicate key {_field_label(key)}: the JSON has two values "
                                "for it and it is not clear which one is right")
        data[key] = value
    return data


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INTEGER_DIGITS:
        raise InvalidRecord(f"invalid JSON: a number is too long (over "
                            f"{MAX_JSON_INTEGER_DIGITS} digits)")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidRecord("invalid JSON: a number is out of range")
    return value


def _reject_constant(text: str) -> Any:
    raise InvalidRecord("invalid JSON: NaN and Infinity are not JSON numbers")


def _check_values(data: dict[str, Any]) -> None:
    """Reject NUL characters, unpaired surrogates and deep nesting anywhere in the record."""
    for key, value in data.items():
        _check_string(key, None)
        label = _field_label(key)
        stack: list[tuple[Any, int]] = [(value, 1)]
        while stack:
            node, depth = stack.pop()
            if isinstance(node, str):
                _check_string(node, label)
            elif isinstance(node, dict | list):
                if depth >= MAX_JSON_DEPTH:
                    raise InvalidRecord(
                        f"invalid JSON: nested too deeply (over {MAX_JSON_DEPTH} levels)")
                if isinstance(node, dict):
                    for inner in node:
                        _check_string(inner, label)
                    stack.extend((inner, depth + 1) for inner in node.values())
                else:
                    stack.extend((inner, depth + 1) for inner in node)


def _check_string(text: str, label: str | None) -> None:
    where = f"field {label}" if label else "a field name"
    if "\x00" in text:
        raise InvalidRecord(f"{where} contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRecord(
            f"{where} contains an unpaired surrogate (a \\ud800-\\udfff escape, e.g. half "
            "of an emoji cut in two): not valid Unicode"
        ) from None


_FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")


def _field_label(key: str) -> str:
    """A key for a reason: shown when it looks like a field name, else not (it is input)."""
    return key if _FIELD_NAME.fullmatch(key) else "(name not shown)"


def parse_fecha(value: str) -> datetime:
    """Parse the portal's filing date; naive values are Bogotá local time."""
    text = " ".join(value.split())
    text = _MERIDIEM.sub(lambda m: m.group(1).upper() + "M", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None:
        for fmt in _FECHA_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)  # naive: localized below
                break
            except ValueError:
                continue
    if parsed is None:
        raise InvalidRecord("fecha is not a date in a known format (e.g. YYYY/MM/DD HH:MM)")
    if not 2000 <= parsed.year <= 2100:
        raise InvalidRecord("fecha is outside the years 2000-2100")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=BOGOTA)
    return parsed


def parse_bot_timestamp(value: str, bot_timezone: tzinfo = BOGOTA) -> datetime | None:
    """``YYYYMMDD_HHMMSS`` on the bot host's naive clock → aware datetime.

    The Windows bot hosts run on Bogotá time; a bot on a Linux host without TZ
    writes UTC: Variable ``ov_bot_timezone`` says which.
    """
    try:
        return datetime.strptime(value, "%Y%m%d_%H%M%S").replace(tzinfo=bot_timezone)
    except (TypeError, ValueError):
        return None


def _normalize_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidRecord(f"field {name} must be text, got {_json_type(value)}")
    text = str(value).strip()
    if "\x00" in text:
        raise InvalidRecord(f"field {name} contains a NUL character")
    return text or None


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean"}.get(type(value), "a value")


def hash_registro(numero_radicado: str, fecha: datetime | None, tipo_pqr: str | None,
                  nic: str | None, documento_identidad: str | None) -> str:
    """The old system's record hash (kept so its rows compare equal)."""
    fecha_text = fecha.astimezone(BOGOTA).replace(tzinfo=None).isoformat() if fecha else ""
    joined = "|".join(
        [numero_radicado or "", fecha_text, tipo_pqr or "", nic or "", documento_identidad or ""]
    )
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def hash_contenido(values: dict[str, Any], extras: dict[str, Any]) -> str:
    """Hash of everything but bot metadata: equal hashes mean "duplicate"."""
    content = {k: _jsonable(v) for k, v in values.items() if k not in BOT_METADATA_FIELDS}
    content["extras"] = extras
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_record(
    raw: bytes,
    *,
    company: Company,
    file_name: str,
    file_sgc: str | None = None,
    file_timestamp: datetime | None = None,
    bot_timezone: tzinfo = BOGOTA,
) -> Record:
    """Validate and normalize one scraper JSON file.

    ``file_sgc`` and ``file_timestamp`` come from the file name and are the
    last fallbacks for the SGC number and the extraction time. Blank fields are
    what the bot writes when a page element did not render: a blank ``fecha``
    loads as NULL and a placeholder SGC as NULL (kept in ``extras``), both listed
    in :attr:`Record.incomplete`; only a blank ``numero_radicado`` (the business
    key) rejects the record.
    """
    data = decode_json(raw)
    columns = table_columns(company)
    values: dict[str, Any] = {}
    for name in columns:
        if name == "record_number":
            values[name] = _normalize_record_number(data.get(name))
        else:
            values[name] = _normalize_text(name, data.get(name))
    extras = {k: v for k, v in data.items() if k not in columns}

    numero_radicado = values["numero_radicado"]
    if not numero_radicado:
        raise InvalidRecord("numero_radicado is missing or blank")
    if len(numero_radicado) > 64:
        raise InvalidRecord("numero_radicado is longer than 64 characters")

    incomplete: list[str] = []
    fecha = parse_fecha(values["fecha"]) if values["fecha"] else None
    if fecha is None:
        incomplete.append("fecha")
    values["fecha"] = fecha

    # The content hash uses the SGC as the portal showed it: a fallback taken from bot
    # metadata (sgc_number, file name) must not make a re-scrape look changed.
    content_hash = hash_contenido(values, extras)
    candidates = (
        ("numero_reclamo_sgc", values["numero_reclamo_sgc"]),
        ("sgc_number", values["sgc_number"]),
        ("the file name", file_sgc),
    )
    sgc: str | None = None
    for source, candidate in candidates:
        if candidate and not is_placeholder_sgc(candidate):
            if not SAFE_SGC.match(candidate):
                raise InvalidRecord(
                    f"SGC number from {source} is not a safe identifier "
                    "(letters, digits, '_' and '-', at most 64 characters)"
                )
            sgc = candidate
            break
    if sgc is None:
        incomplete.append("numero_reclamo_sgc")
        placeholder = next((c for _, c in candidates if c), None)
        if placeholder:
            extras = {**extras, PLACEHOLDER_KEY: placeholder}
    values["numero_reclamo_sgc"] = sgc

    extraction = (parse_bot_timestamp(values["extraction_timestamp"] or "", bot_timezone)
                  or file_timestamp)
    values["extraction_timestamp"] = extraction

    return Record(
        numero_radicado=numero_radicado,
        numero_reclamo_sgc=sgc,
        fecha=fecha,
        extraction_timestamp=extraction,
        values=values,
        extras=extras,
        hash_registro=hash_registro(
            numero_radicado, fecha, values["tipo_pqr"], values["nic"],
            values["documento_identidad"],
        ),
        hash_contenido=content_hash,
        archivo_origen=file_name,
        incomplete=tuple(incomplete),
        names_attachment=attachment_named(data),
    )


def complete_from_known(record: Record, *, fecha: datetime | None,
                        numero_reclamo_sgc: str | None) -> Record:
    """Fill fields the bot left blank with what is already known of the same request.

    A blank ``fecha`` or an SGC read only as a placeholder is a page that did not
    render, not a change: a re-scrape must not erase the date or SGC a previous
    extraction loaded (nor move the request's documents to ``sin_sgc/``). The hashes
    are recomputed, so a re-scrape that differs only by such blanks is a duplicate.
    """
    values = dict(record.values)
    extras = dict(record.extras)
    incomplete = list(record.incomplete)
    if record.fecha is None and fecha is not None:
        values["fecha"] = fecha.astimezone(BOGOTA)
        incomplete.remove("fecha")
    if record.numero_reclamo_sgc is None and numero_reclamo_sgc:
        values["numero_reclamo_sgc"] = numero_reclamo_sgc
        extras.pop(PLACEHOLDER_KEY, None)
        incomplete.remove("numero_reclamo_sgc")
    if len(incomplete) == len(record.incomplete):
        return record
    return Record(
        numero_radicado=record.numero_radicado,
        numero_reclamo_sgc=values["numero_reclamo_sgc"],
        fecha=values["fecha"],
        extraction_timestamp=record.extraction_timestamp,
        values=values,
        extras=extras,
        hash_registro=hash_registro(record.numero_radicado, values["fecha"], values["tipo_pqr"],
                                    values["nic"], values["documento_identidad"]),
        hash_contenido=hash_contenido(values, extras),
        archivo_origen=record.archivo_origen,
        incomplete=tuple(incomplete),
        names_attachment=record.names_attachment,
    )


PLACEHOLDER_KEY = "sgc_placeholder"
"""Key in ``extras`` holding the bot's placeholder SGC of a request without a real one."""


def _normalize_record_number(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidRecord("field record_number must be an integer, got a boolean")
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and abs(value) < 2**63:
        return value
    raise InvalidRecord("field record_number must be an integer")
