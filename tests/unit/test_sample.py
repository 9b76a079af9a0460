"""Tests for the landing-data generator (``devtools.sample``)."""

from __future__ import annotations

import io
import json
import os
import re
import struct
import zipfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from devtools.sample import SampleSummary, generate_landing, main

BOGOTA = ZoneInfo("America/Bogota")
START = date(2025, 10, 7)
DAYS = 3
PER_DAY = 100

COMMON_FIELDS = (
    "record_number", "sgc_number", "extraction_timestamp", "page_url", "page_title",
    "numero_radicado", "numero_reclamo_sgc", "fecha", "estado_solicitud", "tipo_pqr", "nic",
    "documento_identidad", "nombres_apellidos", "correo_electronico", "telefono", "celular",
    "lectura", "canal_respuesta", "documento_prueba", "cuerpo_reclamacion",
)
BOT_METADATA = ("record_number", "sgc_number", "extraction_timestamp", "page_url", "page_title")
AFINIA_EXTRAS = ("finalizar", "adjuntar_archivo", "comentarios")

SAFE_SGC = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TS = r"(?P<ts>\d{8}_\d{6})"
# Order matters: an attachment name also matches the detail-PDF pattern.
PATTERNS = (
    ("data", re.compile(rf"^(?P<sgc>.+)_data_{_TS}\.json$")),
    ("adjunto", re.compile(rf"^(?P<sgc>.+)_adjunto_{_TS}\.(?P<ext>pdf|jpg|png|docx)$")),
    ("detalle", re.compile(rf"^(?P<sgc>.+)_{_TS}\.pdf$")),
)
FALLBACK = re.compile(r"^PQR_(?P<n>\d+)_(?P<ts>\d{8}_\d{6})$")
FECHA_FORMATS = ("%Y/%m/%d %H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Entry:
    empresa: str
    path: Path
    kind: str
    sgc: str
    ts: datetime
    ext: str


def classify(empresa: str, path: Path) -> Entry:
    for kind, pattern in PATTERNS:
        match = pattern.match(path.name)
        if match:
            ts = datetime.strptime(match["ts"], "%Y%m%d_%H%M%S")
            return Entry(empresa, path, kind, match["sgc"], ts, path.suffix[1:])
    raise AssertionError(f"unexpected file name {path.name}")


def scan(root: Path) -> dict[str, list[Entry]]:
    """Every file under root, classified; fails on anything outside the processed folders."""
    result: dict[str, list[Entry]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).parts
        assert len(rel) == 4 and rel[1:3] == ("oficina_virtual", "processed"), rel
        result.setdefault(rel[0], []).append(classify(rel[0], path))
    return result


def load_json(entry: Entry) -> dict[str, Any]:
    return json.loads(entry.path.read_bytes().decode("utf-8"))


def content_of(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in BOT_METADATA}


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def bogota_epoch(naive: datetime) -> float:
    return naive.replace(tzinfo=BOGOTA).timestamp()


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleSummary]:
    root = tmp_path_factory.mktemp("landing")
    summary = generate_landing(root, days=DAYS, requests_per_day=PER_DAY, start=START)
    return root, summary


@pytest.fixture(scope="module")
def entries(landing: tuple[Path, SampleSummary]) -> dict[str, list[Entry]]:
    return scan(landing[0])


@pytest.fixture(scope="module")
def records(entries: dict[str, list[Entry]]) -> dict[str, list[tuple[Entry, dict[str, Any]]]]:
    """JSON records per company in extraction order."""
    return {
        empresa: sorted(
            ((e, load_json(e)) for e in items if e.kind == "data"),
            key=lambda pair: (pair[0].ts, pair[1]["record_number"]),
        )
        for empresa, items in entries.items()
    }


# --------------------------------------------------------------------------- determinism


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    first = generate_landing(tmp_path / "a", days=2, requests_per_day=30, seed=7)
    second = generate_landing(tmp_path / "b", days=2, requests_per_day=30, seed=7)
    a, b = snapshot(tmp_path / "a"), snapshot(tmp_path / "b")
    assert first == second
    assert a.keys() == b.keys() and len(a) == first.files
    assert a == b  # same bytes and same mtimes


