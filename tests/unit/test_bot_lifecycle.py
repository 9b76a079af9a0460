"""The bot lives exactly as long as its ``scrape`` task, and only one runs per company.

Real processes: the ``scrape`` task runs in a child Python process
(``tests/scrape_task.py``: the DAG's own operator, SIGTERM handled as Airflow's task
runner handles it), the bot is ``tests/fake_bot.py`` (``--hang`` starts a grandchild
``sleep``), and the test signals the task process as Airflow does when a task is
marked failed, loses its heartbeat or its worker shuts down (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from extractorov import bot, botlock
from extractorov.landing import company_folders

ROOT = Path(__file__).resolve().parents[2]
FAKE_BOT = ROOT / "tests" / "fake_bot.py"
SCRAPE_TASK = ROOT / "tests" / "scrape_task.py"


def _alive(pid: int) -> bool:
    stat = botlock.proc_stat(pid)
    return stat is not None and stat.alive


def _wait_until(condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def reaper() -> Iterator[list[int]]:
    """Pids to SIGKILL (with their process groups) after the test, whatever happened."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        stat = botlock.proc_stat(pid)
        if stat is None or not stat.alive:
            continue
        for sig in (signal.SIGCONT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        if stat.pgrp != os.getpgrp():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(stat.pgrp, signal.SIGKILL)


class Task:
    """A ``scrape`` task process of ``ov_afinia`` running the fake bot."""

    def __init__(self, tmp_path: Path, name: str, *bot_args: str, plain_sigterm: bool = False):
        self.landing = tmp_path / "landing"
        # A landing folder as the bot leaves it: the pipeline never creates the bot's folders.
        (self.landing / "afinia" / "oficina_virtual").mkdir(parents=True, exist_ok=True)
        self.out = tmp_path / f"{name}.out"
        self.err = tmp_path / f"{name}.err"
        command = shlex.join([sys.executable, str(FAKE_BOT), "--landing", str(self.landing),
                              "--empresa", "afinia", *bot_args])
        env = {**os.environ, "AIRFLOW_VAR_OV_BOT_COMMAND_AFINIA": command,
               "AIRFLOW_VAR_OV_LANDING_ROOT": str(self.landing),
               "AIRFLOW_VAR_OV_BOT_TIMEOUT_MINUTES": "10"}
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(SCRAPE_TASK), "afinia",
                 *(["--plain-sigterm"] if plain_sigterm else [])],
                cwd=ROOT, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def outcome(self, timeout: float = 120) -> str:
        self.process.wait(timeout=timeout)
        lines = self.out.read_text().splitlines()
        return lines[-1] if lines else ""

    def log(self) -> str:
        return self.err.read_text(errors="replace")


def _bot_pids(pid_file: Path, task: Task) -> tuple[int, int]:
    """The hanging fake bot's pid and its grandchild's, once both run."""
    assert _wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), 60), (
        task.log()[-2000:])
    bot_pid, child_pid = map(int, pid_file.read_text().split())
    return bot_pid, child_pid


def test_a_stopped_scrape_task_leaves_no_bot_running(tmp_path, reaper):
    """SIGTERM to the task process (what Airflow sends when the task is marked failed,
    loses its heartbeat or its worker stops): the bot and the child it started are
    stopped, and the task fails saying why."""
    pid_file = tmp_path / "bot.pids"
    task = Task(tmp_path, "task", "--hang", "--pid-file", str(pid_file))
    reaper.append(task.process.pid)
    bot_pid, child_pid = _bot_pids(pid_file, task)
    reaper += [bot_pid, child_pid]

    task.process.send_signal(signal.SIGTERM)

    assert _wait_until(lambda: not _alive(bot_pid) and not _alive(child_pid), 20), (
        "the bot outlived its stopped task")
    outcome = task.outcome(timeout=30)
    assert outcome.startswith("failed BotStopped: bot for afinia was stopped with its task"), (
        outcome)


def test_sigterm_stops_the_bot_of_a_process_that_is_no_airflow_task(tmp_path, reaper):
    """Without Airflow's handler (SIGTERM's default action: the process dies), the bot's
    process group is stopped first."""
    pid_file = tmp_path / "bot.pids"
    task = Task(tmp_path, "task", "--hang", "--pid-file", str(pid_file), plain_sigterm=True)
    reaper.append(task.process.pid)
    bot_pid, child_pid = _bot_pids(pid_file, task)
    reaper += [bot_pid, child_pid]

    task.process.send_signal(signal.SIGTERM)

    assert task.process.wait(timeout=30) == -signal.SIGTERM
    assert _wait_until(lambda: not _alive(bot_pid) and not _alive(child_pid), 20)


