"""The generator's world: what the bot wrote (the model), the faults, and the adapter.

Used by ``test_every_file_ends_in_exactly_one_place.py`` (its docstring explains the
model and the invariants). Kept apart so a child process that runs one step (and is
SIGKILLed in the middle) imports only this module, not Hypothesis or pytest.

* :class:`Bot` writes a company's ``processed/`` folder as the real bot does (facts in
  ``docs/data-contract.md``, checked against the bot's public source): per request the
  detail PDF, then the attachment (``.crdownload`` while it downloads), then the request
  JSON **last**, seconds apart, each file with its own clock reading; placeholder SGCs
  (``PQR_{n}_ERROR``, ``PQR_{n}_{ts}``) that unrelated requests share; blank fields; a
  0-byte or truncated JSON when the bot is killed (and it restarts an hour later); a
  step of its own that fails (no PDF, no JSON) while it goes on with the next request;
  the dormant detail writer's names (``pqr_data_{sgc}_{ts}.json``,
  ``{sgc}_PQR_{n}_{ts}.pdf``, with ``{sgc}`` blank when the field was).
* :class:`Steps` is the one place the test calls the product: the step functions with
  the arguments this version accepts (``inspect.signature``), so an API change is a
  change here only.
* :class:`Gate` pauses (or kills) a named thread after a named product function returns;
  :class:`LandingFaults` and :class:`S3Faults` inject a full disk, a kill, a download
  finishing mid-scan and S3 errors at the I/O boundaries (the landing module's ``os``,
  the boto3 client's event hooks).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import inspect
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from extractorov.landing import company_folders
from extractorov.settings import BOGOTA

EMPRESAS = ("afinia", "aire")
BASE_PATH = "oficina-virtual"
PORTAL = {"afinia": "caribemar.facture.co", "aire": "caribesol.facture.co"}
START = datetime(2025, 10, 8, 4, 0, tzinfo=BOGOTA)
"""The bot's clock at the start of every example (files are far older than the settle time
and than ``ov_orphan_after_hours``: what waits is reported at once)."""
KILL_GAP = timedelta(hours=1, minutes=7)
"""A killed bot runs again at its next hourly start."""


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d_%H%M%S")


def prefix(empresa: str) -> str:
    return f"{BASE_PATH}/{empresa}/raw_data/"


def folder_of(key: str, empresa: str) -> str:
    """``{sgc}`` or ``sin_sgc/{numero_radicado}`` of an S3 key under the company prefix."""
    rest = key[len(prefix(empresa)):] if key.startswith(prefix(empresa)) else "?/" + key
    parts = rest.split("/")
    if parts[0] == "sin_sgc" and len(parts) >= 3:
        return "sin_sgc/" + parts[1]
    return parts[0]


# --------------------------------------------------------------------------- the model


@dataclass(eq=False)
class Request:
    """One customer request: what the portal holds (the bot may fail to read any of it)."""

    rid: int
    empresa: str
    radicado: str
    sgc: str | None
    """The request's real SGC in the portal (None: it has none, only placeholders)."""
    named: set[str] = field(default_factory=set)
    """Real SGCs its files or JSON fields named: folders it may be filed under."""
    scrapes: int = 0

    @property
    def folders(self) -> set[str]:
        return {*self.named, "sin_sgc/" + self.radicado}


@dataclass(eq=False)
class BotFile:
    """A file the bot wrote, whatever the pipeline did with it since."""

    empresa: str
    name: str
    request: Request
    scrape: int
    kind: str
    """``json``, ``pdf``, ``adjunto``, or ``temp`` (an attachment still downloading)."""
    data: bytes
    moment: datetime
    fresh: bool = False
    """Modified within the settle time (its mtime is now): still being written."""
    loadable: bool | None = None
    """For a JSON: True valid (its record must load), False never loads, None either (a
    valid record under a name the pipeline may not recognise)."""
    arrived: bool = True
    """False for a JSON the bot has not written yet (late JSON)."""
    meta: dict[str, Any] = field(default_factory=dict)
    """For a JSON: what :func:`record` wrote it from (an operator rewrites it valid)."""

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Pending:
    """A request the bot is in the middle of: its JSON (and an attachment) still to come."""

    json: BotFile
    temp: BotFile | None = None
    final_name: str = ""


