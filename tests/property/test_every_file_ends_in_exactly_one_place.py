"""Every file the bot wrote ends in exactly one place, and never in another customer's folder.

A stateful property-based test (Hypothesis ``RuleBasedStateMachine``) over the real
PostgreSQL and the real moto S3 server over HTTP (the session's servers; a fresh
database, bucket and landing folder per example), calling the real steps.

**The model** (``_world.py``) is what the bot wrote, file by file, and which customer
request each file belongs to: the generator writes the files, so it knows. Requests have a
``numero_radicado`` and maybe a real SGC; each *scrape* of a request writes its documents
and then its JSON last, named by the SGC the bot could read (a real one, a placeholder that
unrelated requests share, the dormant detail writer's names). The model never predicts
which place a file should reach (that is the pipeline's business); it states what must
hold whatever the pipeline decides.

**Rules**: what the bot writes (valid requests, placeholders shared by unrelated
requests, blank fields, invalid / truncated / 0-byte JSONs of a killed bot, late JSONs,
re-scrapes with the same or changed content, an SGC learned on a later scrape, half-written
files, the dormant writer's names); each step of a company run in DAG order (extract with
or without re-admission, load of the run's manifest, upload unless ``database_only``,
report_stats), a retry after the step committed, a crash or a real SIGKILL in the middle of
a step, a run abandoned between steps; the hourly check (``tasks.reconcile``) and the
review (``review.collect`` / ``review.apply_answer`` with any offered choice); an operator
who fixes a quarantined JSON and moves it back with its documents; a full disk when a
quarantine reason or the manifest is written; S3 throttling, 5xx, outages and lost
answers; someone replacing or deleting a bucket object (also between a question and its
answer); a download finishing during a scan; and a second run of a step started while
another is paused between its phases (threads and a gate on the product's functions).

**Invariants**, checked after every rule (no step is paused then), per company:

1. *One place.* Every file the bot wrote is in exactly one of: the registry (one row;
   ``uploaded``/``pre_existing`` with the object's bytes equal to the file's), quarantine/
   with a reason a reader sees (``landing.read_quarantine``, or "reason lost"), or waiting
   in processed/ -- never two, never none; every object and row is a file the bot wrote,
   at its row's key.
2. *Own folder.* No row, object or table SGC under any folder but its own request's
   (``{sgc}/`` of a real SGC the request's files named, else ``sin_sgc/{numero_radicado}/``):
   never another customer's folder. And one request, one folder
   (``one_folder_per_request``). *Own request:* a document's row is never tied (its
   ``numero_radicado``, its ``request_json``) to another request, even in a shared SGC
   folder: a removal or a new SGC of that request would take it along.
3. *Table.* Table rows are valid request JSONs' ``numero_radicado`` only, and every valid
   JSON in view when the extract try that wrote a run's manifest began is a row once that
   run's load succeeded (a retried extract returns an earlier committed try's manifest,
   also one a SIGKILLed child wrote: what arrived since waits for the next run).
4. *Run reports* (checked when a run's report_stats runs): ``files_registered`` and
   ``db_inserted`` in ``post_processing_runs`` equal the registry rows and table rows the
   run's tries made (counted once per run, even when a step is retried after its commit;
   a load_db started beside another step that loads the run's manifest is one of them).

Checked where they happen: a review answer is applied only to what the question showed (a
kept bucket object is the one shown; a document whose JSON has arrived is not set aside);
one unanswered question fails at most one hourly check; a step ends in success, "busy"
(the company is being written: it did nothing), or an error it is allowed to end with
(never a crash such as ``FileNotFoundError``).

**Known open defects** (:data:`KNOWN_OPEN`) switch off the rule or check that finds them
until they are fixed (each has a strict-xfail regression test elsewhere); remove a name
when its fix lands. ``make fuzz KNOWN_OPEN=none`` runs everything; ``OV_FUZZ_SKIP_RULES``
(rule names) and ``OV_FUZZ_CONCURRENT_STEPS`` narrow a fuzz run to look past a finding.

CI runs a fixed-seed (``derandomize``) budget; ``make fuzz EXAMPLES=500`` runs longer with
a random seed and prints Hypothesis' shrunk counterexample.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from extractorov import landing, runtime, tasks
from extractorov.companies import COMPANIES
from extractorov.errors import PipelineError
from extractorov.landing import company_folders
from tests.property._world import (
    BUSY_ERRORS,
    CONTENTS,
    EMPRESAS,
    FORMS,
    STEP_POINTS,
    THEN,
    Bot,
    BotFile,
    Gate,
    LandingFaults,
    Request,
    S3Faults,
    SimulatedKill,
    Steps,
    folder_of,
    install_points,
    prefix,
    quiet_logs,
    record,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

KNOWN_OPEN: frozenset[str] = frozenset()
"""Defects open on this branch. Each name switches off the rule or the check that finds it
(see :func:`open_defect`); add a name while its fix is under way, remove it when the fix
lands. All the generator found so far is fixed: one writer per company (1, 2),
crash_atomic_quarantine (3, 4), scan_races (5), kept_object_is_the_one_shown (6),
set_aside_only_what_still_waits (7), one_folder_per_request (8), counts_per_run (11),
question_fails_once (12), json_never_written (13): every rule and check runs."""


def _known_open() -> frozenset[str]:
    text = os.environ.get("OV_FUZZ_KNOWN_OPEN")
    if text is None:
        return KNOWN_OPEN
    return frozenset(n.strip() for n in text.split(",") if n.strip() and n.strip() != "none")


OPEN = _known_open()


def open_defect(name: str) -> bool:
    return name in OPEN


EXAMPLES = int(os.environ.get("OV_FUZZ_EXAMPLES") or 0)
"""``make fuzz EXAMPLES=N``: N examples with a random seed; 0 (CI): the fixed budget."""
CI_EXAMPLES = 30
STEPS_PER_EXAMPLE = int(os.environ.get("OV_FUZZ_STEPS") or 35)
SETTINGS = settings(
    max_examples=EXAMPLES or CI_EXAMPLES,
    stateful_step_count=STEPS_PER_EXAMPLE,
    derandomize=not EXAMPLES,
    database=None,
    deadline=None,
    print_blob=bool(EXAMPLES),
    suppress_health_check=list(HealthCheck),
)

RUN_KINDS = st.sampled_from(["trigger", "backfill"])
COMPANY = st.sampled_from(["afinia", "afinia", "aire"])
SECOND = st.sampled_from(os.environ.get(
    "OV_FUZZ_CONCURRENT_STEPS", "extract,extract,readmit,load,upload,reconcile,answer"
).split(","))
"""The steps the concurrency rule runs (``OV_FUZZ_CONCURRENT_STEPS`` narrows a fuzz run)."""
SKIP_RULES = frozenset(filter(None, os.environ.get("OV_FUZZ_SKIP_RULES", "").split(",")))
"""Rules a fuzz run leaves out (by name), to look past what it already found."""
_counter = itertools.count()
_threads = itertools.count()


@dataclass
class Run:
    """A company DAG run: its steps in order, their tries, what they left for report_stats."""

    empresa: str
    run_id: str
    database_only: bool
    readmit: bool
    step: str = "extract"
    tries: Counter[str] = field(default_factory=Counter)
    xcoms: dict[str, Any] = field(default_factory=dict)
    manifest: str = ""
    registered: int = 0
    """Registry rows its extract tries made (measured, every try)."""
    inserted: int = 0
    """Table rows its load tries made."""
    lost: bool = False
    """A try did work whose summary no task returned (died after its commit)."""
    expect: set[str] = field(default_factory=set)


@dataclass
class Shown:
    """A question as the review form showed it."""

    form: dict[str, Any]
    object_sha256: str | None
    """The bucket object's SHA-256 when it was asked (object_different)."""


