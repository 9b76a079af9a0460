"""The ``scrape`` step: run the Oficina Virtual bot, or wait until its output is quiet.

Two modes, chosen per company at run time by Variable ``ov_bot_command_{empresa}``:

* **command** (the Variable holds a command line): :func:`run_bot` runs it without a
  shell and streams every output line through :func:`redact` to the task log.
  **Only the bot's known progress lines reach the log** (an allow-list,
  :mod:`extractorov.botlines`): any other line becomes
  ``<bot line: N characters, not a known progress line>``, and even a known line
  never shows a request field's value, a path or an error text. The raw text is on
  the bot's host only: what it logs through its unified logger in
  ``data/logs/current/{empresa}_ov.log`` under its working directory
  (``unified_logging_config``); a line it only prints to its console, nowhere.
  **The bot lives exactly as long as its task**: it runs under a guard
  (:mod:`extractorov.botguard`) that leads its process group and stops the whole
  group if the task process dies, SIGKILL included; SIGTERM to the task (and the
  operator's ``on_kill``) stops the group before the task goes; a timeout or any
  error stops it too. **One bot per company**: the run holds the company's bot lock
  (:mod:`extractorov.botlock`), inherited by the bot; a retry that finds a bot left
  by a killed try on its host stops it first, and one that finds a bot it cannot
  stop (another host, another live task) raises :class:`BotBusy` and waits.
* **quiet** (the Variable is unset or empty: the bot runs elsewhere, e.g. a
  Windows scheduled task writing to a shared folder): :func:`check_quiet` decides,
  from :func:`newest_change` of the company's ``processed/`` folder, whether the
  folder has been quiet long enough, whether the wait limit is reached, or when
  to look again.

Standard library only and no Airflow: ``tasks.scrape`` wires these functions to
Variables and Airflow's exceptions, ``bot_operator.ScrapeSensor`` to ``on_kill``.
Nothing here logs personal data or the command's arguments (they may carry a
password): the command is described by its program and argument count only.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import re
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from extractorov import botlock
from extractorov.botlines import redact
from extractorov.errors import BotBusy, BotConfigError, BotFailed, BotStopped, BotTimeout
from extractorov.humanize import ago, duration
from extractorov.landing import company_folders, printable

log = logging.getLogger(__name__)

COMMAND_VARIABLE = "ov_bot_command_{empresa}"
"""Variable holding the bot's command line for one company; unset or empty: quiet mode."""
MAX_POKE_SECONDS = 60.0
"""Quiet mode looks at the folder at least this often while it waits."""
MIN_POKE_SECONDS = 1.0
KILL_GRACE_SECONDS = 10.0
"""Between SIGTERM and SIGKILL of the bot's process group."""
STOP_GRACE_SECONDS = 3.0
"""The same when the task is being stopped: Airflow sends the task process SIGKILL 5 s
after SIGTERM, so the group must be gone before."""
BUSY_RECHECK_SECONDS = 60.0
"""How soon a ``scrape`` that found the company's bot running elsewhere looks again."""
GUARD = Path(__file__).with_name("botguard.py")
GUARD_START_SECONDS = 60.0
"""How long the guard may take to start the bot (a Python start-up) before the run fails."""

# ---------------------------------------------------------------------------- secrets

_SECRET_OPTION = re.compile(r"pass|pwd|token|secret|key|clave|contrase|credential", re.I)


def secret_arguments(argv: Sequence[str]) -> list[str]:
    """Values of options that look like secrets (``--password X``, ``--token=X``).

    A second layer only: :func:`redact` masks them before its allow-list looks at the
    line, and the allow-list is the guarantee (a ``-p secret`` or a positional secret
    it cannot recognise as one still never reaches the log: no progress line holds it).
    """
    found: list[str] = []
    for i, arg in enumerate(argv[1:], start=1):
        if not arg.startswith("-"):
            continue
        name, eq, value = arg.partition("=")
        if not _SECRET_OPTION.search(name):
            continue
        if eq:
            found.append(value)
        elif i + 1 < len(argv):
            found.append(argv[i + 1])
    return found


# ---------------------------------------------------------------------------- command mode


