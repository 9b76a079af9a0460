"""``make airflow`` and ``make morning``: the Airflow UI on sample data, on this machine.

``python -m devtools airflow [--port N]``

* **Each start is fresh.** ``.dev/airflow/`` (Airflow's metadata database, the
  landing folder and its quarantine, logs) is deleted and re-created; the
  embedded warehouse and the moto S3 server start empty. Nothing of a previous
  start survives, so the UI's runs, the stats page and the landing folder always
  agree. (``make clean`` removes ``.dev/`` altogether.)
* The landing folder gets the first morning of sample scraper output;
  ``make morning`` adds the next one (see :func:`morning`).
* The scheduler works as in production (``[scheduler] use_job_schedule`` on): cron
  runs and Asset-triggered runs. The cron DAGs (``ov_afinia``, ``ov_aire``,
  ``ov_s3_reconcile``) start **paused**, so nothing runs before the operator looks;
  unpausing one (also the trigger form's "Unpause … on trigger" box) turns its
  schedule on: a company DAG at once gets the scheduled run of the latest completed
  day (catchup is off), then one a day at 04:00 Bogotá; ``ov_s3_reconcile`` gets the
  check of the latest hour, then one at the top of each hour 04:00–22:00 Bogotá.
  ``ov_review_findings`` (scheduled on Asset ``ov_findings``) starts **unpaused**, as
  in production: a check that announces a question starts it, and Required actions
  shows the question.
* ``.dev/airflow/env.sh`` holds the environment of the running instance:
  ``source .dev/airflow/env.sh`` in another shell, then ``airflow dags list`` …
  It is removed when Airflow stops.
* Ctrl-C (SIGINT) or SIGTERM: the ``airflow standalone`` process group is asked
  to stop (SIGINT, then SIGTERM/SIGKILL after a grace period), the embedded
  services are stopped, a one-line message is printed and the exit code is 0.

``python -m devtools morning``: the next morning of sample scraper output into
the landing folder of the running instance (deterministic: the n-th morning is
always the same files; each morning has new request numbers, plus re-scrapes
of earlier requests as the bot does). It refuses (exit 2, nothing written) when
``make airflow`` is not running: its next start would wipe that morning.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from devtools import services
from devtools.sample import generate_landing
from extractorov.companies import COMPANIES
from extractorov.landing import company_folders, parse_file_name

FIRST_MORNING = date(2025, 10, 7)
STOP_GRACE_SECONDS = 20.0


def state_dir() -> Path:
    return services.dev_dir() / "airflow"


def env_file(state: Path) -> Path:
    return state / "env.sh"


def pid_file(state: Path) -> Path:
    """The running ``make airflow``'s process id (removed when it stops)."""
    return state / "make-airflow.pid"


