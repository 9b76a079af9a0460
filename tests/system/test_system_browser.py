"""The Airflow UI in a real browser: the trigger form, the stats page from the menu, and
a reconcile finding answered in the Required actions form (ov_review_findings).

Playwright drives Debian's Chromium (``/usr/bin/chromium``; Playwright's own
browser download is never used) against the api-server of the running stack.
The run is triggered in the UI only; the REST API and the warehouse are read
to confirm what the UI shows. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import unquote

import httpx
import pytest

from extractorov.landing import shown_key
from tests.helpers import list_keys, query
from tests.system.stack import (
    BUCKET,
    CHROMIUM,
    PASSWORD,
    SCREENSHOTS,
    SUMMARY,
    USER,
    AirflowStack,
    unavailable,
)

pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PARAM_TITLE = "Database only (skip S3 upload)"
VIEW_NAME = "Oficina Virtual stats"
UI_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: install Debian's chromium (scripts/system-deps.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (requirements-dev.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def ui(browser, airflow_stack: AirflowStack, api_runs) -> Iterator:
    """A signed-in page (SimpleAuthManager login form), after the REST API runs finished."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=airflow_stack.base_url,
                                  viewport={"width": 1400, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    with snapshot_on_failure(page, "login"):
        page.goto("/")
        page.wait_for_url(re.compile(r"/auth/login"))
        page.get_by_label("Username").fill(USER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/auth/login" not in url)
    yield page
    context.close()


@contextlib.contextmanager
def snapshot_on_failure(page, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(path=SCREENSHOTS / f"failure-{name}.png", full_page=True)
        raise


def test_trigger_form_database_only_toggle_skips_the_upload(ui, airflow_stack: AirflowStack):
    from playwright.sync_api import expect

    api = airflow_stack.api
    param = api.get("/api/v2/dags/ov_afinia/details")["params"]["database_only"]
    description = param["description"]
    page = ui
    with snapshot_on_failure(page, "trigger-form"):
        page.goto("/dags/ov_afinia")
        page.get_by_role("button", name="Trigger Dag").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_role("heading")).to_contain_text("ov_afinia")

        # The toggle is found by its label (the param's title) and carries its description.
        toggle = dialog.get_by_role("checkbox", name=PARAM_TITLE)
        expect(toggle).to_have_count(1)
        expect(toggle).not_to_be_checked()
        helper = toggle.evaluate(
            "e => document.getElementById(e.getAttribute('aria-describedby')).textContent")
        assert helper.strip() == description
        expect(dialog.get_by_text(description)).to_be_visible()
        page.screenshot(path=SCREENSHOTS / "trigger-form-default.png")

        toggle.locator("xpath=ancestor::label[1]").click()  # the visible switch
        expect(toggle).to_be_checked()
        page.screenshot(path=SCREENSHOTS / "trigger-form-database-only-on.png")

        before = {run["dag_run_id"] for run in api.dag_runs("ov_afinia")}
        clicked = time.monotonic()
        dialog.get_by_role("button", name="Trigger", exact=True).click()
        page.wait_for_url(re.compile(r"/dags/ov_afinia/runs/"))
        run_id = unquote(page.url.split("/runs/", 1)[1].split("/")[0].split("?")[0])
        assert run_id not in before

    # Confirm through the REST API what the form sent, and wait for the run to finish.
    run = api.dag_run("ov_afinia", run_id)
    assert run["run_type"] == "manual"
    assert run["conf"] == {"database_only": True, "readmit_quarantine": False}
    finished = api.wait_run("ov_afinia", run_id, on_wait=airflow_stack.check_alive)
    wall = round(time.monotonic() - clicked, 1)

    with snapshot_on_failure(page, "finished-run"):
        page.reload()
        expect(page.get_by_text("Success").first).to_be_visible()
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name="upload_s3",
                                                                   exact=True))
        expect(row).to_contain_text("Skipped")
        for task_id in ("extract", "load_db", "report_stats"):
            expect(page.get_by_role("row").filter(
                has=page.get_by_role("link", name=task_id, exact=True))).to_contain_text(
                "Success")
        page.screenshot(path=SCREENSHOTS / "run-finished-upload-skipped.png")

    states = {ti["task_id"]: ti["state"]
              for ti in api.task_instances("ov_afinia", run_id)}
    assert finished["state"] == "success", states
    assert states == {"scrape": "success", "extract": "success", "load_db": "success",
                      "check_data": "success", "upload_s3": "skipped", "retention": "success",
                      "report_stats": "success", "watcher": "skipped"}
    with airflow_stack.warehouse() as conn:
        assert query(conn, "SELECT database_only, s3_skipped, status FROM "
                           "data_general.post_processing_runs WHERE run_id = %s",
                     run_id) == [(True, True, "success")]

    per_worker: Counter[str] = Counter()
    for dag_id in ("ov_afinia", "ov_aire"):
        for dag_run in api.dag_runs(dag_id):
            for ti in api.task_instances(dag_id, dag_run["dag_run_id"]):
                if ti["hostname"]:
                    per_worker[ti["hostname"]] += 1
    SUMMARY["ui_run"] = {"run_id": run_id, "state": finished["state"],
                         "duration_seconds": finished.get("duration"),
                         "click_to_done_seconds": wall, "task_states": states}
    SUMMARY["tasks_per_worker_all_runs"] = dict(sorted(per_worker.items()))
    assert set(per_worker) == set(airflow_stack.workers), per_worker


