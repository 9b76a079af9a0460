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
import shutil
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
from tests.system.stack import CHROMIUM, PASSWORD, SCREENSHOTS, USER, AirflowApi

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
DAG_IDS = ("ov_afinia", "ov_aire", "ov_s3_reconcile")
"""Cron-scheduled: paused at start (no run before the operator unpauses one)."""
REVIEW = "ov_review_findings"
"""Asset-scheduled: unpaused at start, as in production (it runs only when a reconcile
check announces a question)."""
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
        if all(api.dag(dag_id) for dag_id in (*DAG_IDS, REVIEW)):
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


def test_fresh_start_cron_dags_paused_review_unpaused_nothing_runs_one_morning(
        instance: Instance):
    api = instance.api()
    time.sleep(5)  # a scheduler loop or two
    for dag_id in DAG_IDS:
        assert api.dag(dag_id)["is_paused"] is True, dag_id
        assert api.dag_runs(dag_id) == [], dag_id
    # The review DAG waits for its Asset, as in production: unpaused, and no run.
    assert api.dag(REVIEW)["is_paused"] is False
    assert api.dag_runs(REVIEW) == []
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
        if "airflow dags list\n" in block:  # the block that lists the DAGs
            assert "ov_afinia" in result.stdout and "ov_aire" in result.stdout
        for dag_id in re.findall(r"airflow dags trigger (\S+)", block):
            assert dag_id in result.stdout, (block, result.stdout[-3000:])
    runs = instance.api().dag_runs("ov_aire")
    manual = [r for r in runs if r["run_type"] == "manual"]
    assert len(manual) == 1 and manual[0]["conf"] == {"database_only": True}
    # Unpausing turned the schedule on (README): at most the run of the latest completed
    # day besides (created once the manual run is no longer active).
    assert {r["run_type"] for r in runs} <= {"manual", "scheduled"}, runs
    assert sum(r["run_type"] == "scheduled" for r in runs) <= 1, runs
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


FITS = """e => { const doc = e.ownerDocument.documentElement;
  const wide = [...e.querySelectorAll('*')].filter(x => x.scrollWidth > x.clientWidth + 1
      && getComputedStyle(x).overflowX !== 'visible')
    .map(x => `${x.tagName}.${x.className} ${x.scrollWidth}>${x.clientWidth}`);
  if (doc.scrollWidth > doc.clientWidth) wide.push(`page ${doc.scrollWidth}>${doc.clientWidth}`);
  return wide; }"""
"""Elements (and the page) that would need sideways scrolling."""


@pytest.fixture(scope="module")
def ui(browser, instance: Instance) -> Iterator:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=instance.base_url,
                                  viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto("/")
    page.wait_for_url(re.compile(r"/auth/login"))
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
    yield page
    context.close()


def _trigger_in_ui(page, instance: Instance, *, database_only: bool) -> dict:
    from playwright.sync_api import expect

    page.goto("/dags/ov_afinia")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    toggle = dialog.get_by_role("checkbox", name="Database only (skip S3 upload)")
    expect(toggle).not_to_be_checked()
    if database_only:
        toggle.locator("xpath=ancestor::label[1]").click()
        expect(toggle).to_be_checked()
    unpause = dialog.get_by_role("checkbox", name=re.compile("Unpause ov_afinia on trigger"))
    if unpause.count():  # the README: checked by default, it unpauses the DAG
        expect(unpause).to_be_checked()
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    page.wait_for_url(re.compile(r"/dags/ov_afinia/runs/"))
    run_id = page.url.split("/runs/", 1)[1].split("/")[0].split("?")[0]
    from urllib.parse import unquote

    api = instance.api()
    run = api.wait_run("ov_afinia", unquote(run_id), timeout=600)
    states = {ti["task_id"]: ti["state"]
              for ti in api.task_instances("ov_afinia", run["dag_run_id"])}
    assert run["state"] == "success", states
    return states