class Servers:
    """The session's servers, and what every example shares."""

    postgres: Any = None
    moto: Any = None
    root: Path | None = None
    template = ""
    """A database with the schema already migrated: each example's is a copy of it."""
    client: Any = None
    """The S3 client (boto3 clients are thread-safe; each example has its own bucket)."""


def _admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(Servers.postgres.dsn("postgres"), autocommit=True) as admin:
        admin.execute(statement)


class Landing(RuleBasedStateMachine):
    """One warehouse, one bucket, one landing folder; the bot and the steps act on them."""

    def __init__(self) -> None:
        super().__init__()
        n = next(_counter)
        self.db_name = f"ov_fuzz_{os.getpid()}_{n}"
        self.bucket = f"ov-fuzz-{os.getpid()}-{n}"
        assert Servers.root is not None
        self.root = Servers.root / f"landing-{n}"
        self.root.mkdir(parents=True)
        _admin(f'CREATE DATABASE "{self.db_name}" TEMPLATE "{Servers.template}"')
        Servers.moto.create_bucket(self.bucket)
        os.environ.update({
            "AIRFLOW_CONN_OV_POSTGRES": Servers.postgres.conn_json(self.db_name),
            "AIRFLOW_VAR_OV_S3_BUCKET": self.bucket,
            "AIRFLOW_VAR_OV_LANDING_ROOT": str(self.root),
        })
        self.settings = runtime.settings_from_variables()
        self.steps = Steps(self.settings)
        self.visible_at: dict[tuple[str, tuple[int, int]], set[str]] = {}
        """Manifest (path, the header file's identity) → the valid request JSONs visible
        when the try that wrote it began; filled by every try that runs an extract of a
        run: in this process or in a child that is SIGKILLed (:meth:`_manifests_written`)."""
        self._conn_cm: Any = None
        self.conn = self._connect()
        self.client = Servers.client
        self.files: dict[tuple[str, str], BotFile] = {}
        self.requests: list[Request] = []
        ids = itertools.count(1)
        self.bots = {e: Bot(e, self.root, self.files, self.requests, ids) for e in EMPRESAS}
        self.runs: dict[tuple[str, str], Run] = {}
        self.run_numbers = itertools.count(1)
        self.forms: list[Shown] = []
        self.expected: dict[str, set[str]] = defaultdict(set)
        self.disturbed: set[str] = set()
        self.failed_for: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
        self.sigkills = 0
        self._objects: dict[str, str] = {}

    # ------------------------------------------------------------------ plumbing

    def _connect(self) -> Any:
        self._conn_cm = runtime.warehouse_connection()
        return self._conn_cm.__enter__()

    def _reconnect(self) -> None:
        """The process that ran a step died: its session (and what it held) is gone."""
        with contextlib.suppress(Exception):
            self._conn_cm.__exit__(None, None, None)
        self.conn = self._connect()

    def teardown(self) -> None:
        FAULTS.reset()
        with contextlib.suppress(Exception):
            self._conn_cm.__exit__(None, None, None)
        _admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        shutil.rmtree(self.root, ignore_errors=True)

    def _query(self, sql: str, *params: Any) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        self.conn.commit()
        return rows

    def _counts(self, empresa: str) -> tuple[int, int]:
        """(registry rows, table rows) of a company now."""
        registry = self._query("SELECT count(*) FROM data_general.s3_files_registry "
                               "WHERE empresa = %s", empresa)[0][0]
        table = self._query(f"SELECT count(*) FROM data_general.ov_{empresa}")[0][0]
        return registry, table

    def _call(self, what: str, function: Any, *, allow: tuple[type, ...] = ()) -> tuple[str, Any]:
        """Run one step: ``ok`` (with its result), ``busy``, ``error`` (one it may end
        with), ``killed``. Anything else is a crash: the test fails."""
        try:
            return "ok", function()
        except SimulatedKill:
            self._reconnect()
            return "killed", None
        except PipelineError as exc:
            return ("busy" if type(exc).__name__ in BUSY_ERRORS else "error"), exc
        except allow as exc:
            return "error", exc
        except Exception as exc:
            raise AssertionError(f"[crash] {what} raised {type(exc).__name__}: "
                                 f"{str(exc)[:300]}") from exc

    def _bot_file(self, empresa: str, name: str) -> BotFile | None:
        return self.files.get((empresa, name))

    def _listing(self, folder: Path) -> list[str]:
        return sorted(os.listdir(folder)) if folder.is_dir() else []

    # ------------------------------------------------------------------ the bot

    @rule(empresa=COMPANY, again=st.none() | st.integers(0, 9), has_sgc=st.booleans(),
          form=st.sampled_from(FORMS), n=st.sampled_from([4, 4, 1]),
          content=st.sampled_from(CONTENTS), pdf=st.sampled_from([True, True, False]),
          adjunto=st.sampled_from([None, "jpg", "PDF", "docx"]), then=st.sampled_from(THEN),
          changed=st.booleans(), gap=st.sampled_from([5, 40, 300, 2400]))
    def bot_scrapes(self, empresa: str, again: int | None, has_sgc: bool, form: str, n: int,
                    content: str, pdf: bool, adjunto: str | None, then: str, changed: bool,
                    gap: int) -> None:
        """The bot scrapes a request (a new one, or again one it scraped before)."""
        bot = self.bots[empresa]
        if then == "no_json" and open_defect("json_never_written"):
            then = "json"
        bot.scrape(bot.request(again, has_sgc), form=form, n=n, content=content, pdf=pdf,
                   adjunto=adjunto, then=then, changed=changed, gap=gap)

    @rule(empresa=COMPANY, n=st.sampled_from([4, 1]),
          first=st.sampled_from(["blank_radicado", "blank_radicado", "valid", "no_json",
                                 "bad_fecha"]),
          second_pdf=st.booleans(), second_adjunto=st.booleans(),
          gap=st.sampled_from([40, 300, 2400]))
    def bot_scrapes_two_requests_with_one_placeholder(
            self, empresa: str, n: int, first: str, second_pdf: bool, second_adjunto: bool,
            gap: int) -> None:
        """Two unrelated requests read as ``PQR_{n}_ERROR`` (row n of two result pages):
        the first with its detail PDF and a JSON that is invalid, valid or never written,
        the second minutes later, its own documents possibly missing."""
        bot = self.bots[empresa]
        if first == "no_json" and open_defect("json_never_written"):
            first = "blank_radicado"
        then = "no_json" if first == "no_json" else "json"
        content = "valid" if first == "no_json" else first
        bot.scrape(bot.request(None, False), form="placeholder_error", n=n, content=content,
                   pdf=True, adjunto=None, then=then, changed=False, gap=gap)
        bot.scrape(bot.request(None, False), form="placeholder_error", n=n, content="valid",
                   pdf=second_pdf, adjunto="jpg" if second_adjunto else None, then="json",
                   changed=False, gap=gap)

    def _pending(self) -> list[Bot]:
        return [b for b in self.bots.values() if b.pending is not None]

    @precondition(lambda self: self._pending())
    @rule(which=st.integers(0, 1))
    def bot_finishes_the_request(self, which: int) -> None:
        """The late JSON arrives (and the download in progress completes)."""
        bots = self._pending()
        bots[which % len(bots)].finish()

    @precondition(lambda self: self._pending())
    @rule(which=st.integers(0, 1), how=st.sampled_from(["never", "truncated", "empty"]))
    def bot_is_killed_mid_request(self, which: int, how: str) -> None:
        bots = self._pending()
        bots[which % len(bots)].kill(how)

    @precondition(lambda self: any(f.fresh for f in self.files.values()))
    @rule()
    def time_passes(self) -> None:
        """What was being written is complete (older than the settle time)."""
        for bot in self.bots.values():
            bot.settle()

    # ------------------------------------------------------------------ company runs

    def _run(self, empresa: str, which: str, database_only: bool, readmit: bool) -> Run:
        key = (empresa, which)
        if key not in self.runs:
            run_id = f"{which}__2025-10-{next(self.run_numbers):02d}T09:00:00+00:00"
            self.runs[key] = Run(empresa, run_id, database_only, readmit)
        return self.runs[key]

    def _visible_valid(self, empresa: str, *, readmit: bool) -> set[str]:
        """The numero_radicado of every valid, settled request JSON an extract sees now."""
        folders = company_folders(self.root, empresa)
        names = set(self._listing(folders.processed))
        if readmit:
            names |= {q.original_name for q in landing.read_quarantine(folders)}
        return {f.request.radicado for name in names
                if (f := self._bot_file(empresa, name)) is not None
                and f.kind == "json" and f.loadable is True and not f.fresh}

    def _manifests(self, empresa: str) -> dict[str, tuple[int, int]]:
        """Every run manifest (header file) of the company now → (inode, mtime): a run's
        tries all write the same path, each by a rename (a new inode)."""
        found: dict[str, tuple[int, int]] = {}
        for path in (company_folders(self.root, empresa).root / "manifests").glob("*.jsonl"):
            with contextlib.suppress(FileNotFoundError):
                st = path.stat()
                found[str(path)] = (st.st_ino, st.st_mtime_ns)
        return found

    def _manifests_written(self, empresa: str, before: dict[str, tuple[int, int]],
                           visible: set[str]) -> None:
        """Note what each manifest an extract try just wrote (new, or the run's earlier
        one rewritten) was written from: ``visible``, the valid JSONs in view when the try
        began. Even a try killed after its commit counts (in this process or a SIGKILLed
        child): a retried extract returns that try's manifest, and a JSON that arrived
        since (an operator's fix moved back, a late JSON) waits in processed/ for the next
        run, so the retry's load owes it no row. (Reading the visible JSONs when the retry
        ran instead expected a row no manifest held.)"""
        for path, identity in self._manifests(empresa).items():
            if before.get(path) != identity:
                self.visible_at[(path, identity)] = visible

    def _written_from(self, manifest: str) -> set[str]:
        """The valid JSONs the try that wrote ``manifest`` (as it is on disk now) saw."""
        if not manifest:
            return set()
        identity = self._manifests(self._empresa_of(manifest)).get(str(manifest))
        key = (str(manifest), identity) if identity is not None else None
        assert key in self.visible_at, (
            f"[oracle] extract returned {Path(manifest).name}, a manifest no try the "
            "generator ran wrote (it cannot tell which JSONs the load owes a row)")
        return self.visible_at[key]

    def _empresa_of(self, manifest: str) -> str:
        return next(e for e in EMPRESAS
                    if Path(manifest).parent == company_folders(self.root, e).root / "manifests")

    def _do_step(self, run: Run, *, kill_at: str | None = None, disk: str | None = None,
                 s3: str | None = None, keep: bool = True) -> str:
        """The run's next step, once (one try). ``keep``: the task returned its summary
        (False: it died after doing its work, its XCom never written)."""
        company = COMPANIES[run.empresa]
        step = run.step
        run.tries[step] += 1
        before = self._counts(run.empresa)
        allow: tuple[type, ...] = ()
        if kill_at is not None:
            if kill_at == "reason":
                FAULTS.landing.reason = "kill"
            else:
                FAULTS.gate.kill_at[threading.current_thread().name] = kill_at
        if disk == "reason":
            FAULTS.landing.reason = "enospc"
            allow = (OSError,)
        if s3 is not None:
            FAULTS.s3.arm(s3)
            from botocore.exceptions import BotoCoreError, ClientError

            allow = (BotoCoreError, ClientError)
        try:
            if step == "extract":
                visible = self._visible_valid(run.empresa, readmit=run.readmit)
                if disk == "manifest":
                    from extractorov import extract

                    allow = (OSError,)
                    FAULTS.full_manifest(extract)
                written = self._manifests(run.empresa)
                outcome, result = self._call(
                    f"extract of {run.run_id}",
                    lambda: self.steps.extract(self.conn, company, run.run_id,
                                               readmit=run.readmit), allow=allow)
                self._manifests_written(run.empresa, written, visible)
                if outcome == "ok":
                    run.manifest = result.manifest
                    run.expect = self._written_from(result.manifest)
                    if keep:
                        run.xcoms["extract"] = Steps.extract_xcom(result, run.tries[step])
                        run.step = "load"
            elif step == "load":
                outcome, result = self._call(
                    f"load_db of {run.run_id}",
                    lambda: self.steps.load(self.conn, company, run.manifest, run.run_id),
                    allow=allow)
                if outcome == "ok":
                    self.expected[run.empresa] |= run.expect
                    if keep:
                        run.xcoms["load_db"] = asdict(result)
                        run.step = "report" if run.database_only else "upload"
            elif step == "upload":
                outcome, result = self._call(
                    f"upload_s3 of {run.run_id}",
                    lambda: self.steps.upload(self.conn, self.client, company, run.run_id),
                    allow=allow)
                if outcome == "ok" and keep:
                    run.xcoms["upload_s3"] = result.as_dict()
                    run.step = "report"
            else:
                raise AssertionError(step)
        finally:
            FAULTS.reset()
        after = self._counts(run.empresa)
        run.registered += after[0] - before[0]
        run.inserted += after[1] - before[1]
        if not keep or outcome == "killed":
            run.lost = run.lost or after != before
        return outcome

    def _report(self, run: Run) -> None:
        """report_stats of the run; then its counts must add up."""
        states = {"extract": "success", "load_db": "success",
                  "upload_s3": "skipped" if run.database_only else "success"}
        self.steps.report_stats(COMPANIES[run.empresa], run.run_id,
                                database_only=run.database_only, xcoms=run.xcoms,
                                states=states)
        del self.runs[(run.empresa, run.run_id.split("__")[0])]
        if run.lost and open_defect("counts_per_run"):
            return
        [(registered, inserted)] = self._query(
            "SELECT files_registered, db_inserted FROM data_general.post_processing_runs "
            "WHERE run_id = %s AND empresa = %s", run.run_id, run.empresa)
        assert (registered, inserted) == (run.registered, run.inserted), (
            f"[run report] {run.run_id} ({run.empresa}) reports {registered} files registered"
            f" and {inserted} rows inserted; its tries registered {run.registered} and "
            f"inserted {run.inserted} (tries {dict(run.tries)})")

    @rule(empresa=COMPANY, which=RUN_KINDS, database_only=st.booleans(),
          readmit=st.sampled_from([False, False, True]), retried_after_commit=st.booleans())
    def run_the_next_step(self, empresa: str, which: str, database_only: bool, readmit: bool,
                          retried_after_commit: bool) -> None:
        """The next task of a company run (a new run when none is open): extract → load_db
        → upload_s3 (skipped when database_only) → report_stats. A failed try stays at its
        step (Airflow retries it). ``retried_after_commit``: the task's process died after
        the step committed; Airflow runs it again."""
        run = self._run(empresa, which, database_only, readmit)
        if run.step == "report":
            self._report(run)
            return
        if (retried_after_commit and run.step in {"extract", "load"}
                and self._do_step(run, keep=False) != "ok"):
            return
        self._do_step(run)

    @rule(empresa=COMPANY, which=RUN_KINDS, database_only=st.booleans(),
          readmit=st.sampled_from([False, False, True]),
          retried_after_commit=st.sampled_from([None, None, "extract", "load"]))
    def run_goes_to_the_end(self, empresa: str, which: str, database_only: bool,
                            readmit: bool, retried_after_commit: str | None) -> None:
        """A company run's remaining tasks, each tried up to three times (Airflow's
        retries), then report_stats; ``retried_after_commit``: that step's first try died
        after its commit."""
        run = self._run(empresa, which, database_only, readmit)
        for _ in range(12):
            if run.step == "report":
                self._report(run)
                return
            step = run.step
            if retried_after_commit == step:
                retried_after_commit = None
                if self._do_step(run, keep=False) != "ok":
                    continue
            if run.tries[step] >= 4:
                return  # failed every try: the run stays open for a human to clear
            self._do_step(run)

    def _open_runs(self) -> list[Run]:
        return [r for r in self.runs.values() if r.step != "report"]

    @precondition(lambda self: self.runs)
    @rule(which=st.integers(0, 3))
    def run_is_abandoned(self, which: int) -> None:
        """A run stops between two steps (its worker died; nobody clears it)."""
        keys = sorted(self.runs)
        del self.runs[keys[which % len(keys)]]

    def _next_run(self, empresa: str, which: str, step: str | None = None) -> Run | None:
        """The open run (a new one when none is open) at its next step; ``step``: at that
        step (the run's earlier steps done first; a run past it is abandoned for a new
        one)."""
        run = self._run(empresa, which, False, False)
        if step is not None:
            order = ["extract", "load", "upload", "report"]
            if order.index(run.step) > order.index(step):
                del self.runs[(empresa, which)]
                run = self._run(empresa, which, False, False)
            while run.step != step:
                if run.step == "report":
                    return None  # a database_only run has no upload
                before = run.step
                if self._do_step(run) != "ok" and run.step == before:
                    return None  # the step before it fails: this run goes no further
        return None if run.step == "report" else run

    @rule(empresa=COMPANY, which=RUN_KINDS, point=st.integers(0, 4))
    def step_crashes_midway(self, empresa: str, which: str, point: int) -> None:
        """The next step's process dies right after one of its phases (in this process: a
        BaseException no handler catches, then its database session is closed)."""
        run = self._next_run(empresa, which)
        if run is None:
            return
        points = {"extract": ["scan", "read_requests", "place_documents", "register_pending",
                              "reason"],
                  "load": ["mark_loaded"], "upload": ["record_upload_results"]}[run.step]
        chosen = points[point % len(points)]
        if chosen == "reason" and open_defect("crash_atomic_quarantine"):
            chosen = "register_pending"
        self._do_step(run, kill_at=chosen)

    @precondition(lambda self: self.sigkills < 2)
    @rule(empresa=COMPANY, which=RUN_KINDS, point=st.sampled_from(["returned", "midway"]))
    def step_is_sigkilled(self, empresa: str, which: str, point: str) -> None:
        """The next step runs in a child process that is SIGKILLed: mid-step (after its
        registry write, its load, its first stored object, or while quarantining) or
        right after it returned (before Airflow recorded its result)."""
        run = self._next_run(empresa, which)
        if run is None:
            return
        self.sigkills += 1
        if point == "midway":
            point = {"extract": "reason" if not open_defect("crash_atomic_quarantine")
                     else "register_pending", "load": "mark_loaded", "upload": "put"}[run.step]
        run.tries[run.step] += 1
        before = self._counts(run.empresa)
        if run.step == "extract":
            visible = self._visible_valid(run.empresa, readmit=run.readmit)
            written = self._manifests(run.empresa)
        code = run_child(run, point, self.settings)
        if run.step == "extract":  # its manifest, when it wrote one, is what a retry loads
            self._manifests_written(run.empresa, written, visible)
        after = self._counts(run.empresa)
        run.registered += after[0] - before[0]
        run.inserted += after[1] - before[1]
        run.lost = run.lost or after != before
        assert code in {-signal.SIGKILL, 0, 3}, f"[crash] child step exited with {code}"

    @rule(empresa=COMPANY, which=RUN_KINDS, where=st.sampled_from(["reason", "manifest"]))
    def disk_fills_up_during_extract(self, empresa: str, which: str, where: str) -> None:
        """ENOSPC when a quarantine reason file is written, or when the manifest is."""
        if where == "reason" and open_defect("crash_atomic_quarantine"):
            where = "manifest"
        run = self._next_run(empresa, which, "extract")
        if run is not None:
            self._do_step(run, disk=where)

    @rule(empresa=COMPANY, which=RUN_KINDS,
          mode=st.sampled_from(["throttle", "put_500", "outage", "lost_response"]))
    def s3_fails_during_upload(self, empresa: str, which: str, mode: str) -> None:
        run = self._next_run(empresa, which, "upload")
        if run is not None:
            self._do_step(run, s3=mode)

    # ------------------------------------------------------------------ hourly check, review

    def _awaiting(self, empresa: str, run_id: str) -> set[tuple[str, str, str]]:
        return set(self._query(
            "SELECT kind, coalesce(subject, s3_key, ''), coalesce(cause, '') FROM "
            "data_general.reconcile_findings WHERE run_id = %s AND empresa = %s "
            "AND needs_human AND answer IS NULL", run_id, empresa))

    @rule(empresa=COMPANY, s3=st.sampled_from([None, None, None, "throttle", "outage"]))
    def hourly_check(self, empresa: str, s3: str | None) -> None:
        """``ov_s3_reconcile``'s task for the company, then ``ov_review_findings`` asks the
        open questions (the forms a reviewer sees)."""
        run_id = f"scheduled__2025-10-08T{next(self.run_numbers):02d}:00:00+00:00"
        from botocore.exceptions import BotoCoreError, ClientError

        FAULTS.s3.arm(s3)
        try:
            _, result = self._call(
                f"reconcile of {run_id}",
                lambda: self.steps.reconcile_task(COMPANIES[empresa], run_id),
                allow=(BotoCoreError, ClientError) if s3 else ())
        finally:
            FAULTS.reset()
        if result == "failed":
            awaiting = self._awaiting(empresa, run_id)
            if not open_defect("question_fails_once"):
                assert not awaiting or not awaiting <= self.failed_for[empresa], (
                    f"[check fails once] hourly check {run_id} failed again for questions "
                    f"an earlier check already failed for: {sorted(awaiting)[:3]}")
            self.failed_for[empresa] |= awaiting
        for form in self.steps.collect(self.conn, self.client, f"review__{run_id}"):
            finding = form["finding"]
            sha = None
            if finding["kind"] == "object_different" and finding.get("s3_key"):
                sha = self._object_sha256(finding["s3_key"])
            self.forms.append(Shown(form, sha))

    def _object_sha256(self, key: str) -> str | None:
        import hashlib

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        return hashlib.sha256(body).hexdigest()

    @precondition(lambda self: self.forms)
    @rule(which=st.integers(0, 9), choice=st.integers(0, 2))
    def reviewer_answers(self, which: int, choice: int) -> None:
        """A reviewer picks one of the offered choices of an open question."""
        from extractorov.choices import KEEP_PRE_EXISTING, KEEP_SUPERSEDED, QUARANTINE

        shown = self.forms.pop(which % len(self.forms))
        form, finding = shown.form, shown.form["finding"]
        option = form["options"][choice % len(form["options"])]
        arrived_before = self._json_arrived(finding)
        outcome, result = self._call(
            f"answer to finding {finding['id']}",
            lambda: self.steps.answer(self.conn, self.client, int(finding["id"]), option,
                                      f"review__{finding['id']}"))
        if outcome != "ok" or not result.applied:
            return
        if (option in {KEEP_PRE_EXISTING, KEEP_SUPERSEDED}
                and not open_defect("kept_object_is_the_one_shown")):
            [(digest,)] = self._query(
                "SELECT file_hash FROM data_general.s3_files_registry WHERE s3_key = %s",
                finding["s3_key"]) or [(None,)]
            assert digest == shown.object_sha256, (
                f"[answer] '{option}' for {finding['s3_key']} kept an object the reviewer "
                f"was never shown (asked about SHA-256 {str(shown.object_sha256)[:12]}, kept "
                f"{str(digest)[:12]})")
        if (option == QUARANTINE and finding["kind"] == "document_waiting"
                and not open_defect("set_aside_only_what_still_waits")):
            assert not arrived_before, (
                f"[answer] '{option}' set {finding.get('subject')} aside although its request "
                f"JSON {arrived_before} had arrived before the answer")

    def _json_arrived(self, finding: dict[str, Any]) -> str | None:
        """For a waiting document with a real SGC: its own request JSON, when that has
        arrived valid in processed/ (the document then has a folder for certain)."""
        if finding["kind"] != "document_waiting":
            return None
        doc = self._bot_file(finding["empresa"], finding.get("subject") or "")
        if doc is None or doc.kind not in {"pdf", "adjunto"} or doc.name.startswith(("PQR_",
                                                                                      "_")):
            return None
        processed = company_folders(self.root, doc.empresa).processed
        for f in self.files.values():
            if (f.request is doc.request and f.scrape == doc.scrape and f.kind == "json"
                    and f.arrived and f.loadable and not f.fresh
                    and (processed / f.name).exists()):
                return f.name
        return None

    @precondition(lambda self: any(s.form["finding"]["kind"] == "object_different"
                                   for s in self.forms)
                  and not open_defect("kept_object_is_the_one_shown"))
    @rule(which=st.integers(0, 3))
    def object_replaced_between_question_and_answer(self, which: int) -> None:
        """Someone writes other bytes of the same size at the key a question is about."""
        shown = [s for s in self.forms if s.form["finding"]["kind"] == "object_different"]
        key = shown[which % len(shown)].form["finding"]["s3_key"]
        self._replace(key, same_size=True)

    def _replace(self, key: str, *, same_size: bool) -> None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return
        other = bytes(b ^ 0x20 for b in body) if same_size else body + b"\n(edited)"
        self.client.put_object(Bucket=self.bucket, Key=key, Body=other)
        self.disturbed.add(key)

    @rule(which=st.integers(0, 30), how=st.sampled_from(["replace", "replace", "delete"]))
    def someone_changes_a_bucket_object(self, which: int, how: str) -> None:
        keys = sorted(_list(self.client, self.bucket, "oficina-virtual/"))
        if not keys:
            return
        key = keys[which % len(keys)]
        if how == "delete":
            self.client.delete_object(Bucket=self.bucket, Key=key)
            self.disturbed.add(key)
        else:
            self._replace(key, same_size=False)

    # ------------------------------------------------------------------ operator

    def _fixable(self) -> list[tuple[str, landing.QuarantinedFile, BotFile]]:
        found = []
        for empresa in EMPRESAS:
            for entry in landing.read_quarantine(company_folders(self.root, empresa)):
                file = self._bot_file(empresa, entry.original_name)
                if file is not None and file.kind == "json" and file.loadable is False:
                    found.append((empresa, entry, file))
        return found

    @precondition(lambda self: self._fixable())
    @rule(which=st.integers(0, 5))
    def operator_fixes_a_quarantined_json(self, which: int) -> None:
        """An operator repairs a quarantined request JSON and moves it back to processed/
        with the documents that followed it into quarantine/ (reason files removed)."""
        fixable = self._fixable()
        empresa, _, file = fixable[which % len(fixable)]
        folders = company_folders(self.root, empresa)
        meta = file.meta
        file.data = record(file.request, content="valid", **meta)
        file.loadable = None if file.name.startswith("pqr_data__") else True
        for other in landing.read_quarantine(folders):
            mine = self._bot_file(empresa, other.original_name)
            if mine is None or mine.request is not file.request or mine.scrape != file.scrape:
                continue
            target = folders.processed / other.original_name
            if target.exists():
                continue
            if mine is file:
                target.write_bytes(file.data)
                os.utime(target, (file.moment.timestamp(),) * 2)
                other.path.unlink()
            else:
                os.replace(other.path, target)
            other.reason_path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ races

    @precondition(lambda self: not open_defect("scan_races")
                  and any(b.pending is not None and b.pending.temp is not None
                          for b in self.bots.values()))
    @rule(step=st.sampled_from(["extract", "reconcile"]))
    def download_finishes_during_a_scan(self, step: str) -> None:
        """The browser renames ``x.crdownload`` to ``x`` between the listing of processed/
        and the look at its entries."""
        bot = next(b for b in self.bots.values() if b.pending and b.pending.temp)
        pending = bot.pending
        FAULTS.landing.after_listing = lambda: bot.download_done(pending.temp,
                                                                 pending.final_name)
        company = COMPANIES[bot.empresa]
        run_id = f"manual__race-{next(self.run_numbers)}"
        try:
            if step == "extract":
                self._call("extract during a finished download",
                           lambda: self.steps.extract(self.conn, company, run_id))
            else:
                self._call("reconcile during a finished download",
                           lambda: self.steps.reconcile(self.conn, self.client, company,
                                                        run_id))
        finally:
            FAULTS.reset()

    @precondition(lambda self: not open_defect("one_writer_per_company"))
    @rule(empresa=COMPANY, first=SECOND, second=SECOND, stop=st.integers(0, 4),
          choice=st.integers(0, 2))
    def second_run_while_another_is_paused(self, empresa: str, first: str, second: str,
                                           stop: int, choice: int) -> None:
        """Run A of a step pauses after its first phase; run B of a step starts (waiting for
        nothing: ``wait_seconds=0``) and pauses after its own first phase; A goes on to a
        later phase (or its end); B finishes; A finishes. Both are side runs (no report)."""
        # A side load_db loads an open run's manifest: a try of that run's load_db (the
        # product records it under the run that wrote the manifest, whoever started it),
        # so the rows it inserts are that run's, and its report counts them (the run's own
        # load then finds the manifest loaded and inserts nothing). Only loads insert table
        # rows, and both sides load the same manifest.
        side_loaded = self._side_load_run(empresa) if "load" in {first, second} else None
        rows_before = self._counts(empresa)[1]
        gate = FAULTS.gate
        k = next(_threads)  # names unique for the whole test: the gate knows them by name
        a, b = f"A-{k}", f"B-{k}"
        points_a = STEP_POINTS[first]
        later = [*points_a[1:], None]
        gate.plans[a] = [p for p in (points_a[0], later[stop % len(later)]) if p]
        gate.plans[b] = [STEP_POINTS[second][0]]
        results: dict[str, tuple[str, Any]] = {}
        threads = {
            a: threading.Thread(target=self._side, name=a, daemon=True,
                                args=(empresa, first, None, choice, results)),
            b: threading.Thread(target=self._side, name=b, daemon=True,
                                args=(empresa, second, 0.0, choice, results)),
        }
        try:
            threads[a].start()
            assert gate.wait(a, 60) != "blocked", "A neither paused nor finished"
            threads[b].start()
            gate.wait(b, 1.5)  # paused, done, or waiting for A's lock
            gate.release(a)
            gate.wait(a, 1.5)
            gate.release(b, all_points=True)
            gate.wait(b, 1.5)
        finally:
            gate.release(a, all_points=True)
            gate.release(b, all_points=True)
            for thread in threads.values():
                thread.join(120)
        stuck = [name for name, t in threads.items() if t.is_alive()]
        assert not stuck, f"[crash] {stuck} did not finish (deadlock?)"
        if side_loaded is not None:
            side_loaded.inserted += self._counts(empresa)[1] - rows_before
        for name, (outcome, detail) in results.items():
            assert outcome != "crash", f"[crash] {name} ({first}/{second}): {detail}"
            # Alone, a load never fails for good on a valid manifest: another run wrote the
            # same rows at the same time.
            assert not detail or not detail.startswith("LoadFailed (retryable=False"), (
                f"[concurrency] {name} ({first}/{second}) failed for good: {detail}")

    def _side_load_run(self, empresa: str) -> Run | None:
        """The open run whose manifest a side load_db loads (the first with one)."""
        return next((r for r in self.runs.values() if r.empresa == empresa and r.manifest),
                    None)

    def _side(self, empresa: str, step: str, wait: float | None, choice: int,
              results: dict[str, tuple[str, Any]]) -> None:
        who = threading.current_thread().name
        company = COMPANIES[empresa]
        run_id = f"manual__{who}"
        try:
            with runtime.warehouse_connection() as conn:
                if step in {"extract", "readmit"}:
                    self.steps.extract(conn, company, run_id, readmit=step == "readmit",
                                       wait=wait)
                elif step == "load":
                    if (run := self._side_load_run(empresa)) is not None:
                        self.steps.load(conn, company, run.manifest, run_id, wait=wait)
                elif step == "upload":
                    self.steps.upload(conn, self.client, company, run_id, wait=wait)
                elif step == "reconcile":
                    self.steps.reconcile(conn, self.client, company, run_id, wait=wait)
                elif self.forms:
                    finding = self.forms[0].form
                    option = finding["options"][choice % len(finding["options"])]
                    self.steps.answer(conn, self.client, int(finding["finding"]["id"]),
                                      option, run_id, wait=wait)
            results[who] = ("ok", None)
        except PipelineError as exc:
            results[who] = ("busy" if type(exc).__name__ in BUSY_ERRORS else "error",
                            f"{type(exc).__name__} (retryable={exc.retryable})")
        except Exception as exc:
            results[who] = ("crash", f"{type(exc).__name__}: {str(exc)[:300]}")
        finally:
            FAULTS.gate.finished(who)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def every_file_is_in_exactly_one_place_and_its_own_folder(self) -> None:
        problems: list[str] = []
        self._objects = _list(self.client, self.bucket, "")
        for empresa in EMPRESAS:
            problems += self._check(empresa)
        assert not problems, "\n".join(problems[:10])

    def _check(self, empresa: str) -> list[str]:
        problems: list[str] = []
        folders = company_folders(self.root, empresa)
        processed = set(self._listing(folders.processed))
        listed = {q.path.name: q for q in landing.read_quarantine(folders)}
        in_quarantine: dict[str, list[str]] = defaultdict(list)
        for stored in self._listing(folders.quarantine):
            if stored.endswith(".reason.txt"):
                continue
            if stored in listed:
                in_quarantine[listed[stored].original_name].append(stored)
                continue
            if not open_defect("reason_lost_listed"):  # (a knob: to see what follows)
                problems.append(f"[one place] quarantine/{stored} is listed by no reader "
                                "(its reason file is missing: it dropped out of every view)")
            base, _, suffix = stored.rpartition(".")
            name = base if suffix.isdigit() and (empresa, base) in self.files else stored
            in_quarantine[name].append(stored)
        rows: dict[str, list[tuple]] = defaultdict(list)
        for row in self._query(
                "SELECT filename, s3_key, upload_status, file_hash, metadata ? 'review', "
                "numero_radicado, metadata ->> 'request_json' "
                "FROM data_general.s3_files_registry WHERE empresa = %s", empresa):
            rows[row[0]].append(row)
        table = self._query(f"SELECT numero_radicado, numero_reclamo_sgc "
                            f"FROM data_general.ov_{empresa}")
        objects = {k: v for k, v in self._objects.items() if k.startswith(prefix(empresa))}
        by_name: dict[str, list[str]] = defaultdict(list)
        for key in objects:
            by_name[key.rsplit("/", 1)[-1]].append(key)
        mine = [f for (e, _), f in self.files.items() if e == empresa and f.arrived]
        folders_of: dict[int, set[str]] = defaultdict(set)
        loadable = {(f.request.rid, f.scrape) for f in mine
                    if f.kind == "json" and f.loadable is True}
        for f in mine:
            what = f"{f.name} (request {f.request.rid}, radicado {f.request.radicado})"
            its_rows = rows.pop(f.name, [])
            quarantined = in_quarantine.pop(f.name, [])
            keys = by_name.pop(f.name, [])
            if len(its_rows) > 1:
                problems.append(f"[one place] {what} has {len(its_rows)} registry rows: "
                                f"{sorted(r[1] for r in its_rows)}")
            if its_rows and quarantined:
                problems.append(f"[one place] {what} is registered ({its_rows[0][2]}) and in "
                                f"quarantine/ too")
            if len(quarantined) > 1 or (quarantined and f.name in processed):
                problems.append(f"[one place] {what} is in quarantine/ {quarantined} and "
                                f"{'in processed/' if f.name in processed else 'twice'}")
            if not its_rows and not quarantined and f.name not in processed:
                problems.append(f"[one place] {what} is nowhere: not in processed/, not in "
                                "quarantine/, not registered")
            for _, key, status, digest, reviewed, radicado, request_json in its_rows:
                owner = self.files.get((empresa, request_json or ""))
                if (radicado is not None and radicado != f.request.radicado) or (
                        owner is not None and owner.request is not f.request):
                    # (A removal, a new SGC of that request, follow the tie: another
                    # customer's document would go with it.)
                    problems.append(f"[own request] {what} is tied to another request: "
                                    f"radicado {radicado}, request JSON {request_json}")
                folder = folder_of(key, empresa)
                if folder not in f.request.folders:
                    problems.append(f"[own folder] {what} is registered under {folder}/, "
                                    f"another request's folder (its own: "
                                    f"{sorted(f.request.folders)})")
                if (f.request.rid, f.scrape) in loadable:
                    folders_of[f.request.rid].add(folder)
                if status not in {"uploaded", "pre_existing"} or key in self.disturbed:
                    continue
                if key not in objects:
                    problems.append(f"[one place] {what} is {status} but {key} is not in "
                                    "the bucket")
                elif reviewed:
                    if digest != self._object_sha256(key):
                        problems.append(f"[one place] {key}: row kept by a review does "
                                        "not describe the object")
                elif objects[key] != f.md5:
                    problems.append(f"[one place] {what} is {status} but the object at "
                                    f"{key} holds other bytes")
            for key in keys:
                if key not in {r[1] for r in its_rows}:
                    problems.append(f"[own folder] object {key} of {what} is not where its "
                                    "registry row says")
        for name, its_rows in rows.items():
            problems.append(f"[one place] registry row(s) {[r[1] for r in its_rows]} for "
                            f"{name}, a file the bot never wrote")
        for name, keys in by_name.items():
            problems.append(f"[one place] objects {keys} for {name}, a file the bot never "
                            "wrote")
        for name, stored in in_quarantine.items():
            problems.append(f"[one place] quarantine/{stored} holds {name}, a file the bot "
                            "never wrote")
        if not open_defect("one_folder_per_request"):
            for rid, used in folders_of.items():
                if len(used) > 1:
                    problems.append(f"[one folder per request] request {rid} is filed "
                                    f"under {sorted(used)}")
        requests = {r.radicado: r for r in self.requests if r.empresa == empresa}
        valid = {f.request.radicado for f in mine if f.kind == "json" and f.loadable
                 is not False}
        radicados = set()
        for radicado, sgc in table:
            radicados.add(radicado)
            if radicado not in valid:
                problems.append(f"[table] row {radicado} comes from no valid request JSON")
            elif sgc is not None and sgc not in requests[radicado].named:
                problems.append(f"[own folder] row {radicado} has SGC {sgc}, not one of its "
                                f"request's ({sorted(requests[radicado].named)})")
        for radicado in sorted(self.expected[empresa] - radicados):
            problems.append(f"[table] {radicado}: its valid JSON was extracted and that run "
                            "loaded, but it has no row")
        return problems