@dataclass(frozen=True)
class BotResult:
    program: str
    arguments: int
    exit_code: int
    seconds: float
    lines: int

    def as_xcom(self) -> dict[str, Any]:
        return {"mode": "command", **asdict(self)}


def parse_command(command: str, empresa: str) -> list[str]:
    """The Variable's command line as argv (POSIX shell quoting, no shell)."""
    variable = COMMAND_VARIABLE.format(empresa=empresa)
    try:
        argv = shlex.split(command)
    except ValueError as exc:  # the message names the problem, never the text
        raise BotConfigError(f"Variable {variable} cannot be parsed ({exc}): fix its "
                             "quoting (POSIX shell rules, no shell features)") from None
    if not argv:
        raise BotConfigError(f"Variable {variable} holds no command")
    return argv


def parse_minutes(value: Any, variable: str) -> float:
    """A Variable holding minutes (fractions allowed), checked."""
    try:
        minutes = float(str(value).strip())
    except ValueError:
        raise BotConfigError(f"Variable {variable} must be a number of minutes, "
                             f"got {printable(str(value))[:40]!r}") from None
    if not minutes >= 0 or minutes == float("inf"):
        raise BotConfigError(f"Variable {variable} must be a non-negative number of minutes, "
                             f"got {minutes}")
    return minutes


def describe_command(argv: Sequence[str]) -> str:
    """The command as it may be logged: program and argument count, never the arguments."""
    return f"program {Path(argv[0]).name!r} with {len(argv) - 1} argument(s)"


def bot_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The worker's environment without Airflow's settings, connections and Variables
    (``AIRFLOW*``: they hold secrets the bot has no business with), Python unbuffered
    so the bot's lines reach the log as they are printed."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.upper().startswith("AIRFLOW")}
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def bot_lock(landing_root: Path | str, empresa: str) -> Path:
    """The company's bot lock: ``{landing_root}/{empresa}/oficina_virtual/bot.lock``.

    That folder must exist (:class:`~extractorov.errors.LandingMissing` otherwise): the
    bot would otherwise write where nobody reads (a share not mounted), and the pipeline
    never creates the bot's folders."""
    return company_folders(landing_root, empresa).require(processed=False).bot_lock


@dataclass
class _Running:
    """A bot this process runs now (for ``on_kill`` and the SIGTERM handler)."""

    process: subprocess.Popen[bytes]
    leader_start: int | None
    grace_seconds: float
    stopped_by: str | None = None


_RUNNING: dict[int, _Running] = {}


def stop_running_bots(reason: str) -> int:
    """Stop the process group of every bot this process runs now; returns how many
    processes were found in them. For the operator's ``on_kill`` and the SIGTERM
    handler: it signals and waits (up to :data:`STOP_GRACE_SECONDS`, then SIGKILL) but
    never reaps a process and takes no lock, so it is safe in a signal handler;
    :func:`run_bot` then fails with :class:`BotStopped` naming ``reason``."""
    found = 0
    for running in list(_RUNNING.values()):
        running.stopped_by = running.stopped_by or reason
        if running.process.returncode is None:
            found += botlock.stop_group(running.process.pid, running.leader_start,
                                        min(running.grace_seconds, STOP_GRACE_SECONDS))
    return found