def _stats_frame(page):
    from playwright.sync_api import expect

    page.goto("/")
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Oficina Virtual stats").click()
    page.wait_for_url(re.compile(r"/plugin/ov-stats"))
    frame = page.frame_locator("iframe[title='Oficina Virtual stats']")
    expect(frame.locator("h1")).to_have_text("Oficina Virtual: uploads and runs")
    return frame


def _runs_settled(instance: Instance, dag_id: str, *, scheduled: int,
                  timeout: float = 420.0) -> list[dict]:
    """Every run of ``dag_id`` once ``scheduled`` of them are scheduled ones and none is
    queued or running any more (a scheduled run is created once the manual run is done)."""
    api = instance.api()
    deadline = time.monotonic() + timeout
    while True:
        assert instance.process.poll() is None, instance.output()[-3000:]
        runs = api.dag_runs(dag_id)
        if (sum(r["run_type"] == "scheduled" for r in runs) == scheduled
                and all(r["state"] in ("success", "failed") for r in runs)):
            return runs
        assert time.monotonic() < deadline, [(r["run_id"] if "run_id" in r else
                                              r["dag_run_id"], r["run_type"], r["state"])
                                             for r in runs]
        time.sleep(2)


def test_walkthrough_in_the_browser(ui, instance: Instance, root: Path):
    """README "A first hour with it", steps 2-5, at 1400 x 900 (a laptop screen)."""
    from playwright.sync_api import expect

    page = ui
    api = instance.api()
    # 2. Trigger ov_afinia (the form's unpause box checked): the run, and then the scheduled
    #    run of the latest completed day that unpausing turned on; one of them does the work.
    states = _trigger_in_ui(page, instance, database_only=False)
    assert states["upload_s3"] == "success" and states["watcher"] == "skipped", states
    runs = _runs_settled(instance, "ov_afinia", scheduled=1)
    assert sorted(r["run_type"] for r in runs) == ["manual", "scheduled"], runs
    assert {r["state"] for r in runs} == {"success"}, runs
    [scheduled] = [r for r in runs if r["run_type"] == "scheduled"]
    assert scheduled["conf"] in ({}, None) or scheduled["conf"].get("database_only") is False
    assert api.dag("ov_afinia")["is_paused"] is False
    page.screenshot(path=SCREENSHOTS / "walkthrough-1-first-runs.png")

    # The DAG's docs dialog needs no sideways scrolling.
    page.goto("/dags/ov_afinia")
    page.get_by_role("button", name="Dag Docs").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Oficina Virtual post-processing")
    assert dialog.evaluate(FITS) == []
    page.screenshot(path=SCREENSHOTS / "walkthrough-2-dag-docs.png")
    page.keyboard.press("Escape")

    # 3. `make morning`, then a run with the database-only toggle: upload_s3 skipped, the
    #    new files pending on the stats page (the zone said, nothing clipped at 1400 px).
    result = subprocess.run(["make", "morning"], cwd=root, env=operator_env(root),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"morning of 2025-10-\d\d: afinia \d+ files", result.stdout), result.stdout
    states = _trigger_in_ui(page, instance, database_only=True)
    assert states["upload_s3"] == "skipped" and states["watcher"] == "skipped", states
    assert {states[t] for t in ("scrape", "extract", "load_db", "report_stats")} == {"success"}
    frame = _stats_frame(page)
    afinia = frame.locator("section[data-empresa='afinia']")
    pending = afinia.locator("table.by-status tr[data-status='pending'] td[data-field='count']")
    assert int(pending.get_attribute("data-value")) > 0
    expect(afinia.locator("table.runs tbody tr").first).to_contain_text("DB only (S3 skipped)")
    expect(afinia.locator("[data-field='zone']")).to_contain_text("times in America/Bogota")
    assert page.evaluate(FITS.replace("e => {", "() => { const e = document.body;")) == []
    assert frame.locator("body").evaluate(FITS) == []
    page.screenshot(path=SCREENSHOTS / "walkthrough-3-stats-pending.png")

    # 4. A run with S3: everything uploaded, the backlog included; no other scheduled run.
    states = _trigger_in_ui(page, instance, database_only=False)
    assert states["upload_s3"] == "success", states
    assert sum(r["run_type"] == "scheduled" for r in api.dag_runs("ov_afinia")) == 1
    frame = _stats_frame(page)
    afinia = frame.locator("section[data-empresa='afinia']")
    for status, check in (("pending", lambda n: n == 0), ("uploaded", lambda n: n > 0)):
        cell = afinia.locator(f"table.by-status tr[data-status='{status}'] "
                              "td[data-field='count']")
        assert check(int(cell.get_attribute("data-value"))), status
    assert frame.locator("body").evaluate(FITS) == []
    page.screenshot(path=SCREENSHOTS / "walkthrough-4-stats-uploaded.png", full_page=True)


