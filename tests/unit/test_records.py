"""Tests for ``extractorov.records``: one scraper JSON file → one normalized record."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from extractorov.companies import COMPANIES, Company
from extractorov.records import (
    BOT_METADATA_FIELDS,
    COMMON_FIELDS,
    CONTENT_FIELDS,
    MAX_JSON_BYTES,
    InvalidRecord,
    Record,
    decode_json,
    parse_fecha,
    parse_record,
)

BOGOTA = ZoneInfo("America/Bogota")
AFINIA = COMPANIES["afinia"]
AIRE = COMPANIES["aire"]

# Personal data used in the fixtures: must never show up in a rejection reason.
NAME = "María Fernanda Pérez Gómez"
EMAIL = "maria.perez@example.com"
CEDULA = "1045678901"
CELULAR = "3001234567"
PII_VALUES = (NAME, EMAIL, CEDULA, CELULAR)


def common_record() -> dict[str, Any]:
    return {
        "record_number": 7,
        "sgc_number": "RE2210202542239",
        "extraction_timestamp": "20251008_122537",
        "page_url": "https://caribemar.facture.co/OficinaVirtual/Detalle?id=42",
        "page_title": "Oficina Virtual - Detalle de solicitud",
        "numero_radicado": "  RAD-2025-000123 ",
        "numero_reclamo_sgc": "RE2210202542239",
        "fecha": "2025/10/08 09:32",
        "estado_solicitud": "Finalizado",
        "tipo_pqr": "Reclamo",
        "nic": "1234567",
        "documento_identidad": CEDULA,
        "nombres_apellidos": f"  {NAME}  ",
        "correo_electronico": EMAIL,
        "telefono": "",
        "celular": CELULAR,
        "lectura": "12345",
        "canal_respuesta": "Correo electrónico",
        "documento_prueba": "3f2a9c1e-6b7d-4e2f-9a10-5c3b2d1e0f9a.pdf",
        "cuerpo_reclamacion": "Cobro excesivo en la factura de septiembre.\nSolicito revisión.",
    }


def afinia_record() -> dict[str, Any]:
    return {
        **common_record(),
        "finalizar": "Sí",
        "adjuntar_archivo": "",
        "comentarios": "  Cliente solicita visita técnica ",
        "tabla_historial": [
            {"fecha": "2025/10/08", "estado": "Radicado"},
            {"fecha": "2025/10/09", "estado": "Finalizado"},
        ],
        "tabla_respuesta": "Se ajusta la factura",
        "campo_desconocido": {"anidado": True},
    }


def aire_record() -> dict[str, Any]:
    record = common_record()
    record.update(
        page_url="https://caribesol.facture.co/OficinaVirtual/Detalle?id=9",
        numero_reclamo_sgc="63643842",
        sgc_number="63643842",
        fecha="08/10/2025 02:15 p. m.",
        tipo_pqr="Petición",
    )
    return record


def encode(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def parse(data: dict[str, Any], company: Company = AFINIA, **kwargs: Any) -> Record:
    kwargs.setdefault("file_name", "RE2210202542239_data_20251008_122537.json")
    return parse_record(encode(data), company=company, **kwargs)


def reject(data: dict[str, Any], company: Company = AFINIA, **kwargs: Any) -> str:
    with pytest.raises(InvalidRecord) as info:
        parse(data, company, **kwargs)
    return str(info.value)


def assert_no_pii(reason: str) -> None:
    for value in PII_VALUES:
        assert value not in reason
    assert "maria" not in reason.lower()


def old_hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- decode_json


class TestDecodeJson:
    @pytest.mark.parametrize("raw", [b"", b"   \n\t ", b"\n"])
    def test_empty_file(self, raw: bytes) -> None:
        with pytest.raises(InvalidRecord, match=r"^empty file$"):
            decode_json(raw)

    def test_invalid_json_names_line_and_column(self) -> None:
        raw = b'{\n  "numero_radicado": "R1",\n  "fecha": ,\n}'
        with pytest.raises(InvalidRecord) as info:
            decode_json(raw)
        assert str(info.value) == "invalid JSON at line 3 column 12"

    def test_invalid_json_reason_has_no_content(self) -> None:
        raw = f'{{"nombres_apellidos": "{NAME}", "correo_electronico": {EMAIL}}}'.encode()
        with pytest.raises(InvalidRecord) as info:
            decode_json(raw)
        assert str(info.value).startswith("invalid JSON at line 1 column ")
        assert_no_pii(str(info.value))

    @pytest.mark.parametrize(
        ("raw", "kind"),
        [(b"[1, 2]", "list"), (b'"text"', "str"), (b"42", "int"), (b"null", "NoneType")],
    )
    def test_non_object_rejected(self, raw: bytes, kind: str) -> None:
        with pytest.raises(InvalidRecord, match="expected an object") as info:
            decode_json(raw)
        assert kind in str(info.value)

    def test_utf8_bom_accepted(self) -> None:
        raw = b"\xef\xbb\xbf" + encode({"nombres_apellidos": "José Núñez"})
        assert decode_json(raw) == {"nombres_apellidos": "José Núñez"}

    def test_latin1_rejected(self) -> None:
        raw = '{"nombres_apellidos": "José Núñez"}'.encode("latin-1")
        with pytest.raises(InvalidRecord, match="not UTF-8") as info:
            decode_json(raw)
        assert "Jos" not in str(info.value)

    def test_over_one_mib_rejected(self) -> None:
        raw = b'{"a": "' + b"x" * MAX_JSON_BYTES + b'"}'
        with pytest.raises(InvalidRecord, match="MiB limit"):
            decode_json(raw)

    def test_exactly_one_mib_accepted(self) -> None:
        raw = b'{"a":"' + b"x" * (MAX_JSON_BYTES - 8) + b'"}'
        assert len(raw) == MAX_JSON_BYTES
        assert decode_json(raw) == {"a": "x" * (MAX_JSON_BYTES - 8)}

    def test_deeply_nested_json_rejected_cleanly(self) -> None:
        raw = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        with pytest.raises(InvalidRecord, match="invalid JSON"):
            decode_json(raw)


# --------------------------------------------------------------------------- parse_record


class TestParseAfinia:
    def test_all_fields_normalized(self) -> None:
        record = parse(afinia_record())
        expected_fecha = datetime(2025, 10, 8, 9, 32, tzinfo=BOGOTA)
        expected_extraction = datetime(2025, 10, 8, 12, 25, 37, tzinfo=BOGOTA)
        assert record.numero_radicado == "RAD-2025-000123"
        assert record.numero_reclamo_sgc == "RE2210202542239"
        assert record.fecha == expected_fecha
        assert record.extraction_timestamp == expected_extraction
        assert record.archivo_origen == "RE2210202542239_data_20251008_122537.json"
        assert record.values == {
            "record_number": 7,
            "sgc_number": "RE2210202542239",
            "extraction_timestamp": expected_extraction,
            "page_url": "https://caribemar.facture.co/OficinaVirtual/Detalle?id=42",
            "page_title": "Oficina Virtual - Detalle de solicitud",
            "numero_radicado": "RAD-2025-000123",
            "numero_reclamo_sgc": "RE2210202542239",
            "fecha": expected_fecha,
            "estado_solicitud": "Finalizado",
            "tipo_pqr": "Reclamo",
            "nic": "1234567",
            "documento_identidad": CEDULA,
            "nombres_apellidos": NAME,
            "correo_electronico": EMAIL,
            "telefono": None,
            "celular": CELULAR,
            "lectura": "12345",
            "canal_respuesta": "Correo electrónico",
            "documento_prueba": "3f2a9c1e-6b7d-4e2f-9a10-5c3b2d1e0f9a.pdf",
            "cuerpo_reclamacion": (
                "Cobro excesivo en la factura de septiembre.\nSolicito revisión."
            ),
            "finalizar": "Sí",
            "adjuntar_archivo": None,
            "comentarios": "Cliente solicita visita técnica",
        }

    def test_values_keys_are_the_table_columns(self) -> None:
        record = parse(afinia_record())
        assert tuple(record.values) == (*COMMON_FIELDS, "finalizar", "adjuntar_archivo",
                                        "comentarios")

    def test_tabla_and_unknown_keys_kept_in_extras(self) -> None:
        data = afinia_record()
        record = parse(data)
        assert record.extras == {
            "tabla_historial": data["tabla_historial"],
            "tabla_respuesta": "Se ajusta la factura",
            "campo_desconocido": {"anidado": True},
        }

    def test_no_key_is_dropped(self) -> None:
        data = afinia_record()
        data["otro_campo_nuevo"] = "valor"
        record = parse(data)
        assert set(record.values) | set(record.extras) == set(data)
        assert not set(record.values) & set(record.extras)


class TestParseAire:
    def test_all_fields_normalized(self) -> None:
        record = parse(aire_record(), AIRE, file_name="63643842_data_20251008_122537.json")
        assert record.numero_radicado == "RAD-2025-000123"
        assert record.numero_reclamo_sgc == "63643842"
        assert record.fecha == datetime(2025, 10, 8, 14, 15, tzinfo=BOGOTA)
        assert tuple(record.values) == COMMON_FIELDS
        assert record.values["tipo_pqr"] == "Petición"
        assert record.values["nombres_apellidos"] == NAME
        assert record.values["telefono"] is None
        assert record.extras == {}

    def test_afinia_only_fields_are_extras_for_aire(self) -> None:
        data = {**aire_record(), "finalizar": "Sí", "tabla_x": "y", "nuevo": 1}
        record = parse(data, AIRE)
        assert "finalizar" not in record.values
        assert record.extras == {"finalizar": "Sí", "tabla_x": "y", "nuevo": 1}


class TestNormalization:
    def test_strip_and_empty_to_none(self) -> None:
        data = aire_record()
        data.update(lectura="   ", canal_respuesta="\t Correo \n", nic="")
        values = parse(data, AIRE).values
        assert values["lectura"] is None
        assert values["canal_respuesta"] == "Correo"
        assert values["nic"] is None

    def test_missing_fields_are_none(self) -> None:
        data = {"numero_radicado": "R1", "fecha": "2025/10/08 09:32", "numero_reclamo_sgc": "S1"}
        record = parse(data, AFINIA)
        for name, value in record.values.items():
            if name not in {"numero_radicado", "fecha", "numero_reclamo_sgc"}:
                assert value is None, name

    def test_numbers_in_text_fields_become_text(self) -> None:
        data = {**aire_record(), "nic": 1234567, "lectura": 12.5}
        values = parse(data, AIRE).values
        assert values["nic"] == "1234567"
        assert values["lectura"] == "12.5"

    @pytest.mark.parametrize("value", [None, ""])
    def test_numero_radicado_missing(self, value: str | None) -> None:
        data = afinia_record()
        data["numero_radicado"] = value
        assert reject(data) == "numero_radicado is missing or blank"

    def test_numero_radicado_absent(self) -> None:
        data = afinia_record()
        del data["numero_radicado"]
        assert reject(data) == "numero_radicado is missing or blank"

    def test_numero_radicado_blank(self) -> None:
        data = afinia_record()
        data["numero_radicado"] = "   \t "
        assert reject(data) == "numero_radicado is missing or blank"

    def test_numero_radicado_too_long(self) -> None:
        data = afinia_record()
        data["numero_radicado"] = "R" * 65
        assert "longer than 64" in reject(data)
        data["numero_radicado"] = "R" * 64
        assert parse(data).numero_radicado == "R" * 64

    def test_nul_character_rejected(self) -> None:
        data = afinia_record()
        data["cuerpo_reclamacion"] = "texto\x00oculto"
        assert "cuerpo_reclamacion" in reject(data)


# --------------------------------------------------------------------------- fecha


class TestFecha:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2025/10/08 09:32", datetime(2025, 10, 8, 9, 32)),
            ("08/10/2025 09:32", datetime(2025, 10, 8, 9, 32)),
            ("2025-10-08 09:32:15", datetime(2025, 10, 8, 9, 32, 15)),
            ("2025-10-08T09:32:15", datetime(2025, 10, 8, 9, 32, 15)),
            ("2025/10/08 02:30 p. m.", datetime(2025, 10, 8, 14, 30)),
            ("2025/10/08 02:30 p.m.", datetime(2025, 10, 8, 14, 30)),
            ("08/10/2025 11:05 a. m.", datetime(2025, 10, 8, 11, 5)),
            ("08/10/2025 12:05 a. m.", datetime(2025, 10, 8, 0, 5)),
            ("2025/10/08  09:32", datetime(2025, 10, 8, 9, 32)),
            ("2025/10/08", datetime(2025, 10, 8)),
        ],
    )
    def test_naive_formats_are_bogota_local(self, text: str, expected: datetime) -> None:
        parsed = parse_fecha(text)
        assert parsed.tzinfo is not None
        assert parsed.utcoffset() == timedelta(hours=-5)
        assert parsed.replace(tzinfo=None) == expected
        assert parsed == expected.replace(tzinfo=BOGOTA)

    @pytest.mark.parametrize(
        ("text", "expected_utc"),
        [
            ("2025-10-08T09:32:00-05:00", datetime(2025, 10, 8, 14, 32, tzinfo=UTC)),
            ("2025-10-08T14:32:00+00:00", datetime(2025, 10, 8, 14, 32, tzinfo=UTC)),
            ("2025-10-08T14:32:00Z", datetime(2025, 10, 8, 14, 32, tzinfo=UTC)),
        ],
    )
    def test_iso_with_offset_keeps_the_instant(self, text: str, expected_utc: datetime) -> None:
        parsed = parse_fecha(text)
        assert parsed == expected_utc
        assert parsed.astimezone(BOGOTA).replace(tzinfo=None) == datetime(2025, 10, 8, 9, 32)

    def test_parse_record_fecha_is_aware(self) -> None:
        record = parse(aire_record(), AIRE)
        assert record.fecha.utcoffset() == timedelta(hours=-5)
        assert record.values["fecha"] is record.fecha

    @pytest.mark.parametrize(
        "text",
        ["garbage", "2025/13/45 09:32", "ayer", "10:30", "2025/10/08 25:00", "1899/12/30 00:00",
         "1899-12-30T00:00:00", "30/12/1899 00:00", "2101/01/01 00:00"],
    )
    def test_garbage_and_out_of_range_rejected(self, text: str) -> None:
        with pytest.raises(InvalidRecord, match="fecha"):
            parse_fecha(text)

    def test_year_1899_rejected_in_record(self) -> None:
        data = afinia_record()
        data["fecha"] = "1899/12/30 00:00"
        assert reject(data) == "fecha is outside the years 2000-2100"

    @pytest.mark.parametrize("value", [None, "", "   "])
    def test_fecha_missing_loads_as_null_and_is_counted_incomplete(
            self, value: str | None) -> None:
        data = afinia_record()
        data["fecha"] = value
        record = parse(data)
        assert (record.fecha, record.values["fecha"], record.incomplete) == (None, None,
                                                                              ("fecha",))
        # The old formula with fecha as "": rows the old loader wrote compare equal.
        assert record.hash_registro == hashlib.sha256(
            f"{data['numero_radicado'].strip()}||{data['tipo_pqr']}|{data['nic']}|"
            f"{data['documento_identidad']}".encode()).hexdigest()


# --------------------------------------------------------------------------- SGC


class TestSgc:
    def test_numero_reclamo_sgc_first(self) -> None:
        data = {**afinia_record(), "numero_reclamo_sgc": "RE1", "sgc_number": "RE2"}
        assert parse(data, file_sgc="RE3").numero_reclamo_sgc == "RE1"

    def test_sgc_number_second(self) -> None:
        data = {**afinia_record(), "numero_reclamo_sgc": " ", "sgc_number": "RE2"}
        record = parse(data, file_sgc="RE3")
        assert record.numero_reclamo_sgc == "RE2"
        assert record.values["numero_reclamo_sgc"] == "RE2"

    def test_file_name_sgc_last(self) -> None:
        data = afinia_record()
        del data["numero_reclamo_sgc"]
        data["sgc_number"] = ""
        record = parse(data, file_sgc="RE9")
        assert record.numero_reclamo_sgc == "RE9"
        assert record.values["numero_reclamo_sgc"] == "RE9"

    @pytest.mark.parametrize("placeholder", ["PQR_1_20251008_122537", "PQR_4_ERROR", "pqr_7",
                                             "sin_sgc"])
    def test_a_placeholder_is_no_sgc_and_is_kept_in_extras(self, placeholder: str) -> None:
        data = {**afinia_record(), "numero_reclamo_sgc": "", "sgc_number": placeholder}
        record = parse(data, file_sgc=placeholder)
        assert record.numero_reclamo_sgc is None
        assert record.values["numero_reclamo_sgc"] is None
        assert record.extras["sgc_placeholder"] == placeholder
        assert record.incomplete == ("numero_reclamo_sgc",)

    def test_a_rescrape_with_another_placeholder_has_the_same_content(self) -> None:
        first = parse({**afinia_record(), "numero_reclamo_sgc": "", "sgc_number": "PQR_4_ERROR"},
                      file_sgc="PQR_4_ERROR")
        again = parse({**afinia_record(), "numero_reclamo_sgc": "",
                       "sgc_number": "PQR_2_20251009_080000"}, file_sgc="PQR_2_20251009_080000")
        assert first.hash_contenido == again.hash_contenido

    def test_a_real_sgc_in_the_field_wins_over_a_placeholder_file_name(self) -> None:
        data = {**afinia_record(), "numero_reclamo_sgc": "RE77", "sgc_number": "PQR_3_ERROR"}
        assert parse(data, file_sgc="PQR_3_ERROR").numero_reclamo_sgc == "RE77"

    def test_no_sgc_anywhere_loads_without_one(self) -> None:
        data = {**afinia_record(), "numero_reclamo_sgc": "", "sgc_number": None}
        record = parse(data)
        assert record.numero_reclamo_sgc is None
        assert "sgc_placeholder" not in record.extras

    @pytest.mark.parametrize(
        "sgc", ["../x", "a/b", "RE 123", "RÉ123", "x" * 300, "x" * 65, "RE1;DROP", "..", "a\\b"]
    )
    @pytest.mark.parametrize("source", ["numero_reclamo_sgc", "sgc_number", "file"])
    def test_unsafe_sgc_rejected(self, sgc: str, source: str) -> None:
        data = {**afinia_record(), "numero_reclamo_sgc": "", "sgc_number": ""}
        file_sgc = None
        if source == "file":
            file_sgc = sgc
        else:
            data[source] = sgc
        reason = reject(data, file_sgc=file_sgc)
        assert "not a safe identifier" in reason
        expected_source = "the file name" if source == "file" else source
        assert f"from {expected_source}" in reason
        if len(sgc) > 4:
            assert sgc not in reason

    def test_64_character_sgc_accepted(self) -> None:
        data = {**afinia_record(), "numero_reclamo_sgc": "A-b_9" * 12 + "abcd"}
        assert parse(data).numero_reclamo_sgc == "A-b_9" * 12 + "abcd"


# --------------------------------------------------------------------------- types


class TestTypes:
    @pytest.mark.parametrize(
        ("value", "kind"),
        [({"a": "b"}, "an object"), (["a"], "a list"), (True, "a boolean"),
         (False, "a boolean")],
    )
    @pytest.mark.parametrize("name", ["nic", "nombres_apellidos", "numero_radicado", "comentarios"])
    def test_wrong_type_in_text_field(self, name: str, value: Any, kind: str) -> None:
        data = afinia_record()
        data[name] = value
        assert reject(data) == f"field {name} must be text, got {kind}"

    @pytest.mark.parametrize("value", ["abc", 1.5, True, [1], {"n": 1}, "1e3", "-", 2**63])
    def test_record_number_not_int(self, value: Any) -> None:
        data = afinia_record()
        data["record_number"] = value
        assert "record_number must be an integer" in reject(data)

    @pytest.mark.parametrize(("value", "expected"), [(3, 3), ("12", 12), (" 4 ", 4), ("", None),
                                                     (None, None), ("-2", -2)])
    def test_record_number_accepted(self, value: Any, expected: int | None) -> None:
        data = afinia_record()
        data["record_number"] = value
        assert parse(data).values["record_number"] == expected

    @pytest.mark.parametrize("value", ["²", "--5", "1²"])
    def test_record_number_odd_digits_are_invalid_record(self, value: str) -> None:
        data = afinia_record()
        data["record_number"] = value
        with pytest.raises(InvalidRecord):
            parse(data)


# --------------------------------------------------------------------------- PII


class TestReasonsHaveNoPersonalData:
    @pytest.mark.parametrize(
        "change",
        [
            {"numero_radicado": ""},
            {"fecha": NAME},
            {"fecha": EMAIL},
            {"numero_reclamo_sgc": EMAIL},
            {"numero_reclamo_sgc": NAME},
            {"nombres_apellidos": {"nombre": NAME, "correo": EMAIL}},
            {"documento_identidad": [CEDULA]},
            {"correo_electronico": f"{EMAIL}\x00"},
            {"record_number": CEDULA + "x"},
            {"numero_radicado": CEDULA * 7},
        ],
    )
    def test_reason_does_not_leak(self, change: dict[str, Any]) -> None:
        data = {**afinia_record(), **change}
        assert_no_pii(reject(data))


# --------------------------------------------------------------------------- extraction time


class TestExtractionTimestamp:
    def test_bot_timestamp_used(self) -> None:
        ts = datetime(2025, 10, 9, 1, 2, 3, tzinfo=BOGOTA)
        record = parse(afinia_record(), file_timestamp=ts)
        assert record.extraction_timestamp == datetime(2025, 10, 8, 12, 25, 37, tzinfo=BOGOTA)

    @pytest.mark.parametrize("value", [None, "", "ayer", "2025-10-08 12:25:37"])
    def test_file_timestamp_fallback(self, value: str | None) -> None:
        ts = datetime(2025, 10, 9, 1, 2, 3, tzinfo=BOGOTA)
        data = {**afinia_record(), "extraction_timestamp": value}
        record = parse(data, file_timestamp=ts)
        assert record.extraction_timestamp == ts
        assert record.values["extraction_timestamp"] == ts

    def test_no_timestamp_at_all(self) -> None:
        data = {**afinia_record(), "extraction_timestamp": ""}
        assert parse(data).extraction_timestamp is None


# --------------------------------------------------------------------------- hashes


class TestHashRegistro:
    def test_old_formula(self) -> None:
        record = parse(afinia_record())
        expected = old_hash("RAD-2025-000123", "2025-10-08T09:32:00", "Reclamo", "1234567",
                            CEDULA)
        assert record.hash_registro == expected

    def test_missing_values_are_empty_strings(self) -> None:
        data = {**afinia_record(), "tipo_pqr": "", "documento_identidad": None}
        del data["nic"]
        record = parse(data)
        assert record.hash_registro == old_hash("RAD-2025-000123", "2025-10-08T09:32:00", "",
                                                "", "")

    @pytest.mark.parametrize(
        "fecha",
        ["2025/10/08 09:32", "08/10/2025 09:32", "2025-10-08 09:32:00",
         "2025-10-08T14:32:00+00:00", "2025-10-08T14:32:00Z", "2025/10/08 09:32 a. m."],
    )
    def test_fecha_is_naive_bogota_iso(self, fecha: str) -> None:
        record = parse({**afinia_record(), "fecha": fecha})
        expected = old_hash("RAD-2025-000123", "2025-10-08T09:32:00", "Reclamo", "1234567",
                            CEDULA)
        assert record.hash_registro == expected

    def test_fecha_with_seconds(self) -> None:
        record = parse({**aire_record(), "fecha": "2025-10-08 09:32:15"}, AIRE)
        expected = old_hash("RAD-2025-000123", "2025-10-08T09:32:15", "Petición", "1234567",
                            CEDULA)
        assert record.hash_registro == expected

    def test_ignores_other_fields(self) -> None:
        a = parse(afinia_record())
        b = parse({**afinia_record(), "cuerpo_reclamacion": "otro texto", "celular": "1"})
        assert a.hash_registro == b.hash_registro
        assert a.hash_contenido != b.hash_contenido


CONTENT_CHANGES: dict[str, Any] = {
    "numero_radicado": "RAD-2025-999999",
    "numero_reclamo_sgc": "RE999",
    "fecha": "2025/10/08 09:33",
    "estado_solicitud": "En trámite",
    "tipo_pqr": "Queja",
    "nic": "7654321",
    "documento_identidad": "99999999",
    "nombres_apellidos": "Otra Persona",
    "correo_electronico": "otra@example.com",
    "telefono": "6050000000",
    "celular": "3110000000",
    "lectura": "54321",
    "canal_respuesta": "Físico",
    "documento_prueba": "otro.pdf",
    "cuerpo_reclamacion": "Otro texto",
    "finalizar": "No",
    "adjuntar_archivo": "Sí",
    "comentarios": "otro comentario",
    "tabla_historial": [{"fecha": "2025/10/08", "estado": "Radicado"}],
    "tabla_respuesta": "Otra respuesta",
    "campo_desconocido": {"anidado": False},
    "campo_nuevo": "aparece",
}

BOT_CHANGES: dict[str, Any] = {
    "record_number": 99,
    "sgc_number": "RE0000000000001",
    "extraction_timestamp": "20251109_080000",
    "page_url": "https://caribemar.facture.co/otra",
    "page_title": "Otro título",
}


class TestHashContenido:
    def test_covers_every_content_field(self) -> None:
        assert set(CONTENT_FIELDS) | set(AFINIA.extra_fields) <= set(CONTENT_CHANGES)
        assert set(BOT_CHANGES) == set(BOT_METADATA_FIELDS)

    @pytest.mark.parametrize(("name", "value"), list(BOT_CHANGES.items()))
    def test_bot_metadata_ignored(self, name: str, value: Any) -> None:
        a = parse(afinia_record())
        b = parse({**afinia_record(), name: value},
                  file_name="RE2210202542239_data_20251109_080000.json")
        assert a.values[name] != b.values[name]
        assert a.hash_contenido == b.hash_contenido

    def test_all_bot_metadata_at_once_ignored(self) -> None:
        a = parse(afinia_record())
        b = parse({**afinia_record(), **BOT_CHANGES})
        assert a.hash_contenido == b.hash_contenido

    @pytest.mark.parametrize(("name", "value"), list(CONTENT_CHANGES.items()))
    def test_content_change_changes_hash(self, name: str, value: Any) -> None:
        a = parse(afinia_record())
        b = parse({**afinia_record(), name: value})
        assert a.hash_contenido != b.hash_contenido

    def test_extras_order_irrelevant(self) -> None:
        data = afinia_record()
        reordered = dict(reversed(list(data.items())))
        assert parse(data).hash_contenido == parse(reordered).hash_contenido

    def test_normalization_equivalents_are_equal(self) -> None:
        a = parse(afinia_record())
        b = parse({**afinia_record(), "tipo_pqr": "  Reclamo\t", "telefono": None,
                   "fecha": "08/10/2025 09:32"})
        assert a.hash_contenido == b.hash_contenido

    def test_is_sha256_hex(self) -> None:
        record = parse(afinia_record())
        assert len(record.hash_contenido) == 64
        int(record.hash_contenido, 16)
        assert record.hash_contenido != record.hash_registro

    @pytest.mark.parametrize(
        ("first", "second"),
        [
            ({"sgc_number": "RE1"}, {"sgc_number": "RE2"}),
            ({"sgc_number": "", "file_sgc": "PQR_1_20251008_122537"},
             {"sgc_number": "", "file_sgc": "PQR_4_20251009_080000"}),
        ],
    )
    def test_bot_sgc_fallback_is_not_content(self, first: dict[str, Any],
                                             second: dict[str, Any]) -> None:
        def build(change: dict[str, Any]) -> Record:
            change = dict(change)
            file_sgc = change.pop("file_sgc", None)
            data = {**afinia_record(), "numero_reclamo_sgc": "", **change}
            return parse(data, file_sgc=file_sgc)

        assert build(first).hash_contenido == build(second).hash_contenido


# --------------------------------------------------------------------------- manifest


class TestManifest:
    @pytest.mark.parametrize(
        ("data", "company", "file_timestamp"),
        [
            (afinia_record(), AFINIA, None),
            (aire_record(), AIRE, None),
            ({**afinia_record(), "extraction_timestamp": "", "fecha": "2025-10-08T14:32:00Z"},
             AFINIA, None),
            ({**aire_record(), "extraction_timestamp": ""}, AIRE,
             datetime(2025, 10, 8, 12, 25, 37, tzinfo=BOGOTA)),
        ],
    )
    def test_round_trip(self, data: dict[str, Any], company: Company,
                        file_timestamp: datetime | None) -> None:
        record = parse(data, company, file_timestamp=file_timestamp)
        text = json.dumps(record.to_manifest(), ensure_ascii=False)
        restored = Record.from_manifest(json.loads(text))
        assert restored == record
        assert restored.values["fecha"] == record.fecha
        assert isinstance(restored.values["fecha"], datetime)
        assert restored.fecha.utcoffset() == record.fecha.utcoffset()
        assert restored.extras == record.extras
        assert restored.hash_contenido == record.hash_contenido

    def test_manifest_is_plain_json(self) -> None:
        manifest = parse(afinia_record()).to_manifest()
        assert manifest["fecha"] == "2025-10-08T09:32:00-05:00"
        assert manifest["extraction_timestamp"] == "2025-10-08T12:25:37-05:00"
        assert manifest["values"]["fecha"] == "2025-10-08T09:32:00-05:00"
        json.dumps(manifest)


class TestCompleteFromKnown:
    """A re-scrape with blanks keeps what an earlier extraction loaded: a duplicate."""

    def test_blank_fecha_and_placeholder_are_filled_and_hash_equals_the_original(self) -> None:
        from datetime import UTC

        from extractorov.records import complete_from_known

        original = parse(afinia_record())
        blank = {**afinia_record(), "fecha": "", "numero_reclamo_sgc": "",
                 "sgc_number": "PQR_2_ERROR"}
        rescrape = parse(blank, file_sgc="PQR_2_ERROR")
        assert rescrape.hash_contenido != original.hash_contenido
        stored_fecha = original.fecha.astimezone(UTC)  # as PostgreSQL returns it
        completed = complete_from_known(rescrape, fecha=stored_fecha,
                                        numero_reclamo_sgc=original.numero_reclamo_sgc)
        assert completed.incomplete == ()
        assert (completed.fecha, completed.numero_reclamo_sgc) == (original.fecha,
                                                                   original.numero_reclamo_sgc)
        assert "sgc_placeholder" not in completed.extras
        assert completed.hash_contenido == original.hash_contenido
        assert completed.hash_registro == original.hash_registro

    def test_nothing_known_leaves_the_record(self) -> None:
        from extractorov.records import complete_from_known

        rescrape = parse({**afinia_record(), "fecha": ""})
        assert complete_from_known(rescrape, fecha=None, numero_reclamo_sgc=None) is rescrape


@pytest.mark.parametrize(("text", "fmt"), [
    ("2025/10/07 14:05", "%Y/%m/%d %H:%M"),          # the normal one (old bulk loader)
    ("2025-10-07 14:05:33", "%Y-%m-%d %H:%M:%S"),
    ("2025/10/07 14:05:33", "%Y/%m/%d %H:%M:%S"),
    ("2025-10-07 14:05", "%Y-%m-%d %H:%M"),
    ("07/10/2025 14:05", "%d/%m/%Y %H:%M"),          # old consolidator
    ("07-10-2025 14:05", "%d-%m-%Y %H:%M"),
    ("2025-10-07", "%Y-%m-%d"),                      # old database service, date only
    ("07/10/2025", "%d/%m/%Y"),
    ("07-10-2025", "%d-%m-%Y"),
    ("2025/10/07", "%Y/%m/%d"),
])
def test_every_fecha_format_keeps_the_old_hash_registro(text: str, fmt: str) -> None:
    """The old loader parsed these into naive datetimes and hashed ``isoformat()``."""
    from datetime import datetime as dt

    data = {**afinia_record(), "fecha": text}
    record = parse(data)
    old = "|".join([data["numero_radicado"].strip(), dt.strptime(text, fmt).isoformat(),
                    data["tipo_pqr"], data["nic"], data["documento_identidad"]])
    assert record.hash_registro == hashlib.sha256(old.encode()).hexdigest()