def run_bot(
    argv: Sequence[str],
    *,
    empresa: str,
    workdir: Path | None,
    timeout_minutes: float,
    lock_file: Path,
    emit: Callable[[str], None] | None = None,
    grace_seconds: float = KILL_GRACE_SECONDS,
    env: Mapping[str, str] | None = None,
) -> BotResult:
    """Run the bot and stream its redacted output, line by line, to ``emit``.

    No shell; stdout and stderr merged (the order of lines is kept). The bot is started
    by its guard (:mod:`extractorov.botguard`) in a new session: guard, bot and
    everything the bot starts (browsers, drivers) form one process group, which

    * the guard stops if this process dies (``PR_SET_PDEATHSIG``: SIGKILL included);
    * a SIGTERM to this process stops first (a handler installed while the bot runs,
      in the main thread, which then hands the signal to the handler it replaced:
      Airflow's, which calls the operator's ``on_kill``, or the default action);
    * is stopped before this returns, whatever happens: a non-zero exit, a timeout
      (SIGTERM to the group, SIGKILL after ``grace_seconds``), an exception in the
      caller's thread (Airflow's ``execution_timeout``), children the bot left behind.

    ``lock_file`` (:func:`bot_lock`) is held for as long as the bot runs, by the guard
    and the bot, never by this process once the bot started (:mod:`extractorov.botlock`).

    Returns on exit code 0. Raises :class:`BotConfigError` (missing program, bad
    working directory), :class:`BotBusy` (the company's bot runs elsewhere: wait),
    :class:`BotFailed` (non-zero exit, killed by a signal), :class:`BotTimeout` (over
    ``timeout_minutes``) or :class:`BotStopped` (this task was stopped meanwhile).

    Why not the standard provider's ``SubprocessHook``: it runs the argv it is given
    without a shell (``BashOperator`` is what adds ``bash -c``), in a new session,
    but it logs "Running command:" with every argument (a password included) and
    every output line as it is (personal data), has no timeout, reads the whole
    output before it can be stopped from the same thread, and its ``send_sigterm``
    sends one SIGTERM to the group, never SIGKILL, looking the group up by the pid
    of a leader that may already be gone; nothing in it survives the task being
    SIGKILLed or keeps a retry from starting a second bot.
    """
    emit = emit or (lambda line: log.info("bot | %s", line))
    variable = COMMAND_VARIABLE.format(empresa=empresa)
    program = argv[0]
    secrets = secret_arguments(argv)
    if workdir is not None and not workdir.is_dir():
        raise BotConfigError(f"working directory {str(workdir)!r} of the bot for {empresa} does "
                             "not exist or is not a directory: fix Variable ov_bot_workdir "
                             "(or mount the share that holds it on this worker)")
    started = time.monotonic()
    with botlock.acquire(lock_file, empresa, grace_seconds=grace_seconds) as lease:
        status_read, status_write = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", str(GUARD), str(os.getpid()), str(status_write),
                 str(lease.fd), f"{grace_seconds:g}", "--", *argv],
                cwd=workdir, env=bot_environment(env), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                pass_fds=(status_write, lease.fd),
            )
        except OSError as exc:
            os.close(status_read)
            raise BotConfigError(f"the bot for {empresa} cannot be started ({exc.strerror}): "
                                 "fix Variable ov_bot_workdir") from None
        finally:
            os.close(status_write)
        holder = lease.record(process.pid)
    running = _Running(process, holder.leader_start, grace_seconds)
    _RUNNING[process.pid] = running
    restore = _stop_on_sigterm()

    lines: queue.Queue[bytes | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True,
                              name=f"bot-output-{empresa}")
    reader.start()
    deadline = started + timeout_minutes * 60
    count = 0
    exited_at: float | None = None
    finished = False
    try:
        _check_started(status_read, program, variable, empresa,
                       min(deadline, time.monotonic() + GUARD_START_SECONDS))
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise BotTimeout(f"bot for {empresa} ran over ov_bot_timeout_minutes="
                                 f"{timeout_minutes:g}; its process group was killed")
            try:
                raw = lines.get(timeout=min(0.5, deadline - now))
            except queue.Empty:
                if exited_at is None and _exited(process):
                    exited_at = time.monotonic()
                # The bot exited but something it started still holds its output open.
                if exited_at is not None and time.monotonic() - exited_at > 5:
                    break
                continue
            if raw is None:
                break
            count += 1
            emit(redact(raw.decode("utf-8", errors="replace").rstrip("\r\n"), secrets))
        while not _exited(process):
            if time.monotonic() >= deadline:
                raise BotTimeout(f"bot for {empresa} ran over ov_bot_timeout_minutes="
                                 f"{timeout_minutes:g}; its process group was killed")
            time.sleep(0.1)
        finished = True
    finally:
        restore()
        left = _stop_group(process, min(grace_seconds, 2.0) if finished else grace_seconds)
        del _RUNNING[process.pid]
        reader.join(timeout=5)
        if finished and left and not running.stopped_by:
            log.warning("the bot for %s left %d process(es) running in its process group; "
                        "they were stopped", empresa, left)
    seconds = round(time.monotonic() - started, 1)
    if running.stopped_by:
        raise BotStopped(f"bot for {empresa} was stopped with its task ({running.stopped_by}: "
                         "the task was marked failed, lost its heartbeat or its worker is "
                         f"shutting down) after {seconds} s; its process group was stopped")
    code = process.returncode
    if code != 0:
        how = (f"was killed by signal {_signal_name(-code)}" if code < 0
               else f"exited with code {code}")
        raise BotFailed(f"bot command for {empresa} {how} after {seconds} s; last lines above")
    return BotResult(program=Path(program).name, arguments=len(argv) - 1, exit_code=code,
                     seconds=seconds, lines=count)


