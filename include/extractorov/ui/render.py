"""The stats page's content, shaped for its Jinja2 templates (``templates/``).

This module only shapes data: numbers and times formatted, rows and cells built,
as small typed records. The markup lives in the templates, rendered by
:func:`render` with autoescaping on for every value, so nothing from the
database or the request reaches the page unescaped. The page is plain
server-side HTML with inline CSS and SVG: no scripts, nothing fetched from the
internet (no CDN). The markup keeps ``data-*`` attributes with the raw numbers
so tests (and curious operators) can read exact values next to the
human-friendly ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import jinja2

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
ZONE_LABEL = "America/Bogota"
"""Every time on the page is shown in this zone, and the page says so."""

RUN_COLUMNS: list[tuple[str, str]] = [
    # key in the run report, column label
    ("files_found", "found"),
    ("files_new", "new"),
    ("files_quarantined", "quarantined"),
    ("files_waiting", "waiting for JSON"),
    ("records_incomplete", "incomplete"),
    ("db_inserted", "inserted"),
    ("db_updated", "updated"),
    ("db_duplicates", "duplicates"),
    ("db_stale", "stale"),
    ("s3_uploaded", "uploaded"),
    ("s3_pre_existing", "already in S3"),
    ("s3_errors", "S3 errors"),
    ("local_left", "left processed/"),
]
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
NOTICE_TITLES = {"no_schema": "No statistics yet", "no_access": "Nothing to show"}


# --------------------------------------------------------------------------- rendering

_BETWEEN_TAGS = re.compile(r">\s+<")


@cache
def environment() -> jinja2.Environment:
    """The templates of this package; every ``{{ value }}`` is HTML-escaped."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(zone=ZONE_LABEL, run_labels=[label for _, label in RUN_COLUMNS])
    return env


def render(template: str, **context: Any) -> str:
    """The one place markup is produced: ``template`` rendered with ``context``.

    The templates are indented for reading; the whitespace between tags is dropped
    (it never shows on this page, which has no preformatted text), so the HTML is
    as compact as the markup is written in the tests' expectations. Escaped values
    cannot contain ``<`` or ``>``, so only the templates' own whitespace is touched.
    """
    html = environment().get_template(template).render(**context)
    return _BETWEEN_TAGS.sub("><", html).lstrip()


def stats_page(snapshot: dict[str, Any], *, today: date | None = None) -> str:
    """The whole page for a snapshot of :func:`extractorov.ui.data.load_snapshot`."""
    today = today or datetime.now(BOGOTA).date()
    companies = snapshot["companies"]
    days = snapshot.get("days", DAYS)
    page = StatsPage(
        notice=None if companies else notice(
            "no_access", "You may not read the runs of any Oficina Virtual DAG, or no "
                         "company is registered."),
        alerts=(alerts_section(snapshot["alerts_not_delivered"], snapshot.get("generated_at"))
                if companies and "alerts_not_delivered" in snapshot else None),
        costs=(cost_section(companies, snapshot["costs"])
               if companies and snapshot.get("costs") else None),
        companies=[company_section(c, days=days, today=today) for c in companies],
    )
    return render("stats.html.j2", title="Oficina Virtual stats",
                  generated_at=_generated(snapshot.get("generated_at")), page=page)


def unavailable_page(kind: str, message: str) -> str:
    """The page when the numbers cannot be read (``kind`` of :class:`StatsUnavailable`)."""
    return render("unavailable.html.j2", title="Oficina Virtual stats", generated_at=None,
                  notice=notice(kind, message))


def runs_table(runs: list[dict[str, Any]]) -> str:
    """The last-runs table alone (as in a company's section)."""
    return render("_runs.html.j2", runs=[run_row(run) for run in runs])


# --------------------------------------------------------------------------- formatting


def fmt_int(value: Any) -> str:
    return f"{int(value or 0):,}"


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


def fmt_usd(value: float) -> str:
    """Dollars: cents from $0.01 up, four decimals below (these amounts are small)."""
    value = float(value or 0)
    if value == 0:
        return "$0.00"
    return f"${value:,.2f}" if abs(value) >= 0.01 else f"${value:.4f}"


