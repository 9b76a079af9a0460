"""Only the bot's known progress lines reach the task log (``extractorov.botlines``).

Two sides: every line that carries a secret or personal data, in any form, becomes a
marker (or, inside a known line, ``<redacted>``); and the bot's real progress lines,
as its source writes them (``ExtractorMerc``, ``legacy/Legacy_OV``: the processors,
the pagination managers, the main scripts, in its log formats), stay readable.
"""

from __future__ import annotations

import re

import pytest

from extractorov import bot

P = "[2025-10-08_09:32:21][afinia][pqr][processor][INFO] - "
"""The prefix of ``unified_logging_config.ProfessionalFormatter``, the bot's console."""


def _shown(line: str, argv: list[str] | None = None) -> str:
    return bot.redact(line, bot.secret_arguments(argv or []))


# ------------------------------------------------------------------ what must never show

LEAKS = [
    # (what the bot printed, the command it ran, what must not reach the log)
    ("main.py: error: unrecognized arguments: -p s3cr3t",
     ["python", "main.py", "-p", "s3cr3t"], "s3cr3t"),
    (f"{P}DEBUG conectando con -p s3cr3t", ["python", "main.py", "-p", "s3cr3t"], "s3cr3t"),
    ("Ejecutando: main.py afinia hunter2", ["python", "main.py", "afinia", "hunter2"],
     "hunter2"),
    (f"{P}sesión iniciada con hunter2", ["python", "main.py", "afinia", "hunter2"], "hunter2"),
    ("Procesando solicitud de María José Núñez", None, "María"),
    (f"{P}Procesando solicitud de María José Núñez", None, "Núñez"),
    ("Cliente: Pedro Pérez", None, "Pedro"),
    (f"{P}LISTA Cliente: Pedro Pérez", None, "Pérez"),
    ("contacto ana.perez+pqr@mail.example.co, gracias", None, "ana.perez"),
    (f"{P}correo maria.nunez@example.com", None, "maria.nunez"),
    ("cliente 1045678901 radicado 2025", None, "1045678901"),
    ("cc 1.045.678.901 ok", None, "1.045.678.901"),
    ("llamar al 300 123 4567 o 605-333-4455", None, "300 123 4567"),
    ("Celular: +57 3001234567", None, "3001234567"),
    # Inside a known message, a variable part that is not what the bot puts there:
    (f"{P}=== Procesando PQR #3 de María José ===", None, "María"),
    (f"{P}PROCESADOS Total registros: 1045678901", None, "1045678901"),
    (f"{P}PROCESADOS Total registros: 1.045.678.901", None, "1.045.678.901"),
    (f"{P}PROCESADOS Tamaño: 300 123 4567 bytes", None, "300 123 4567"),
    (f"{P}LISTA Número SGC extraído: Pedro Pérez", None, "Pedro"),
    (f"{P}EXITOSO PDF generado exitosamente: María_20251008_093221.pdf", None, "María"),
    # … and a free-text part of a known message is never echoed:
    (f"{P}LISTA nombres_apellidos: María José Núñez Peña", None, "María"),
    (f"{P}LISTA documento_identidad: 1045678901", None, "1045678901"),
    (f"{P}LISTA correo_electronico: maria.nunez@example.com", None, "maria"),
    ("[AIRE-PQR] INFO: celular: 3001234567", None, "3001234567"),
    (f"{P}Iniciando proceso de login para usuario: pedro.perez", None, "pedro.perez"),
    (f"{P}VERIFICANDO Archivo documento_prueba extraído: cedula_maria_nunez.pdf", None,
     "maria"),
    (f"{P}ERROR Error en extracción JSON: Timeout waiting for 'María José'", None, "María"),
    (f"{P}EXITOSO PDF generado exitosamente: C:\\Users\\pedro.perez\\ExtractorOV_Modular\\data"
     "\\downloads\\afinia\\oficina_virtual\\processed\\RE1234567890123_20251008_093221.pdf",
     None, "pedro.perez"),
]


@pytest.mark.parametrize(("line", "argv", "secret"), LEAKS)
def test_secrets_and_personal_data_never_reach_the_log(line, argv, secret):
    shown = _shown(line, argv)
    assert secret not in shown, shown


@pytest.mark.parametrize("line", ["Cliente: Pedro Pérez", "main.py afinia hunter2",
                                  "Procesando solicitud de María José Núñez"])
def test_an_unknown_line_becomes_a_marker_with_its_length_only(line):
    assert _shown(line) == f"<bot line: {len(line)} characters, not a known progress line>"