def _check_started(status_fd: int, program: str, variable: str, empresa: str,
                   deadline: float) -> None:
    """Read the guard's word: the bot started, or why it could not (as Popen would say)."""
    data = b""
    try:
        while b"\n" not in data:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([status_fd], [], [], wait)[0]:
                raise BotFailed(f"the bot for {empresa} did not start within "
                                f"{GUARD_START_SECONDS:g} s")
            chunk = os.read(status_fd, 256)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(status_fd)
    word, _, detail = data.decode("ascii", errors="replace").strip().partition(" ")
    if word == "ok":
        return
    number = int(detail) if detail.isdigit() else None
    if number == errno.ENOENT:
        raise BotConfigError(f"program {program!r} not found: fix Variable {variable}")
    if number in (errno.EACCES, errno.EPERM):
        raise BotConfigError(f"program {program!r} cannot be executed (permission denied): "
                             f"fix Variable {variable} or the file's mode")
    if number is not None:
        raise BotConfigError(f"program {program!r} cannot be started ({os.strerror(number)}): "
                             f"fix Variable {variable}")
    said = printable(data.decode("ascii", errors="replace").strip())[:80] or "no word"
    raise BotFailed(f"the bot for {empresa} could not be started by its guard ({said})")


def _stop_on_sigterm() -> Callable[[], None]:
    """While the bot runs: SIGTERM stops its group first, then goes where it went before.

    Only the main thread may set signal handlers; elsewhere this does nothing (the
    guard still takes the group down with this process, and ``on_kill`` still works).
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        stop_running_bots("SIGTERM")
        if callable(previous):
            previous(signum, frame)
        elif previous in (signal.SIG_DFL, None):
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, on_sigterm)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    return restore


def _pump(stream: IO[bytes], out: queue.Queue[bytes | None]) -> None:
    try:
        for raw in iter(stream.readline, b""):
            out.put(raw)
    except (OSError, ValueError):  # closed under us while stopping
        pass
    finally:
        out.put(None)


def _exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the bot exited, without reaping it: while the leader is a zombie its
    process group id cannot be reused, so signalling the group stays safe."""
    if process.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _stop_group(process: subprocess.Popen[bytes], grace_seconds: float) -> int:
    """Stop everything in the bot's process group, then reap the guard.

    SIGTERM, up to ``grace_seconds`` for the guard (so the bot) to exit, SIGKILL.
    Returns how many processes other than the guard were still running (for a warning
    after a clean exit).
    """
    pgid = process.pid
    others = len(botlock.group_members(pgid) - {pgid})
    if not _exited(process) or others:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        end = time.monotonic() + grace_seconds
        while time.monotonic() < end and not (_exited(process) and not
                                              botlock.group_members(pgid) - {pgid}):
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    process.wait()
    if process.stdout:
        with contextlib.suppress(OSError):
            process.stdout.close()
    return others


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


# ---------------------------------------------------------------------------- quiet mode


def newest_change(folder: Path) -> float | None:
    """Modification time (epoch) of the most recently modified file in ``folder``.

    Files only (in-progress names and hidden files included: they are the bot at
    work), not the folder itself (``extract`` moving files out changes it), not
    recursive. ``None`` when the folder is missing or holds no file.
    """
    newest: float | None = None
    try:
        entries = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return None
    with entries:
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    continue
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:  # removed while we looked
                continue
            if newest is None or mtime > newest:
                newest = mtime
    return newest


