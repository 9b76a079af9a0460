"""The bot's guard: the leader of the bot's process group, so the group dies with its task.

:func:`extractorov.bot.run_bot` starts this file (never imported there; standard
library only, no import of the project) in a new session, as::

    python -I -S botguard.py OWNER_PID STATUS_FD LOCK_FD GRACE_SECONDS -- BOT ARGV...

It

1. asks Linux to send it SIGTERM when the thread that started it dies, the task
   process killed with SIGKILL included (``prctl(PR_SET_PDEATHSIG)``), then checks
   that ``OWNER_PID`` is still its parent (the owner may have died before);
2. starts the bot without a shell in its own process group (the guard's), handing
   it the company's bot lock (``LOCK_FD``), which it keeps open too: the lock is
   held while the guard or the bot lives;
3. writes ``ok`` (or ``error ERRNO``, then exits 127) to ``STATUS_FD``, so the task
   tells "program not found" apart from a bot that failed;
4. waits for the bot and exits as the bot did: the same code, or killed by the same
   signal;
5. when its owner is gone (the signal of 1., or a new parent seen while it polls):
   SIGTERM to the whole group, up to ``GRACE_SECONDS`` for the bot to exit, SIGKILL
   to the whole group, itself included.

A SIGTERM while the owner lives comes from the task stopping the group (``killpg``):
it reached the bot too, so the guard only goes on waiting for the bot.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.2
ORPHANED = 1
"""Exit code when the owner was gone before the bot could start."""


def main(argv: list[str]) -> int:
    owner, status_fd, lock_fd, grace = (int(argv[1]), int(argv[2]), int(argv[3]),
                                        float(argv[4]))
    if argv[5] != "--" or len(argv) < 7:
        report(status_fd, "error usage")
        return 2
    command = argv[6:]
    owner_gone = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal owner_gone
        if os.getppid() != owner:
            owner_gone = True

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != owner:
        report(status_fd, "error orphaned")
        return ORPHANED
    try:
        bot = subprocess.Popen(command, pass_fds=(lock_fd,) if lock_fd >= 0 else ())
    except OSError as exc:
        report(status_fd, f"error {exc.errno or 0}")
        return 127
    report(status_fd, f"ok {bot.pid}")
    while True:
        if owner_gone or os.getppid() != owner:
            stop_everything(bot, grace)
        code = bot.poll()
        if code is not None:
            break
        time.sleep(POLL_SECONDS)
    return exit_like(code)


def set_parent_death_signal(sig: int) -> None:
    """Linux only; elsewhere the polling loop notices the new parent."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def report(fd: int, status: str) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, status.encode() + b"\n")
    with contextlib.suppress(OSError):
        os.close(fd)


def stop_everything(bot: subprocess.Popen[bytes], grace: float) -> None:
    """The owner is gone: stop the whole group, this guard last. Never returns."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.killpg(0, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end and bot.poll() is None:
        time.sleep(0.05)
    os.killpg(0, signal.SIGKILL)
    os._exit(137)  # not reached: SIGKILL went to this process too


def exit_like(code: int) -> int:
    """Exit as the bot did; a signal is passed on by dying of it (the task reports it)."""
    if code >= 0:
        return code
    sig = -code
    with contextlib.suppress(OSError, ValueError):
        signal.signal(sig, signal.SIG_DFL)
    with contextlib.suppress(OSError):
        os.kill(os.getpid(), sig)
        time.sleep(1)
    return 128 + sig


if __name__ == "__main__":
    sys.exit(main(sys.argv))