def test_seed_changes_the_output(tmp_path: Path) -> None:
    generate_landing(tmp_path / "a", days=1, requests_per_day=10, seed=1)
    generate_landing(tmp_path / "b", days=1, requests_per_day=10, seed=2)
    assert snapshot(tmp_path / "a").keys() != snapshot(tmp_path / "b").keys()


def test_company_output_does_not_depend_on_other_companies(tmp_path: Path) -> None:
    generate_landing(tmp_path / "both", days=2, requests_per_day=15)
    generate_landing(tmp_path / "one", companies=("afinia",), days=2, requests_per_day=15)
    assert snapshot(tmp_path / "both" / "afinia") == snapshot(tmp_path / "one" / "afinia")
    assert not (tmp_path / "one" / "aire").exists()


# --------------------------------------------------------------------------- files


def test_folders_and_file_names(entries: dict[str, list[Entry]]) -> None:
    assert sorted(entries) == ["afinia", "aire"]
    for items in entries.values():
        kinds = Counter(e.kind for e in items)
        assert kinds["data"] == DAYS * PER_DAY
        assert kinds["detalle"] == kinds["data"]
        assert 0 < kinds["adjunto"] < kinds["data"]
        assert {e.ext for e in items if e.kind == "adjunto"} <= {"pdf", "jpg", "png", "docx"}
        exts = Counter(e.ext for e in items if e.kind == "adjunto")
        assert exts["pdf"] == max(exts.values())  # mostly PDFs


def test_each_request_file_set_is_consistent(
    entries: dict[str, list[Entry]], records: dict[str, list[tuple[Entry, dict[str, Any]]]]
) -> None:
    for empresa, items in entries.items():
        by_sgc: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        for e in items:
            by_sgc[(e.kind, e.sgc)].append(e)
        used_detail: set[Path] = set()
        used_attachments: set[Path] = set()
        for entry, record in records[empresa]:
            assert record["extraction_timestamp"] == f"{entry.ts:%Y%m%d_%H%M%S}"
            # The bot's order: detail PDF, attachment, then the JSON last, seconds apart.
            details = [d for d in by_sgc[("detalle", entry.sgc)]
                       if timedelta(0) <= entry.ts - d.ts <= timedelta(seconds=5)]
            assert len(details) == 1, entry.path.name
            used_detail.add(details[0].path)
            attachments = [a for a in by_sgc[("adjunto", entry.sgc)]
                           if details[0].ts <= a.ts <= entry.ts]
            if record["documento_prueba"]:
                assert len(attachments) == 1, entry.path.name
                assert record["documento_prueba"].endswith("." + attachments[0].ext)
                used_attachments.add(attachments[0].path)
            else:
                assert attachments == []
        # No orphan PDFs or attachments.
        assert used_detail == {e.path for e in items if e.kind == "detalle"}
        assert used_attachments == {e.path for e in items if e.kind == "adjunto"}


def test_timestamps_are_on_the_scraping_day_and_mtimes_match(
    entries: dict[str, list[Entry]],
) -> None:
    days_seen: set[date] = set()
    for items in entries.values():
        for e in items:
            assert START <= e.ts.date() < START + timedelta(days=DAYS)
            assert 4 <= e.ts.hour < 6, e.path.name
            assert e.path.stat().st_mtime == bogota_epoch(e.ts)
            days_seen.add(e.ts.date())
    assert days_seen == {START + timedelta(days=d) for d in range(DAYS)}
    # Bogotá is UTC-5: 04:00 local is 09:00 UTC.
    sample_entry = entries["afinia"][0]
    utc = datetime.fromtimestamp(sample_entry.path.stat().st_mtime, tz=ZoneInfo("UTC"))
    assert utc.replace(tzinfo=None) - sample_entry.ts == timedelta(hours=5)


# --------------------------------------------------------------------------- JSON content