@dataclass(frozen=True)
class QuietCheck:
    """What one look at the landing folder decided."""

    done: bool
    quiet_age: float | None
    """Seconds since the newest change (``None``: no file, or no folder)."""
    waited: float
    """Seconds since the wait began."""
    limit_hit: bool
    """The wait limit was reached while the folder still changed."""
    next_check_in: float
    """When not done: seconds until the next look."""

    def as_xcom(self, quiet_minutes: float, wait_minutes: float) -> dict[str, Any]:
        return {
            "mode": "quiet",
            "quiet_age_seconds": None if self.quiet_age is None else round(self.quiet_age, 1),
            "waited_seconds": round(self.waited, 1),
            "wait_limit_hit": self.limit_hit,
            "quiet_minutes": quiet_minutes,
            "wait_minutes": wait_minutes,
        }


def check_quiet(
    newest: float | None,
    *,
    now: float,
    waiting_since: float,
    quiet_seconds: float,
    limit_seconds: float,
    max_poke_seconds: float = MAX_POKE_SECONDS,
    min_poke_seconds: float = MIN_POKE_SECONDS,
) -> QuietCheck:
    """Decide: quiet long enough → done; wait limit reached → done with ``limit_hit``;
    otherwise look again when the folder would turn quiet if nothing changes (or at the
    limit), at most ``max_poke_seconds`` away. A file dated in the future counts as
    changing now; ``quiet_seconds`` 0 means no wait at all."""
    waited = max(0.0, now - waiting_since)
    age = None if newest is None else max(0.0, now - newest)
    if quiet_seconds <= 0 or age is None or age >= quiet_seconds:
        return QuietCheck(True, age, waited, False, 0.0)
    if waited >= limit_seconds:
        return QuietCheck(True, age, waited, True, 0.0)
    until_quiet = quiet_seconds - age
    next_in = min(max_poke_seconds, until_quiet, limit_seconds - waited)
    return QuietCheck(False, age, waited, False, max(min_poke_seconds, next_in))


def check_landing(
    landing_root: Path | str,
    empresa: str,
    *,
    waiting_since: float,
    quiet_minutes: float,
    wait_minutes: float,
    now: float | None = None,
) -> QuietCheck:
    """One look at ``{landing_root}/{empresa}/oficina_virtual/processed/``, logged; a
    missing folder is :class:`~extractorov.errors.LandingMissing` (never "no file": an
    unmounted share is not a quiet morning)."""
    now = time.time() if now is None else now
    processed = company_folders(landing_root, empresa).require().processed
    check = check_quiet(
        newest_change(processed), now=now,
        waiting_since=waiting_since, quiet_seconds=quiet_minutes * 60,
        limit_seconds=wait_minutes * 60,
    )
    age = "no file" if check.quiet_age is None else f"last change {ago(check.quiet_age, now)}"
    waited = duration(check.waited)
    if check.limit_hit:
        log.warning(
            "wait limit reached for %s: ov_landing_wait_minutes=%g passed (waited %s) and "
            "the landing folder still changes (%s, ov_landing_quiet_minutes=%g); going on with "
            "the files that are settled: extract leaves files still being written for the "
            "next run", empresa, wait_minutes, waited, age, quiet_minutes)
    elif check.done:
        log.info("landing folder of %s is quiet (%s; ov_landing_quiet_minutes=%g): going on",
                 empresa, age, quiet_minutes)
    else:
        log.info("landing folder of %s still changes (%s); waiting for %g min of quiet, "
                 "waited %s of ov_landing_wait_minutes=%g; next look in %.0f s (files you "
                 "copied in yourself count as changes: set Variable ov_landing_quiet_minutes=0 "
                 "to go on at once)",
                 empresa, age, quiet_minutes, waited, wait_minutes, check.next_check_in)
    return check


__all__ = [
    "BUSY_RECHECK_SECONDS", "COMMAND_VARIABLE", "KILL_GRACE_SECONDS",
    "BotBusy", "BotConfigError", "BotFailed", "BotResult", "BotStopped", "BotTimeout",
    "QuietCheck", "bot_environment", "bot_lock", "check_landing", "check_quiet",
    "describe_command", "duration", "newest_change", "parse_command", "parse_minutes", "redact",
    "run_bot", "secret_arguments", "stop_running_bots",
]