def test_a_marker_keeps_a_known_prefix_so_an_error_still_says_so():
    line = "[2025-10-08_09:32:21][afinia][pqr][processor][ERROR] - Cliente: Pedro Pérez"
    assert _shown(line) == ("[2025-10-08_09:32:21][afinia][pqr][processor][ERROR] - "
                            "<bot line: 20 characters, not a known progress line>")


def test_control_characters_are_escaped_and_colour_codes_dropped():
    assert _shown("tab\there\x1b[31m") == (
        "<bot line: 8 characters, not a known progress line>")
    assert _shown(f"\x1b[32m{P}EXITOSO Navegador configurado exitosamente\x1b[0m") == (
        f"{P}EXITOSO Navegador configurado exitosamente")
    assert "\x00" not in _shown(f"{P}Total registros: 3\x00")


# ------------------------------------------------------------------ what must stay readable

CORPUS = [
    # (a line the bot writes, as it reaches the log)
    ("[INIT][system][config][logging][INFO] - Sistema de logging profesional inicializado",
     None),
    ("[2025-10-08_09:32:21][afinia][system][main][INFO] - === Iniciando Extractor afinia ===",
     None),
    ("[2025-10-08_09:32:21][afinia][system][main][INFO] - Modo headless: True", None),
    (f"{P}OficinaVirtualAfiniaModular inicializado - Modo: Headless", None),
    (f"{P}CONFIGURANDO Inicializando componentes modulares...", None),
    (f"{P}CONFIGURANDO Configurando BrowserManager con timeout: 30000ms", None),
    (f"{P}EXITOSO Componentes inicializados correctamente", None),
    (f"{P}Iniciando proceso de login...", None),
    (f"{P}Navegando a URL base: https://caribemar.facture.co/",
     f"{P}Navegando a URL base: <redacted>"),
    (f"{P}EXITOSO Navegación exitosa a URL base", None),
    (f"{P}VERIFICANDO Verificando popup específico de Afinia...", None),
    (f"{P}REANUDANDO Navegando a sección PQR...", None),
    (f"{P}ARCHIVOS Directorio de descarga configurado: C:\\Users\\bot\\processed",
     f"{P}ARCHIVOS Directorio de descarga configurado: <redacted>"),
    (f"{P}=== INICIANDO PROCESAMIENTO DE PQR (SECUENCIA ESPECÍFICA AFINIA) ===", None),
    (f"{P}Total de botones encontrados para procesar: 10", None),
    (f"{P}=== Procesando PQR #3 de 10 ===", None),
    (f"{P}REANUDANDO INICIANDO SECUENCIA ESPECÍFICA PARA PQR #3", None),
    (f"{P} PASO 1: Abriendo nueva pestaña sin cerrar la anterior...", None),
    (f"{P}EXITOSO Nueva pestaña abierta con JavaScript (2 pestañas)", None),
    (f"{P}VERIFICANDO PASO 2: Extrayendo número SGC...", None),
    (f"{P}EXITOSO SGC encontrado con selector input[name='NumeroReclamoSGC']: RE1234567890123",
     f"{P}EXITOSO SGC encontrado con selector <redacted>: RE1234567890123"),
    (f"{P}LISTA Número SGC extraído: RE1234567890123", None),
    (f"{P}ADVERTENCIA No se encontró número SGC, usando valor por defecto: "
     "PQR_4_20251008_093221", None),
    (f"{P}PAGINA PASO 3: Generando PDF con nombre del SGC...", None),
    (f"{P}PAGINA Generando PDF con nombre SGC: 12345678", None),
    (f"{P}EXITOSO PDF generado exitosamente: C:\\00_Project_Dev\\ExtractorOV_Modular\\data\\"
     "downloads\\afinia\\oficina_virtual\\processed\\RE1234567890123_20251008_093221.pdf",
     f"{P}EXITOSO PDF generado exitosamente: RE1234567890123_20251008_093221.pdf"),
    (f"{P} PASO 4: Verificando adjuntos en 'Documento/prueba'...", None),
    (f"{P}   EXITOSO ¡DESCARGA EXITOSA! RE1234567890123_adjunto_20251008_093223.jpg", None),
    (f"{P}   PROCESADOS Tamaño: 48213 bytes", None),
    (f"{P}GUARDANDO PASO 5: Extrayendo y guardando JSON...", None),
    (f"{P}GUARDANDO Extrayendo datos JSON para PQR #3", None),
    (f"{P}LISTA fecha: 2025/10/07 14:05", f"{P}LISTA fecha: <redacted>"),
    (f"{P}ADVERTENCIA No se encontró elemento para comentarios", None),
    (f"{P}EXITOSO JSON guardado exitosamente: /home/ubuntu/ExtractorOV_Modular/data/downloads/"
     "afinia/oficina_virtual/processed/PQR_4_ERROR_data_20251008_093226.json",
     f"{P}EXITOSO JSON guardado exitosamente: PQR_4_ERROR_data_20251008_093226.json"),
    (f"{P}PROCESADOS Campos extraídos: 17", None),
    (f"{P}METRICAS Resultados PQR #3: PDF=True, Adjuntos=False, JSON=True", None),
    (f"{P}EXITOSO Secuencia completada para PQR #3", None),
    (f"{P} PASO 6: Cerrando pestaña...", None),
    (f"{P}EXITOSO PQR #3 procesada exitosamente", None),
    (f"{P}ERROR Error procesando PQR #4: Timeout 30000ms exceeded.",
     f"{P}ERROR Error procesando PQR #4: <redacted>"),
    (f"{P}PROCESO_COMPLETADO PROCESAMIENTO PÁGINA ACTUAL COMPLETADO: 9/10 registros exitosos",
     None),
    ("2025-10-08 09:32:21 [INFO] AFINIA-PAGINATION: OBJETIVO INICIO DE PROCESAMIENTO MASIVO",
     None),
    ("2025-10-08 09:32:21 [INFO] AFINIA-PAGINATION: PROCESADOS Total registros: 333,529", None),
    ("2025-10-08 09:32:21 [INFO] AFINIA-PAGINATION: PAGINA Páginas estimadas: 33,353", None),
    ("2025-10-08 09:32:21 [INFO] AFINIA-PAGINATION: PAGINA === PROCESANDO PÁGINA 2 ===", None),
    ("2025-10-08 09:32:21 [INFO] AFINIA-PAGINATION: METRICAS Total procesados: 20/333,529",
     None),
    ("2025-10-08 09:32:21 [INFO] AFINIA-PAGINATION: GUARDANDO Checkpoint guardado: "
     "checkpoint_20251008_093221.json", None),
    ("2025-10-08 09:32:21 [WARNING] AFINIA-PAGINATION:  SEÑAL DE PARADA DETECTADA", None),
    ("[AIRE-PQR] INFO: === INICIANDO PROCESAMIENTO DE PQR (SECUENCIA ESPECÍFICA AIRE) ===",
     None),
    ("[AIRE-PQR] INFO: INICIANDO SECUENCIA ESPECÍFICA PARA PQR #1", None),
    ("[AIRE-PQR] INFO: Número SGC extraído: 87654321", None),
    ("[AIRE-PQR] INFO: nombres_apellidos: Pedro Pérez",
     "[AIRE-PQR] INFO: nombres_apellidos: <redacted>"),
    ("[AIRE-PQR] INFO: Resultados PQR #1: PDF=True, Adjuntos=True, JSON=True", None),
    ("[AIRE-PQR] WARNING: No se pudo procesar PQR #2", None),
    ("[2025-10-08_09:32:21][aire][extractor][aire_main][INFO] - FECHA Rango de fechas: "
     "2025-10-07 - 2025-10-08", None),
    ("[2025-10-08_09:32:21][aire][extractor][aire_main][INFO] - EXITOSO Extracción "
     "completada: 12 registros procesados", None),
    ("2025-10-08 09:32:21,123 - INFO - Total registros: 3", None),
    ("Traceback (most recent call last):", None),
    ('  File "C:\\Users\\bot\\afinia_pqr_processor.py", line 331, in _process',
     "  File <redacted>, line 331, in <redacted>"),
    ("", None),
]


@pytest.mark.parametrize(("line", "expected"), CORPUS)
def test_the_bots_progress_lines_stay_readable(line, expected):
    assert _shown(line) == (line if expected is None else expected)


SAMPLES = {"n": ("12", "12"), "sgc": ("RE123", "RE123"),
           "file": ("/data/processed/RE123_20251008_093221.pdf", "RE123_20251008_093221.pdf"),
           "field": ("nombres_apellidos", "nombres_apellidos"), "bool": ("True", "True"),
           "mode": ("Headless", "Headless"), "tag": ("DIV", "DIV"),
           "date": ("2025-10-08", "2025-10-08"), "company": ("Afinia", "Afinia"),
           "hidden": ("María José 300 123 4567", "<redacted>")}


def test_every_template_matches_what_the_bot_writes_there():
    from extractorov.botlines import TEMPLATES

    for template in TEMPLATES:
        raw = re.sub(r"\{(\w+)\}", lambda m: SAMPLES[m[1]][0], template)
        shown = re.sub(r"\{(\w+)\}", lambda m: SAMPLES[m[1]][1], template)
        assert _shown(P + raw) == P + shown, template
