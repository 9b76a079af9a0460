"""Which of the bot's output lines may reach the task log: an allow-list.

The bot (``ExtractorMerc``, ``legacy/Legacy_OV``) logs personal data as a matter of
course (every request field, the login user name, the customer's attachment name),
and anything else it prints (a traceback, an argparse error echoing its arguments,
a ``print`` of a result) may carry them too. So a line is shown **only** when it is
one of the bot's known progress messages, in one of its known log formats; every
other line becomes a marker that carries its length and nothing else::

    <bot line: 57 characters, not a known progress line>

A known line is written again from its parts, each part checked:

* the **prefix** of one of the bot's log formats (``unified_logging_config``'s
  ``[2025-10-08_09:32:21][afinia][pqr][processor][INFO] - ``, ``setup_legacy_logging``'s
  ``2025-10-08 09:32:21 [INFO] AFINIA-PQR: ``, the Aire processor's
  ``[AIRE-PQR] INFO: ``, the processors' ``… - name - LEVEL - [func:line] - ``,
  ``logging``'s default ``INFO:name:``): timestamps, levels and logger names only;
  the marker keeps a recognised prefix (so an ``ERROR`` line still says so);
* the bot's **status word** (``EXITOSO``, ``ADVERTENCIA``, ``LISTA`` …: the words
  that replaced its emojis);
* a **template** of :data:`TEMPLATES`, taken from the bot's own log calls, whose
  variable parts accept only: a count (``{n}``: up to 9 digits, or thousands with
  commas), an SGC number or the bot's placeholder (``{sgc}``), one of the bot's own
  file names (``{file}``: ``{sgc}_data_{ts}.json``, ``{sgc}_{ts}.pdf``,
  ``{sgc}_adjunto_{ts}.{ext}``, screenshot ``{sgc}_{ts}.png``, ``checkpoint_{ts}.json``;
  a directory before it is dropped, it may name a Windows user), a request field's
  name (``{field}``), ``True``/``False``, ``Visual``/``Headless``, an HTML tag name, a
  date, the company's name. A part that is free text in the bot's message (an
  exception text, a URL, a selector, a field's *value*) is never echoed:
  ``{hidden}`` shows ``<redacted>``.

So ``=== Procesando PQR #3 de 10 ===`` passes, ``=== Procesando PQR #3 de María ===``
does not, and ``LISTA nombres_apellidos: María José`` shows as
``LISTA nombres_apellidos: <redacted>``. Control characters are escaped and long
lines cut, as before. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from extractorov.landing import printable

MAX_LINE_CHARS = 2000
HIDDEN = "<redacted>"


def marker(length: int) -> str:
    """What replaces a line (or, after a known prefix, a message) that is not known."""
    return f"<bot line: {length} characters, not a known progress line>"


# ---------------------------------------------------------------------------- parts

_TS = r"\d{8}_\d{6}"
_SGC = r"(?:[A-Za-z]{1,4}\d{1,20}|\d{1,20}|PQR_\d{1,6}_(?:ERROR|\d{8}_\d{6}))"
"""An SGC number (``RE`` + digits, or digits) or the bot's placeholder (``PQR_4_ERROR``,
``PQR_4_20251008_093221``). Request numbers, not personal data: they are in every file
name the pipeline logs."""
_BOT_FILE = (rf"(?:{_SGC}_data_{_TS}\.json|{_SGC}_adjunto_{_TS}\.[A-Za-z0-9]{{1,10}}"
             rf"|{_SGC}_{_TS}\.(?:pdf|png)|checkpoint_{_TS}\.json)")

FIELDS = (
    "nic", "fecha", "documento_identidad", "nombres_apellidos", "lectura",
    "correo_electronico", "telefono", "celular", "tipo_pqr", "canal_respuesta",
    "documento_prueba", "cuerpo_reclamacion", "numero_radicado", "estado_solicitud",
    "finalizar", "adjuntar_archivo", "numero_reclamo_sgc", "comentarios",
)
"""The request fields the bot reads and logs by name (``data_selectors`` of both
processors): the name may be shown, its value never."""

_SLOTS: dict[str, str] = {
    "n": r"\d{1,9}|\d{1,3}(?:,\d{3}){1,3}",
    "sgc": _SGC,
    "file": rf"(?:[^\n]*[\\/])?(?P<{{name}}>{_BOT_FILE})",
    "field": "|".join(FIELDS),
    "bool": "True|False",
    "mode": "Visual|Headless",
    "tag": "[A-Z][A-Z0-9]{0,9}",
    "date": r"\d{4}-\d{2}-\d{2}",
    "company": "(?i:afinia|aire)",
    "hidden": r".+",
}
"""What each ``{slot}`` of a template accepts. ``file`` shows the file name only;
``hidden`` is shown as ``<redacted>``."""

_LEVEL = r"(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|SUCCESS)"
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]{0,59}"
_STAMP = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[,.]\d{1,6})?"
_PREFIX = re.compile(
    "|".join((
        # unified_logging_config.ProfessionalFormatter (and its print at start-up)
        rf"\[(?:\d{{4}}-\d{{2}}-\d{{2}}_\d{{2}}:\d{{2}}:\d{{2}}|INIT)\]"
        rf"(?:\[[A-Za-z0-9_.-]{{1,40}}\]){{3}}\[{_LEVEL}\] - ",
        # setup_legacy_logging: '%(asctime)s [%(levelname)s] %(name)s: %(message)s'
        rf"{_STAMP} \[{_LEVEL}\] {_NAME}: ",
        # aire_pqr_processor / pqr_detail_extractor: '[AIRE-PQR] %(levelname)s: %(message)s'
        rf"\[[A-Z][A-Z0-9_-]{{1,30}}\] {_LEVEL}: ",
        # processors/*/logger.py: '%(asctime)s - %(name)s - %(levelname)s - [%(funcName)s:
        # %(lineno)d] - %(message)s' (and the same without name or function)
        rf"{_STAMP} - (?:{_NAME} - )?{_LEVEL} - (?:\[[A-Za-z_<>][A-Za-z0-9_<>]*:\d{{1,6}}\] - )?",
        # logging.basicConfig() without a format: 'INFO:AFINIA-PQR:message'
        rf"{_LEVEL}:{_NAME}:",
    ))
)

_STATUS_WORDS = (
    "INICIANDO", "CONFIGURANDO", "CONFIGURACION", "EXITOSO", "ERROR", "ADVERTENCIA",
    "COMPLETADO", "PROCESO_COMPLETADO", "INFO", "ARCHIVO", "ARCHIVOS", "DATOS", "METRICAS",
    "VERIFICANDO", "FECHA", "PAGINA", "PROCESADOS", "DESCARGANDO", "GUARDANDO", "DURACION",
    "ESPERANDO", "LIMPIEZA", "MODO_TEST", "OBJETIVO", "REANUDANDO", "LISTA", "RESULTADO",
)
"""The words the bot's emojis became (``scripts/clean_emojis_professional.py``)."""
_WORDS = "|".join(sorted(_STATUS_WORDS, key=len, reverse=True))
_STATUS = re.compile(
    rf"\s*(?:\[(?:{_WORDS}|EMOJI_REMOVIDO)\]\s*|(?:{_WORDS})\s+|[ℹ⏸⌨⏳]\s*)?"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ---------------------------------------------------------------------------- templates

TEMPLATES: tuple[str, ...] = (
    # -- extractors/{afinia,aire}/oficina_virtual_*_modular.py (the main scripts)
    "=== Oficina Virtual Afinia Modular Mejorado ===",
    "Ejecutando extracción de prueba...",
    "OficinaVirtualAfiniaModular inicializado - Modo: {mode}",
    "OficinaVirtualAireModular inicializado - Modo: {mode}",
    "Inicializando componentes modulares...",
    "Configurando BrowserManager con timeout: {n}ms",
    "Inicializando procesador específico de PQR...",
    "Procesador de PQR inicializado",
    "Componentes inicializados correctamente",
    "Todos los componentes modulares inicializados correctamente",
    "Error inicializando componentes: {hidden}",
    "Configuración cargada para Aire: {hidden}",
    "No se pudo cargar configuración del sistema: {hidden}",
    "=== INICIANDO PROCESO DE LOGIN AIRE ===",
    "Iniciando proceso de login...",
    "Navegando a URL base: {hidden}",
    "Navegando a: {hidden}",
    "Navegación exitosa a URL base",
    "Timeout en navegación inicial: {hidden}",
    "Intentando con URL alternativa sin /login...",
    "Navegación exitosa a URL alternativa",
    "Error también con URL alternativa: {hidden}",
    "Screenshot de timeout guardado",
    "Error de navegación: {hidden}",
    "Login exitoso con AuthenticationManager",
    "Login falló con AuthenticationManager",
    "Error en proceso de login: {hidden}",
    "Verificando popup específico de Afinia...",
    "Popup de Afinia manejado exitosamente, continuando...",
    "Problema manejando popup, continuando de todos modos...",
    "Error en manejo de popup: {hidden}",
    "Navegando a sección PQR...",
    "Navegando a sección PQR: {hidden}",
    "Navegación a PQRs exitosa",
    "Iniciando proceso de filtrado específico de Afinia...",
    "=== INICIANDO EXTRACCIÓN DE DATOS PQR AIRE ===",
    "Rango de fechas: {date} - {date}",
    "Aplicando filtros con AireFilterManager (days_back={n}: ayer a hoy)",
    "Filtros no se aplicaron completamente, continuando con extracción sin filtros",
    "Procesando resultados...",
    "INICIANDO PROCESAMIENTO ESPECÍFICO DE PQR...",
    "INICIANDO PROCESAMIENTO ESPECÍFICO DE PQR (COMO AFINIA)...",
    "Procesamiento PQR completado: {n} registros",
    "Error en procesamiento PQR: {hidden}",
    "Error en filtrado, intentando procesamiento directo...",
    "Intentando procesamiento PQR directo...",
    "Procesamiento PQR directo completado: {n} registros",
    "Error en procesamiento PQR directo: {hidden}",
    "Extracción completada exitosamente",
    "Extracción completada: {n} registros procesados",
    "Total PQR procesados: {n}",
    "Error en extracción: {hidden}",
    "Error en extracción completa: {hidden}",
    "Error durante extracción: {hidden}",
    "Expandiendo filtros...",
    "Filtros expandidos",
    "No se encontró el botón de expandir filtros, continuando...",
    "Error expandiendo filtros: {hidden}",
    "Configurando filtro de estado...",
    "No se encontró el campo de estado, continuando...",
    "Estado configurado a 'Finalizado'",
    "No se encontró la opción 'Finalizado', continuando...",
    "Error configurando filtro de estado: {hidden}",
    "Configurando filtros de fecha...",
    "No se encontró el campo de fecha inicial",
    "No se encontró el campo de fecha final",
    "Fechas configuradas correctamente",
    "Error configurando filtros de fecha: {hidden}",
    "Ejecutando búsqueda...",
    "Esperando resultados...",
    "Búsqueda ejecutada",
    "No se encontró el botón de búsqueda",
    "Error ejecutando búsqueda: {hidden}",
    "Recursos limpiados",
    "Recursos limpiados correctamente",
    "Error durante limpieza: {hidden}",
    "INICIANDO EXTRACCIÓN COMPLETA DE AIRE",
    "EXTRACCIÓN COMPLETA FINALIZADA",
    # -- utils/extractor_runner.py (the runner of both extractors)
    "=== Iniciando Extractor {company} ===",
    "Modo headless: {bool}",
    "Modo debug: {bool}",
    "=== Extractor {company} completado exitosamente ===",
    "Extractor {company} interrumpido por el usuario",
    "Error en extractor {company}: {hidden}",
    "Detalles del error:",
    "Navegador cerrado correctamente",
    "Error al cerrar navegador: {hidden}",
    # -- core/browser_manager.py
    "BrowserManager inicializado con timeout: {n}ms",
    "Modo servidor Ubuntu activado",
    "Modo desktop activado",
    "Configuraciones optimizadas para Ubuntu Server aplicadas",
    "Configurando navegador Playwright...",
    "Timeout configurado en página y contexto: {n}ms",
    "Navegador configurado exitosamente",
    "Error configurando navegador: {hidden}",
    "Navegación completada exitosamente",
    "Esperando descarga...",
    "Limpiando recursos del navegador...",
    "Recursos del navegador liberados exitosamente",
    "Error limpiando recursos: {hidden}",
    # -- core/authentication.py (never the user name it logs)
    "Iniciando proceso de login para usuario: {hidden}",
    "Login exitoso verificado",
    "Login falló - no se pudo verificar éxito",
    "Error durante el proceso de login: {hidden}",
    "Esperando procesamiento del login...",
    "Verificando éxito del login...",
    "Login exitoso verificado por cambio de URL",
    "No se pudo verificar el éxito del login",
    "Ejecutando configuraciones post-login...",
    "Página de inicio encontrada",
    # -- components/{afinia,aire}_pqr_processor.py
    "Directorio de descarga configurado: {hidden}",
    "Directorio de datos configurado: {hidden}",
    "AfiniaPQRProcessor inicializado correctamente",
    "AirePQRProcessor inicializado correctamente",
    "=== INICIANDO PROCESAMIENTO DE PQR (SECUENCIA ESPECÍFICA AFINIA) ===",
    "=== INICIANDO PROCESAMIENTO DE PQR (SECUENCIA ESPECÍFICA AIRE) ===",
    "No se encontraron botones del ojo",
    "Total de botones encontrados para procesar: {n}",
    "=== Procesando PQR #{n} de {n} ===",
    "PQR #{n} procesada exitosamente",
    "No se pudo procesar PQR #{n}",
    "Error procesando PQR #{n}: {hidden}",
    "PROCESAMIENTO PÁGINA ACTUAL COMPLETADO: {n}/{n} registros exitosos",
    "Activando paginación automática para procesar todas las páginas...",
    "PROCESAMIENTO MASIVO COMPLETADO: {n} registros en total",
    "Error en process_all_pqr_records: {hidden}",
    "=== INICIANDO PROCESAMIENTO MASIVO CON PAGINACIÓN ===",
    "Total estimado: {n} registros",
    "Configurando para servidor Linux con controles",
    "PROCESAMIENTO MASIVO COMPLETADO",
    "Error en procesamiento masivo: {hidden}",
    "Error procesando página actual: {hidden}",
    "Encontrados {n} botones con selector: {hidden}",
    "Error con selector {hidden}",
    "Error buscando botones del ojo: {hidden}",
    "INICIANDO SECUENCIA ESPECÍFICA PARA PQR #{n}",
    "PASO 1: Abriendo nueva pestaña sin cerrar la anterior...",
    "PASO 2: Extrayendo número SGC...",
    "PASO 3: Generando PDF con nombre del SGC...",
    "PASO 4: Verificando adjuntos en 'Documento/prueba'...",
    "PASO 5: Extrayendo y guardando JSON...",
    "PASO 6: Cerrando pestaña...",
    "No se pudo abrir nueva pestaña",
    "Nueva pestaña cargada exitosamente",
    "Timeout en networkidle, intentando con domcontentloaded: {hidden}",
    "Nueva pestaña cargada con domcontentloaded",
    "Timeout en domcontentloaded también, continuando: {hidden}",
    "Número SGC extraído: {sgc}",
    "Error en generación PDF: {hidden}",
    "Error en descarga adjuntos: {hidden}",
    "Error en extracción JSON: {hidden}",
    "Resultados PQR #{n}: PDF={bool}, Adjuntos={bool}, JSON={bool}",
    "Secuencia completada para PQR #{n}",
    "Ningun paso fue exitoso para PQR #{n}",
    "Pestaña cerrada, continuando con siguiente registro",
    "Pestaña ya estaba cerrada",
    "Error cerrando pestaña: {hidden}",
    "Error en secuencia específica para PQR {n}: {hidden}",
    "Iniciando apertura de nueva pestaña...",
    "Pestañas iniciales: {n}",
    "Método 1: Clic derecho + menú contextual...",
    "Probando opción: {hidden}",
    "Menú contextual usado: {hidden}",
    "Nueva pestaña abierta ({n} pestañas)",
    "Error con menú contextual: {hidden}",
    "Método 2: JavaScript window.open...",
    "Método 2: Ctrl+Click...",
    "Método 3: Ctrl+Click...",
    "Nueva pestaña abierta con JavaScript ({n} pestañas)",
    "Nueva pestaña abierta con Ctrl+Click ({n} pestañas)",
    "Error con JavaScript: {hidden}",
    "Error con Ctrl+Click: {hidden}",
    "No se pudo abrir nueva pestaña con ningún método",
    "Error crítico abriendo nueva pestaña: {hidden}",
    "Extrayendo número SGC...",
    "SGC encontrado con selector {hidden}: {sgc}",
    "No se encontró número SGC, usando valor por defecto: {sgc}",
    "Error extrayendo número SGC: {hidden}",
    "Generando PDF con nombre SGC: {sgc}",
    "PDF generado exitosamente: {file}",
    "Error generando PDF: {hidden}",
    "Screenshot de respaldo generado: {file}",
    "Error generando screenshot de respaldo: {hidden}",
    "Verificando adjuntos en 'Documento/prueba'...",
    "Archivo documento_prueba extraído: {hidden}",
    "Buscando enlace de descarga: {hidden}",
    "¡ENCONTRADO! Elemento con archivo: {hidden}",
    "Intentando descarga con selector: {hidden}",
    "¡DESCARGA EXITOSA! {file}",
    "¡DESCARGA ANGULAR EXITOSA! {file}",
    "Tamaño: {n} bytes",
    "Error con elemento {n}: {hidden}",
    "Intentando clic sin expectativa de descarga...",
    "Clic ejecutado en elemento ng-click",
    "Error en clic alternativo: {hidden}",
    "Intentando método específico para AngularJS...",
    "Encontrados {n} elementos AngularJS",
    "Elemento {n}: Tag={tag}, Visible={bool}",
    "Elemento AngularJS {n}: Visible={bool}",
    "¡ENCONTRADO! Elemento AngularJS con archivo",
    "Clic en elemento AngularJS con expectativa...",
    "Error descarga AngularJS: {hidden}",
    "Clic simple en elemento AngularJS...",
    "Clic AngularJS ejecutado (sin descarga detectada)",
    "Error en clic AngularJS: {hidden}",
    "Error en método AngularJS: {hidden}",
    "No se pudo descargar con selectores directos ni AngularJS",
    "Archivo buscado: {hidden}",
    "No se encontraron adjuntos descargables",
    "Error manejando adjuntos: {hidden}",
    "Error en método legacy: {hidden}",
    "Archivo encontrado en campo: {hidden}",
    "Posible archivo encontrado: {hidden}",
    "Error extrayendo nombre de archivo documento_prueba: {hidden}",
    "Extrayendo datos JSON para PQR #{n}",
    "{field}: {hidden}",
    "No se encontró elemento para {field}",
    "Error extrayendo {field}: {hidden}",
    "Error extrayendo datos adicionales de tabla: {hidden}",
    "JSON guardado exitosamente: {file}",
    "Campos extraídos: {n}",
    "Error extrayendo/guardando JSON: {hidden}",
    "Datos adicionales de tabla extraídos: {n} campos",
    "Error extrayendo datos adicionales: {hidden}",
    # -- components/{afinia,aire}_pagination_manager.py
    "PaginationManager inicializado",
    "Control dir: {hidden}",
    "Checkpoint dir: {hidden}",
    "Max records per session: {n}",
    "No se encontraron checkpoints previos",
    "Checkpoint cargado: {file}",
    "Checkpoint guardado: {file}",
    "Página actual: {n}",
    "Procesados: {n}/{n}",
    "Progreso: {n}/{n}",
    "Error cargando checkpoint: {hidden}",
    "Error guardando checkpoint: {hidden}",
    "Error actualizando estado: {hidden}",
    "Error calculando tiempo: {hidden}",
    "SEÑAL DE PARADA DETECTADA",
    "SEÑAL DE PAUSA DETECTADA",
    "SEÑAL DE REANUDACIÓN DETECTADA",
    "Procesamiento pausado. Esperando señal de reanudación...",
    "Procesamiento reanudado",
    "Paginación detectada: {n} - {n} de {n}",
    "Rango actual: {n} - {n}",
    "Total registros: {n}",
    "No se pudo extraer información de paginación",
    "Error extrayendo paginación: {hidden}",
    "Botón Next - Visible: {bool}, Habilitado: {bool}",
    "No hay página siguiente disponible",
    "Error verificando página siguiente: {hidden}",
    "Intentando ir a página siguiente...",
    "Clic en página siguiente exitoso",
    "No se pudo hacer clic en página siguiente",
    "Error haciendo clic en página siguiente: {hidden}",
    "INICIO DE PROCESAMIENTO MASIVO",
    "Páginas estimadas: {n}",
    "Registros por página: {n}",
    "REANUDANDO DESDE CHECKPOINT",
    "PARADA SOLICITADA - Guardando progreso...",
    "Límite de páginas alcanzado: {n}",
    "=== PROCESANDO PÁGINA {n} ===",
    "Página {n} completada",
    "Procesados en página: {n}",
    "Total procesados: {n}",
    "Total procesados: {n}/{n}",
    "Error procesando página {n}: {hidden}",
    "No hay más páginas. Procesamiento completado",
    "No se pudo navegar a página siguiente",
    "PROCESAMIENTO COMPLETADO",
    "Exitosos: {n}",
    "Fallidos: {n}",
    "Páginas procesadas: {n}",
    # -- config/unified_logging_config.py
    "Sistema de logging profesional inicializado",
    # -- Python itself, when the bot dies of an uncaught exception (the text is hidden)
    "Traceback (most recent call last):",
    "File {hidden}, line {n}, in {hidden}",
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
"""The bot's progress messages, as its source writes them (f-string fields → slots)."""


@dataclass(frozen=True)
class _Template:
    pattern: re.Pattern[str]
    parts: tuple[tuple[str, str], ...]
    """(literal, "") or ("", slot kind:group name) in order."""

    def render(self, match: re.Match[str]) -> str:
        out: list[str] = []
        for literal, slot in self.parts:
            if not slot:
                out.append(literal)
                continue
            kind, group = slot.split(":")
            if kind == "hidden":
                out.append(HIDDEN)
            elif kind == "file":
                out.append(match[f"{group}name"])
            else:
                out.append(match[group])
        return "".join(out)


def _compile(template: str) -> _Template:
    regex: list[str] = []
    parts: list[tuple[str, str]] = []
    for i, piece in enumerate(re.split(r"\{(\w+)\}", template)):
        if i % 2 == 0:
            if piece:
                regex.append(re.escape(piece))
                parts.append((piece, ""))
            continue
        group = f"s{i // 2}"
        accepts = _SLOTS[piece].replace("{name}", f"{group}name")
        # A hidden part before a literal takes the shortest text that lets the rest match.
        lazy = "?" if piece == "hidden" and i + 1 < len(template) else ""
        regex.append(f"(?P<{group}>(?:{accepts}){lazy})")
        parts.append(("", f"{piece}:{group}"))
    return _Template(re.compile("".join(regex)), tuple(parts))


_COMPILED: tuple[_Template, ...] = tuple(_compile(t) for t in TEMPLATES)


def _known(message: str) -> str | None:
    for template in _COMPILED:
        match = template.pattern.fullmatch(message)
        if match:
            return template.render(match)
    return None


def _message(message: str) -> str | None:
    """A known message, after its status word if it has one, written again; or ``None``."""
    message = message.rstrip()
    head = _STATUS.match(message).group(0)  # type: ignore[union-attr]  # all optional
    known = _known(message[len(head):])
    if known is None and head.strip():  # the "status word" is the message's own first word
        head = message[: len(message) - len(message.lstrip())]
        known = _known(message.lstrip())
    return None if known is None else head + known


def redact(line: str, secrets: Iterable[str] = ()) -> str:
    """One line of the bot's output as it may reach the task log (see the module doc).

    ``secrets`` (values of the command's secret options) become ``<secret>`` first, a
    second layer under the allow-list: a line holding one is no known line any more.
    """
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):
        line = line.replace(secret, "<secret>")
    line = _ANSI.sub("", line)
    if not line.strip():
        return ""
    prefix = _PREFIX.match(line)
    head = prefix.group(0) if prefix else ""
    rest = line[len(head):]
    known = _message(rest)
    shown = head + (known if known is not None else marker(len(rest)))
    shown = printable(shown)
    if len(shown) > MAX_LINE_CHARS:
        shown = shown[:MAX_LINE_CHARS] + f"… ({len(shown) - MAX_LINE_CHARS} more characters)"
    return shown


__all__ = ["FIELDS", "HIDDEN", "MAX_LINE_CHARS", "TEMPLATES", "marker", "redact"]
