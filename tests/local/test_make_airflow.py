"""``make airflow`` as an operator meets it: a real ``python -m devtools airflow`` process.

One instance (``airflow standalone`` + embedded PostgreSQL + moto S3) is started
in a temporary project root (``OV_DEV_DIR``), on free ports, and driven the way
the README says: its CLI commands are read from the README and run as written,
the walkthrough is followed in Chromium (screenshots in
``test-artifacts/screenshots/walkthrough-*.png``), then it is stopped with
SIGINT and started again to check that each start is fresh.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from devtools.standalone import FIRST_MORNING
from extractorov.landing import parse_file_name
from tests.system.stack import CHROMIUM, AirflowApi

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
DAG_IDS = ("ov_afinia", "ov_aire", "ov_s3_reconcile")
LINKED = ("Makefile", ".venv", "devtools", "include", "requirements.txt",
          "requirements-dev.txt", "pyproject.toml")
STARTUP_TIMEOUT = 240.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def operator_env(root: Path) -> dict[str, str]:
    """An operator's shell: none of the test session's Airflow settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "PYTEST")) and k != "XDG_RUNTIME_DIR"}
    env.update({
        "OV_DEV_DIR": str(root / ".dev"),
        # Two instances on one machine (a developer's and this one): other log-server ports.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    })
    return env


@dataclass
class Instance:
    root: Path
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> Path:
        return self.root / ".dev" / "airflow"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def api(self) -> AirflowApi:
        return AirflowApi(self.base_url)


def start(root: Path, name: str) -> Instance:
    port = free_port()
    log = root / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools", "airflow", "--port", str(port)],
            cwd=root, env={**operator_env(root), "PYTHONUNBUFFERED": "1"},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    instance = Instance(root=root, port=port, process=process, log=log)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited {process.returncode}:\n{instance.output()[-3000:]}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{instance.base_url}/api/v2/monitor/health", timeout=3).is_success:
                break
        time.sleep(1)
    else:
        stop(instance)
        raise AssertionError(f"no UI within {STARTUP_TIMEOUT}s:\n{instance.output()[-3000:]}")
    api = instance.api()
    while time.monotonic() < deadline:  # the dag-processor has parsed the DAG files
        if all(api.dag(dag_id) for dag_id in DAG_IDS):
            return instance
        time.sleep(1)
    stop(instance)
    raise AssertionError(f"DAGs not parsed:\n{instance.output()[-3000:]}")


def stop(instance: Instance, sig: int = signal.SIGINT) -> int:
    """What Ctrl-C in the terminal does: the signal to the whole foreground process group."""
    if instance.process.poll() is None:
        os.killpg(instance.process.pid, sig)
    try:
        return instance.process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(instance.process.pid, signal.SIGKILL)
        raise


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A project root as the operator sees it (the real files, linked)."""
    root = tmp_path_factory.mktemp("project")
    for name in LINKED:
        (root / name).symlink_to(ROOT / name)
    (root / "README.md").symlink_to(ROOT / "README.md")
    return root


@pytest.fixture(scope="module")
def instance(root: Path) -> Iterator[Instance]:
    first = start(root, "first-start")
    yield first
    if first.process.poll() is None:
        stop(first)


def landing_days(landing: Path) -> set:
    return {parse_file_name(p.name).timestamp.date() for p in landing.rglob("*")
            if p.is_file() and parse_file_name(p.name)}


def test_fresh_start_dags_paused_nothing_runs_one_morning_in_landing(instance: Instance):
    api = instance.api()
    time.sleep(5)  # a scheduler loop or two
    for dag_id in DAG_IDS:
        assert api.dag(dag_id)["is_paused"] is True, dag_id
        assert api.dag_runs(dag_id) == [], dag_id
    assert landing_days(instance.state / "landing") == {FIRST_MORNING}
    assert (instance.state / "env.sh").exists()


def readme_operating_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Operating it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


def test_readme_cli_commands_run_as_written(instance: Instance, root: Path):
    blocks = readme_operating_blocks()
    assert blocks, "README's 'Operating it' section shows no ```bash block"
    commands = "\n".join(blocks)
    for needed in ("airflow dags list", "airflow dags trigger", "airflow dags list-runs"):
        assert needed in commands
    before = landing_days(instance.state / "landing")
    for block in blocks:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=root,
                                env=operator_env(root), capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, (block, result.stdout[-3000:], result.stderr[-3000:])
        assert "Database migration required" not in result.stdout + result.stderr
        assert "ov_afinia" in result.stdout and "ov_aire" in result.stdout
    run = instance.api().dag_runs("ov_aire")
    assert len(run) == 1 and run[0]["conf"] == {"database_only": True}
    assert run[0]["run_type"] == "manual"
    if "make morning" in commands:
        assert landing_days(instance.state / "landing") == before | {
            max(before) + timedelta(days=1)}


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (scripts/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        yield browser
        browser.close()


def test_ctrl_c_stops_cleanly_and_the_next_start_is_fresh(instance: Instance, root: Path):
    api = instance.api()
    assert api.dag_runs("ov_aire"), "the README test triggered a run"
    code = stop(instance)
    out = instance.output()
    assert code == 0, out[-3000:]
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out[-3000:]
    assert "make airflow: stopped" in out
    assert not (instance.state / "env.sh").exists()
    leftovers = subprocess.run(["pgrep", "-g", str(instance.process.pid)],
                               capture_output=True, text=True).stdout.split()
    assert leftovers == [], "processes of the airflow group still alive"

    again = start(root, "second-start")
    try:
        api = again.api()
        assert "fresh start: removed the previous state" in again.output()
        for dag_id in DAG_IDS:  # the UI lists no run of the previous start …
            assert api.dag_runs(dag_id) == [], dag_id
            assert api.dag(dag_id)["is_paused"] is True
        # … the stats page has no statistics (it does not fail on a missing table) …
        page = api.request("GET", "/ov-stats/api/stats")
        assert page.status_code == 200, page.text
        assert page.json()["error"] == "no_schema"
        # … and the landing folder is the first morning again, no quarantine.
        landing = again.state / "landing"
        assert landing_days(landing) == {FIRST_MORNING}
        assert not list(landing.rglob("quarantine/*"))
    finally:
        assert stop(again) == 0