def test_json_records_have_every_field_with_the_right_types(
    records: dict[str, list[tuple[Entry, dict[str, Any]]]],
) -> None:
    table_counts: Counter[int] = Counter()
    for empresa, pairs in records.items():
        for entry, record in pairs:
            for name in COMMON_FIELDS:
                assert name in record, (entry.path.name, name)
            assert type(record["record_number"]) is int and record["record_number"] >= 1
            for key, value in record.items():
                if key != "record_number":
                    assert isinstance(value, str), (key, type(value))
                    assert value == value.strip(), key
            assert record["estado_solicitud"] == "Finalizado"
            assert record["tipo_pqr"] in {"Petición", "Queja", "Reclamo", "Sugerencia", "Denuncia"}
            assert re.fullmatch(r"\d{7,8}", record["nic"])
            assert re.fullmatch(r"\d{7,10}", record["documento_identidad"])
            assert re.fullmatch(r"(3\d{9})?", record["celular"])
            assert re.fullmatch(r"(\d{7})?", record["telefono"])
            assert re.fullmatch(r"([\w.]+@[a-z.]+\.[a-z]+)?", record["correo_electronico"])
            assert len(record["nombres_apellidos"].split()) >= 3
            assert len(record["cuerpo_reclamacion"]) > 40
            assert re.fullmatch(
                r"([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
                r"\.(pdf|jpg|png|docx))?",
                record["documento_prueba"],
            )
            if empresa == "afinia":
                assert record["page_url"].startswith("https://caribemar.facture.co/")
                for name in AFINIA_EXTRAS:
                    assert name in record
                tables = [k for k in record if k.startswith("tabla_")]
                assert all(re.fullmatch(r"tabla_[a-z]+", k) for k in tables)
                table_counts[len(tables)] += 1
                extra = set(record) - set(COMMON_FIELDS) - set(AFINIA_EXTRAS) - set(tables)
                assert not extra
            else:
                assert record["page_url"].startswith("https://caribesol.facture.co/")
                assert list(record) == list(COMMON_FIELDS)
    assert set(table_counts) == {0, 1, 2, 3}


def test_json_is_utf8_with_accents_and_two_space_indent(
    records: dict[str, list[tuple[Entry, dict[str, Any]]]],
) -> None:
    raws = [entry.path.read_bytes() for pairs in records.values() for entry, _ in pairs]
    assert all(raw.startswith(b'{\n  "record_number": ') for raw in raws)
    assert not any(b"\\u" in raw for raw in raws)  # ensure_ascii=False
    text = b"".join(raws).decode("utf-8")
    assert "Petición" in text and "Correo electrónico" in text
    names = " ".join(r["nombres_apellidos"] for pairs in records.values() for _, r in pairs)
    assert re.search(r"[áéíóúÁÉÍÓÚñÑ]", names)


def test_fecha_is_mostly_the_portal_format_and_always_parseable(
    records: dict[str, list[tuple[Entry, dict[str, Any]]]],
) -> None:
    formats: Counter[str] = Counter()
    for pairs in records.values():
        for entry, record in pairs:
            for fmt in FECHA_FORMATS:
                try:
                    filed = datetime.strptime(record["fecha"], fmt)
                except ValueError:
                    continue
                formats[fmt] += 1
                assert filed < entry.ts
                break
            else:
                raise AssertionError("fecha in no expected format")
    total = sum(formats.values())
    assert formats["%Y/%m/%d %H:%M"] / total > 0.85
    assert formats["%d/%m/%Y %H:%M"] + formats["%Y-%m-%d %H:%M:%S"] > 0


def test_radicados_are_unique_per_company_and_company_shaped(
    landing: tuple[Path, SampleSummary], records: dict[str, list[tuple[Entry, dict[str, Any]]]],
) -> None:
    shapes = {"afinia": r"2025\d{10}", "aire": r"AIR-2025-\d{7}"}
    distinct = 0
    for empresa, pairs in records.items():
        radicados = {r["numero_radicado"] for _, r in pairs}
        assert all(re.fullmatch(shapes[empresa], rad) for rad in radicados)
        distinct += len(radicados)
    assert distinct == landing[1].requests