for _name in SKIP_RULES:
    delattr(Landing, _name)
if os.environ.get("OV_FUZZ_SHRINK_SECONDS"):  # make fuzz: Hypothesis stops shrinking at 300 s
    from hypothesis.internal.conjecture import engine as _engine

    _engine.MAX_SHRINKING_SECONDS = int(os.environ["OV_FUZZ_SHRINK_SECONDS"])


def _list(client: Any, bucket: str, key_prefix: str) -> dict[str, str]:
    """Key → MD5 (the ETag of a single PUT) of every object under a prefix."""
    found: dict[str, str] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                   Prefix=key_prefix):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = obj["ETag"].strip('"')
    return found


# --------------------------------------------------------------------------- faults, child


class Faults:
    """Every fault the rules arm, installed once for the whole test."""

    def __init__(self) -> None:
        self.gate = Gate()
        self.landing = LandingFaults()
        self.s3 = S3Faults()
        self._manifest: tuple[Any, Any] | None = None

    def full_manifest(self, extract: Any) -> None:
        """The disk is full when extract writes its manifest (``write_manifest``)."""
        import errno

        original = extract.write_manifest

        def full(*args: Any, **kwargs: Any) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        self._manifest = (extract, original)
        extract.write_manifest = full

    def reset(self) -> None:
        self.landing.reason = None
        self.landing.after_listing = None
        self.s3.arm(None)
        self.gate.kill_at.clear()
        if self._manifest is not None:
            module, original = self._manifest
            module.write_manifest = original
            self._manifest = None


