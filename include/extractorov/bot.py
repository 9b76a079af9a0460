"""The ``scrape`` step: run the Oficina Virtual bot, or wait until its output is quiet.

Two modes, chosen per company at run time by Variable ``ov_bot_command_{empresa}``:

* **command** (the Variable holds a command line): :func:`run_bot` runs it as a
  subprocess, without a shell, in its own process group, streaming every output
  line through :func:`redact` to the task log; a timeout kills the whole group.
  **Only the bot's known progress lines reach the log** (an allow-list,
  :mod:`extractorov.botlines`): any other line becomes
  ``<bot line: N characters, not a known progress line>``, and even a known line
  never shows a request field's value, a path or an error text. The bot keeps its
  own full log on its host (``data/logs/current/{empresa}_ov.log`` under its working
  directory, ``unified_logging_config``); that is where to look for the raw text.
* **quiet** (the Variable is unset or empty: the bot runs elsewhere, e.g. a
  Windows scheduled task writing to a shared folder): :func:`check_quiet` decides,
  from :func:`newest_change` of the company's ``processed/`` folder, whether the
  folder has been quiet long enough, whether the wait limit is reached, or when
  to look again.

Standard library only and no Airflow: ``runtime.scrape`` wires these functions
to Variables and Airflow's exceptions. Nothing here logs personal data or the
command's arguments (they may carry a password): the command is described by its
program and argument count only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from extractorov.botlines import redact
from extractorov.errors import BotConfigError, BotFailed, BotTimeout
from extractorov.landing import company_folders, printable

log = logging.getLogger(__name__)

COMMAND_VARIABLE = "ov_bot_command_{empresa}"
"""Variable holding the bot's command line for one company; unset or empty: quiet mode."""
MAX_POKE_SECONDS = 60.0
"""Quiet mode looks at the folder at least this often while it waits."""
MIN_POKE_SECONDS = 1.0
KILL_GRACE_SECONDS = 10.0
"""Between SIGTERM and SIGKILL of the bot's process group."""


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


def run_bot(
    argv: Sequence[str],
    *,
    empresa: str,
    workdir: Path | None,
    timeout_minutes: float,
    emit: Callable[[str], None] | None = None,
    grace_seconds: float = KILL_GRACE_SECONDS,
    env: Mapping[str, str] | None = None,
) -> BotResult:
    """Run the bot and stream its redacted output, line by line, to ``emit``.

    No shell; stdout and stderr merged (the order of lines is kept); a new session,
    so the bot and everything it starts (browsers, drivers) form one process group.
    Returns on exit code 0. Raises :class:`BotConfigError` (missing program, bad
    working directory), :class:`BotFailed` (non-zero exit) or :class:`BotTimeout`
    (over ``timeout_minutes``: SIGTERM to the group, SIGKILL after ``grace_seconds``).
    Whatever happens, including an exception in the caller's thread (Airflow's
    ``execution_timeout``), the process group is stopped before this returns.
    """
    emit = emit or (lambda line: log.info("bot | %s", line))
    variable = COMMAND_VARIABLE.format(empresa=empresa)
    program = argv[0]
    secrets = secret_arguments(argv)
    if workdir is not None and not workdir.is_dir():
        raise BotConfigError(f"working directory {str(workdir)!r} of the bot for {empresa} does "
                             "not exist or is not a directory: fix Variable ov_bot_workdir")
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            list(argv), cwd=workdir, env=bot_environment(env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
    except FileNotFoundError:
        raise BotConfigError(f"program {program!r} not found: fix Variable {variable}") from None
    except PermissionError:
        raise BotConfigError(f"program {program!r} cannot be executed (permission denied): "
                             f"fix Variable {variable} or the file's mode") from None
    except OSError as exc:
        raise BotConfigError(f"program {program!r} cannot be started ({exc.strerror}): "
                             f"fix Variable {variable}") from None

    lines: queue.Queue[bytes | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True,
                              name=f"bot-output-{empresa}")
    reader.start()
    deadline = started + timeout_minutes * 60
    count = 0
    exited_at: float | None = None
    finished = False
    try:
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
        left = _stop_group(process, min(grace_seconds, 2.0) if finished else grace_seconds)
        reader.join(timeout=5)
        if finished and left:
            log.warning("the bot for %s left %d process(es) running in its process group; "
                        "they were stopped", empresa, left)
    seconds = round(time.monotonic() - started, 1)
    code = process.returncode
    if code != 0:
        how = (f"was killed by signal {_signal_name(-code)}" if code < 0
               else f"exited with code {code}")
        raise BotFailed(f"bot command for {empresa} {how} after {seconds} s; last lines above")
    return BotResult(program=Path(program).name, arguments=len(argv) - 1, exit_code=code,
                     seconds=seconds, lines=count)


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
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _stop_group(process: subprocess.Popen[bytes], grace_seconds: float) -> int:
    """Stop everything in the bot's process group, then reap the bot.

    SIGTERM, up to ``grace_seconds`` for the bot to exit, SIGKILL. Returns how many
    processes other than the bot were still running (for a warning after a clean exit).
    """
    pgid = process.pid
    others = len(_group_members(pgid) - {pgid})
    if not _exited(process) or others:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        end = time.monotonic() + grace_seconds
        while time.monotonic() < end and not (_exited(process) and not
                                              _group_members(pgid) - {pgid}):
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    process.wait()
    if process.stdout:
        with contextlib.suppress(OSError):
            process.stdout.close()
    return others


def _group_members(pgid: int) -> set[int]:
    """Live (not zombie) processes of a process group, from /proc (empty elsewhere)."""
    members: set[int] = set()
    proc = Path("/proc")
    if not proc.is_dir():
        return members
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.add(int(entry.name))
    return members


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
    """One look at ``{landing_root}/{empresa}/oficina_virtual/processed/``, logged."""
    now = time.time() if now is None else now
    check = check_quiet(
        newest_change(company_folders(landing_root, empresa).processed), now=now,
        waiting_since=waiting_since, quiet_seconds=quiet_minutes * 60,
        limit_seconds=wait_minutes * 60,
    )
    age = "no file" if check.quiet_age is None else f"last change {check.quiet_age:.1f} s ago"
    if check.limit_hit:
        log.warning(
            "wait limit reached for %s: ov_landing_wait_minutes=%g passed (waited %.0f s) and "
            "the landing folder still changes (%s, ov_landing_quiet_minutes=%g); going on with "
            "the files that are settled: extract leaves files still being written for the "
            "next run", empresa, wait_minutes, check.waited, age, quiet_minutes)
    elif check.done:
        log.info("landing folder of %s is quiet (%s; ov_landing_quiet_minutes=%g): going on",
                 empresa, age, quiet_minutes)
    else:
        log.info("landing folder of %s still changes (%s); waiting for %g min of quiet, "
                 "waited %.0f s of ov_landing_wait_minutes=%g; next look in %.0f s (files you "
                 "copied in yourself count as changes: set Variable ov_landing_quiet_minutes=0 "
                 "to go on at once)",
                 empresa, age, quiet_minutes, check.waited, wait_minutes, check.next_check_in)
    return check
