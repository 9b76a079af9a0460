"""What a cut-short request JSON's bytes say of its attachment counts as much as what they
say of its request.

The bot (``afinia_pqr_processor._extract_and_save_json_data`` in ``Jeampauldev/ExtractorMerc``)
builds the record in the order of its ``data_selectors``: ... ``canal_respuesta``,
``documento_prueba``, ``cuerpo_reclamacion``, ``numero_radicado``, ``estado_solicitud`` ...
then any ``tabla_*`` keys, and writes it with ``json.dump(..., indent=2)`` through a
buffered file. A bot stopped while it writes (the ``scrape`` step's timeout sends SIGTERM,
whose default action ends Python without flushing; a full disk) leaves the JSON cut short:
whenever ``numero_radicado`` is in it whole, ``documento_prueba`` is too, before it.

Story (real SGC ``RE900``): R-2's detail PDF +0 s and attachment +4 s, its JSON step fails;
R-3's PDF step fails (a screenshot instead), its page names no attachment
(``"documento_prueba": ""``), its JSON at +60 s is cut short after ``numero_radicado``.
``extract`` refuses the JSON (quarantined) and reads nothing of it (``attachment_named_in``:
not a JSON object), so R-2's documents are filed with it (``request_json``). R-3's removal
finds the cut JSON by the ``numero_radicado`` its bytes show
(``removal._request_names_radicado`` reads damaged bytes) and deletes, through it, R-2's
detail page and ID scan, although the same bytes show that R-3 has no attachment. The
untie on re-admission (``register_pending``) comes only if someone fixes the JSON first.
"""

from __future__ import annotations

import json

import pytest

from extractorov.landing import company_folders, read_quarantine
from tests.helpers import list_keys, query
from tests.landing_files import (
    record,
    remove_request,
    run_all,
    stamp,
    write,
    write_adjunto,
    write_pdf,
)

pytestmark = pytest.mark.integration

BOT_ORDER = ("record_number", "sgc_number", "extraction_timestamp", "page_url", "page_title",
             "nic", "fecha", "documento_identidad", "nombres_apellidos", "lectura",
             "correo_electronico", "telefono", "celular", "tipo_pqr", "canal_respuesta",
             "documento_prueba", "cuerpo_reclamacion", "numero_radicado", "estado_solicitud",
             "finalizar", "adjuntar_archivo", "numero_reclamo_sgc", "comentarios")


def _cut_bot_json(landing, sgc, radicado, at):
    """The bot's JSON for a page naming no attachment, cut inside ``estado_solicitud``."""
    data = record(sgc, radicado, stamp(at), documento_prueba="", finalizar="",
                  adjuntar_archivo="", comentarios="")
    text = json.dumps({k: data[k] for k in BOT_ORDER}, ensure_ascii=False, indent=2)
    cut = text[:text.index('"estado_solicitud"') + len('"estado_solicitud": "Fina')]
    name = f"{sgc}_data_{stamp(at)}.json"
    write(landing, name, cut)
    return name


def _ties(db, *names):
    return query(db, "SELECT filename, metadata ->> 'request_json' "
                     "FROM data_general.s3_files_registry WHERE filename = ANY(%s) "
                     "ORDER BY 1", list(names))


def test_a_cut_short_request_json_that_shows_no_attachment_never_owns_one(
        db, s3, bucket, settings, landing):
    r2_pdf = write_pdf(landing, "RE900", 0, "detalle de R-2")
    r2_adjunto = write_adjunto(landing, "RE900", 4, "cédula de R-2")
    r3_json = _cut_bot_json(landing, "RE900", "R-3", 60)
    run_all(db, s3, settings, "day-1")
    assert [n for n, request_json in _ties(db, r2_pdf, r2_adjunto)
            if request_json == r3_json] == []


@pytest.mark.parametrize("sgc", ["RE900", "PQR_4_ERROR"])
def test_removing_a_request_whose_json_was_cut_short_keeps_the_earlier_requests_documents(
        db, s3, bucket, settings, landing, sgc):
    """With a placeholder, R-2's documents follow R-3's cut JSON into quarantine/ (their
    reason file names it) and R-3's removal takes them from there."""
    r2_pdf = write_pdf(landing, sgc, 0, "detalle de R-2")
    r2_adjunto = write_adjunto(landing, sgc, 4, "cédula de R-2")
    _cut_bot_json(landing, sgc, "R-3", 60)
    run_all(db, s3, settings, "day-1")
    remove_request(db, s3, settings, "R-3")
    folders = company_folders(landing, "afinia")
    quarantined = {entry.original_name for entry in read_quarantine(folders)}
    keys = "\n".join(list_keys(s3, bucket))
    gone = [name for name in (r2_pdf, r2_adjunto)
            if f"/{name}" not in keys and not (folders.processed / name).exists()
            and name not in quarantined]
    assert gone == [], "R-2's documents were deleted by R-3's removal"