FAULTS = Faults()

CHILD = r"""
import json, os, signal, sys
from pathlib import Path
import boto3, psycopg
from botocore.config import Config
from extractorov.companies import COMPANIES
from extractorov.settings import Settings
from tests.property import _world

args = json.loads(sys.argv[1])
pg = json.loads(os.environ["AIRFLOW_CONN_OV_POSTGRES"])
aws = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
conn = psycopg.connect(host=pg["host"], port=pg["port"], user=pg["login"], dbname=pg["schema"])
extra = aws["extra"]
client = boto3.client("s3", endpoint_url=extra["endpoint_url"], region_name=extra["region_name"],
                      aws_access_key_id=aws["login"], aws_secret_access_key=aws["password"],
                      config=Config(**extra["config_kwargs"]))
settings = Settings(landing_root=Path(args["root"]), bucket=args["bucket"],
                    settle_seconds=args["settle"], upload_workers=2)
point = args["point"]

def die(*_a, **_k):
    os.kill(os.getpid(), signal.SIGKILL)

class Dying(_world.Gate):
    def point(self, name):
        if name == point:
            die()

faults = _world.LandingFaults()
faults.reason_write = die if point == "reason" else (lambda: None)
faults.install(setattr)
_world.install_points(Dying(), setattr)
if point == "put":
    client.meta.events.register("after-call.s3.PutObject", die)
steps = _world.Steps(settings)
company = COMPANIES[args["empresa"]]
try:
    if args["step"] == "extract":
        steps.extract(conn, company, args["run_id"], readmit=args["readmit"])
    elif args["step"] == "load":
        steps.load(conn, company, args["manifest"], args["run_id"])
    else:
        steps.upload(conn, client, company, args["run_id"])
except Exception as exc:
    print(type(exc).__name__, file=sys.stderr)
    sys.exit(3)
if point == "returned":
    die()
"""


