"""The load's staging rows: what ``extract`` writes for ``COPY`` (PostgreSQL text format).

Pure formatting; the round trip through a real ``COPY`` is in
tests/integration/test_extract_load.py.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from extractorov import warehouse
from extractorov.companies import COMPANIES
from extractorov.records import parse_record
from extractorov.settings import BOGOTA

AFINIA = COMPANIES["afinia"]


@pytest.mark.parametrize(("value", "text"), [
    (None, "\\N"),
    ("plain", "plain"),
    ("tab\there", "tab\\there"),
    ("two\nlines\r\n", "two\\nlines\\r\\n"),
    ("back\\slash", "back\\\\slash"),
    ("\\N", "\\\\N"),  # the text "\N" is not NULL
    ("", ""),
    ("ñandú 😀", "ñandú 😀"),
    (12, "12"),
    (-9223372036854775808, "-9223372036854775808"),
    (datetime(2025, 10, 8, 9, 32, tzinfo=BOGOTA), "2025-10-08T09:32:00-05:00"),
    ({"a": "x\ty", "b": [1, "\\"]}, '{"a":"x\\\\ty","b":[1,"\\\\\\\\"]}'),
])
def test_each_value_has_one_copy_text_form(value, text):
    assert warehouse._copy_field(value) == text


@pytest.mark.parametrize("value", [True, 1.5, b"bytes", ["a"]])
def test_values_a_record_never_holds_are_refused(value):
    with pytest.raises(TypeError):
        warehouse._copy_field(value)


def test_file_names_are_quoted_array_elements():
    names = ['a.json', 'with "quote".json', "comma,brace{}.json", "back\\slash.json"]
    assert warehouse._text_array(names) == (
        '{"a.json","with \\"quote\\".json","comma,brace{}.json","back\\\\slash.json"}')
    assert warehouse._text_array([]) == "{}"


def test_a_row_is_one_line_with_a_field_per_table_column():
    raw = ('{"numero_radicado": "R-1", "numero_reclamo_sgc": "RE1", "fecha": "2025/10/07 14:05",'
           ' "cuerpo_reclamacion": "línea 1\\nlínea 2\\tcon tab \\\\ y barra",'
           ' "tabla_pagos": [{"valor": "1\\n2"}], "record_number": 3}').encode()
    record = parse_record(raw, company=AFINIA, file_name="RE1_data_20251008_093221.json")
    line = warehouse.stage_row(AFINIA, record)
    assert line.endswith("\n") and line.count("\n") == 1 and "\r" not in line
    fields = line[:-1].split("\t")
    columns = warehouse.load_columns(AFINIA)
    by_name = dict(zip(columns, fields, strict=True))
    assert by_name["numero_radicado"] == "R-1"
    assert by_name["cuerpo_reclamacion"] == "línea 1\\nlínea 2\\tcon tab \\\\ y barra"
    assert by_name["record_number"] == "3"
    assert by_name["fecha"] == "2025-10-07T14:05:00-05:00"
    assert by_name["telefono"] == "\\N"
    assert by_name["hash_contenido"] == record.hash_contenido
    assert by_name["extras"] == '{"tabla_pagos":[{"valor":"1\\\\n2"}]}'

    key = warehouse.key_row(record.numero_radicado, ["RE1_data_20251007_093221.json",
                                     "RE1_data_20251008_093221.json"])
    assert key == ('R-1\t{"RE1_data_20251007_093221.json","RE1_data_20251008_093221.json"}'
                   "\n")