def test_a_killed_scrape_task_takes_its_bot_down(tmp_path, reaper):
    """SIGKILL to the task process (no handler runs): the bot's guard sees its task die
    and stops the whole process group."""
    pid_file = tmp_path / "bot.pids"
    task = Task(tmp_path, "task", "--hang", "--pid-file", str(pid_file))
    reaper.append(task.process.pid)
    bot_pid, child_pid = _bot_pids(pid_file, task)
    reaper += [bot_pid, child_pid]

    task.process.kill()

    assert _wait_until(lambda: not _alive(bot_pid) and not _alive(child_pid), 20), (
        "the bot outlived its killed task")


def test_a_retry_stops_a_bot_left_by_a_killed_try_before_starting_its_own(tmp_path, reaper):
    """A bot that survived its killed task (here: the task and the bot's guard both
    SIGKILLed, the guard before it could act) is stopped by the next try on the same
    host, before that try starts its own bot: never two bots at once."""
    pid_file = tmp_path / "bot.pids"
    exclusive = tmp_path / "one-bot-at-a-time"  # the fake bot exits 3 if another holds it
    first = Task(tmp_path, "first", "--hang", "--pid-file", str(pid_file),
                 "--exclusive", str(exclusive))
    reaper.append(first.process.pid)
    bot_pid, child_pid = _bot_pids(pid_file, first)
    reaper += [bot_pid, child_pid]
    guard = botlock.proc_stat(bot_pid).ppid
    if guard != first.process.pid:  # stop the guard so it cannot act on its task's death
        reaper.append(guard)
        os.kill(guard, signal.SIGSTOP)
    first.process.kill()
    first.process.wait(timeout=30)
    if guard != first.process.pid:
        os.kill(guard, signal.SIGKILL)
    assert _alive(bot_pid) and _alive(child_pid), "the leftover bot should still run here"

    retry = Task(tmp_path, "retry", "--exclusive", str(exclusive), "--sgc", "RE900")
    reaper.append(retry.process.pid)
    outcome = retry.outcome()

    assert outcome.startswith("done "), (outcome, retry.log()[-3000:])
    assert json.loads(outcome[5:])["exit_code"] == 0
    assert not _alive(bot_pid) and not _alive(child_pid)
    assert "started by an earlier try" in retry.log()
    processed = company_folders(retry.landing, "afinia").processed
    assert len(list(processed.glob("RE900_data_*.json"))) == 1


def _hold_lock(landing: Path, record: dict) -> int:
    """Take the company's bot lock in this process, with ``record`` as its holder."""
    path = company_folders(landing, "afinia").bot_lock
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)
    return fd


def _record(**fields) -> dict:
    here = botlock.Holder.for_group(os.getpid())
    return {**json.loads(here.dumps()), **fields}


def test_a_retry_waits_while_the_bot_runs_on_another_host(tmp_path, reaper):
    """The lock is held by a bot on another worker: this try cannot stop it, so the
    sensor looks again later (rescheduled, not failed) and names the holder (host,
    process group), never the command or its arguments."""
    fd = _hold_lock(tmp_path / "landing", _record(host="worker-7", pgid=4242, owner_pid=4241,
                                                  started_at="2025-10-08 09:00:00 UTC"))
    try:
        task = Task(tmp_path, "task", "--sgc", "RE901", "--password", "hunter22-secret")
        reaper.append(task.process.pid)
        outcome = task.outcome()
    finally:
        os.close(fd)

    assert outcome == "rescheduled", (outcome, task.log()[-3000:])
    log = task.log()
    assert ("the bot for afinia is already running (host 'worker-7', process group 4242, "
            "started 2025-10-08 09:00:00 UTC, another host") in log
    assert "hunter22" not in log and str(FAKE_BOT) not in log
    assert not list(company_folders(task.landing, "afinia").processed.glob("RE901_*"))


def test_a_retry_never_stops_the_bot_of_a_live_task_on_the_same_host(tmp_path, reaper):
    """Held on this host by a bot whose task process still lives (two runs at once):
    waited for, never stopped."""
    other = subprocess.Popen(["sleep", "120"], start_new_session=True)
    reaper.append(other.pid)
    record = json.loads(botlock.Holder.for_group(other.pid).dumps())  # owner: this process
    fd = _hold_lock(tmp_path / "landing", record)
    try:
        task = Task(tmp_path, "task", "--sgc", "RE902")
        reaper.append(task.process.pid)
        outcome = task.outcome()
    finally:
        os.close(fd)
    assert outcome == "rescheduled", (outcome, task.log()[-3000:])
    assert f"started by task process {os.getpid()}, still running" in task.log()
    assert other.poll() is None
    other.kill()
    other.wait()