def _warehouse_numbers(stack: AirflowStack) -> dict:
    with stack.warehouse() as conn:
        registry = {(e, s): (n, int(b)) for e, s, n, b in query(
            conn, "SELECT empresa, upload_status, count(*), COALESCE(sum(file_size), 0) "
                  "FROM data_general.s3_files_registry GROUP BY 1, 2")}
        runs = {}
        for empresa in ("afinia", "aire"):
            runs[empresa] = query(
                conn, "SELECT run_id, database_only, status, files_new, db_inserted, "
                      "s3_uploaded, s3_bytes FROM data_general.post_processing_runs "
                      "WHERE empresa = %s ORDER BY logical_date DESC NULLS LAST, "
                      "updated_at DESC LIMIT 10", empresa)
        uploads = dict(query(
            conn, "SELECT empresa, count(*) FROM data_general.s3_files_registry "
                  "WHERE upload_status = 'uploaded' "
                  "AND uploaded_at >= now() - interval '30 days' GROUP BY 1"))
    return {"registry": registry, "runs": runs, "uploads": uploads}


def test_stats_page_opened_from_the_menu_matches_the_warehouse(ui, airflow_stack):
    from playwright.sync_api import expect

    page = ui
    with snapshot_on_failure(page, "stats-page"):
        page.goto("/")
        page.get_by_role("button", name="Browse").click()
        page.get_by_role("menuitem", name=VIEW_NAME).click()
        page.wait_for_url(re.compile(r"/plugin/ov-stats"))
        frame = page.frame_locator(f"iframe[title='{VIEW_NAME}']")
        expect(frame.locator("h1")).to_have_text("Oficina Virtual: uploads and runs")
        db = _warehouse_numbers(airflow_stack)

        for empresa in ("afinia", "aire"):
            section = frame.locator(f"section[data-empresa='{empresa}']")
            expect(section).to_have_count(1)
            total_count = total_bytes = 0
            for status in ("uploaded", "pre_existing", "pending", "error"):
                count, size = db["registry"].get((empresa, status), (0, 0))
                total_count, total_bytes = total_count + count, total_bytes + size
                row = section.locator(f"table.by-status tr[data-status='{status}']")
                cell = row.locator("td[data-field='count']")
                expect(cell).to_have_text(f"{count:,}")
                expect(cell).to_have_attribute("data-value", str(count))
                expect(row.locator("td[data-field='size_bytes']")).to_have_attribute(
                    "data-value", str(size))
            total = section.locator("table.by-status tr[data-status='total']")
            expect(total.locator("td[data-field='count']")).to_have_text(f"{total_count:,}")
            expect(total.locator("td[data-field='size_bytes']")).to_have_attribute(
                "data-value", str(total_bytes))

            runs = db["runs"][empresa]
            assert runs, f"no run recorded for {empresa}"
            rows = section.locator("table.runs tbody tr")
            expect(rows).to_have_count(len(runs))
            for i, (run_id, database_only, status, files_new, inserted, uploaded,
                    s3_bytes) in enumerate(runs):
                row = rows.nth(i)
                expect(row).to_have_attribute("data-run-id", run_id)
                expect(row.locator("td[data-field='status']")).to_have_text(status)
                expect(row.locator("td[data-field='database_only']")).to_have_attribute(
                    "data-value", str(database_only))
                for field, value in (("files_new", files_new), ("db_inserted", inserted),
                                     ("s3_uploaded", uploaded), ("s3_bytes", s3_bytes)):
                    expect(row.locator(f"td[data-field='{field}']")).to_have_attribute(
                        "data-value", str(value))

            uploads = db["uploads"].get(empresa, 0)
            expect(section.locator("[data-field='uploads-total']")).to_have_attribute(
                "data-value", str(uploads))
            bars = section.locator("svg.chart rect.bar")
            assert sum(int(bars.nth(i).get_attribute("data-files"))
                       for i in range(bars.count())) == uploads

        page.set_viewport_size({"width": 1400, "height": 1700})
        page.wait_for_timeout(300)
        page.screenshot(path=SCREENSHOTS / "stats-page.png")

    # The JSON endpoint gives the same numbers, with the browser's session cookie.
    data = page.request.get(f"{airflow_stack.base_url}/ov-stats/api/stats").json()
    by_empresa = {c["empresa"]: c for c in data["companies"]}
    for (empresa, status), (count, size) in db["registry"].items():
        assert by_empresa[empresa]["by_status"][status] == {"count": count, "size_bytes": size}
    # Without a session or token the page is refused.
    assert httpx.get(f"{airflow_stack.base_url}/ov-stats/", timeout=10).status_code == 401
    SUMMARY["stats_page"] = {f"{e}/{s}": {"files": n, "bytes": b}
                             for (e, s), (n, b) in sorted(db["registry"].items())}