def running_pid(state: Path) -> int | None:
    """The process id of the ``make airflow`` that owns ``state``, if it still runs."""
    try:
        pid = int(pid_file(state).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """``export`` lines for what the running instance sets beyond the caller's environment."""
    lines = ["# Written by `make airflow` (removed when it stops). Use: source .dev/airflow/env.sh"]
    for key in sorted(env):
        if key.startswith("AIRFLOW") or os.environ.get(key) != env[key]:
            lines.append(f"export {key}={shlex.quote(env[key])}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def _sample_settings(state: Path) -> dict[str, Any]:
    return json.loads((state / "sample.json").read_text())


def _days_in_landing(landing: Path) -> set[date]:
    """Days of the bot's file-name stamps found anywhere under the landing root."""
    days = set()
    for path in landing.rglob("*"):
        name = parse_file_name(path.name) if path.is_file() else None
        if name is not None and name.timestamp is not None:
            days.add(name.timestamp.date())
    return days


def deliver_morning(landing: Path, day: date, *, requests_per_day: int, seed: int,
                    start: date = FIRST_MORNING) -> dict[str, int]:
    """Copy the scraper output of ``day`` into ``landing`` (as the bot would); files per company.

    The sample generator writes every day from ``start`` up to ``day`` with one random
    stream per company, so request numbers never repeat across mornings and later
    mornings re-scrape earlier requests; only ``day``'s files are delivered.
    """
    copied: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="ov-morning-") as tmp:
        generate_landing(Path(tmp), days=(day - start).days + 1,
                         requests_per_day=requests_per_day, start=start, seed=seed)
        for empresa in COMPANIES:
            target = company_folders(landing, empresa).processed
            target.mkdir(parents=True, exist_ok=True)
            copied[empresa] = 0
            for source in sorted(company_folders(Path(tmp), empresa).processed.iterdir()):
                name = parse_file_name(source.name)
                if name is None or name.timestamp is None or name.timestamp.date() != day:
                    continue
                shutil.copy2(source, target / source.name)
                copied[empresa] += 1
    return copied


def morning(argv: argparse.Namespace) -> int:
    """``make morning``: the next day of sample scraper output into the running landing."""
    state = state_dir()
    landing = state / "landing"
    if not (state / "sample.json").exists() or not landing.is_dir():
        print(f"no `make airflow` state in {state}: start `make airflow` first",
              file=sys.stderr)
        return 2
    if running_pid(state) is None:
        print(f"`make airflow` is not running, so nothing was delivered: its next start "
              f"deletes {state} and begins again with the first morning, which would wipe "
              "this one. Start `make airflow`, then run `make morning` in a second terminal.",
              file=sys.stderr)
        return 2
    sample = _sample_settings(state)
    start = date.fromisoformat(sample["start"])
    delivered = set(sample.get("mornings", []))
    known = {d.isoformat() for d in _days_in_landing(landing)} | delivered
    day = max((date.fromisoformat(d) for d in known), default=start - timedelta(days=1))
    day += timedelta(days=1)
    copied = deliver_morning(landing, day, requests_per_day=sample["requests_per_day"],
                             seed=sample["seed"], start=start)
    sample["mornings"] = sorted(delivered | {day.isoformat()})
    (state / "sample.json").write_text(json.dumps(sample, indent=2))
    per_company = ", ".join(f"{empresa} {n} files" for empresa, n in copied.items())
    print(f"morning of {day}: {per_company} in {landing}/{{empresa}}/oficina_virtual/processed/"
          f"\n(new requests and re-scrapes of earlier ones; trigger ov_afinia / ov_aire to "
          "take them)")
    return 0


def _take_terminal() -> Any:
    """Become the terminal's foreground process group, so that Ctrl-C reaches this process
    (which stops Airflow cleanly) and not ``make`` (which would report "Interrupt")."""
    try:
        fd = sys.stdin.fileno()
        if not os.isatty(fd):
            return None
        previous = os.tcgetpgrp(fd)
        if previous != os.getpgrp():
            return None  # not in the foreground (e.g. started with `&`)
        os.setpgid(0, 0)
        old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            os.tcsetpgrp(fd, os.getpgrp())
        finally:
            signal.signal(signal.SIGTTOU, old)
    except (OSError, ValueError):
        return None
    return fd, previous


def _give_back_terminal(taken: Any) -> None:
    if taken is None:
        return
    fd, previous = taken
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, previous)
    finally:
        signal.signal(signal.SIGTTOU, old)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _stop(process: subprocess.Popen) -> None:
    """Stop ``airflow standalone`` and everything it started (its own process group).

    SIGINT to ``airflow standalone`` (as Ctrl-C would: it terminates its components),
    then SIGTERM to the whole group, then SIGKILL to whatever is left of the group
    (LocalExecutor workers can outlive the scheduler): nothing keeps running.
    """
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    for sig, grace in ((None, STOP_GRACE_SECONDS), (signal.SIGTERM, 10.0)):
        if sig is not None:
            _signal_group(process, sig)
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    _signal_group(process, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def standalone(argv: argparse.Namespace) -> int:
    """``make airflow``: fresh state, embedded services, ``airflow standalone`` on ``--port``."""
    state = state_dir()
    stop_requested: list[int] = []

    def request_stop(signum: int, _frame: Any) -> None:
        stop_requested.append(signum)

    previous_handlers = {sig: signal.signal(sig, request_stop)
                         for sig in (signal.SIGINT, signal.SIGTERM)}
    taken = _take_terminal()
    try:
        if state.exists():
            shutil.rmtree(state)
            print(f"fresh start: removed the previous state in {state}")
        state.mkdir(parents=True)
        pid_file(state).write_text(f"{os.getpid()}\n")  # `make morning` delivers only then
        landing = state / "landing"
        sample = {"start": FIRST_MORNING.isoformat(), "seed": 42,
                  "requests_per_day": argv.requests_per_day, "mornings": []}
        (state / "sample.json").write_text(json.dumps(sample, indent=2))
        for d in range(argv.days):
            deliver_morning(landing, FIRST_MORNING + timedelta(days=d),
                            requests_per_day=argv.requests_per_day, seed=42)
            sample["mornings"].append((FIRST_MORNING + timedelta(days=d)).isoformat())
        (state / "sample.json").write_text(json.dumps(sample, indent=2))
        print(f"sample scraper output: {argv.days} morning(s) from {FIRST_MORNING} in {landing}"
              " (`make morning` adds the next one)")
        if stop_requested:
            return _stopped(state)
        with services.services(state) as stack:
            env = services.airflow_env(state / "home", landing, stack.env)
            env.update({
                # No DAG runs before the operator looks: the cron DAGs start paused. The
                # scheduler works as in production (cron and Asset-triggered runs), and
                # ov_review_findings starts unpaused (its DAG says so), as in production.
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__PARALLELISM": "8",  # LocalExecutor: 8 worker processes
                "AIRFLOW__API__PORT": str(argv.port),
                "AIRFLOW__API__BASE_URL": f"http://localhost:{argv.port}",
            })
            services.init_airflow(env, stdout=subprocess.DEVNULL,
                                  start_new_session=True)  # a Ctrl-C waits for it
            write_env_file(env_file(state), env)
            if stop_requested:
                return _stopped(state)
            print(f"\nAirflow UI: http://localhost:{argv.port}  user {services.UI_USER} / "
                  f"password {services.UI_PASSWORD}\nCLI in another shell: source "
                  f"{env_file(state)}\n(Ctrl-C stops Airflow and the embedded services)\n",
                  flush=True)
            process = subprocess.Popen(
                [str(Path(sys.executable).with_name("airflow")), "standalone"],
                env=env, start_new_session=True)
            try:
                while process.poll() is None and not stop_requested:
                    time.sleep(0.2)
            finally:
                if process.poll() is None or stop_requested:
                    print("\nstopping Airflow and the embedded services…", flush=True)
                    _stop(process)
                env_file(state).unlink(missing_ok=True)
            if not stop_requested and process.returncode:
                print(f"airflow standalone exited with code {process.returncode}",
                      file=sys.stderr)
                return process.returncode
        return _stopped(state)
    finally:
        pid_file(state).unlink(missing_ok=True)
        _give_back_terminal(taken)
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)


def _stopped(state: Path) -> int:
    pid_file(state).unlink(missing_ok=True)
    print(f"make airflow: stopped. The next start begins fresh ({state} is re-created).",
          flush=True)
    return 0