def run_child(run: Run, point: str, settings_: Any) -> int:
    """One step of ``run`` in a child process (connections from the environment), which
    SIGKILLs itself at ``point``. Returns its exit code."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT)])}
    args = {"root": str(settings_.landing_root), "bucket": settings_.bucket,
            "settle": settings_.settle_seconds, "point": point, "step": run.step,
            "empresa": run.empresa, "run_id": run.run_id, "readmit": run.readmit,
            "manifest": run.manifest}
    result = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], env=env,
                            capture_output=True, timeout=180, check=False)
    if result.returncode not in {-signal.SIGKILL, 0, 3}:
        print(result.stderr.decode(errors="replace")[-3000:], file=sys.stderr)
    return result.returncode


# --------------------------------------------------------------------------- the test


@pytest.fixture
def world(postgres, moto_server, monkeypatch, tmp_path, request):
    """The session's servers; the product's phase functions reporting to the gate; the
    landing module's ``os`` and the S3 clients the tasks make carrying the faults."""
    Servers.postgres, Servers.moto, Servers.root = postgres, moto_server, tmp_path
    for name, value in {
        "AIRFLOW_CONN_AWS_DEFAULT": moto_server.conn_json(
            retries={"mode": "standard", "max_attempts": 3}),
        "AIRFLOW_VAR_OV_LANDING_SETTLE_SECONDS": "3600",
        "AIRFLOW_VAR_OV_S3_UPLOAD_WORKERS": "4",
        "AIRFLOW_VAR_OV_S3_BUCKET": "",
        "AIRFLOW_VAR_OV_LANDING_ROOT": "",
    }.items():
        monkeypatch.setenv(name, value)
    Servers.template = f"ov_fuzz_template_{os.getpid()}"
    postgres.create_database(Servers.template, fresh=True)
    monkeypatch.setenv("AIRFLOW_CONN_OV_POSTGRES", postgres.conn_json(Servers.template))
    from extractorov import warehouse

    with runtime.warehouse_connection() as conn:
        warehouse.ensure_schema(conn)
        conn.commit()
    Servers.client = FAULTS.s3.attach(runtime.s3_client(workers=4))
    install_points(FAULTS.gate, monkeypatch.setattr)
    FAULTS.landing.install(monkeypatch.setattr)
    # The task bodies make their client through S3Hook (0.1-0.7 s each): they get the one
    # this test made through the same function, with the same fault hooks.
    monkeypatch.setattr(tasks, "s3_client", lambda *a, **k: Servers.client)
    first = next(_counter)
    started = time.monotonic()
    with quiet_logs():
        yield
    FAULTS.reset()
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if EXAMPLES and capture:  # make fuzz: how much it ran (shrinking included)
        with capture.global_and_fixture_disabled():
            print(f"\nfuzz: {next(_counter) - first - 1} examples run in "
                  f"{time.monotonic() - started:.0f} s")
    _admin(f'DROP DATABASE IF EXISTS "{Servers.template}" WITH (FORCE)')