WAITING_PDF = "RE0000000000099_20251001_080000.pdf"
"""A detail PDF whose request JSON never came (README step 5 puts it in processed/)."""


def test_a_reconcile_question_starts_the_review_run_by_itself(instance: Instance, root: Path):
    """README step 5: a PDF waiting days for its JSON; ov_s3_reconcile finds the question;
    the ov_review_findings run starts by itself (Asset ov_findings) and asks it in
    Required actions: nobody triggers or unpauses the review DAG."""
    api = instance.api()
    assert api.dag(REVIEW)["is_paused"] is False
    processed = instance.state / "landing" / "afinia" / "oficina_virtual" / "processed"
    waiting = processed / WAITING_PDF
    waiting.write_bytes(b"%PDF-1.4\n% a document whose request JSON never came\n%%EOF\n")
    a_minute_ago = time.time() - 60  # written and settled (ov_landing_settle_seconds: 30)
    os.utime(waiting, (a_minute_ago, a_minute_ago))
    # Asked about once it has waited ov_orphan_after_hours since first seen: 0 asks at
    # once (README step 5 sets it with the CLI, as here).
    set_variable = subprocess.run(
        ["bash", "-euo", "pipefail", "-c",
         "source .dev/airflow/env.sh && airflow variables set ov_orphan_after_hours 0"],
        cwd=root, env=operator_env(root), capture_output=True, text=True, timeout=300)
    assert set_variable.returncode == 0, set_variable.stderr[-3000:]

    api.trigger("ov_s3_reconcile", {})
    _unpause(api, "ov_s3_reconcile")  # as the trigger form's box does
    # Unpausing also added the check of the latest hour (README): whichever runs first
    # finds the new question, fails once and announces it.
    deadline = time.monotonic() + 600
    while True:
        assert instance.process.poll() is None, instance.output()[-3000:]
        checks = api.dag_runs("ov_s3_reconcile")
        if checks and all(r["state"] in ("success", "failed") for r in checks):
            break
        assert time.monotonic() < deadline, [(r["dag_run_id"], r["state"]) for r in checks]
        time.sleep(2)
    states = {r["dag_run_id"]: {ti["task_id"]: ti["state"] for ti in
                                api.task_instances("ov_s3_reconcile", r["dag_run_id"])}
              for r in checks}
    announcing = [s for s in states.values() if s["reconcile_afinia"] == "failed"
                  and s["announce_findings"] == "success"]
    assert len(announcing) == 1, states  # a new question: announced once

    # The review run appears by itself, started by the Asset event of that check, and
    # asks the question in Required actions.
    deadline = time.monotonic() + 300
    asked: list[dict] = []
    while not asked:
        assert instance.process.poll() is None, instance.output()[-3000:]
        assert time.monotonic() < deadline, (
            "the question was not asked by an ov_review_findings run within 300 s of the "
            f"check that announced it: runs {api.dag_runs(REVIEW)}")
        runs = api.dag_runs(REVIEW)
        asked = [d for r in runs for d in api.get(
                     f"/api/v2/dags/{REVIEW}/dagRuns/{r['dag_run_id']}/hitlDetails")[
                     "hitl_details"] if WAITING_PDF in d["body"]]
        time.sleep(2)
    assert runs and {r["run_type"] for r in runs} == {"asset_triggered"}, runs
    assert "document_waiting" in asked[0]["subject"], asked[0]
    waiting.unlink()
    subprocess.run(["bash", "-euo", "pipefail", "-c", "source .dev/airflow/env.sh && "
                    "airflow variables set ov_orphan_after_hours 72"], cwd=root,
                   env=operator_env(root), capture_output=True, timeout=300, check=True)


