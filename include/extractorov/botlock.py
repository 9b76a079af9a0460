"""One bot per company at a time: the bot lock, its record, and stopping a process group.

The lock is ``{landing_root}/{empresa}/oficina_virtual/bot.lock`` (the company folder,
shared by every worker), held with ``fcntl.flock`` by an open file that the bot's
guard and the bot inherit (:func:`extractorov.bot.run_bot`): the kernel releases it
when the last of them exits, however it exits. The task's own copy is closed as
soon as the bot has started, so the lock never outlives the bot in the pipeline's
process. The file also holds a small record of who holds it (:class:`Holder`:
host, process group, start times; never the command or its arguments).

A run that finds the lock

* **free** takes it; if the record says the last bot ran on this host and members
  of its process group are still alive (the bot's children outlived it), it stops
  them first;
* **held**, by a bot on this host whose task process is gone (a leftover of a
  killed try): stops that bot's process group, then takes the lock;
* **held** by a bot it cannot stop (another host, or a live task on this host):
  raises :class:`BotBusy` (the task waits and looks again; it never fails for it).

Process identity never rests on a pid alone (pids are reused): a record names the
host by host name, boot id and pid namespace, and each process by its pid **and**
its start time (``/proc/{pid}/stat``, clock ticks since boot). A process group id
stays valid while any member lives (Linux never hands out a pid still in use as a
group id), so a group whose leader is gone is still recognised by its id.

Standard library only, Linux ``/proc``; elsewhere nothing is recognised as
stoppable and a held lock is waited for.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from extractorov.errors import BotBusy, BotConfigError

log = logging.getLogger(__name__)

RELEASE_WAIT_SECONDS = 10.0
"""After stopping a leftover bot: how long its lock may take to be released."""


# ---------------------------------------------------------------------------- /proc


@dataclass(frozen=True)
class ProcStat:
    state: str
    ppid: int
    pgrp: int
    start: int
    """Start time, clock ticks after boot."""

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def proc_stat(pid: int) -> ProcStat | None:
    """``/proc/{pid}/stat`` of a process, ``None`` if there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # pid (comm) state ppid pgrp session tty tpgid flags ×7 … starttime is field 22;
    # comm may hold spaces and parentheses.
    fields = text[text.rfind(")") + 2:].split()
    try:
        return ProcStat(fields[0], int(fields[1]), int(fields[2]), int(fields[19]))
    except (IndexError, ValueError):
        return None


def start_time(pid: int) -> int | None:
    stat = proc_stat(pid)
    return stat.start if stat else None


def group_members(pgid: int) -> set[int]:
    """Live (not zombie) processes of a process group, from /proc (empty elsewhere)."""
    members: set[int] = set()
    proc = Path("/proc")
    if not proc.is_dir():
        return members
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        stat = proc_stat(int(entry.name))
        if stat and stat.alive and stat.pgrp == pgid:
            members.add(int(entry.name))
    return members


def members_of(pgid: int, leader_start: int | None) -> set[int]:
    """The live members of the group that ``pgid`` and ``leader_start`` name; empty when
    that group is gone.

    A process with pid ``pgid`` and another start time means the pid was reused: the
    kernel hands out a pid only when no group uses it as its id, so the old group is
    gone and the members with that id are someone else's. No process with that pid:
    the leader exited, and any member with that group id is the group's (the id
    stays taken while they live).
    """
    if leader_start is None:
        return set()
    leader = proc_stat(pgid)
    if leader is not None and leader.start != leader_start:
        return set()
    return group_members(pgid)


def stop_group(pgid: int, leader_start: int | None, grace_seconds: float) -> int:
    """SIGTERM to the group, up to ``grace_seconds`` for it to empty, SIGKILL; each
    signal only while the group is still the one named. Returns how many members it
    found. Never waits for (reaps) a process: safe in a signal handler."""
    found = members_of(pgid, leader_start)
    if not found:
        return 0
    _signal_group(pgid, signal.SIGTERM)
    end = time.monotonic() + grace_seconds
    while time.monotonic() < end and members_of(pgid, leader_start):
        time.sleep(0.05)
    if members_of(pgid, leader_start):
        _signal_group(pgid, signal.SIGKILL)
        end = time.monotonic() + 5
        while time.monotonic() < end and members_of(pgid, leader_start):
            time.sleep(0.05)
    return len(found)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


