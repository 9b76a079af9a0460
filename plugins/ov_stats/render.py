"""HTML for the stats page: plain server-side rendering, inline CSS and SVG, no scripts.

Nothing here is fetched from the internet (no CDN). Every value that comes
from the database or the request goes through :func:`esc`. The markup keeps
``data-*`` attributes with the raw numbers so tests (and curious operators)
can read exact values next to the human-friendly ones.
"""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

from extractorov.settings import BOGOTA
from extractorov.stats import human_bytes

from .data import DAYS, day_axis

STATUS_LABELS = {
    "uploaded": "uploaded",
    "pre_existing": "already in S3",
    "pending": "pending",
    "error": "error",
}
SOURCE_LABELS = {
    "bot": "scraper (bot)",
    "pre_existing": "found in the bucket",
    "manual": "manual",
}

CSS = """
:root { color-scheme: light dark; --fg:#1a202c; --muted:#5a6577; --line:#d8dee8;
  --card:#f5f7fa; --bar:#2b6cb0; --ok:#2f855a; --warn:#b7791f; --bad:#c53030; }
@media (prefers-color-scheme: dark) { :root { --fg:#e2e8f0; --muted:#a0aec0;
  --line:#4a5568; --card:#2d3748; --bar:#63b3ed; --ok:#68d391; --warn:#f6e05e;
  --bad:#fc8181; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); margin: 0; padding: 16px 16px 40px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
h2 small { color: var(--muted); font-weight: normal; font-size: 13px; margin-left: 8px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.meta, .hint { color: var(--muted); font-size: 12px; }
a { color: var(--bar); }
.notice { border: 1px solid var(--warn); background: var(--card); padding: 12px 14px;
  border-radius: 6px; margin: 16px 0; max-width: 900px; }
.notice.error { border-color: var(--bad); }
.notice strong { display: block; margin-bottom: 4px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0; }
.card { background: var(--card); border-radius: 6px; padding: 8px 12px; min-width: 120px; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 18px; font-weight: 600; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left;
  white-space: nowrap; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td { font-weight: 600; }
.runs-wrap { overflow-x: auto; max-width: 100%; }
table.runs { font-size: 12px; }
table.runs th, table.runs td { padding: 4px 4px; }
table.runs th { white-space: normal; vertical-align: bottom; hyphens: auto; }
table.runs td.run-id { white-space: normal; overflow-wrap: anywhere; min-width: 8em;
  max-width: 11em; }
table.runs td.wrap { white-space: normal; min-width: 5.5em; }
table.runs td .hint { white-space: normal; overflow-wrap: anywhere; display: inline-block;
  max-width: 9em; }
.state-success { color: var(--ok); font-weight: 600; }
.state-failed { color: var(--bad); font-weight: 600; }
table.alerts td.wrap { white-space: normal; min-width: 12em; max-width: 36em;
  overflow-wrap: anywhere; }
svg.chart { max-width: 100%; height: auto; }
svg.chart .bar { fill: var(--bar); }
svg.chart text { fill: var(--muted); font-size: 10px; }
svg.chart line { stroke: var(--line); }
"""


def esc(value: Any) -> str:
    """HTML-escape anything (quotes too: values also go into attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def fmt_int(value: Any) -> str:
    return f"{int(value or 0):,}"


ZONE_LABEL = "America/Bogota"
"""Every time on the page is shown in this zone, and the page says so."""


def fmt_time_cell(value: Any) -> str:
    """:func:`fmt_time` as HTML for a narrow table cell: the date over the time."""
    return esc(fmt_time(value)).replace(" ", "<br>", 1)


def fmt_time(value: Any) -> str:
    """ISO timestamp → 'YYYY-MM-DD HH:MM' in Bogotá time ('-' when missing)."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(BOGOTA)
    return moment.strftime("%Y-%m-%d %H:%M")


def page(body: str, *, title: str = "Oficina Virtual stats") -> str:
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"robots\" content=\"noindex\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def header(generated_at: str | None) -> str:
    when = f" · generated {esc(fmt_time(generated_at))} ({ZONE_LABEL})" if generated_at else ""
    return (
        "<header><h1>Oficina Virtual: uploads and runs</h1>"
        "<p class=\"meta\">Read from the data warehouse through the Airflow connection "
        f"<code>ov_postgres</code>{when} · <a href=\"./\">refresh</a> · "
        "<a href=\"api/stats\">JSON</a></p></header>"
    )