# ------------------------------------------------------------------ run_bot and the lock


def _fake(tmp_path: Path, *extra: str) -> list[str]:
    return [sys.executable, str(FAKE_BOT), "--landing", str(tmp_path / "landing"),
            "--empresa", "afinia", *extra]


def _bot_lock(tmp_path: Path) -> Path:
    """afinia's bot lock, in a landing folder as the bot leaves it (its folder exists)."""
    folders = company_folders(tmp_path / "landing", "afinia")
    folders.root.mkdir(parents=True, exist_ok=True)
    return folders.bot_lock


def _can_lock(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _open_fds_on(path: Path) -> list[str]:
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            if os.readlink(fd) == str(path):
                found.append(fd.name)
        except OSError:
            continue
    return found


def test_the_bot_holds_the_lock_while_it_runs_and_releases_it_when_it_exits(tmp_path):
    lock = _bot_lock(tmp_path)
    seen: list[tuple[bool, list[str]]] = []

    def emit(line: str) -> None:
        if not seen:  # the bot is running: the lock is held, by it and not by this process
            seen.append((_can_lock(lock), _open_fds_on(lock)))

    result = bot.run_bot(_fake(tmp_path), empresa="afinia", workdir=None, timeout_minutes=1,
                         lock_file=lock, emit=emit)
    assert result.exit_code == 0
    assert seen == [(False, [])]
    assert _can_lock(lock)  # released when the bot exited
    assert _open_fds_on(lock) == []
    record = json.loads(lock.read_text())
    assert record["host"] == socket.gethostname() and record["owner_pid"] == os.getpid()
    assert "argv" not in record and str(FAKE_BOT) not in lock.read_text()


def test_a_stale_record_whose_pid_was_reused_stops_nothing(tmp_path, caplog):
    """The record names a process group whose leader pid now belongs to another process
    (other start time): that process is left alone and the bot runs."""
    unrelated = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        lock = _bot_lock(tmp_path)
        real = botlock.Holder.for_group(unrelated.pid)
        stale = {**json.loads(real.dumps()), "leader_start": real.leader_start - 1,
                 "owner_pid": unrelated.pid, "owner_start": real.leader_start - 1}
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.write_text(json.dumps(stale))
        result = bot.run_bot(_fake(tmp_path), empresa="afinia", workdir=None,
                             timeout_minutes=1, lock_file=lock, emit=lambda line: None)
        assert result.exit_code == 0
        assert unrelated.poll() is None
        assert "earlier try" not in caplog.text
    finally:
        unrelated.kill()
        unrelated.wait()


def test_on_kill_alone_stops_the_bots_process_group(tmp_path):
    """The scrape sensor's ``on_kill`` (what Airflow calls when it stops the task, and
    after ``execution_timeout``) stops the group by itself: here the bot runs in a
    thread, where no SIGTERM handler can be installed."""
    import threading

    from extractorov.bot_operator import ScrapeSensor
    from extractorov.companies import COMPANIES

    pid_file = tmp_path / "bot.pids"
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            bot.run_bot(_fake(tmp_path, "--hang", "--pid-file", str(pid_file)),
                        empresa="afinia", workdir=None, timeout_minutes=5,
                        lock_file=_bot_lock(tmp_path),
                        emit=lambda line: None)
        except BaseException as exc:  # the outcome is what the test checks
            outcome.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    try:
        assert _wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), 60)
        pids = [int(pid) for pid in pid_file.read_text().split()]

        ScrapeSensor(task_id="scrape", company=COMPANIES["afinia"]).on_kill()

        assert not any(_alive(pid) for pid in pids)
        runner.join(timeout=30)
        assert not runner.is_alive()
        assert isinstance(outcome[0], bot.BotStopped)
        assert "stopped with its task (on_kill" in str(outcome[0])
    finally:
        bot.stop_running_bots("test teardown")
        runner.join(timeout=30)


def test_a_lock_folder_that_cannot_be_written_is_a_configuration_error(tmp_path):
    blocker = tmp_path / "landing"
    blocker.write_text("a file where the landing root should be")
    with pytest.raises(bot.BotConfigError, match="fix Variable ov_landing_root"):
        bot.run_bot(_fake(tmp_path), empresa="afinia", workdir=None, timeout_minutes=1,
                    lock_file=company_folders(blocker, "afinia").bot_lock)