# ---------------------------------------------------------------------------- the record


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the lock. No command, no arguments."""

    host: str
    boot_id: str
    pid_namespace: str
    pgid: int
    """The bot's process group: its guard's pid."""
    leader_start: int | None
    owner_pid: int
    """The task process that started it."""
    owner_start: int | None
    started_at: str

    @classmethod
    def for_group(cls, pgid: int) -> Holder:
        return cls(
            host=socket.gethostname(), boot_id=_read("/proc/sys/kernel/random/boot_id"),
            pid_namespace=_pid_namespace(), pgid=pgid, leader_start=start_time(pgid),
            owner_pid=os.getpid(), owner_start=start_time(os.getpid()),
            started_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        )

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            return cls(**{name: data[name] for name in cls.__dataclass_fields__})
        except (ValueError, TypeError, KeyError):
            return None

    def dumps(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def on_this_host(self) -> bool:
        """Same host, same boot, same pid namespace: its pids and start times are ours."""
        return bool(self.boot_id) and (self.host, self.boot_id, self.pid_namespace) == (
            socket.gethostname(), _read("/proc/sys/kernel/random/boot_id"), _pid_namespace())

    def owner_alive(self) -> bool:
        stat = proc_stat(self.owner_pid)
        return (stat is not None and stat.alive and self.owner_start is not None
                and stat.start == self.owner_start)

    def live_members(self) -> set[int]:
        return members_of(self.pgid, self.leader_start) if self.on_this_host() else set()

    def describe(self) -> str:
        return f"host {self.host!r}, process group {self.pgid}, started {self.started_at}"


# ---------------------------------------------------------------------------- the lock


class Lease:
    """The lock, held by this process until the bot has it (:meth:`record`)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def record(self, pgid: int) -> Holder:
        """Write who holds the lock now: the bot's process group, started by this process."""
        holder = Holder.for_group(pgid)
        data = (holder.dumps() + "\n").encode()
        try:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, data, 0)
        except OSError as exc:  # the lock still holds; only a leftover could go unnoticed
            log.warning("could not write the bot lock's record (%s)", exc.strerror)
        return holder


@contextlib.contextmanager
def acquire(path: Path, empresa: str, *, grace_seconds: float) -> Iterator[Lease]:
    """Hold the company's bot lock (see the module doc) for the block; this process's
    copy is closed when the block ends. Raises :class:`BotBusy` when a bot this
    process may not stop holds it."""
    try:  # its folder is the bot's: never created here (landing.CompanyFolders.require)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise BotConfigError(f"the bot lock {str(path)!r} of {empresa} cannot be opened "
                             f"({exc.strerror}): fix Variable ov_landing_root or the folder's "
                             "permissions (every worker must be able to write there)") from None
    try:
        holder = Holder.parse(_pread_all(fd))
        if not _try_lock(fd):
            if holder is None or not holder.on_this_host() or holder.owner_alive():
                raise BotBusy(_busy_message(empresa, holder))
            _stop_leftover(holder, empresa, grace_seconds, "still holds the bot lock")
            if not _wait_for_lock(fd, RELEASE_WAIT_SECONDS):
                raise BotBusy(_busy_message(empresa, holder))
        elif holder is not None and holder.live_members():
            _stop_leftover(holder, empresa, grace_seconds, "outlived it")
        yield Lease(fd)
    finally:
        os.close(fd)


def _pread_all(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait_for_lock(fd: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while True:
        if _try_lock(fd):
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.1)


def _stop_leftover(holder: Holder, empresa: str, grace_seconds: float, what: str) -> None:
    stopped = stop_group(holder.pgid, holder.leader_start, grace_seconds)
    if stopped:
        log.warning("a bot for %s started by an earlier try (%s) %s: its task process is "
                    "gone; stopped its process group (%d process(es)) before starting the "
                    "bot again", empresa, holder.describe(), what, stopped)


def _busy_message(empresa: str, holder: Holder | None) -> str:
    if holder is None:
        who = "a process that left no readable record"
    elif not holder.on_this_host():
        who = f"{holder.describe()}, another host: it cannot be stopped from here"
    else:
        who = f"{holder.describe()}, started by task process {holder.owner_pid}, still running"
    return (f"the bot for {empresa} is already running ({who}); not starting a second one")


__all__ = ["Holder", "Lease", "acquire", "group_members", "members_of", "proc_stat",
           "start_time", "stop_group"]
