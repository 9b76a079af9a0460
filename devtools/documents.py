"""Bodies of the fake files the sample generator writes: PDF, PNG, JPEG, DOCX.

Small but valid documents (a viewer opens them), built with the standard library
only, so ``make demo`` needs nothing but Python.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zipfile
import zlib
from collections.abc import Sequence

__all__ = ["PdfMaker", "attachment"]


class PdfMaker:
    """Minimal valid one-page PDFs (Helvetica text), padded to about ``size`` bytes.

    Objects 1-4 (catalog, pages, page, font) never change and are prebuilt; per
    file only the content stream (object 5), an unreferenced padding stream
    (object 6), the xref table and the trailer are assembled.
    """

    _HEADER = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"

    def __init__(self, size: int) -> None:
        self.size = size
        objects = (
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        )
        prefix = bytearray(self._HEADER)
        self.offsets: list[int] = []
        for number, body in enumerate(objects, start=1):
            self.offsets.append(len(prefix))
            prefix += b"%d 0 obj\n%s\nendobj\n" % (number, body)
        self.prefix = bytes(prefix)
        # Printable filler (64 hex digits a line), made once; files take a slice of it.
        filler_rng = random.Random(f"extractorov-sample-pdf:{size}")
        line_count = size // 65 + 1
        self.filler = b"".join(
            b"%064x\n" % filler_rng.getrandbits(256) for _ in range(line_count)
        )

    def make(self, lines: Sequence[str]) -> bytes:
        ops = [b"BT /F1 14 Tf 72 740 Td 18 TL"]
        for line in lines:
            ops.append(b"(" + _pdf_string(line) + b") Tj T*")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        obj5 = b"5 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (
            len(stream), stream,
        )
        # Everything but the padding bytes is ~600 bytes; pad up to ``size``.
        fixed = len(self.prefix) + len(obj5) + 60 + 20 * 7 + 60
        pad = self.filler[: max(0, self.size - fixed)]
        obj6 = b"6 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (len(pad), pad)
        off5 = len(self.prefix)
        off6 = off5 + len(obj5)
        xref_at = off6 + len(obj6)
        xref = [b"xref\n0 7\n0000000000 65535 f \n"]
        xref += [b"%010d 00000 n \n" % off for off in (*self.offsets, off5, off6)]
        trailer = b"trailer\n<< /Size 7 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
        return b"".join((self.prefix, obj5, obj6, *xref, trailer))


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def attachment(ext: str, sgc: str, documento: str, pdf: PdfMaker) -> bytes:
    """The evidence file; the same request always gets the same bytes."""
    if ext == "pdf":
        return pdf.make(("Evidencia aportada por el cliente", f"Solicitud {sgc}",
                         f"Documento {documento}"))
    if ext == "png":
        return _png(sgc)
    if ext == "jpg":
        return _jpeg(sgc)
    return _docx(sgc, documento)


def _png(sgc: str) -> bytes:
    """A 16x16 RGB gradient in a colour derived from the SGC number."""
    r, g, b = hashlib.sha256(sgc.encode()).digest()[:3]
    rows = b"".join(
        b"\x00" + b"".join(bytes(((r + x * 8) % 256, (g + y * 8) % 256, b)) for x in range(16))
        for y in range(16)
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    return b"".join((
        b"\x89PNG\r\n\x1a\n",
        chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)),
        chunk(b"tEXt", b"Comment\x00Adjunto " + sgc.encode("ascii", "replace")),
        chunk(b"IDAT", zlib.compress(rows, 6)),
        chunk(b"IEND", b""),
    ))


def _jpeg_segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


# A baseline JPEG of one flat grey 8x8 block: quantisation table of ones, and Huffman
# tables with a single one-bit code each (DC category 0, AC end-of-block), so the
# entropy-coded data is the two bits "00" padded with ones: 0x3F.
_JPEG_TAIL = b"".join((
    _jpeg_segment(0xDB, b"\x00" + b"\x01" * 64),
    _jpeg_segment(0xC0, struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00"),
    _jpeg_segment(0xC4, b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00"),
    _jpeg_segment(0xC4, b"\x10" + b"\x01" + b"\x00" * 15 + b"\x00"),
    _jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
    b"\x3f\xff\xd9",
))
_JPEG_HEAD = b"\xff\xd8" + _jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")


def _jpeg(sgc: str) -> bytes:
    comment = _jpeg_segment(0xFE, b"Adjunto " + sgc.encode("ascii", "replace"))
    return _JPEG_HEAD + comment + _JPEG_TAIL


_DOCX_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_DOCX_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/>'
    "</Relationships>"
)


def _docx(sgc: str, documento: str) -> bytes:
    paragraphs = ("Evidencia aportada por el cliente", f"Solicitud {sgc}", f"Documento {documento}")
    body = "".join(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" for text in paragraphs)
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in (("[Content_Types].xml", _DOCX_CONTENT_TYPES),
                           ("_rels/.rels", _DOCX_RELS),
                           ("word/document.xml", document)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()
