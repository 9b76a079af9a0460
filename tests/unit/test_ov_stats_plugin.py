"""The stats page plugin (``extractorov.ui``) without an api-server.

Rendering and registration are checked as plain code; the FastAPI app through
Starlette's TestClient with the Airflow user dependency overridden. The tests
marked ``integration`` read a real warehouse (the shared pgserver fixtures).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from extractorov.companies import COMPANIES
from extractorov.settings import Settings
from extractorov.ui import data, render
from extractorov.ui.plugin import LazyASGIApp, OvStatsPlugin

ROOT = Path(__file__).resolve().parents[2]
EVIL = "<script>alert('x')</script>\"&"


def test_plugin_declares_the_app_and_a_browse_menu_entry():
    [app] = OvStatsPlugin.fastapi_apps
    assert app["url_prefix"] == "/ov-stats"
    assert not app["url_prefix"].startswith(("/api/v2", "/ui", "/execution", "/auth",
                                              "/pluginsv2"))
    assert isinstance(app["app"], LazyASGIApp)
    [view] = OvStatsPlugin.external_views
    assert view == {"name": "Oficina Virtual stats", "href": "ov-stats/", "destination": "nav",
                    "category": "browse", "url_route": "ov-stats"}


def test_airflow_loads_the_plugin_once_from_the_package_entry_point(tmp_path, monkeypatch):
    """Registered as installed packages register theirs (astronomer-cosmos): the
    ``airflow.plugins`` entry point of the installed package, and nothing in the plugins
    folder (a second registration is an import error: "already registered")."""
    from importlib.metadata import entry_points

    from airflow import plugins_manager, settings
    from airflow._shared.plugins_manager.plugins_manager import (
        _load_plugins_from_plugin_directory,
    )

    [entry] = [e for e in entry_points(group="airflow.plugins") if e.name == "ov_stats"]
    assert entry.value == "extractorov.ui.plugin:OvStatsPlugin"
    assert entry.load() is OvStatsPlugin
    assert _load_plugins_from_plugin_directory(str(ROOT / "plugins")) == ([], {})

    # What an Airflow process loads, with the repository's plugins folder (make airflow,
    # docker-compose.yaml's mount, the system tests).
    monkeypatch.setattr(settings, "PLUGINS_FOLDER", str(ROOT / "plugins"))
    plugins_manager._get_plugins.cache_clear()
    try:
        plugins, errors = plugins_manager._get_plugins()
    finally:
        plugins_manager._get_plugins.cache_clear()
    assert [p.name for p in plugins].count("ov_stats") == 1
    assert errors == {}


def test_the_templates_escape_every_value_and_refuse_unknown_names():
    import jinja2

    env = render.environment()
    assert env.autoescape is True and env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError):
        render.render("unavailable.html.j2", title="t", generated_at=None)  # no notice


def _company(**overrides):
    company = {
        "empresa": "afinia", "display_name": "Afinia", "dag_id": "ov_afinia",
        "by_status": {"uploaded": {"count": 1234, "size_bytes": 5 * 1024 * 1024},
                      "pre_existing": {"count": 0, "size_bytes": 0},
                      "pending": {"count": 2, "size_bytes": 10},
                      "error": {"count": 0, "size_bytes": 0}},
        "totals": {"count": 1236, "size_bytes": 5 * 1024 * 1024 + 10},
        "recent_runs": [{"run_id": "manual__2025-10-10",
                         "logical_date": "2025-10-10T09:00:00+00:00",
                         "database_only": False, "status": "success", "files_found": 3,
                         "files_new": 3, "s3_uploaded": 3, "s3_bytes": 2048,
                         "s3_skipped": False, "updated_at": "2025-10-10T09:05:00+00:00"}],
        "uploads_per_day": [{"day": "2025-10-10", "files": 3, "bytes": 2048}],
    }
    company.update(overrides)
    return company


def test_page_shows_counts_and_exact_bytes():
    html = render.stats_page({"generated_at": "2025-10-10T14:00:00+00:00", "days": 30,
                              "companies": [_company()]}, today=date(2025, 10, 10))
    assert 'data-status="uploaded"' in html
    assert '>1,234</td>' in html
    assert f'data-value="{5 * 1024 * 1024}"' in html and "5.00 MiB" in html
    assert 'data-day="2025-10-10" data-files="3" data-bytes="2048"' in html
    assert "generated 2025-10-10 09:00 (America/Bogota)" in html
    assert "<script" not in html  # no scripts at all, and nothing fetched from elsewhere
    assert "http://" not in html and "https://" not in html


def test_everything_rendered_is_escaped():
    run = {**_company()["recent_runs"][0], "run_id": EVIL, "status": EVIL}
    html = render.stats_page({"generated_at": None, "days": 30, "companies": [
        _company(display_name=EVIL, empresa=EVIL, dag_id=EVIL, recent_runs=[run],
                 by_status={EVIL: {"count": 1, "size_bytes": 1}})]}, today=date(2025, 10, 10))
    assert "<script>" not in html
    # Jinja2's autoescape (MarkupSafe) spells quotes &#39; and &#34; (html.escape: &#x27;,
    # &quot;); a browser shows the same characters.
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#34;&amp;" in html
    assert render.unavailable_page("unreachable", EVIL).count("&lt;script&gt;") == 1


def test_day_axis_fills_missing_days_with_zeros():
    axis = data.day_axis([{"day": "2025-10-09", "files": 2, "bytes": 5}], 3, date(2025, 10, 10))
    assert axis == [{"day": "2025-10-08", "files": 0, "bytes": 0},
                    {"day": "2025-10-09", "files": 2, "bytes": 5},
                    {"day": "2025-10-10", "files": 0, "bytes": 0}]


@pytest.mark.parametrize(("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1024, "1.00 KiB"),
                                            (3 * 1024**3, "3.00 GiB")])
def test_human_bytes(size, text):
    assert render.human_bytes(size) == text


# --------------------------------------------------------------------------- the app


@pytest.fixture
def client(monkeypatch):
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    from extractorov.ui import app as app_module

    app = app_module.create_app()
    app.dependency_overrides[get_user] = lambda: "tester"
    monkeypatch.setattr(app_module, "readable_companies",
                        lambda request, user: list(COMPANIES.values()))
    return TestClient(app)


def test_without_a_session_the_page_is_refused():
    from fastapi.testclient import TestClient

    from extractorov.ui.app import create_app

    client = TestClient(create_app())
    assert client.get("/").status_code == 401
    assert client.get("/api/stats").status_code == 401


def test_unreachable_warehouse_gives_a_message_not_a_trace(client, monkeypatch):
    from devtools import services

    port = services.free_port()  # nothing listens there
    monkeypatch.setenv("AIRFLOW_CONN_OV_POSTGRES",
                       f'{{"conn_type": "postgres", "host": "127.0.0.1", "port": {port}, '
                       '"login": "postgres", "schema": "nowhere"}')
    page = client.get("/")
    assert page.status_code == 503
    assert "Statistics unavailable" in page.text and "is unreachable" in page.text
    assert "Traceback" not in page.text
    body = client.get("/api/stats")
    assert body.status_code == 503
    assert body.json()["error"] == "unreachable"


def test_missing_connection_is_explained(client, monkeypatch, airflow_db):
    monkeypatch.delenv("AIRFLOW_CONN_OV_POSTGRES", raising=False)
    response = client.get("/api/stats")
    assert response.status_code == 503
    assert response.json()["error"] == "no_connection"
    assert "connection &#39;ov_postgres&#39; is not defined" in client.get("/").text


@pytest.mark.integration
def test_empty_warehouse_says_no_statistics_yet(client, warehouse):
    page = client.get("/")
    assert page.status_code == 200
    assert "No statistics yet" in page.text
    assert client.get("/api/stats").json()["error"] == "no_schema"


@pytest.mark.integration
def test_page_and_json_show_what_the_warehouse_holds(client, db, landing):
    from devtools.sample import generate_landing
    from extractorov import pipeline, stats

    generate_landing(landing, companies=["afinia"], days=1, requests_per_day=4)
    afinia = COMPANIES["afinia"]
    settings = Settings(landing_root=landing, settle_seconds=0)
    summary = pipeline.extract(db, afinia, settings, "run-1")
    report = stats.build_run_report(
        run_id="run-<1>", empresa="afinia", dag_id="ov_afinia",
        logical_date=datetime(2025, 10, 10, 9, tzinfo=UTC), data_interval_start=None,
        data_interval_end=None, database_only=True,
        extract={"files_new": summary.files_new, "files_found": summary.files_found},
        load=None, upload=None, task_states={"upload_s3": "skipped"})
    stats.record_run(db, report)
    registry = stats.get_s3_registry_stats(db)

    body = client.get("/api/stats").json()
    afinia_json = next(c for c in body["companies"] if c["empresa"] == "afinia")
    pending = registry["by_company_status"]["afinia"]["pending"]
    assert afinia_json["by_status"]["pending"] == pending
    assert afinia_json["by_status"]["uploaded"] == {"count": 0, "size_bytes": 0}
    assert [r["run_id"] for r in afinia_json["recent_runs"]] == ["run-<1>"]
    assert afinia_json["recent_runs"][0]["files_new"] == summary.files_new

    page = client.get("/").text
    assert f'data-value="{pending["count"]}">{pending["count"]:,}</td>' in page
    assert f'data-value="{pending["size_bytes"]}"' in page
    assert 'data-run-id="run-&lt;1&gt;"' in page
    assert 'data-empresa="aire"' in page  # every registered company has its section


def test_logs_and_the_stats_page_use_one_unit_system() -> None:
    """The task log said "MB" for MiB while the page said KiB: both now print binary units
    through the same function."""
    from extractorov import stats

    assert render.human_bytes is stats.human_bytes
    assert stats.human_bytes(1536) == "1.50 KiB"
    assert stats.human_bytes(5 * 1024**2) == "5.00 MiB"
    assert stats.human_bytes(3 * 1024**4) == "3.00 TiB"


# --------------------------------------------------------------------------- S3 cost


def _seed_registry(db) -> None:
    """afinia: 1,500 objects uploaded (1,200 in the last 30 days) and 10 found already in
    S3, 1 MiB each, plus 5 pending; aire: nothing."""
    from extractorov import warehouse

    warehouse.ensure_schema(db, list(COMPANIES.values()))
    db.execute("""
        INSERT INTO data_general.s3_files_registry
            (filename, s3_bucket, s3_key, empresa, file_size, upload_status, upload_source,
             uploaded_at)
        SELECT 'f' || i, 'b', 'k' || i, 'afinia', 1048576,
               CASE WHEN i <= 1500 THEN 'uploaded' WHEN i <= 1510 THEN 'pre_existing'
                    ELSE 'pending' END,
               CASE WHEN i BETWEEN 1501 AND 1510 THEN 'pre_existing' ELSE 'bot' END,
               CASE WHEN i <= 300 THEN now() - interval '60 days'
                    WHEN i <= 1500 THEN now() - interval '1 day'
                    WHEN i <= 1510 THEN now() - interval '2 days' END
        FROM generate_series(1, 1515) AS i""")
    db.commit()


def _cost_row(page: str, row: str) -> dict[str, str]:
    import re

    body = page.split(f'<tr data-cost="{row}">', 1)[1].split("</tr>", 1)[0]
    return {field: text for field, text in
            re.findall(r'data-field="(\w+)" data-value="[^"]*">([^<]*)</td>', body)}


@pytest.mark.integration
def test_the_page_shows_the_monthly_s3_cost_of_a_known_registry(client, db):
    _seed_registry(db)
    page = client.get("/").text
    afinia = _cost_row(page, "afinia")
    # 1,510 MiB in S3 = 1.4746 GB × $0.023; 1,200 PUTs; 30 × (19 × 2 pages + 1) LISTs;
    # 10 HEADs.
    assert afinia == {"stored_objects": "1,510", "stored_bytes": "1.47 GiB", "puts": "1,200",
                      "lists": "1,170", "gets": "10", "storage_usd": "$0.03",
                      "requests_usd": "$0.01", "total_usd": "$0.05"}
    assert 'data-field="total_usd" data-value="0.045770"' in page
    aire = _cost_row(page, "aire")  # nothing stored: the reconcile's listings only
    assert (aire["lists"], aire["storage_usd"], aire["total_usd"]) == ("600", "$0.00", "$0.0030")
    assert _cost_row(page, "total")["puts"] == "1,200"
    guide = _cost_row(page, "guide-at-prices")
    assert (guide["puts"], guide["stored_bytes"], guide["total_usd"]) == (
        "30,000", "3.00 GiB", "$0.22")
    assert "Total estimado: ~$0.10/mes" in page  # the guide's own number, quoted
    assert "$0.005 per 1,000" in page

    body = client.get("/api/stats").json()
    assert body["costs"]["prices"]["put_per_1000"] == 0.005
    cost = next(c for c in body["companies"] if c["empresa"] == "afinia")["cost"]
    assert cost["total_usd"] == pytest.approx(1510 / 1024 * 0.023 + 1.2 * 0.005
                                              + 1.17 * 0.005 + 0.01 * 0.0004)


@pytest.mark.integration
def test_prices_come_from_the_variable_and_a_wrong_one_is_explained(client, db, monkeypatch):
    _seed_registry(db)
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_PRICES", '{"put_per_1000": 0.0005}')
    page = client.get("/").text
    assert _cost_row(page, "guide-at-prices")["total_usd"] == "$0.08"  # the guide's arithmetic
    assert _cost_row(page, "afinia")["requests_usd"] == "$0.0012"
    monkeypatch.setenv("AIRFLOW_VAR_OV_S3_PRICES", '{"put": 1}')
    page = client.get("/").text
    assert "unknown key(s) put" in page and "default prices shown" in page
    assert _cost_row(page, "guide-at-prices")["total_usd"] == "$0.22"


def test_the_quarantined_cell_says_what_could_not_be_quarantined_and_reasons_lost():
    run = {**_company()["recent_runs"][0], "files_quarantined": 1,
           "files_quarantine_failed": 2, "files_reason_lost": 3}
    html = render.stats_page({"generated_at": "2025-10-10T14:00:00+00:00", "days": 30,
                              "companies": [_company(recent_runs=[run])]},
                             today=date(2025, 10, 10))
    assert 'data-field="quarantine_states">not moved (disk full?) 2, reason lost 3<' in html
    quiet = render.stats_page({"generated_at": "2025-10-10T14:00:00+00:00", "days": 30,
                               "companies": [_company()]}, today=date(2025, 10, 10))
    assert "quarantine_states" not in quiet


# --------------------------------------------------------------------------- registry by source


@pytest.mark.integration
def test_the_page_shows_the_registry_by_source_as_the_operators_guide_promises(client, db):
    """docs/operacion.md §4: "el registro por estado y fuente"; the page had no by-source
    table."""
    _seed_registry(db)
    page = client.get("/").text
    section = page.split('data-empresa="afinia"', 1)[1].split("</section>", 1)[0]
    table = section.split('<table class="by-source">', 1)[1].split("</table>", 1)[0]
    import re

    rows = dict(re.findall(r'<tr data-source="(\w+)"><td>[^<]*</td><td class="num" '
                           r'data-field="count" data-value="(\d+)"', table))
    assert rows == {"bot": "1505", "pre_existing": "10", "manual": "0", "total": "1515"}
    assert "<td>found in the bucket</td>" in table and "<td>scraper (bot)</td>" in table
    body = client.get("/api/stats").json()
    afinia = next(c for c in body["companies"] if c["empresa"] == "afinia")
    assert afinia["by_source"] == {
        "bot": {"count": 1505, "size_bytes": 1505 * 1048576},
        "pre_existing": {"count": 10, "size_bytes": 10 * 1048576},
        "manual": {"count": 0, "size_bytes": 0}}


# --------------------------------------------------------------------------- alerts not delivered


def _owed_alert(**overrides):
    alert = {"id": 7, "kind": "run_failed",
             "subject": "[extractorov] ov_aire failed (scrape): run manual__1",
             "attempts": 3, "last_error": "ConnectionRefusedError: [Errno 111] Connection refused",
             "created_at": "2025-10-10T11:00:00+00:00",
             "next_attempt_at": "2025-10-10T14:15:00+00:00"}
    alert.update(overrides)
    return alert


def test_alerts_not_delivered_show_kind_subject_attempts_last_error_and_age():
    snapshot = {"generated_at": "2025-10-10T14:05:00+00:00", "days": 30,
                "companies": [_company()],
                "alerts_not_delivered": {"total": 1, "alerts": [_owed_alert(subject=EVIL)]}}
    html = render.stats_page(snapshot, today=date(2025, 10, 10))
    section = html.split('id="alerts-not-delivered"', 1)[1].split("</section>", 1)[0]
    assert "Alerts not delivered" in html
    assert 'data-field="alerts-owed" data-value="1"' in section
    assert '<td data-field="kind">run_failed</td>' in section
    assert "&lt;script&gt;" in section and "<script>" not in section
    assert 'data-field="attempts" data-value="3">3</td>' in section
    assert "ConnectionRefusedError: [Errno 111] Connection refused" in section
    assert ">3 h 05 min</td>" in section  # recorded 06:00 Bogotá, page at 09:05
    assert "2025-10-10<br>09:15" in section  # next attempt, Bogotá
    none = render.stats_page({**snapshot, "alerts_not_delivered": {"total": 0, "alerts": []}},
                             today=date(2025, 10, 10))
    assert "None: every alert was delivered." in none


@pytest.mark.parametrize(("since", "now", "text"), [
    ("2025-10-10T14:00:00+00:00", "2025-10-10T14:12:59+00:00", "12 min"),
    ("2025-10-08T11:00:00+00:00", "2025-10-10T14:05:00+00:00", "2 d 3 h"),
    ("2025-10-10T14:00:00+00:00", None, "-"),
])
def test_the_age_of_an_alert(since, now, text):
    assert render.fmt_age(since, now) == text


@pytest.mark.integration
def test_an_alert_the_mail_server_refused_is_on_the_page_until_it_is_delivered(
        client, db, monkeypatch):
    import json

    from devtools.services import free_port
    from extractorov import outbox, warehouse

    warehouse.ensure_schema(db)
    with db.transaction():
        outbox.record(db, outbox.Alert("morning_run", "morning_run:aire:2025-10-10",
                                       "[extractorov] ov_aire: the morning run of 2025-10-10 "
                                       "has not succeeded by 06:00 Bogotá (failed)", "<p>x</p>",
                                       ("ops@example.test",)), recorded_by="ov_s3_reconcile/r")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": free_port(),
         "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 5, "retry_limit": 0}}))
    outbox.deliver(db, sender="test")
    page = client.get("/").text
    section = page.split('id="alerts-not-delivered"', 1)[1].split("</section>", 1)[0]
    assert '<td data-field="kind">morning_run</td>' in section
    assert "the morning run of 2025-10-10 has not succeeded" in section
    assert 'data-field="attempts" data-value="1">1</td>' in section
    assert "ConnectionRefusedError" in section
    assert "ops@example.test" not in page  # recipients are not shown
    [owed] = client.get("/api/stats").json()["alerts_not_delivered"]["alerts"]
    assert (owed["kind"], owed["attempts"]) == ("morning_run", 1)

    db.execute(f"UPDATE {outbox.OUTBOX_TABLE} SET sent_at = now()")
    db.commit()
    assert "None: every alert was delivered." in client.get("/").text


@pytest.mark.integration
def test_alerts_are_shown_only_to_who_may_read_every_company(client, db, monkeypatch):
    from extractorov import warehouse
    from extractorov.ui import app as app_module

    warehouse.ensure_schema(db)
    db.commit()
    monkeypatch.setattr(app_module, "readable_companies",
                        lambda request, user: [COMPANIES["afinia"]])
    assert client.get("/api/stats").json()["alerts_not_delivered"] is None
    assert "Shown to users who may read the runs of every company." in client.get("/").text


# --------------------------------------------------------------------------- docs agree


def test_the_docs_list_the_last_runs_in_the_order_the_stats_page_does():
    """The README sorted by logical_date, NULL for CLI and reconcile runs (they sank to the
    bottom); the page and the operators' guide sort by when the run was recorded."""
    import inspect

    from extractorov import stats

    root = ROOT
    order = "ORDER BY created_at DESC, run_id DESC"
    assert order in inspect.getsource(stats.recent_runs)
    for doc in (root / "README.md", root / "docs" / "operacion.md"):
        queries = [q for q in doc.read_text(encoding="utf-8").split("```sql")[1:]
                   if "post_processing_runs" in q.split("```", 1)[0]]
        assert queries, doc
        for sql in queries:
            assert order in sql.split("```", 1)[0], doc