def _unpause(api: AirflowApi, dag_id: str) -> None:
    """Unpause through the REST API, again after a 5xx: `make airflow`'s SQLite metadata
    database answers "database is locked" while the scheduler writes."""
    deadline = time.monotonic() + 60
    while (response := api.request("PATCH", f"/api/v2/dags/{dag_id}",
                                   json={"is_paused": False})).status_code >= 500:
        assert time.monotonic() < deadline, response.text
        time.sleep(2)
    assert response.status_code == 200 and response.json()["is_paused"] is False, response.text


def _task_log(instance: Instance, dag_id: str, run_id: str, task_id: str, try_number: int
              ) -> str:
    response = instance.api().request(
        "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/"
               f"{try_number}", params={"full_content": "true"},
        headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    return response.text


def test_a_missing_company_folder_fails_the_run_at_once_and_is_not_created(
        instance: Instance, root: Path):
    """landing/aire moved away (a share not mounted, a wrong ov_landing_root, a renamed
    folder): ov_aire fails at its first task, without retries, naming the folder; nothing
    re-creates it."""
    api = instance.api()
    landing = instance.state / "landing"
    away = root / "aire-moved-away"
    (landing / "aire").rename(away)
    try:
        run_id = api.trigger("ov_aire", {"database_only": True})["dag_run_id"]
        _unpause(api, "ov_aire")
        deadline = time.monotonic() + 420
        while (run := api.dag_run("ov_aire", run_id))["state"] not in ("success", "failed"):
            assert instance.process.poll() is None, instance.output()[-3000:]
            tis = {ti["task_id"]: ti for ti in api.task_instances("ov_aire", run_id)}
            assert tis.get("scrape", {}).get("state") != "up_for_retry", tis["scrape"]
            assert time.monotonic() < deadline, run
            time.sleep(2)
        tis = {ti["task_id"]: ti for ti in api.task_instances("ov_aire", run_id)}
        assert run["state"] == "failed", {t: ti["state"] for t, ti in tis.items()}
        assert tis["scrape"]["state"] == "failed" and tis["scrape"]["try_number"] == 1
        assert tis["extract"]["state"] == "upstream_failed"
        text = _task_log(instance, "ov_aire", run_id, "scrape", 1)
        assert str(landing / "aire") in text, text[-3000:]
        for cause in ("not mounted", "ov_landing_root", "renamed"):
            assert cause in text, cause
        assert not (landing / "aire").exists(), "the pipeline re-created the company folder"
    finally:
        shutil.rmtree(landing / "aire", ignore_errors=True)
        away.rename(landing / "aire")


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
        assert api.dag(REVIEW)["is_paused"] is False and api.dag_runs(REVIEW) == []
        # … the stats page shows a new warehouse (make airflow migrates it at start): no
        # run, no file …
        page = api.request("GET", "/ov-stats/api/stats")
        assert page.status_code == 200, page.text
        body = page.json()
        assert "error" not in body, body
        assert [(c["recent_runs"], c["totals"]["count"]) for c in body["companies"]] == [
            ([], 0)] * len(body["companies"])
        # … and the landing folder is the first morning again, no quarantine.
        landing = again.state / "landing"
        assert landing_days(landing) == {FIRST_MORNING}
        assert not list(landing.rglob("quarantine/*"))
    finally:
        assert stop(again) == 0