def notice(kind: str, message: str) -> str:
    css = "notice" if kind == "no_schema" else "notice error"
    title = {"no_schema": "No statistics yet", "no_access": "Nothing to show"}.get(
        kind, "Statistics unavailable")
    return (f"<div class=\"{css}\" role=\"alert\" data-kind=\"{esc(kind)}\">"
            f"<strong>{esc(title)}</strong>{esc(message)}</div>")


def stats_page(snapshot: dict[str, Any], *, today: date | None = None) -> str:
    today = today or datetime.now(BOGOTA).date()
    parts = [header(snapshot.get("generated_at"))]
    if not snapshot["companies"]:
        parts.append(notice("no_access", "You may not read the runs of any Oficina Virtual "
                                         "DAG, or no company is registered."))
    if snapshot["companies"] and "alerts_not_delivered" in snapshot:
        parts.append(alerts_section(snapshot["alerts_not_delivered"],
                                    snapshot.get("generated_at")))
    if snapshot["companies"] and snapshot.get("costs"):
        parts.append(cost_section(snapshot["companies"], snapshot["costs"]))
    for company in snapshot["companies"]:
        parts.append(company_section(company, days=snapshot.get("days", DAYS), today=today))
    return page("\n".join(parts))


def unavailable_page(kind: str, message: str) -> str:
    return page(header(None) + notice(kind, message))


def company_section(company: dict[str, Any], *, days: int, today: date) -> str:
    empresa = esc(company["empresa"])
    dag_id = esc(company["dag_id"])
    by_status = company["by_status"]
    totals = company["totals"]
    cards = [("files in registry", fmt_int(totals["count"]), "total-files"),
             ("size in registry", human_bytes(totals["size_bytes"]), "total-size")]
    for status in ("uploaded", "pending", "error"):
        entry = by_status.get(status, {"count": 0})
        cards.append((f"files {STATUS_LABELS[status]}", fmt_int(entry["count"]),
                      f"card-{status}"))
    cards_html = "".join(
        f"<div class=\"card\" data-card=\"{esc(key)}\"><div class=\"label\">{esc(label)}</div>"
        f"<div class=\"value\">{esc(value)}</div></div>"
        for label, value, key in cards)
    return (
        f"<section class=\"company\" id=\"company-{empresa}\" data-empresa=\"{empresa}\">"
        f"<h2>{esc(company['display_name'])}<small>empresa <code>{empresa}</code> · DAG "
        f"<a href=\"../dags/{dag_id}\" target=\"_top\">{dag_id}</a></small></h2>"
        f"<div class=\"cards\">{cards_html}</div>"
        "<div class=\"grid\"><div>"
        "<h3>Files and bytes by upload status</h3>"
        f"{status_table(by_status, totals)}</div><div>"
        "<h3>Files and bytes by source</h3>"
        f"{source_table(company.get('by_source', {}), totals)}</div><div>"
        f"<h3>Uploads per day (last {int(days)} days, America/Bogota)</h3>"
        f"{uploads_chart(company['uploads_per_day'], days=days, today=today)}</div></div>"
        f"<h3>Last runs <small class=\"hint\" data-field=\"zone\">newest first by when "
        f"the run was recorded (<code>created_at</code>); times in {ZONE_LABEL}"
        f"</small></h3>{runs_table(company['recent_runs'])}"
        "</section>"
    )


def status_table(by_status: dict[str, dict[str, int]], totals: dict[str, int]) -> str:
    rows = []
    for status, entry in by_status.items():
        rows.append(
            f"<tr data-status=\"{esc(status)}\"><td>{esc(STATUS_LABELS.get(status, status))}</td>"
            f"<td class=\"num\" data-field=\"count\" data-value=\"{int(entry['count'])}\">"
            f"{esc(fmt_int(entry['count']))}</td>"
            f"<td class=\"num\" data-field=\"size_bytes\" data-value=\"{int(entry['size_bytes'])}\""
            f" title=\"{esc(fmt_int(entry['size_bytes']))} bytes\">"
            f"{esc(human_bytes(entry['size_bytes']))}</td></tr>")
    return (
        "<table class=\"by-status\"><thead><tr><th>status</th><th class=\"num\">files</th>"
        "<th class=\"num\">size</th></tr></thead><tbody>" + "".join(rows) + "</tbody>"
        "<tfoot><tr data-status=\"total\"><td>total</td>"
        f"<td class=\"num\" data-field=\"count\" data-value=\"{int(totals['count'])}\">"
        f"{esc(fmt_int(totals['count']))}</td>"
        f"<td class=\"num\" data-field=\"size_bytes\" data-value=\"{int(totals['size_bytes'])}\""
        f" title=\"{esc(fmt_int(totals['size_bytes']))} bytes\">"
        f"{esc(human_bytes(totals['size_bytes']))}</td></tr></tfoot></table>"
    )