FORMS = ("real", "real", "placeholder_error", "placeholder_error", "placeholder_ts",
         "placeholder_named_real", "blank_field", "dormant", "dormant_blank")
"""How the SGC reads in one scrape (weighted by repetition)."""
CONTENTS = ("valid", "valid", "valid", "blank_fecha", "blank_radicado", "blank_radicado",
            "bad_fecha", "truncated", "empty")
THEN = ("json", "json", "json", "json_fresh", "json_late", "download_late", "no_json")
"""What follows the documents: the JSON now (settled or still being written), the JSON in a
later rule, the attachment still downloading and then the JSON, or no JSON (the bot's JSON
step failed and it went on)."""


class Bot:
    """The bot of one company: a clock, the requests it scraped, the files it wrote."""

    def __init__(self, empresa: str, landing: Path, files: dict[tuple[str, str], BotFile],
                 requests: list[Request], counter: Iterator[int]) -> None:
        self.empresa = empresa
        self.processed = company_folders(landing, empresa).processed
        self.files = files
        self.requests = requests
        self.counter = counter
        self.clock = START
        self.pending: Pending | None = None
        self.killed = False

    # ---------------------------------------------------------------- writing

    def _write(self, file: BotFile, *, fresh: bool = False) -> None:
        self.processed.mkdir(parents=True, exist_ok=True)
        path = self.processed / file.name
        path.write_bytes(file.data)
        file.fresh = fresh
        if not fresh:
            when = file.moment.timestamp()
            os.utime(path, (when, when))
        self.files[(self.empresa, file.name)] = file

    def settle(self) -> None:
        """Time passes: what was being written is complete and old."""
        for file in self.files.values():
            if file.empresa == self.empresa and file.fresh and file.kind != "temp":
                path = self.processed / file.name
                if path.exists():
                    when = file.moment.timestamp()
                    os.utime(path, (when, when))
                file.fresh = False

    def tick(self, seconds: float) -> datetime:
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def request(self, target: int | None, has_sgc: bool) -> Request:
        mine = [r for r in self.requests if r.empresa == self.empresa]
        if target is not None and mine:
            return mine[target % len(mine)]
        rid = next(self.counter)
        sgc = f"{self.empresa[:2].upper()}{4100 + rid}" if has_sgc else None
        request = Request(rid, self.empresa, f"2025{rid:06d}", sgc)
        self.requests.append(request)
        return request

    def scrape(self, request: Request, *, form: str, n: int, content: str, pdf: bool,
               adjunto: str | None, then: str, changed: bool, gap: int) -> list[str]:
        """Write one scrape of ``request``; returns the names written now."""
        self.finish()
        self.settle()
        self.tick(gap + (KILL_GAP.total_seconds() if self.killed else 0))
        self.killed = False
        request.scrapes += 1
        scrape = request.scrapes
        if request.sgc is None and form in {"real", "placeholder_named_real", "blank_field"}:
            form = "placeholder_error"
        read_at = self.clock
        real = request.sgc or ""
        if form == "real" or form == "blank_field":
            part, field_sgc = real, ("" if form == "blank_field" else real)
        elif form == "placeholder_error":
            part, field_sgc = f"PQR_{n}_ERROR", ""
        elif form == "placeholder_ts":
            part, field_sgc = f"PQR_{n}_{stamp(read_at)}", ""
        elif form == "placeholder_named_real":
            part, field_sgc = f"PQR_{n}_ERROR", real
        else:  # the dormant detail writer names files by the field (blank: unreadable)
            part = field_sgc = real if form == "dormant" else ""
        if part and not part.startswith("PQR_"):
            request.named.add(part)
        if field_sgc:
            request.named.add(field_sgc)
        written: list[str] = []
        dormant = form.startswith("dormant")
        if dormant:
            # The detail writer (pqr_detail_extractor) saves the JSON first, then the PDF
            # (docs/data-contract.md): its JSON is never late nor missing before its PDF.
            then = "json"
            written += self._scrape_json(request, scrape, part, field_sgc, content, n,
                                         changed, adjunto, then, dormant, None, "")
            if self.killed:  # killed while writing its JSON: no PDF after it
                return written
        if pdf:
            moment = self.tick(1)
            name = (f"{part}_PQR_{n}_{stamp(moment)}.pdf" if dormant
                    else f"{part}_{stamp(moment)}.pdf")
            body = b"%PDF-1.4\n% detalle " + name.encode() + b"\n%%EOF\n"
            self._write(BotFile(self.empresa, name, request, scrape, "pdf", body, moment))
            written.append(name)
        if dormant:
            return written
        temp = None
        final = ""
        if adjunto:
            moment = self.tick(3)
            final = f"{part}_adjunto_{stamp(moment)}.{adjunto}"
            body = b"adjunto " + final.encode()
            if then == "download_late":
                temp = BotFile(self.empresa, final + ".crdownload", request, scrape, "temp",
                               body[:5], moment)
                self._write(temp, fresh=True)
                written.append(temp.name)
            else:
                self._write(BotFile(self.empresa, final, request, scrape, "adjunto", body,
                                    moment))
                written.append(final)
        if then == "no_json":
            return written
        return written + self._scrape_json(request, scrape, part, field_sgc, content, n,
                                           changed, adjunto, then, dormant, temp, final)

    def _scrape_json(self, request: Request, scrape: int, part: str, field_sgc: str,
                     content: str, n: int, changed: bool, adjunto: str | None, then: str,
                     dormant: bool, temp: BotFile | None, final: str) -> list[str]:
        """Write (or leave pending) one scrape's request JSON; returns the names written."""
        moment = self.tick(2)
        documento_prueba = f"evidencia.{adjunto}" if adjunto else ""
        estado = ("Finalizado" if (scrape + int(changed)) % 2 else "En trámite")
        body = record(request, sgc_number=part, field_sgc=field_sgc, ts=stamp(moment),
                      content=content, estado=estado, n=n,
                      documento_prueba=documento_prueba)
        name = (f"pqr_data_{part}_{stamp(moment)}.json" if dormant
                else f"{part}_data_{stamp(moment)}.json")
        valid = content in {"valid", "blank_fecha"}
        # ``pqr_data__{ts}.json`` (the field was blank): a name the pipeline may not read
        loadable = None if valid and dormant and not part else valid
        json_file = BotFile(self.empresa, name, request, scrape, "json", body, moment,
                            loadable=loadable, meta={"sgc_number": part, "field_sgc": field_sgc,
                                                     "ts": stamp(moment), "estado": estado,
                                                     "n": n,
                                                     "documento_prueba": documento_prueba})
        if then in {"json_late", "download_late"}:
            json_file.arrived = False
            self.pending = Pending(json_file, temp, final)
            return []
        self._write(json_file, fresh=then == "json_fresh")
        if content in {"truncated", "empty"}:
            self.killed = True  # killed while writing it: back an hour later
        return [name]

    def finish(self) -> list[str]:
        """The request in progress completes: the download ends, the JSON is written."""
        pending, self.pending = self.pending, None
        if pending is None:
            return []
        written = []
        if pending.temp is not None:
            written.append(self.download_done(pending.temp, pending.final_name))
        pending.json.arrived = True
        self._write(pending.json)
        written.append(pending.json.name)
        return written

    def download_done(self, temp: BotFile, final_name: str) -> str:
        """``x.crdownload`` becomes ``x`` (what a finished browser download does)."""
        body = b"adjunto " + final_name.encode()
        path = self.processed / temp.name
        target = self.processed / final_name
        if path.exists():  # (a review may have set a dead download aside)
            path.write_bytes(body)
            when = temp.moment.timestamp()
            os.utime(path, (when, when))
            os.replace(path, target)
        self.files.pop((self.empresa, temp.name), None)
        self.files[(self.empresa, final_name)] = BotFile(
            self.empresa, final_name, temp.request, temp.scrape, "adjunto", body, temp.moment)
        if self.pending is not None and self.pending.temp is temp:
            self.pending.temp = None
        return final_name

    def kill(self, how: str) -> list[str]:
        """The bot dies mid-request: the JSON never comes, or is cut short / empty; a
        download in progress stays as it was (its writer is gone)."""
        pending, self.pending = self.pending, None
        self.killed = True
        if pending is None:
            return []
        if pending.temp is not None:  # untouched since its stamp: a dead download
            when = pending.temp.moment.timestamp()
            with contextlib.suppress(FileNotFoundError):
                os.utime(self.processed / pending.temp.name, (when, when))
            pending.temp.fresh = False
        if how == "never":
            return []
        data = pending.json.data
        pending.json.data = data[: len(data) // 3] if how == "truncated" else b""
        pending.json.loadable = False
        pending.json.arrived = True
        self._write(pending.json)
        return [pending.json.name]


def record(request: Request, *, sgc_number: str, field_sgc: str, ts: str, content: str,
           estado: str, n: int, documento_prueba: str = "") -> bytes:
    """A request JSON as the bot writes it (``json.dump(ensure_ascii=False, indent=2)``):
    ``documento_prueba`` names the evidence file the page shows (the bot downloads an
    attachment only when it does)."""
    fecha = {"blank_fecha": "", "bad_fecha": "ayer en la tarde"}.get(content, "2025/10/07 14:05")
    rec: dict[str, Any] = {
        "record_number": n, "sgc_number": sgc_number, "extraction_timestamp": ts,
        "page_url": f"https://{PORTAL[request.empresa]}/pqr/detalle",
        "page_title": "Detalle de la PQR",
        "numero_radicado": "" if content == "blank_radicado" else request.radicado,
        "numero_reclamo_sgc": field_sgc, "fecha": fecha, "estado_solicitud": estado,
        "tipo_pqr": "Reclamo", "nic": "1234567", "documento_identidad": "1045678901",
        "nombres_apellidos": "María José Núñez Peña", "correo_electronico": "mj@example.com",
        "telefono": "6053334455", "celular": "3001234567", "lectura": "12345",
        "canal_respuesta": "Correo electrónico", "documento_prueba": documento_prueba,
        "cuerpo_reclamacion": "Cobro excesivo en la factura.",
    }
    if request.empresa == "afinia":
        rec.update(finalizar="", adjuntar_archivo="", comentarios="")
    data = json.dumps(rec, ensure_ascii=False, indent=2).encode("utf-8")
    if content == "truncated":
        return data[: len(data) // 2]
    if content == "empty":
        return b""
    return data


# --------------------------------------------------------------------------- gate


class SimulatedKill(BaseException):
    """The process running a step dies here (no ``except Exception`` catches it)."""


class Gate:
    """Pauses, or kills, a named thread right after a named product function returns."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.plans: dict[str, list[str]] = {}
        self.paused: dict[str, str] = {}
        self.kill_at: dict[str, str] = {}
        self.done: set[str] = set()

    def point(self, point: str) -> None:
        who = threading.current_thread().name
        with self.cond:
            if self.kill_at.get(who) == point:
                del self.kill_at[who]
                raise SimulatedKill(point)
            plan = self.plans.get(who)
            if not plan or plan[0] != point:
                return
            plan.pop(0)
            self.paused[who] = point
            self.cond.notify_all()
            if not self.cond.wait_for(lambda: who not in self.paused, timeout=300):
                raise RuntimeError(f"{who} left paused at {point}")

    def wait(self, who: str, timeout: float) -> str:
        """``paused``, ``done`` or ``blocked`` (still running: waiting for a lock)."""
        with self.cond:
            self.cond.wait_for(lambda: who in self.paused or who in self.done, timeout)
            return "paused" if who in self.paused else "done" if who in self.done else "blocked"

    def release(self, who: str, *, all_points: bool = False) -> None:
        with self.cond:
            if all_points:
                self.plans.pop(who, None)
            self.paused.pop(who, None)
            self.cond.notify_all()

    def finished(self, who: str) -> None:
        with self.cond:
            self.done.add(who)
            self.cond.notify_all()


POINTS: dict[str, tuple[str, str]] = {
    # point: (module, function) whose return is the point
    "scan": ("extract", "scan"),
    "read_quarantine": ("extract", "read_quarantine"),
    "read_requests": ("extract", "_read_requests"),
    "place_documents": ("extract", "_place_documents"),
    "register_pending": ("registry", "register_pending"),
    "mark_loaded": ("registry", "mark_loaded"),
    "record_upload_results": ("registry", "record_upload_results"),
    "list_objects": ("reconcile", "list_objects"),
    "requeue": ("registry", "requeue"),
    "keep_bucket_object": ("registry", "keep_bucket_object"),
    "review_quarantine": ("landing", "quarantine"),
}
STEP_POINTS: dict[str, list[str]] = {
    # After read_quarantine a run has listed processed/ and quarantine/: all it reads later
    # is from that view.
    "extract": ["read_quarantine", "read_requests", "place_documents", "register_pending"],
    "readmit": ["read_quarantine", "read_requests", "place_documents", "register_pending"],
    "load": ["mark_loaded"],
    "upload": ["record_upload_results"],
    "reconcile": ["list_objects", "requeue", "record_upload_results"],
    "answer": ["keep_bucket_object", "review_quarantine"],
}


def install_points(gate: Gate, setattr_: Callable[[Any, str, Any], None]) -> None:
    """Wrap every point's function (those this version has) so it reports to ``gate``."""
    from extractorov import extract, landing, reconcile, registry

    modules = {"extract": extract, "registry": registry, "reconcile": reconcile,
               "landing": landing}
    for point, (module_name, name) in POINTS.items():
        module = modules[module_name]
        original = getattr(module, name, None)
        if original is None:
            continue

        def wrapped(*args: Any, __original: Any = original, __point: str = point,
                    **kwargs: Any) -> Any:
            result = __original(*args, **kwargs)
            gate.point(__point)
            return result

        setattr_(module, name, wrapped)


# --------------------------------------------------------------------------- landing faults


class _Os:
    """``os`` as the landing module sees it: everything passes through, except what the
    armed fault changes (the reason file's write; the listing of ``processed/``)."""

    def __init__(self, real: Any, faults: LandingFaults) -> None:
        self._real = real
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def open(self, path: Any, flags: int, mode: int = 0o777, *args: Any, **kw: Any) -> int:
        if (self._faults.at_os_open and ".reason.txt" in os.fspath(path)
                and flags & os.O_CREAT):
            self._faults.reason_write()
        return self._real.open(path, flags, mode, *args, **kw)

    def scandir(self, path: Any = ".") -> Any:
        entries = list(self._real.scandir(path))
        self._faults.listed(Path(os.fspath(path)))
        return _Listing(entries)


class _Listing(list):
    def __enter__(self) -> _Listing:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class LandingFaults:
    """Faults of the landing volume, at the landing module's ``os`` (an I/O boundary).

    * ``reason``: ``"enospc"`` (the disk is full when a quarantine reason file is written)
      or ``"kill"`` (the process dies there), once each armed;
    * ``after_listing``: a callable run once, right after ``processed/`` was listed and
      before its entries are looked at (a download finishing during the scan).
    """

    def __init__(self) -> None:
        self.reason: str | None = None
        self.after_listing: Callable[[], None] | None = None
        self.hits = 0
        self.at_os_open = True
        """Versions without ``landing._write_reason`` write the reason inside
        ``quarantine`` itself: the fault is at its ``os.open`` of the reason file."""

    def reason_write(self) -> None:
        mode, self.reason = self.reason, None
        if mode == "enospc":
            self.hits += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if mode == "kill":
            self.hits += 1
            raise SimulatedKill("reason")

    def listed(self, folder: Path) -> None:
        if folder.name == "processed" and self.after_listing is not None:
            action, self.after_listing = self.after_listing, None
            self.hits += 1
            action()

    def install(self, setattr_: Callable[[Any, str, Any], None]) -> None:
        from extractorov import landing

        setattr_(landing, "os", _Os(os, self))
        write_reason = getattr(landing, "_write_reason", None)
        if write_reason is not None:  # the one function that writes a reason file
            self.at_os_open = False
            def failing(*args: Any, **kwargs: Any) -> Any:
                self.reason_write()
                return write_reason(*args, **kwargs)

            setattr_(landing, "_write_reason", failing)


# --------------------------------------------------------------------------- S3 faults


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


_ERROR = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
          "<Message>injected</Message></Error>")


class S3Faults:
    """S3 errors injected on boto3 clients through botocore's event hooks.

    Modes: ``throttle`` (two SlowDown answers, retried by the client), ``put_500`` (every
    PUT answers 500), ``outage`` (after two requests every request fails to connect),
    ``lost_response`` (the first PUT is stored but its answer is lost)."""

    def __init__(self) -> None:
        self.mode: str | None = None
        self.requests = 0
        self.injected = 0
        self.lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send.s3", self._before_send)
        client.meta.events.register("after-call.s3.PutObject", self._after_put)
        return client

    def arm(self, mode: str | None) -> None:
        with self.lock:
            self.mode, self.requests, self.injected = mode, 0, 0

    def _before_send(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from botocore.exceptions import EndpointConnectionError

        with self.lock:
            mode = self.mode
            self.requests += 1
            if mode == "throttle" and self.injected < 2:
                self.injected += 1
                return AWSResponse(request.url, 503, {}, _Raw(_ERROR.format(
                    code="SlowDown").encode()))
            if mode == "put_500" and request.method == "PUT":
                self.injected += 1
                return AWSResponse(request.url, 500, {}, _Raw(_ERROR.format(
                    code="InternalError").encode()))
            if mode == "outage" and self.requests > 2:
                self.injected += 1
                raise EndpointConnectionError(endpoint_url=request.url)
        return None

    def _after_put(self, **_: Any) -> None:
        from botocore.exceptions import ConnectionClosedError

        with self.lock:
            if self.mode != "lost_response" or self.injected:
                return
            self.injected += 1
        raise ConnectionClosedError(endpoint_url="(injected: the answer was lost)")


# --------------------------------------------------------------------------- the adapter


BUSY_ERRORS = {"CompanyBusy", "UploadLockBusy"}
"""A step that found its company being written: it did nothing (new and old names)."""


def _accepts(function: Callable[..., Any], name: str) -> bool:
    return name in inspect.signature(function).parameters


def _wait(function: Callable[..., Any], wait_seconds: float | None) -> dict[str, float]:
    """The keyword that bounds waiting for the company, if this version has one."""
    if wait_seconds is None:
        return {}
    for name in ("wait_seconds", "lock_wait_seconds"):
        if _accepts(function, name):
            return {name: wait_seconds}
    return {}


class Steps:
    """The one place the generator calls the product's steps."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def extract(self, conn: Any, company: Any, run_id: str, *, readmit: bool = False,
                wait: float | None = None) -> Any:
        from extractorov import pipeline

        return pipeline.extract(conn, company, self.settings, run_id,
                                readmit_quarantine=readmit, **_wait(pipeline.extract, wait))

    def load(self, conn: Any, company: Any, manifest: str, run_id: str, *,
             wait: float | None = None) -> Any:
        from extractorov import pipeline

        kwargs: dict[str, Any] = _wait(pipeline.load, wait)
        if _accepts(pipeline.load, "run_id"):
            kwargs["run_id"] = run_id
        return pipeline.load(conn, company, manifest, **kwargs)

    def upload(self, conn: Any, client: Any, company: Any, run_id: str, *,
               wait: float | None = None) -> Any:
        from extractorov import pipeline

        return pipeline.upload(conn, client, company, self.settings, run_id=run_id,
                               **_wait(pipeline.upload, wait))

    def reconcile(self, conn: Any, client: Any, company: Any, run_id: str, *,
                  wait: float | None = None) -> Any:
        from extractorov import reconcile

        return reconcile.reconcile(conn, client, company, self.settings, run_id=run_id,
                                   **_wait(reconcile.reconcile, wait))

    def reconcile_task(self, company: Any, run_id: str) -> str:
        """The hourly check's task body (``tasks.reconcile``): ``success``, ``failed``
        (findings need a human) or ``busy``."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException

        from extractorov import tasks

        try:
            tasks.reconcile(company, {"run_id": run_id, "ti": _TaskInstance({}, {})})
        except AirflowFailException:
            return "failed"
        except AirflowRescheduleException:
            return "busy"
        except SystemExit:  # a handled failure, logged without a traceback (taskfail)
            return "failed"
        return "success"

    def collect(self, conn: Any, client: Any, run_id: str) -> list[dict[str, Any]]:
        from extractorov import review

        return review.collect(conn, client, self.settings, run_id)

    def answer(self, conn: Any, client: Any, finding_id: int, choice: str, run_id: str, *,
               wait: float | None = None) -> Any:
        from datetime import UTC

        from extractorov import review

        return review.apply_answer(conn, client, self.settings, finding_id, choice,
                                   answered_by="fuzz", answered_at=datetime.now(UTC),
                                   run_id=run_id, **_wait(review.apply_answer, wait))

    def report_stats(self, company: Any, run_id: str, *, database_only: bool,
                     xcoms: dict[str, Any], states: dict[str, str]) -> dict[str, Any]:
        """The company DAG's ``report_stats`` task body, with the XComs and task states
        the run's tasks left."""
        from extractorov import tasks

        ti = _TaskInstance(xcoms, states, dag_id=company.dag_id)
        return tasks.report_stats(company, {
            "ti": ti, "run_id": run_id, "params": {"database_only": database_only},
            "logical_date": None, "data_interval_start": None, "data_interval_end": None})

    @staticmethod
    def extract_xcom(summary: Any, try_number: int) -> dict[str, Any]:
        """What ``tasks.extract`` returns for a summary (its XCom)."""
        from dataclasses import asdict

        return {**asdict(summary), "attempt": try_number}


class _TaskInstance:
    """What the task bodies ask of Airflow's task instance."""

    def __init__(self, xcoms: dict[str, Any], states: dict[str, str], *,
                 dag_id: str = "ov_s3_reconcile", try_number: int = 1) -> None:
        self.xcoms = xcoms
        self.states = states
        self.dag_id = dag_id
        self.try_number = try_number
        self.max_tries = 3

    def xcom_pull(self, task_ids: str, **_: Any) -> Any:
        return self.xcoms.get(task_ids)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def get_task_states(self, *, dag_id: str, task_ids: list[str], run_ids: list[str]
                        ) -> dict[str, dict[str, str]]:
        return {run_ids[0]: {t: s for t, s in self.states.items() if t in task_ids}}


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """The product logs every phase at INFO: thousands of lines per example otherwise."""
    import logging

    import structlog

    loggers = [logging.getLogger(name) for name in ("extractorov", "airflow", "botocore")]
    levels = [lg.level for lg in loggers]
    config = structlog.get_config()
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
                        cache_logger_on_first_use=False)
    try:
        yield
    finally:
        structlog.configure(**config)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
