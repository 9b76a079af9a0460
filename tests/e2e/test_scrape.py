"""The ``scrape`` step in whole DAG runs (``dag.test()``), with the fake bot.

Command mode (Variable ``ov_bot_command_afinia`` set) runs the bot and loads
what it wrote; quiet mode waits for a bot running elsewhere to finish writing;
the wait limit lets the run go on; a failing bot fails the run before extract.
Personal data the bot prints never reaches the task output or logs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from extractorov.landing import company_folders
from tests.e2e.test_dag_runs import runtime_xcom
from tests.fake_bot import PERSON
from tests.helpers import list_keys, query, write_request

pytestmark = pytest.mark.e2e

FAKE_BOT = Path(__file__).resolve().parents[1] / "fake_bot.py"
LOGICAL = datetime(2025, 10, 12, 9, tzinfo=UTC)


def _states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def _fake_bot(landing: Path, sgc: str, radicado: str, *extra: str) -> list[str]:
    return [sys.executable, str(FAKE_BOT), "--landing", str(landing), "--empresa", "afinia",
            "--sgc", sgc, "--radicado", radicado, *extra]


def _texts(capfd, caplog, dag_run) -> str:
    """Everything the run printed (task output) and logged (captured records, task log
    files)."""
    output = capfd.readouterr()
    texts = [output.out, output.err, caplog.text]
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    for path in logs.rglob("*") if logs.exists() else []:
        if path.is_file() and dag_run.run_id in str(path):
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def _assert_request_loaded_and_uploaded(db, s3, bucket, landing, sgc, radicado):
    keys = sorted(list_keys(s3, bucket, f"oficina-virtual/afinia/raw_data/{sgc}/"))
    assert [k.rsplit("/", 1)[1].startswith(f"{sgc}_data_") for k in keys] == [False, True], keys
    assert keys[0].endswith(".pdf") and keys[1].endswith(".json")
    assert query(db, "SELECT filename, upload_status FROM data_general.s3_files_registry "
                     "ORDER BY filename") == [(k.rsplit("/", 1)[1], "uploaded") for k in keys]
    assert query(db, "SELECT numero_radicado, nombres_apellidos FROM data_general.ov_afinia") == [
        (radicado, PERSON["nombres_apellidos"])]
    quarantine = company_folders(landing, "afinia").quarantine
    assert not quarantine.exists() or not any(quarantine.iterdir())


def test_command_mode_runs_the_bot_then_loads_and_uploads_what_it_wrote(
        dags, db, s3, bucket, landing, monkeypatch, capfd, caplog):
    command = shlex.join(_fake_bot(landing, "RE500", "R-500", "--sleep", "2",
                                   "--password", "hunter22-secret"))
    monkeypatch.setenv("AIRFLOW_VAR_OV_BOT_COMMAND_AFINIA", command)
    monkeypatch.setenv("AIRFLOW_VAR_OV_BOT_WORKDIR", str(landing.parent))

    run = dags["ov_afinia"].test(logical_date=LOGICAL)

    assert str(run.state) == "success", _states(run)
    assert _states(run)["scrape"] == "success"
    _assert_request_loaded_and_uploaded(db, s3, bucket, landing, "RE500", "R-500")
    summary = runtime_xcom(run, "scrape")
    assert summary["mode"] == "command" and summary["exit_code"] == 0
    assert summary["seconds"] >= 2 and summary["arguments"] == 13
    text = _texts(capfd, caplog, run)
    # The bot's lines are in the output, redacted; its arguments are not.
    assert "LISTA nombres_apellidos: <redacted>" in text
    assert "program 'python" in text and "with 13 argument(s)" in text
    for value in (*PERSON.values(), "María José", "300 123 4567", "1.045.678.901",
                  "hunter22-secret", str(FAKE_BOT)):
        assert value not in text, value


def test_quiet_mode_waits_for_the_bot_running_elsewhere_to_finish(
        dags, db, s3, bucket, landing, monkeypatch, capfd, caplog):
    monkeypatch.delenv("AIRFLOW_VAR_OV_BOT_COMMAND_AFINIA", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_QUIET_MINUTES", "0.08")  # 4.8 s
    # The "Windows scheduled task": writes the PDF, pauses 2 s, writes the JSON.
    processed = company_folders(landing, "afinia").processed
    bot = subprocess.Popen(_fake_bot(landing, "RE600", "R-600", "--sleep", "2"),
                           stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not list(processed.glob("RE600_*.pdf")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not list(processed.glob("RE600_data_*.json")), "the bot should still be busy"

        run = dags["ov_afinia"].test(logical_date=LOGICAL)
    finally:
        assert bot.wait(timeout=30) == 0

    assert str(run.state) == "success", _states(run)
    _assert_request_loaded_and_uploaded(db, s3, bucket, landing, "RE600", "R-600")
    summary = runtime_xcom(run, "scrape")
    assert summary["mode"] == "quiet" and summary["wait_limit_hit"] is False
    assert summary["quiet_age_seconds"] >= 4.8
    assert summary["waited_seconds"] >= 4  # it did wait (rescheduled), for the JSON too
    assert "quiet mode (Variable ov_bot_command_afinia is not set" in _texts(capfd, caplog, run)


def test_the_wait_limit_lets_the_run_go_on_with_what_is_settled(
        dags, db, s3, bucket, landing, monkeypatch, capfd, caplog):
    monkeypatch.delenv("AIRFLOW_VAR_OV_BOT_COMMAND_AFINIA", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_OV_LANDING_WAIT_MINUTES", "0.05")  # 3 s; quiet: default 10
    write_request(landing, "afinia", "RE700", "R-700")  # settled long ago
    busy = company_folders(landing, "afinia").processed / "RE701_20251012_040000.pdf.crdownload"
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            with busy.open("ab") as handle:
                handle.write(b"x")
            stop.wait(0.2)

    writer = threading.Thread(target=keep_writing, daemon=True)
    writer.start()
    try:
        started = time.monotonic()
        run = dags["ov_afinia"].test(logical_date=LOGICAL)
    finally:
        stop.set()
        writer.join()

    assert str(run.state) == "success", _states(run)
    assert time.monotonic() - started < 60
    summary = runtime_xcom(run, "scrape")
    assert summary["mode"] == "quiet" and summary["wait_limit_hit"] is True
    assert summary["waited_seconds"] >= 3
    text = _texts(capfd, caplog, run)
    assert "wait limit reached for afinia" in text
    assert "going on with the files that are settled" in text
    assert query(db, "SELECT numero_radicado FROM data_general.ov_afinia") == [("R-700",)]
    assert busy.exists()  # left for the next run


def test_a_failing_bot_fails_the_run_and_extract_does_not_run(
        dags, db, bucket, landing, monkeypatch, capfd, caplog):
    write_request(landing, "afinia", "RE800", "R-800")  # would be loaded if extract ran
    monkeypatch.setenv("AIRFLOW_VAR_OV_BOT_COMMAND_AFINIA",
                       shlex.join(_fake_bot(landing, "RE801", "R-801", "--exit-code", "3")))
    dag = dags["ov_afinia"]
    monkeypatch.setattr(dag.get_task("scrape"), "retries", 0)  # dag.test waits out retry delays

    run = dag.test(logical_date=LOGICAL)

    assert str(run.state) == "failed"
    states = _states(run)
    assert states["scrape"] == "failed"
    assert states["extract"] == states["load_db"] == states["upload_s3"] == "upstream_failed"
    assert states["watcher"] == "failed"
    assert states["report_stats"] == "success"
    text = _texts(capfd, caplog, run)
    assert "bot command for afinia exited with code 3 after" in text
    assert "last lines above" in text
    assert not list(company_folders(landing, "afinia").processed.glob("RE801_*"))
    assert query(db, "SELECT count(*) FROM data_general.ov_afinia") == [(0,)]
    assert PERSON["correo_electronico"] not in text


DAG_TEST_CHILD = """
import sys
from datetime import UTC, datetime