def fmt_price(value: float) -> str:
    return f"${float(value):g}"


@dataclass(frozen=True)
class TimeCell:
    """:func:`fmt_time` for a narrow table cell: the date over the time."""

    day: str
    time: str


def time_cell(value: Any) -> TimeCell:
    day, _, time = fmt_time(value).partition(" ")
    return TimeCell(day, time)


def _generated(generated_at: str | None) -> str | None:
    return fmt_time(generated_at) if generated_at else None


# --------------------------------------------------------------------------- page parts


@dataclass(frozen=True)
class Notice:
    kind: str
    title: str
    message: str
    css: str


def notice(kind: str, message: str) -> Notice:
    return Notice(kind=kind, title=NOTICE_TITLES.get(kind, "Statistics unavailable"),
                  message=message, css="notice" if kind == "no_schema" else "notice error")


@dataclass(frozen=True)
class Card:
    key: str
    label: str
    value: str


@dataclass(frozen=True)
class AmountRow:
    """Files and bytes of one upload status or source (or their total)."""

    key: str
    label: str
    count: int
    count_text: str
    size_bytes: int
    size_text: str
    size_title: str | None  # exact bytes, as a tooltip


def amount_row(key: str, label: str, entry: dict[str, int], *, exact: bool = True
               ) -> AmountRow:
    count, size = int(entry["count"]), int(entry["size_bytes"])
    return AmountRow(key=key, label=label, count=count, count_text=fmt_int(count),
                     size_bytes=size, size_text=human_bytes(size),
                     size_title=f"{fmt_int(size)} bytes" if exact else None)


@dataclass(frozen=True)
class Bar:
    day: str
    files: int
    bytes: int
    files_text: str
    bytes_text: str
    x: str
    y: str
    width: str
    height: str


@dataclass(frozen=True)
class Tick:
    x: str
    label: str


@dataclass(frozen=True)
class Chart:
    """Inline SVG bar chart of files uploaded per day: geometry in user units."""

    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: int
    scale_x: int
    peak_y: int
    peak_text: str
    tick_y: int
    bars: list[Bar]
    ticks: list[Tick]
    empty_at: tuple[str, str] | None  # where "no uploads in this period" goes
    total: int
    total_text: str
    days: int