def source_table(by_source: dict[str, dict[str, int]], totals: dict[str, int]) -> str:
    """Who brought the registry's files: the scraper, the bucket (found there by the hourly
    check), or a person."""
    rows = "".join(
        f"<tr data-source=\"{esc(source)}\"><td>{esc(SOURCE_LABELS.get(source, source))}</td>"
        f"<td class=\"num\" data-field=\"count\" data-value=\"{int(entry['count'])}\">"
        f"{esc(fmt_int(entry['count']))}</td>"
        f"<td class=\"num\" data-field=\"size_bytes\" data-value=\"{int(entry['size_bytes'])}\""
        f" title=\"{esc(fmt_int(entry['size_bytes']))} bytes\">"
        f"{esc(human_bytes(entry['size_bytes']))}</td></tr>"
        for source, entry in by_source.items())
    return (
        "<table class=\"by-source\"><thead><tr><th>source</th><th class=\"num\">files</th>"
        "<th class=\"num\">size</th></tr></thead><tbody>" + rows + "</tbody>"
        "<tfoot><tr data-source=\"total\"><td>total</td>"
        f"<td class=\"num\" data-field=\"count\" data-value=\"{int(totals['count'])}\">"
        f"{esc(fmt_int(totals['count']))}</td>"
        f"<td class=\"num\" data-field=\"size_bytes\" data-value=\"{int(totals['size_bytes'])}\""
        f">{esc(human_bytes(totals['size_bytes']))}</td></tr></tfoot></table>"
    )