def test_sgc_numbers_are_safe_unique_and_disjoint_between_companies(
    records: dict[str, list[tuple[Entry, dict[str, Any]]]],
) -> None:
    spaces: dict[str, set[str]] = {}
    shapes: Counter[str] = Counter()
    for empresa, pairs in records.items():
        radicado_of: dict[str, str] = {}
        sgc_of: dict[str, str] = {}
        for entry, record in pairs:
            sgc = entry.sgc
            assert SAFE_SGC.match(sgc), sgc
            assert record["sgc_number"] == sgc
            fallback = FALLBACK.match(sgc)
            if fallback:
                shapes["fallback"] += 1
                assert record["numero_reclamo_sgc"] == ""
                assert int(fallback["n"]) == record["record_number"]
                # Stamped when the SGC could not be read: before the JSON, seconds at most.
                read_at = datetime.strptime(fallback["ts"], "%Y%m%d_%H%M%S")
                json_at = datetime.strptime(record["extraction_timestamp"], "%Y%m%d_%H%M%S")
                assert timedelta(0) <= json_at - read_at <= timedelta(seconds=5)
            else:
                assert record["numero_reclamo_sgc"] == sgc
                if re.fullmatch(r"RE\d{13}", sgc):
                    shapes["RE"] += 1
                else:
                    assert re.fullmatch(r"\d{8}", sgc), sgc
                    shapes["8 digits"] += 1
            # One SGC number per request and one request per SGC number.
            assert radicado_of.setdefault(sgc, record["numero_radicado"]) == record[
                "numero_radicado"]
            assert sgc_of.setdefault(record["numero_radicado"], sgc) == sgc
        spaces[empresa] = set(radicado_of)
    assert not spaces["afinia"] & spaces["aire"]
    assert shapes["RE"] > shapes["8 digits"] > shapes["fallback"] > 0
    assert shapes["fallback"] / sum(shapes.values()) < 0.05

    # Disjoint by construction, not by luck: 8-digit numbers live in separate ranges and
    # RE numbers (RE + ddmmyyyy + 5 digits) use a different first suffix digit per company.
    eight = {e: sorted(int(s) for s in space if s.isdigit()) for e, space in spaces.items()}
    a, b = eight["afinia"], eight["aire"]
    assert a[-1] < b[0] or b[-1] < a[0]
    re_digit = {e: {s[10] for s in space if s.startswith("RE")} for e, space in spaces.items()}
    assert len(re_digit["afinia"]) == len(re_digit["aire"]) == 1
    assert re_digit["afinia"] != re_digit["aire"]


# --------------------------------------------------------------------------- re-scrapes


def test_rescrapes_keep_radicado_and_sgc_and_match_the_summary(
    landing: tuple[Path, SampleSummary], records: dict[str, list[tuple[Entry, dict[str, Any]]]],
) -> None:
    summary = landing[1]
    same = changed = 0
    for pairs in records.values():
        versions: dict[str, list[tuple[Entry, dict[str, Any]]]] = defaultdict(list)
        for entry, record in pairs:
            versions[record["numero_radicado"]].append((entry, record))
        rescrapes_per_day: Counter[date] = Counter()
        for history in versions.values():
            assert len({e.sgc for e, _ in history}) == 1
            days = [e.ts.date() for e, _ in history]
            assert len(set(days)) == len(days)  # at most one save per day
            for (_, before), (entry, after) in pairwise(history):
                rescrapes_per_day[entry.ts.date()] += 1
                assert after["page_url"] != before["page_url"]  # new session
                if content_of(after) == content_of(before):
                    same += 1
                else:
                    changed += 1
                    assert after["numero_reclamo_sgc"] == before["numero_reclamo_sgc"]
                    assert after["fecha"] == before["fecha"]
        assert START not in rescrapes_per_day
        for d in range(1, DAYS):
            assert rescrapes_per_day[START + timedelta(days=d)] == round(0.15 * PER_DAY)
    assert same > 0 and changed > 0
    assert (same, changed) == (summary.rescraped_same, summary.rescraped_changed)