def uploads_chart(per_day: list[dict[str, Any]], *, days: int, today: date) -> Chart:
    axis = day_axis(per_day, days, today)
    width, height, left, bottom, top = 560, 170, 36, 22, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max([row["files"] for row in axis] + [1])
    step = plot_w / max(len(axis), 1)
    bar_w = max(step * 0.7, 1.0)
    bars = []
    for i, row in enumerate(axis):
        bar_h = plot_h * row["files"] / peak
        bars.append(Bar(day=str(row["day"]), files=int(row["files"]), bytes=int(row["bytes"]),
                        files_text=fmt_int(row["files"]), bytes_text=human_bytes(row["bytes"]),
                        x=f"{left + i * step + (step - bar_w) / 2:.1f}",
                        y=f"{top + plot_h - bar_h:.1f}", width=f"{bar_w:.1f}",
                        height=f"{bar_h:.1f}"))
    ticks = [Tick(x=f"{left + i * step + step / 2:.1f}", label=str(axis[i]["day"])[5:])
             for i in ((0, len(axis) // 2, len(axis) - 1) if axis else ())]
    total = sum(row["files"] for row in axis)
    return Chart(width=width, height=height, plot_left=left, plot_right=width - 8,
                 plot_bottom=top + plot_h, scale_x=left - 4, peak_y=top + 8,
                 peak_text=fmt_int(peak), tick_y=height - 6, bars=bars, ticks=ticks,
                 empty_at=(None if total else
                           (f"{left + plot_w / 2:.1f}", f"{top + plot_h / 2:.1f}")),
                 total=int(total), total_text=fmt_int(total), days=int(days))


@dataclass(frozen=True)
class Note:
    """A line under a count: what the number is made of (``value`` when it is one)."""

    field: str
    text: str
    value: int | None = None


@dataclass(frozen=True)
class CountCell:
    key: str
    value: int
    text: str
    notes: list[Note]


@dataclass(frozen=True)
class RunRow:
    run_id: str
    logical_date: TimeCell
    mode: str
    database_only: str  # "True" / "False"
    status: str
    counts: list[CountCell]
    s3_bytes: int
    s3_bytes_text: str
    s3_bytes_title: str
    updated_at: TimeCell


def run_row(run: dict[str, Any]) -> RunRow:
    mode = ("reconcile (S3)" if run.get("dag_id") == "ov_s3_reconcile"
            else "DB only" if run.get("database_only") else "DB + S3")
    s3_bytes = int(run.get("s3_bytes") or 0)
    run_id = run.get("run_id")
    return RunRow(
        run_id="" if run_id is None else str(run_id),
        logical_date=time_cell(run.get("logical_date") or run.get("created_at")),
        mode=mode + (" (S3 skipped)" if run.get("s3_skipped") else ""),
        database_only=str(bool(run.get("database_only"))),
        status=str(run.get("status") or ""),
        counts=[count_cell(run, key) for key, _ in RUN_COLUMNS],
        s3_bytes=s3_bytes, s3_bytes_text=human_bytes(s3_bytes),
        s3_bytes_title=f"{fmt_int(s3_bytes)} bytes",
        updated_at=time_cell(run.get("updated_at")),
    )


def count_cell(run: dict[str, Any], key: str) -> CountCell:
    if key == "local_left":  # one column keeps the table within a 1400 px window
        return local_left_cell(run)
    notes = []
    if key == "files_quarantined":
        # Files a full disk kept out of quarantine/, and quarantined files without a reason.
        states = [f"{label} {int(run.get(field) or 0)}" for field, label in (
            ("files_quarantine_failed", "not moved (disk full?)"),
            ("files_reason_lost", "reason lost")) if run.get(field)]
        if states:
            notes.append(Note("quarantine_states", ", ".join(states)))
    if key == "records_incomplete" and run.get("incomplete_fields"):
        # Which fields the bot left blank, by name (never a value).
        fields = sorted(run["incomplete_fields"].items())
        notes.append(Note("incomplete_fields",
                          ", ".join(f"{name} {int(n)}" for name, n in fields)))
    return CountCell(key=key, value=int(run.get(key) or 0), text=fmt_int(run.get(key)),
                     notes=notes)


def local_left_cell(run: dict[str, Any]) -> CountCell:
    """Local copies retention moved out of ``processed/`` (archived + deleted), each part
    named under the total, and the due files it kept because they are not verified."""
    labels = {"local_archived": "archived", "local_deleted": "deleted",
              "local_held": "kept, not verified"}
    parts = {field: int(run.get(field) or 0) for field in labels}
    left = parts["local_archived"] + parts["local_deleted"]
    return CountCell(key="local_left", value=left, text=fmt_int(left),
                     notes=[Note(field, f"{labels[field]} {fmt_int(n)}", n)
                            for field, n in parts.items() if n])


@dataclass(frozen=True)
class CompanySection:
    empresa: str
    display_name: str
    dag_id: str
    cards: list[Card]
    by_status: list[AmountRow]
    status_total: AmountRow
    by_source: list[AmountRow]
    source_total: AmountRow
    days: int
    chart: Chart
    runs: list[RunRow]


def company_section(company: dict[str, Any], *, days: int, today: date) -> CompanySection:
    by_status = company["by_status"]
    totals = company["totals"]
    cards = [Card("total-files", "files in registry", fmt_int(totals["count"])),
             Card("total-size", "size in registry", human_bytes(totals["size_bytes"]))]
    for status in ("uploaded", "pending", "error"):
        entry = by_status.get(status, {"count": 0})
        cards.append(Card(f"card-{status}", f"files {STATUS_LABELS[status]}",
                          fmt_int(entry["count"])))
    return CompanySection(
        empresa=str(company["empresa"]), display_name=str(company["display_name"]),
        dag_id=str(company["dag_id"]), cards=cards,
        by_status=[amount_row(status, STATUS_LABELS.get(status, status), entry)
                   for status, entry in by_status.items()],
        status_total=amount_row("total", "total", totals),
        # Who brought the registry's files: the scraper, the bucket (found there by the
        # hourly check), or a person.
        by_source=[amount_row(source, SOURCE_LABELS.get(source, source), entry)
                   for source, entry in company.get("by_source", {}).items()],
        source_total=amount_row("total", "total", totals, exact=False),
        days=int(days),
        chart=uploads_chart(company["uploads_per_day"], days=days, today=today),
        runs=[run_row(run) for run in company["recent_runs"]],
    )


@dataclass(frozen=True)
class AlertRow:
    id: int
    kind: str
    subject: str
    attempts: int
    last_error: str
    recorded: str
    age: str
    next_attempt: TimeCell


@dataclass(frozen=True)
class AlertsSection:
    """``hidden``: the user may not read every company; otherwise ``total`` owed, the
    oldest of them in ``rows`` and ``more`` not listed."""

    hidden: bool
    total: int = 0
    rows: tuple[AlertRow, ...] = ()
    more: int = 0


def alerts_section(owed: dict[str, Any] | None, generated_at: str | None) -> AlertsSection:
    """The alert e-mails the mail server refused or could not take, still owed in the
    outbox (``deliver_alerts`` of ``ov_s3_reconcile`` tries them every hour)."""
    if owed is None:
        return AlertsSection(hidden=True)
    rows = tuple(
        AlertRow(id=int(alert["id"]), kind=str(alert["kind"]), subject=str(alert["subject"]),
                 attempts=int(alert["attempts"]), last_error=str(alert["last_error"] or "-"),
                 recorded=fmt_time(alert["created_at"]),
                 age=fmt_age(alert["created_at"], generated_at),
                 next_attempt=time_cell(alert["next_attempt_at"]))
        for alert in owed["alerts"])
    total = int(owed["total"])
    return AlertsSection(hidden=False, total=total, rows=rows, more=total - len(rows))


@dataclass(frozen=True)
class CostCell:
    key: str
    value: str  # the raw number
    text: str


@dataclass(frozen=True)
class CostRow:
    key: str
    label: str
    cells: list[CostCell | None]  # None: not estimated


@dataclass(frozen=True)
class CostSection:
    labels: list[str]
    rows: list[CostRow]
    prices_error: str | None
    guide_total: str
    guide_source: str
    guide_quote: str
    storage_price: str
    put_price: str
    get_price: str


def cost_cells(values: dict[str, float | None]) -> list[CostCell | None]:
    cells: list[CostCell | None] = []
    for key, _, kind in COST_COLUMNS:
        value = values.get(key)
        if value is None:
            cells.append(None)
            continue
        text = (fmt_usd(value) if kind == "usd" else human_bytes(int(value)) if kind == "bytes"
                else fmt_int(value))
        raw = f"{float(value):.6f}" if kind == "usd" else str(int(value))
        cells.append(CostCell(key=key, value=raw, text=text))
    return cells


def cost_section(companies: list[dict[str, Any]], summary: dict[str, Any]) -> CostSection:
    """Estimated monthly S3 cost per company, next to the guide's own estimate."""
    prices = summary["prices"]
    guide = summary["guide"]
    rows = [CostRow(str(c["empresa"]), str(c["display_name"]), cost_cells(c["cost"]))
            for c in companies]
    if len(companies) > 1:
        rows.append(CostRow("total", "all companies", cost_cells(summary["total"])))
    rows.append(CostRow("guide-at-prices", "guide's month (1,000 PQRs/day) at these prices",
                        cost_cells({**guide["at_prices"], "lists": None, "gets": None})))
    return CostSection(
        labels=[label for _, label, _ in COST_COLUMNS], rows=rows,
        prices_error=summary.get("prices_error") or None,
        guide_total=f"{float(guide['total_usd']):.2f}", guide_source=str(guide["source"]),
        guide_quote=str(guide["quote"]),
        storage_price=fmt_price(prices["storage_gb_month"]),
        put_price=fmt_price(prices["put_per_1000"]),
        get_price=fmt_price(prices["get_per_1000"]),
    )


@dataclass(frozen=True)
class StatsPage:
    notice: Notice | None
    alerts: AlertsSection | None
    costs: CostSection | None
    companies: list[CompanySection]
