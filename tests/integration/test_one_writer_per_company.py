"""One writer per company: every step that changes a company's data takes turns.

Airflow's ``max_active_runs=1`` does not hold for backfills (a backfill counts its own
runs), so two runs of one company can reach ``extract`` at once. Each writing step
(extract with re-admission, load_db, upload_s3, a reconcile check, a review answer)
holds the company's writer exclusion (``extractorov.locks``) for its whole change; a
second one waits, or says who it waits for. Real PostgreSQL and S3 throughout; the
steps run in threads with their own warehouse connections, paused at phase boundaries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from extractorov import extract as extract_step
from extractorov import locks, pipeline, reconcile, registry, review, runtime, tasks
from extractorov.errors import CompanyBusy
from extractorov.landing import company_folders
from tests.helpers import query
from tests.landing_files import AFINIA, AIRE, state, write_adjunto, write_json, write_pdf

pytestmark = pytest.mark.integration


class Gate:
    """Pauses a named thread when it reaches a named point, until the test lets it go."""

    def __init__(self) -> None:
        self._reached: dict[tuple[str, str], threading.Event] = {}
        self._go: dict[tuple[str, str], threading.Event] = {}
        self._lock = threading.Lock()

    def _events(self, who: str, point: str) -> tuple[threading.Event, threading.Event]:
        with self._lock:
            key = (who, point)
            return (self._reached.setdefault(key, threading.Event()),
                    self._go.setdefault(key, threading.Event()))

    def point(self, point: str) -> None:
        reached, go = self._events(threading.current_thread().name, point)
        reached.set()
        assert go.wait(60), f"{threading.current_thread().name} left paused at {point}"

    def wait_until(self, who: str, point: str, timeout: float = 30) -> bool:
        return self._events(who, point)[0].wait(timeout)

    def release(self, who: str, point: str) -> None:
        self._events(who, point)[1].set()

    def open(self, point: str, *whos: str) -> None:
        for who in whos:
            self.release(who, point)


def pause_after(monkeypatch: pytest.MonkeyPatch, gate: Gate, module, name: str,
                point: str, only: set[str]) -> None:
    """Wrap ``module.name`` so the threads in ``only`` stop at ``point`` after it returns."""
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        if threading.current_thread().name in only:
            gate.point(point)
        return result

    monkeypatch.setattr(module, name, wrapped)


class Runner:
    """A step in a thread of its own name (what the gate pauses)."""

    def __init__(self, name: str, target: Callable[[], object]) -> None:
        self.result: object = None
        self.error: BaseException | None = None
        self._target = target
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._target()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def join(self, timeout: float = 90) -> None:
        self._thread.join(timeout)
        if timeout >= 90:
            assert not self._thread.is_alive(), f"{self._thread.name} did not finish"


def _extract(settings, run_id: str, wait: float = 60.0):
    def run():
        with runtime.warehouse_connection() as conn:
            return pipeline.extract(conn, AFINIA, settings, run_id, wait_seconds=wait)
    return run


def test_two_extracts_of_one_company_never_misfile_a_document_across_customers(
        db, s3, bucket, settings, landing, monkeypatch):
    """Requests A and B share the placeholder PQR_4_ERROR; A has a PDF and an invalid
    JSON, B (minutes later) an attachment and a valid JSON. Run 1 quarantines A's JSON
    while run 2 is between its scan and its read. Before one writer per company, run 2
    saw A's JSON vanish, let the placeholder stretch run on to B and registered A's PDF
    under sin_sgc/{B's radicado}/; run 1 then quarantined the same PDF."""
    a_pdf = write_pdf(landing, "PQR_4_ERROR", 0, "A")
    write_json(landing, "PQR_4_ERROR", "R-A", 10)
    invalid = company_folders(landing, "afinia").processed / next(
        p.name for p in company_folders(landing, "afinia").processed.iterdir()
        if p.name.endswith(".json"))
    invalid.write_text('{"numero_radicado": "R-A", "fecha": ')  # truncated: invalid
    write_adjunto(landing, "PQR_4_ERROR", 300, "B")
    write_json(landing, "PQR_4_ERROR", "R-B", 310)

    gate = Gate()
    pause_after(monkeypatch, gate, extract_step, "scan", "scanned", {"run-1"})
    pause_after(monkeypatch, gate, extract_step, "read_quarantine", "listed", {"run-2"})
    pause_after(monkeypatch, gate, extract_step, "_read_requests", "read", {"run-1"})
    first, second = Runner("run-1", _extract(settings, "run-1")), None
    assert gate.wait_until("run-1", "scanned")
    second = Runner("run-2", _extract(settings, "run-2"))
    # Run 2 waits for the company (one writer), or gets past its listing of quarantine/.
    gate.wait_until("run-2", "listed", timeout=3)
    gate.release("run-1", "scanned")
    assert gate.wait_until("run-1", "read")  # run 1 has quarantined A's JSON
    gate.release("run-2", "listed")
    second.join(timeout=3)  # run 2 files what it saw, unless it waits for run 1
    gate.release("run-1", "read")
    first.join()
    second.join()
    assert first.error is None and second.error is None, (first.error, second.error)

    folders = {k.rsplit("/", 2)[-2] for k in registry.keys(db, "afinia", bucket)
               if k.endswith(a_pdf)}
    assert not folders, f"A's PDF was registered under {folders}"
    quarantined = sorted(p.name for p in company_folders(landing, "afinia").quarantine.iterdir())
    assert a_pdf in quarantined  # it followed A's invalid JSON, with its reason
    assert query(db, "SELECT count(*) FROM data_general.s3_files_registry "
                     "WHERE s3_key LIKE %s", "%/sin_sgc/R-B/%") == [(2,)]


STEPS = ["extract", "load_db", "upload_s3", "reconcile", "review answer"]


@pytest.mark.parametrize("step", STEPS)
def test_every_writing_step_waits_while_another_writes_the_company(
        db, s3, bucket, settings, landing, step):
    write_json(landing, "RE100", "R-100", 10)
    write_pdf(landing, "RE100", 0, "x")
    extracted = pipeline.extract(db, AFINIA, settings, "earlier")
    before = state(db, s3, bucket, landing)
    with runtime.warehouse_connection() as holder:
        locks.acquire(holder, AFINIA, "upload_s3 of backfill__2025-10-03")
        calls = {
            "extract": lambda: pipeline.extract(db, AFINIA, settings, "r2", wait_seconds=0),
            "load_db": lambda: pipeline.load(db, AFINIA, extracted.manifest, run_id="r2",
                                             wait_seconds=0),
            "upload_s3": lambda: pipeline.upload(db, s3, AFINIA, settings, run_id="r2",
                                                 wait_seconds=0),
            "reconcile": lambda: reconcile.reconcile(db, s3, AFINIA, settings, run_id="r2",
                                                     wait_seconds=0),
        }
        if step == "review answer":
            # Never waits: recorded as chosen, applied by the company's next check.
            outcome = review.apply_answer(db, s3, settings, _a_question(db),
                                          "Accept as it is", answered_by="ana",
                                          answered_at=datetime.now(UTC), run_id="review-1",
                                          wait_seconds=0)
            assert (outcome.applied, outcome.waiting) == (False, True)
            message = outcome.text
        else:
            with pytest.raises(CompanyBusy) as busy:
                calls[step]()
            message = str(busy.value)
        locks.release(holder, AFINIA)
    assert "afinia is being written by upload_s3 of backfill__2025-10-03" in message
    assert state(db, s3, bucket, landing) == before  # the waiting step changed nothing


def _a_question(db) -> int:
    """An open question (a request without its file) to answer."""
    with db.cursor() as cur:
        cur.execute(
            """INSERT INTO data_general.reconcile_findings
               (run_id, empresa, kind, subject, cause, detail, repaired, needs_human, open)
               VALUES ('check-1', 'afinia', 'request_without_file', 'R-9', 'source file x',
                       'numero_radicado R-9', false, true, true) RETURNING id""")
        finding = cur.fetchone()[0]
    db.commit()
    return finding


def test_another_company_is_not_held_up(db, settings, landing):
    write_json(landing, "RE7", "R-7", 10, empresa="aire")
    with runtime.warehouse_connection() as holder:
        locks.acquire(holder, AFINIA, "extract of a long backlog")
        summary = pipeline.extract(db, AIRE, settings, "aire-run", wait_seconds=0)
        locks.release(holder, AFINIA)
    assert summary.files_registered == 1


def test_a_writer_whose_session_dies_frees_its_company(db, settings, landing, warehouse):
    session = runtime.warehouse_connection()
    holder = session.__enter__()
    locks.acquire(holder, AFINIA, "extract of a killed worker")
    pid = holder.info.backend_pid
    with db.cursor() as cur:  # the worker's process is killed: its session ends
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    db.commit()
    write_json(landing, "RE8", "R-8", 10)
    summary = pipeline.extract(db, AFINIA, settings, "next", wait_seconds=10)
    assert summary.files_registered == 1
    session.__exit__(None, None, None)


def test_a_task_whose_company_is_busy_is_rescheduled_not_failed():
    from airflow.sdk.exceptions import AirflowRescheduleException

    mapped = tasks.airflow_error(CompanyBusy("afinia", "extract of r1", "upload_s3 of r2"))
    assert isinstance(mapped, AirflowRescheduleException)
    wait = (mapped.reschedule_date - datetime.now(UTC)).total_seconds()
    assert 0 < wait <= tasks.RESCHEDULE_SECONDS