def test_every_file_ends_in_exactly_one_place_never_in_another_customers_folder(world):
    run_state_machine_as_test(Landing, settings=SETTINGS)


def test_the_table_invariant_holds_a_retried_extract_to_what_its_killed_try_saw(world):
    """The oracle, on the steps of a false "lost row" it once reported (the product was
    right): a run's extract runs in a child SIGKILLed right after it returned (committed,
    manifest written), an operator moves the fixed JSON back, and the run's retry returns
    that try's manifest and loads it. The JSON waits for the next run: the retry's load
    owes it no row, and the next run's does."""
    machine = Landing()
    try:
        for step, kwargs in [
            ("bot_scrapes", dict(empresa="afinia", again=None, has_sgc=False, form="real",
                                 n=4, content="blank_radicado", pdf=True, adjunto=None,
                                 then="json", changed=False, gap=5)),
            ("run_goes_to_the_end", dict(empresa="afinia", which="backfill",
                                         database_only=True, readmit=False,
                                         retried_after_commit=None)),
            ("step_is_sigkilled", dict(empresa="afinia", which="trigger", point="returned")),
            ("operator_fixes_a_quarantined_json", dict(which=0)),
            ("run_goes_to_the_end", dict(empresa="afinia", which="trigger",
                                         database_only=True, readmit=False,
                                         retried_after_commit=None)),
            ("run_goes_to_the_end", dict(empresa="afinia", which="backfill",
                                         database_only=True, readmit=False,
                                         retried_after_commit=None)),
        ]:
            getattr(machine, step)(**kwargs)
            machine.every_file_is_in_exactly_one_place_and_its_own_folder()
        assert machine.expected["afinia"] == {"2025000001"}, "the next run loaded the JSON"
    finally:
        machine.teardown()