def _wait_finished(api, dag_id: str, run_id: str, stack: AirflowStack,
                   timeout: float = 420.0) -> dict:
    """Until the run ends, whatever its tasks end with (a check may fail on purpose)."""
    deadline = time.monotonic() + timeout
    while (run := api.dag_run(dag_id, run_id))["state"] not in ("success", "failed"):
        stack.check_alive()
        assert time.monotonic() < deadline, f"{dag_id} {run_id} still {run['state']}"
        time.sleep(2)
    return run


def _review_tasks(api, run_id: str) -> dict[int, str]:
    return {ti["map_index"]: ti["state"] for ti in api.task_instances("ov_review_findings",
                                                                       run_id)
            if ti["task_id"] == "review"}


@pytest.fixture(scope="module")
def announced(airflow_stack: AirflowStack, api_runs) -> dict:
    """ov_s3_reconcile finds a different object and a loose one (questions for a human) and
    announces them; the ov_review_findings run they start, found, not made."""
    api, s3 = airflow_stack.api, airflow_stack.s3()
    prefix = "oficina-virtual/afinia/raw_data/"
    key = min(k for k in list_keys(s3, BUCKET, prefix) if k.endswith(".pdf"))
    tampered = b"%PDF-1.4 someone else's document at this key"
    s3.put_object(Bucket=BUCKET, Key=key, Body=tampered)
    loose = f"{prefix}loose-file.txt"
    s3.put_object(Bucket=BUCKET, Key=loose, Body=b"x")

    # Nobody unpaused or triggered the review DAG: it starts unpaused, on its Asset.
    assert api.dag("ov_review_findings")["is_paused"] is False
    assert api.dag_runs("ov_review_findings") == []
    check_id = api.trigger_in_place_of_next_run("ov_s3_reconcile", {})["dag_run_id"]
    api.unpause("ov_s3_reconcile")
    try:
        check = _wait_finished(api, "ov_s3_reconcile", check_id, airflow_stack)
    finally:
        api.pause("ov_s3_reconcile")  # no hourly check in the middle of later tests
    states = {ti["task_id"]: ti["state"] for ti in api.task_instances("ov_s3_reconcile",
                                                                       check_id)}
    assert check["state"] == "failed", states  # something needs a human
    assert states == {"reconcile_afinia": "failed", "reconcile_aire": "success",
                      "announce_findings": "success", "watcher": "failed",
                      "check_morning_runs": "success", "remind_open_findings": "success",
                      "deliver_alerts": "success"}
    [event] = api.get("/api/v2/assets/events", source_dag_id="ov_s3_reconcile")[
        "asset_events"]
    assert event["extra"]["by_kind"] == {"object_different": 1, "object_outside_layout": 1}

    deadline = time.monotonic() + 300
    while not (runs := api.dag_runs("ov_review_findings")):
        airflow_stack.check_alive()
        assert time.monotonic() < deadline, (
            "no ov_review_findings run within 300 s of the check that announced questions")
        time.sleep(2)
    return {"check_id": check_id, "runs": runs, "key": key, "loose": loose,
            "tampered": tampered}


def test_a_check_that_announces_questions_starts_the_review_run_by_itself(announced):
    """The scheduler starts ov_review_findings on the check's Asset event (as in
    production): one run, Asset-triggered."""
    [run] = announced["runs"]
    assert run["run_type"] == "asset_triggered", run
    SUMMARY["review_started_by"] = {"check_run": announced["check_id"],
                                    "review_run": run["dag_run_id"],
                                    "run_type": run["run_type"]}