from airflow.dag_processing.dagbag import DagBag

dag = DagBag(dag_folder=sys.argv[1]).dags["ov_afinia"]
dag.get_task("scrape").retries = 0  # dag.test waits out retry delays
run = dag.test(logical_date=datetime(2025, 10, 12, 9, tzinfo=UTC))
print("run", run.state, flush=True)
"""


def _alive(pid: int) -> bool:
    from extractorov.botlock import proc_stat

    stat = proc_stat(pid)
    return stat is not None and stat.alive


def test_a_stopped_scrape_task_leaves_no_bot_running(
        dags, db, bucket, landing, monkeypatch, tmp_path):
    """``dag.test()`` in its own process, SIGTERM to it while the bot runs (what a task
    marked failed gets): Airflow's task runner calls the scrape sensor's ``on_kill``,
    and the bot and the child it started are gone; the run fails at ``scrape``."""
    pid_file = tmp_path / "bot.pids"
    monkeypatch.setenv("AIRFLOW_VAR_OV_BOT_COMMAND_AFINIA", shlex.join(
        _fake_bot(landing, "RE900", "R-900", "--hang", "--pid-file", str(pid_file))))
    out = tmp_path / "dag_test.out"
    with out.open("wb") as sink:
        child = subprocess.Popen([sys.executable, "-c", DAG_TEST_CHILD,
                                  str(Path(__file__).resolve().parents[2] / "dags")],
                                 env=os.environ.copy(), stdout=sink, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert time.monotonic() < deadline and child.poll() is None, out.read_text()[-3000:]
            time.sleep(0.1)
        pids = [int(pid) for pid in pid_file.read_text().split()]

        child.send_signal(signal.SIGTERM)

        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in pids), "the bot outlived its stopped task"
        assert child.wait(timeout=300) == 0
        text = out.read_text(errors="replace")
        assert "run failed" in text
        assert "bot for afinia was stopped with its task (SIGTERM" in text
    finally:
        for pid in [*pids, child.pid]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_scrape_waits_while_the_companys_bot_runs_on_another_host(
        dags, db, s3, bucket, landing, monkeypatch, capfd, caplog):
    """The company's bot lock is held by a bot on another worker: ``scrape`` is
    rescheduled (no failure, no second bot), and runs the bot once the lock is free."""
    from extractorov import bot, botlock

    monkeypatch.setattr(bot, "BUSY_RECHECK_SECONDS", 1.0)
    monkeypatch.setenv("AIRFLOW_VAR_OV_BOT_COMMAND_AFINIA",
                       shlex.join(_fake_bot(landing, "RE910", "R-910")))
    lock = company_folders(landing, "afinia").bot_lock
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    here = json.loads(botlock.Holder.for_group(os.getpid()).dumps())
    os.write(fd, json.dumps({**here, "host": "worker-7", "pgid": 4242}).encode())

    class ReleaseWhenWaiting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "is already running" in record.getMessage():
                with contextlib.suppress(OSError):
                    os.close(fd)  # the other host's bot finished

    handler = ReleaseWhenWaiting()
    caplog.set_level(logging.INFO, logger="extractorov.tasks")
    logging.getLogger("extractorov.tasks").addHandler(handler)
    try:
        run = dags["ov_afinia"].test(logical_date=LOGICAL)
    finally:
        logging.getLogger("extractorov.tasks").removeHandler(handler)
        with contextlib.suppress(OSError):
            os.close(fd)

    assert str(run.state) == "success", _states(run)
    _assert_request_loaded_and_uploaded(db, s3, bucket, landing, "RE910", "R-910")
    assert runtime_xcom(run, "scrape")["mode"] == "command"
    text = _texts(capfd, caplog, run)
    assert "the bot for afinia is already running (host 'worker-7', process group 4242" in text
    assert str(FAKE_BOT) not in text