def test_the_run_report_invariant_counts_a_side_load_of_a_runs_manifest_as_that_runs(world):
    """The oracle, on the steps of a false "counts per run" report it once made (the
    product was right): a second load_db started beside another step loads an open run's
    manifest (the load records its try under the run that wrote the manifest, whoever
    started it); the run's own load then finds it loaded. The run inserted those rows,
    once: its report says so."""
    machine = Landing()
    extract_twice = dict(empresa="afinia", first="extract", second="extract", stop=0,
                         choice=0)
    try:
        for step, kwargs in [
            ("bot_scrapes", dict(empresa="afinia", again=None, has_sgc=False, form="real",
                                 n=4, content="valid", pdf=True, adjunto=None, then="json",
                                 changed=False, gap=5)),
            ("second_run_while_another_is_paused", extract_twice),
            ("run_the_next_step", dict(empresa="afinia", which="trigger",
                                       database_only=False, readmit=False,
                                       retried_after_commit=False)),
            ("second_run_while_another_is_paused", dict(extract_twice, first="load")),
            ("run_goes_to_the_end", dict(empresa="afinia", which="trigger",
                                         database_only=False, readmit=False,
                                         retried_after_commit=None)),
        ]:
            getattr(machine, step)(**kwargs)
            machine.every_file_is_in_exactly_one_place_and_its_own_folder()
    finally:
        machine.teardown()