def fmt_age(since: Any, now: Any) -> str:
    """How long ago ``since`` was, at ``now`` (both ISO): '2 d 3 h', '3 h 05 min', '12 min'."""
    try:
        seconds = (datetime.fromisoformat(str(now)) - datetime.fromisoformat(str(since))
                   ).total_seconds()
    except (TypeError, ValueError):
        return "-"
    minutes = max(int(seconds // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def alerts_section(owed: dict[str, Any] | None, generated_at: str | None) -> str:
    """The alert e-mails the mail server refused or could not take, still owed in the
    outbox (``deliver_alerts`` of ``ov_s3_reconcile`` tries them every hour)."""
    head = ("<section class=\"alerts\" id=\"alerts-not-delivered\"><h2>Alerts not delivered"
            "<small>e-mail alerts still owed in <code>data_general.alert_outbox</code>"
            "</small></h2>")
    if owed is None:
        return (head + "<p class=\"hint\" data-empty=\"alerts\">Shown to users who may read "
                "the runs of every company.</p></section>")
    if not owed["total"]:
        return (head + "<p class=\"hint\" data-empty=\"alerts\" data-value=\"0\">None: every "
                "alert was delivered.</p></section>")
    rows = []
    for alert in owed["alerts"]:
        rows.append(
            f"<tr data-alert=\"{int(alert['id'])}\"><td data-field=\"kind\">{esc(alert['kind'])}"
            f"</td><td class=\"wrap\" data-field=\"subject\">{esc(alert['subject'])}</td>"
            f"<td class=\"num\" data-field=\"attempts\" data-value=\"{int(alert['attempts'])}\">"
            f"{int(alert['attempts'])}</td>"
            f"<td class=\"wrap\" data-field=\"last_error\">{esc(alert['last_error'] or '-')}</td>"
            f"<td data-field=\"age\" title=\"recorded {esc(fmt_time(alert['created_at']))} "
            f"({ZONE_LABEL})\">{esc(fmt_age(alert['created_at'], generated_at))}</td>"
            f"<td data-field=\"next_attempt_at\">{fmt_time_cell(alert['next_attempt_at'])}</td>"
            "</tr>")
    more = owed["total"] - len(owed["alerts"])
    return (
        head + f"<p class=\"notice error\" data-field=\"alerts-owed\" "
        f"data-value=\"{int(owed['total'])}\"><strong>{int(owed['total'])} alert(s) not "
        "delivered yet</strong>The mail server (connection <code>smtp_default</code>) refused "
        "them or could not be reached. The hourly task <code>deliver_alerts</code> of "
        "<code>ov_s3_reconcile</code> sends them once it is back; its log says why each "
        "failed.</p><div class=\"runs-wrap\"><table class=\"alerts\"><thead><tr><th>kind</th>"
        "<th>subject</th><th class=\"num\">attempts</th><th>last error</th><th>age</th>"
        f"<th title=\"{ZONE_LABEL}\">next attempt</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table></div>"
        + (f"<p class=\"hint\">… {more} more in data_general.alert_outbox.</p>" if more > 0
           else "") + "</section>"
    )


RUN_COLUMNS: list[tuple[str, str, bool]] = [
    ("files_found", "found", True),
    ("files_new", "new", True),
    ("files_quarantined", "quarantined", True),
    ("files_waiting", "waiting for JSON", True),
    ("records_incomplete", "incomplete", True),
    ("db_inserted", "inserted", True),
    ("db_updated", "updated", True),
    ("db_duplicates", "duplicates", True),
    ("db_stale", "stale", True),
    ("s3_uploaded", "uploaded", True),
    ("s3_pre_existing", "already in S3", True),
    ("s3_errors", "S3 errors", True),
    ("local_left", "left processed/", True),
]


def _count_cell(run: dict[str, Any], key: str) -> str:
    if key == "local_left":  # one column keeps the table within a 1400 px window
        return _local_left_cell(run)
    value = int(run.get(key) or 0)
    text = esc(fmt_int(run.get(key)))
    if key == "files_quarantined":
        # Files a full disk kept out of quarantine/, and quarantined files without a reason.
        notes = [f"{label} {int(run.get(field) or 0)}" for field, label in (
            ("files_quarantine_failed", "not moved (disk full?)"),
            ("files_reason_lost", "reason lost")) if run.get(field)]
        if notes:
            text += (f"<br><small class=\"hint\" data-field=\"quarantine_states\">"
                     f"{esc(', '.join(notes))}</small>")
    if key == "records_incomplete" and run.get("incomplete_fields"):
        # Which fields the bot left blank, by name (never a value).
        fields = sorted(run["incomplete_fields"].items())
        detail = ", ".join(f"{name} {int(n)}" for name, n in fields)
        text += (f"<br><small class=\"hint\" data-field=\"incomplete_fields\">"
                 f"{esc(detail)}</small>")
    return f"<td class=\"num\" data-field=\"{esc(key)}\" data-value=\"{value}\">{text}</td>"


def _local_left_cell(run: dict[str, Any]) -> str:
    """Local copies retention moved out of ``processed/`` (archived + deleted), each part
    named under the total, and the due files it kept because they are not verified."""
    parts = {field: int(run.get(field) or 0)
             for field in ("local_archived", "local_deleted", "local_held")}
    left = parts["local_archived"] + parts["local_deleted"]
    labels = {"local_archived": "archived", "local_deleted": "deleted",
              "local_held": "kept, not verified"}
    notes = "".join(f"<br><small class=\"hint\" data-field=\"{field}\" data-value=\"{n}\">"
                    f"{labels[field]} {esc(fmt_int(n))}</small>"
                    for field, n in parts.items() if n)
    return (f"<td class=\"num\" data-field=\"local_left\" data-value=\"{left}\">"
            f"{esc(fmt_int(left))}{notes}</td>")


def runs_table(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "<p class=\"hint\" data-empty=\"runs\">No runs recorded yet.</p>"
    head = "".join(f"<th class=\"num\">{esc(label)}</th>" for _, label, _ in RUN_COLUMNS)
    rows = []
    for run in runs:
        status = str(run.get("status") or "")
        mode = ("reconcile (S3)" if run.get("dag_id") == "ov_s3_reconcile"
                else "DB only" if run.get("database_only") else "DB + S3")
        cells = "".join(_count_cell(run, key) for key, _, _ in RUN_COLUMNS)
        s3_bytes = int(run.get("s3_bytes") or 0)
        rows.append(
            f"<tr data-run-id=\"{esc(run.get('run_id'))}\">"
            f"<td class=\"run-id\"><code>{esc(run.get('run_id'))}</code></td>"
            f"<td data-field=\"logical_date\">"
            f"{fmt_time_cell(run.get('logical_date') or run.get('created_at'))}</td>"
            f"<td class=\"wrap\" data-field=\"database_only\" "
            f"data-value=\"{esc(bool(run.get('database_only')))}\""
            f">{esc(mode)}{' (S3 skipped)' if run.get('s3_skipped') else ''}</td>"
            f"<td data-field=\"status\" class=\"state-{esc(status)}\">{esc(status)}</td>"
            f"{cells}"
            f"<td class=\"num\" data-field=\"s3_bytes\" data-value=\"{s3_bytes}\" "
            f"title=\"{esc(fmt_int(s3_bytes))} bytes\">{esc(human_bytes(s3_bytes))}</td>"
            f"<td data-field=\"updated_at\">{fmt_time_cell(run.get('updated_at'))}</td></tr>")
    return (
        "<div class=\"runs-wrap\"><table class=\"runs\"><thead><tr><th>run</th>"
        f"<th title=\"{ZONE_LABEL}\">logical date</th><th>mode</th><th>status</th>"
        f"{head}<th class=\"num\">bytes uploaded</th>"
        f"<th title=\"{ZONE_LABEL}\">recorded</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table></div>"
    )


def uploads_chart(per_day: list[dict[str, Any]], *, days: int, today: date) -> str:
    """Inline SVG bar chart of files uploaded per day (the bar's tooltip has bytes too)."""
    axis = day_axis(per_day, days, today)
    width, height, left, bottom, top = 560, 170, 36, 22, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max([row["files"] for row in axis] + [1])
    step = plot_w / max(len(axis), 1)
    bar_w = max(step * 0.7, 1.0)
    parts = [
        f"<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" "
        f"height=\"{height}\" aria-label=\"Files uploaded per day\">",
        f"<line x1=\"{left}\" y1=\"{top + plot_h}\" x2=\"{width - 8}\" y2=\"{top + plot_h}\"/>",
        f"<text x=\"{left - 4}\" y=\"{top + 8}\" text-anchor=\"end\">{esc(fmt_int(peak))}</text>",
        f"<text x=\"{left - 4}\" y=\"{top + plot_h}\" text-anchor=\"end\">0</text>",
    ]
    for i, row in enumerate(axis):
        bar_h = plot_h * row["files"] / peak
        x = left + i * step + (step - bar_w) / 2
        y = top + plot_h - bar_h
        parts.append(
            f"<rect class=\"bar\" x=\"{x:.1f}\" y=\"{y:.1f}\" width=\"{bar_w:.1f}\" "
            f"height=\"{bar_h:.1f}\" data-day=\"{esc(row['day'])}\" "
            f"data-files=\"{int(row['files'])}\" data-bytes=\"{int(row['bytes'])}\">"
            f"<title>{esc(row['day'])}: {esc(fmt_int(row['files']))} files, "
            f"{esc(human_bytes(row['bytes']))}</title></rect>")
    for i in (0, len(axis) // 2, len(axis) - 1) if axis else ():
        x = left + i * step + step / 2
        parts.append(f"<text x=\"{x:.1f}\" y=\"{height - 6}\" text-anchor=\"middle\">"
                     f"{esc(axis[i]['day'][5:])}</text>")
    total = sum(row["files"] for row in axis)
    if not total:
        parts.append(f"<text x=\"{left + plot_w / 2:.1f}\" y=\"{top + plot_h / 2:.1f}\" "
                     "text-anchor=\"middle\">no uploads in this period</text>")
    parts.append("</svg>")
    caption = (f"<p class=\"hint\" data-field=\"uploads-total\" data-value=\"{int(total)}\">"
               f"{esc(fmt_int(total))} files uploaded in the last {int(days)} days</p>")
    return "".join(parts) + caption


def fmt_usd(value: float) -> str:
    """Dollars: cents from $0.01 up, four decimals below (these amounts are small)."""
    value = float(value or 0)
    if value == 0:
        return "$0.00"
    return f"${value:,.2f}" if abs(value) >= 0.01 else f"${value:.4f}"


def fmt_price(value: float) -> str:
    return f"${float(value):g}"


COST_COLUMNS: list[tuple[str, str, str]] = [
    # key, label, kind
    ("stored_objects", "objects in S3", "int"),
    ("stored_bytes", "size in S3", "bytes"),
    ("puts", "PUT / month", "int"),
    ("lists", "LIST / month", "int"),
    ("gets", "GET+HEAD / month", "int"),
    ("storage_usd", "storage", "usd"),
    ("requests_usd", "requests", "usd"),
    ("total_usd", "total / month", "usd"),
]


def _cost_cells(values: dict[str, float]) -> str:
    cells = []
    for key, _, kind in COST_COLUMNS:
        value = values.get(key)
        if value is None:
            cells.append("<td class=\"num\">-</td>")
            continue
        text = (fmt_usd(value) if kind == "usd" else human_bytes(int(value)) if kind == "bytes"
                else fmt_int(value))
        raw = f"{float(value):.6f}" if kind == "usd" else str(int(value))
        cells.append(f"<td class=\"num\" data-field=\"{key}\" data-value=\"{raw}\">"
                     f"{esc(text)}</td>")
    return "".join(cells)


def cost_section(companies: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """Estimated monthly S3 cost per company, next to the guide's own estimate."""
    prices = summary["prices"]
    guide = summary["guide"]
    head = "".join(f"<th class=\"num\">{esc(label)}</th>" for _, label, _ in COST_COLUMNS)
    rows = [f"<tr data-cost=\"{esc(c['empresa'])}\"><td>{esc(c['display_name'])}</td>"
            f"{_cost_cells(c['cost'])}</tr>" for c in companies]
    if len(companies) > 1:
        rows.append(f"<tr data-cost=\"total\"><td>all companies</td>"
                    f"{_cost_cells(summary['total'])}</tr>")
    at_prices = {**guide["at_prices"], "lists": None, "gets": None}
    rows.append("<tr data-cost=\"guide-at-prices\"><td>guide's month (1,000 PQRs/day) at "
                f"these prices</td>{_cost_cells(at_prices)}</tr>")
    error = (f"<p class=\"notice error\" data-field=\"prices-error\">"
             f"{esc(summary['prices_error'])}</p>" if summary.get("prices_error") else "")
    return (
        "<section class=\"costs\" id=\"costs\"><h2>Estimated S3 cost per month"
        "<small>USD, us-east-1 list prices, from the registry</small></h2>"
        f"{error}<table class=\"costs\"><thead><tr><th></th>{head}</tr></thead><tbody>"
        + "".join(rows) + "</tbody></table>"
        f"<p data-field=\"guide-estimate\" data-value=\"{float(guide['total_usd']):.2f}\">"
        f"The guide's own estimate ({esc(guide['source'])}): "
        f"<q lang=\"es\">{esc(guide['quote'])}</q>.</p>"
        "<p class=\"hint\">Storage: objects uploaded or already in S3, all priced as S3 "
        "Standard (an upper bound: the lifecycle rule moves objects over 128 KiB to IA after "
        "30 days). PUT: files uploaded in the last 30 days. LIST: the hourly reconcile "
        "(19 a day, one request per 1,000 keys) and the daily upload's check. GET+HEAD: "
        "files found already in S3 in the last 30 days; downloads by people are not counted. "
        "The guide counts one file per PQR and one month of storage; storage grows every "
        "month.</p>"
        f"<p class=\"hint\" data-field=\"prices\">Prices (Variable <code>ov_s3_prices</code>"
        f"): storage {esc(fmt_price(prices['storage_gb_month']))} per GB-month, PUT/COPY/POST/"
        f"LIST {esc(fmt_price(prices['put_per_1000']))} per 1,000, GET/HEAD "
        f"{esc(fmt_price(prices['get_per_1000']))} per 1,000. The guide lists "
        "<q lang=\"es\">$0.0005 por 1,000 requests</q> for PUT, a tenth of AWS's price; "
        "<code>{\"put_per_1000\": 0.0005}</code> reproduces its figures.</p></section>"
    )