def test_a_finding_is_answered_in_the_required_actions_form(ui, airflow_stack, announced):
    """ov_s3_reconcile finds a different object; ov_review_findings asks about it; the
    answer is given by clicking the choice in the Human-in-the-loop form."""
    from playwright.sync_api import expect

    from extractorov import choices

    api, page = airflow_stack.api, ui
    key, loose, tampered = announced["key"], announced["loose"], announced["tampered"]
    review_id = announced["runs"][0]["dag_run_id"]
    deadline = time.monotonic() + 300
    while set((tasks := _review_tasks(api, review_id)).values()) != {"awaiting_input"} \
            or len(tasks) != 2:
        airflow_stack.check_alive()
        assert time.monotonic() < deadline, tasks
        time.sleep(2)
    details = api.get(f"/api/v2/dags/ov_review_findings/dagRuns/{review_id}/hitlDetails")[
        "hitl_details"]
    # A key as the form shows it (shown_key: a file name not the bot's, by its length).
    by_key = {k: d for d in details for k in (key, loose) if f"`{shown_key(k)}`" in d["body"]}
    different = by_key[key]
    map_index = different["task_instance"]["map_index"]

    with snapshot_on_failure(page, "required-actions-list"):
        # Where an operator finds the questions: Browse → Required Actions.
        page.goto("/")
        page.get_by_role("button", name="Browse").click()
        page.get_by_role("menuitem", name="Required Actions").click()
        page.wait_for_url(re.compile(r"/required_actions"))
        for detail in details:
            expect(page.get_by_text(detail["subject"]).first).to_be_visible()
        page.screenshot(path=SCREENSHOTS / "review-required-actions-list.png")

    with snapshot_on_failure(page, "review-form"):
        # The mapped task instance's Required Action tab.
        page.goto(f"/dags/ov_review_findings/runs/{review_id}/tasks/review/mapped/"
                  f"{map_index}/required_actions")
        expect(page.get_by_text(different["subject"]).first).to_be_visible()
        expect(page.get_by_text(key).first).to_be_visible()
        buttons = {option: page.get_by_role("button", name=option, exact=True)
                   for option in different["options"]}
        assert list(buttons) == [choices.KEEP_PRE_EXISTING, choices.KEEP_SUPERSEDED,
                                 choices.REPLACE_OBJECT, choices.LEAVE_OPEN]
        for button in buttons.values():
            expect(button).to_be_visible()
        page.set_viewport_size({"width": 1400, "height": 1300})
        page.wait_for_timeout(300)
        page.screenshot(path=SCREENSHOTS / "review-form-object-different.png", full_page=True)
        buttons[choices.KEEP_PRE_EXISTING].click()

    deadline = time.monotonic() + 300
    while _review_tasks(api, review_id)[map_index] != "success":
        airflow_stack.check_alive()
        assert time.monotonic() < deadline, _review_tasks(api, review_id)
        time.sleep(2)
    with snapshot_on_failure(page, "review-answered"):
        page.reload()
        expect(page.get_by_text(choices.KEEP_PRE_EXISTING).first).to_be_visible()
        page.screenshot(path=SCREENSHOTS / "review-form-answered.png", full_page=True)

    with airflow_stack.warehouse() as conn:
        assert query(conn, "SELECT upload_status, file_size FROM "
                           "data_general.s3_files_registry WHERE s3_key = %s", key) == [
            ("pre_existing", len(tampered))]
        assert query(conn, "SELECT DISTINCT answer, answered_by, open FROM "
                           "data_general.reconcile_findings WHERE s3_key = %s AND "
                           "needs_human", key) == [(choices.KEEP_PRE_EXISTING, USER, False)]
    # The other question, answered through the REST API: the run then ends green.
    loose_ti = by_key[loose]["task_instance"]
    response = api.request(
        "PATCH", f"/api/v2/dags/ov_review_findings/dagRuns/{review_id}/taskInstances/review/"
                 f"{loose_ti['map_index']}/hitlDetails",
        json={"chosen_options": [choices.LEAVE_OPEN], "params_input": {}})
    assert response.status_code == 200, response.text
    assert _wait_finished(api, "ov_review_findings", review_id, airflow_stack)[
        "state"] == "success"
    SUMMARY["review"] = {"check_run": announced["check_id"], "review_run": review_id,
                         "asked": sorted(d["subject"] for d in details)}