def test_rescrape_options(tmp_path: Path) -> None:
    none = generate_landing(tmp_path / "none", days=3, requests_per_day=10, rescrape_ratio=0)
    assert (none.rescraped_same, none.rescraped_changed) == (0, 0)
    assert none.requests == none.json_files == 60

    only_same = generate_landing(tmp_path / "same", days=2, requests_per_day=10,
                                 rescrape_ratio=1.0, changed_ratio=0.0, attachment_ratio=0.0)
    assert (only_same.rescraped_same, only_same.rescraped_changed) == (20, 0)
    assert only_same.requests == 20 and only_same.attachments == 0

    only_changed = generate_landing(tmp_path / "changed", days=2, requests_per_day=10,
                                    rescrape_ratio=0.5, changed_ratio=1.0)
    assert (only_changed.rescraped_same, only_changed.rescraped_changed) == (0, 10)

    one_day = generate_landing(tmp_path / "one", days=1, requests_per_day=10)
    assert one_day.rescraped_same + one_day.rescraped_changed == 0


# --------------------------------------------------------------------------- binary files


def check_pdf(data: bytes) -> None:
    """A structurally valid PDF: header, objects where the xref says, trailer, EOF."""
    assert data.startswith(b"%PDF-1.4\n")
    assert data.endswith(b"%%EOF\n")
    startxref = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", data)[1])
    assert data[startxref:].startswith(b"xref\n0 ")
    header = re.match(rb"xref\n0 (\d+)\n", data[startxref:])
    count = int(header[1])
    table = data[startxref + header.end():]
    rows = [table[i * 20:(i + 1) * 20] for i in range(count)]
    assert rows[0] == b"0000000000 65535 f \n"
    for number, row in enumerate(rows[1:], start=1):
        assert re.fullmatch(rb"\d{10} 00000 n \n", row), row
        offset = int(row[:10])
        assert data[offset:].startswith(b"%d 0 obj\n" % number)
    assert table[count * 20:].startswith(b"trailer\n<< /Size %d /Root 1 0 R >>" % count)
    assert b"/BaseFont /Helvetica" in data
    for match in re.finditer(rb"<< /Length (\d+) >>\nstream\n", data):
        end = match.end() + int(match[1])
        assert data[end:end + 10] == b"\nendstream"


def test_detail_pdfs_are_valid_and_about_pdf_size(entries: dict[str, list[Entry]]) -> None:
    for items in entries.values():
        for e in items:
            if e.ext != "pdf":
                continue
            data = e.path.read_bytes()
            check_pdf(data)
            assert b"(Solicitud " + e.sgc.encode() + b")" in data
            assert 3_600 <= len(data) <= 4_400, len(data)


@pytest.mark.parametrize("pdf_size", [0, 100_000])
def test_pdf_size_is_respected(tmp_path: Path, pdf_size: int) -> None:
    summary = generate_landing(tmp_path, companies=("aire",), days=1, requests_per_day=3,
                               pdf_size=pdf_size, attachment_ratio=0.0)
    pdfs = sorted(tmp_path.rglob("*.pdf"))
    assert len(pdfs) == summary.pdf_files == 3
    for path in pdfs:
        data = path.read_bytes()
        check_pdf(data)
        if pdf_size:
            assert abs(len(data) - pdf_size) < pdf_size * 0.02
        else:
            assert len(data) < 1_500


def check_png(data: bytes) -> None:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, kinds, idat = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        kinds.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert depth == 8 and colour == 2
    assert len(zlib.decompress(idat)) == height * (1 + 3 * width)


def check_jpeg(data: bytes) -> None:
    assert data.startswith(b"\xff\xd8\xff\xe0") and data[6:11] == b"JFIF\x00"
    assert data.endswith(b"\xff\xd9")
    pos, markers = 2, []
    while data[pos + 1] != 0xDA:  # walk the segments up to the scan
        assert data[pos] == 0xFF
        markers.append(data[pos + 1])
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    assert {0xDB, 0xC0, 0xC4} <= set(markers)


def check_docx(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        assert {"[Content_Types].xml", "word/document.xml"} <= names
        assert b"<w:document" in archive.read("word/document.xml")


def test_attachments_are_valid_files(entries: dict[str, list[Entry]]) -> None:
    checks = {"pdf": check_pdf, "png": check_png, "jpg": check_jpeg, "docx": check_docx}
    seen: Counter[str] = Counter()
    for items in entries.values():
        for e in items:
            if e.kind == "adjunto":
                checks[e.ext](e.path.read_bytes())
                seen[e.ext] += 1
    assert set(seen) == set(checks)


def test_rescraped_attachment_has_the_same_bytes(
    records: dict[str, list[tuple[Entry, dict[str, Any]]]], entries: dict[str, list[Entry]],
) -> None:
    compared = 0
    for empresa, items in entries.items():
        by_sgc: dict[str, list[bytes]] = defaultdict(list)
        for e in items:
            if e.kind == "adjunto":
                by_sgc[e.sgc].append(e.path.read_bytes())
        for contents in by_sgc.values():
            if len(contents) > 1:
                compared += 1
                assert len(set(contents)) == 1
        assert records[empresa]
    assert compared > 0


# --------------------------------------------------------------------------- summary, CLI


def test_summary_counts_equal_the_files_on_disk(
    landing: tuple[Path, SampleSummary], entries: dict[str, list[Entry]],
) -> None:
    summary = landing[1]
    all_entries = [e for items in entries.values() for e in items]
    kinds = Counter(e.kind for e in all_entries)
    assert summary.json_files == kinds["data"]
    assert summary.pdf_files == kinds["detalle"]
    assert summary.attachments == kinds["adjunto"]
    assert summary.total_bytes == sum(e.path.stat().st_size for e in all_entries)
    assert summary.by_company == {empresa: len(items) for empresa, items in entries.items()}
    assert summary.requests + summary.rescraped_same + summary.rescraped_changed == (
        summary.json_files)


def test_other_company_names_are_supported_with_the_common_fields(tmp_path: Path) -> None:
    summary = generate_landing(tmp_path, companies=("electrohuila",), days=1, requests_per_day=5)
    assert summary.by_company == {"electrohuila": summary.files}
    for path in (tmp_path / "electrohuila" / "oficina_virtual" / "processed").glob("*.json"):
        assert list(json.loads(path.read_text(encoding="utf-8"))) == list(COMMON_FIELDS)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"companies": ("../etc",)},
        {"companies": ("afinia", "afinia")},
        {"companies": "afinia"},
        {"days": -1},
        {"requests_per_day": -5},
        {"rescrape_ratio": 1.5},
        {"changed_ratio": -0.1},
        {"attachment_ratio": 2},
        {"pdf_size": -1},
    ],
)
def test_invalid_arguments_are_rejected(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        generate_landing(tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


def test_cli_prints_counts_and_no_personal_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "cli"
    code = main(["--root", str(root), "--days", "2", "--requests-per-day", "12", "--seed", "3",
                 "--start", "2025-11-02", "--pdf-size", "2000", "--companies", "aire,afinia"])
    out = capsys.readouterr().out
    assert code == 0
    expected = generate_landing(tmp_path / "api", companies=("aire", "afinia"), days=2,
                                requests_per_day=12, seed=3, start=date(2025, 11, 2),
                                pdf_size=2000)
    assert snapshot(root) == snapshot(tmp_path / "api")
    assert f"json_files: {expected.json_files}" in out
    assert f"requests: {expected.requests}" in out
    assert f"total_bytes: {expected.total_bytes}" in out
    assert "files[aire]" in out and "files[afinia]" in out
    personal = ("documento_identidad", "nombres_apellidos", "correo_electronico", "telefono",
                "celular", "nic")
    for path in root.rglob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record["extraction_timestamp"].startswith(("20251102", "20251103"))
        for name in personal:
            if record[name]:
                assert record[name] not in out, name


def test_cli_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--root", str(tmp_path), "--companies", "Bad Name"])
    assert exc.value.code == 2
    assert os.listdir(tmp_path) == []
