"""Per-run and registry-wide statistics: what operators read.

``record_run`` writes one row per DAG run and company to
``data_general.post_processing_runs`` (an upsert: rerunning the stats task
rewrites the same row). ``get_s3_registry_stats`` is the counterpart of the
old system's function of the same name and keeps its shape (``totals``,
``by_company_status``). The stats page plugin reads through these same
functions, so it shows the numbers the task logs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from extractorov import registry, runsteps
from extractorov.settings import SCHEMA

RUNS_TABLE = f"{SCHEMA}.post_processing_runs"
FAILED_STATES = {"failed", "upstream_failed"}


COUNT_FIELDS = frozenset({
    "files_found", "files_new", "files_quarantined", "files_in_progress", "files_registered",
    "files_waiting", "files_readmitted", "files_quarantine_failed", "files_reason_lost",
    "records_incomplete",
    "records_found", "records_superseded", "db_inserted", "db_updated", "db_duplicates",
    "db_stale",
    "db_errors", "s3_uploaded", "s3_pre_existing", "s3_errors", "s3_bytes", "s3_moved",
    "local_archived", "local_deleted", "local_held", "manifests_removed", "reasons_removed",
})
"""Counts a step summary may set on the run report (nothing else is copied)."""


@dataclass
class RunReport:
    """One run of one company: every step's counts, durations and the outcome."""

    run_id: str
    empresa: str
    dag_id: str
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    database_only: bool
    status: str = "success"
    files_found: int = 0
    files_new: int = 0
    files_quarantined: int = 0
    files_in_progress: int = 0
    files_registered: int = 0
    files_waiting: int = 0
    """Documents left in processed/ until their request JSON arrives."""
    files_readmitted: int = 0
    files_quarantine_failed: int = 0
    """Files that could not be moved to quarantine/ (a full disk): left in processed/."""
    files_reason_lost: int = 0
    """Files in quarantine/ whose reason file is missing, empty or unreadable."""
    records_found: int = 0
    records_superseded: int = 0
    records_incomplete: int = 0
    incomplete_fields: dict[str, int] = field(default_factory=dict)
    """Field name → records loaded with it blank (names only, never values)."""
    db_inserted: int = 0
    db_updated: int = 0
    db_duplicates: int = 0
    db_stale: int = 0
    """Older extractions with other content: not applied (the newest extraction wins)."""
    db_errors: int = 0
    s3_skipped: bool = False
    s3_uploaded: int = 0
    s3_pre_existing: int = 0
    s3_errors: int = 0
    s3_bytes: int = 0
    s3_moved: int = 0
    """Objects that followed their request from ``sin_sgc/`` to its real SGC's folder."""
    extract_seconds: float | None = None
    load_seconds: float | None = None
    upload_seconds: float | None = None
    task_states: dict[str, str] = field(default_factory=dict)
    local_archived: int = 0
    """Delivered files whose local copy moved from processed/ to archive/ (retention)."""
    local_deleted: int = 0
    """Local copies deleted (from processed/, or archived copies past their period)."""
    local_held: int = 0
    """Files due for removal kept because they are not verified in the bucket."""
    manifests_removed: int = 0
    reasons_removed: int = 0
    """Reason files left without their file, removed from quarantine/."""
    retention_seconds: float | None = None

    def as_xcom(self) -> dict[str, Any]:
        """JSON-ready copy (datetimes as ISO strings) for XCom."""
        data = asdict(self)
        for key in ("logical_date", "data_interval_start", "data_interval_end"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def build_run_report(
    *,
    run_id: str,
    empresa: str,
    dag_id: str,
    logical_date: datetime | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    database_only: bool,
    extract: dict[str, Any] | None,
    load: dict[str, Any] | None,
    upload: dict[str, Any] | None,
    task_states: dict[str, str],
    retention: dict[str, Any] | None = None,
) -> RunReport:
    """Combine the steps' XCom summaries and task states into one report."""
    report = RunReport(run_id, empresa, dag_id, logical_date, data_interval_start,
                       data_interval_end, database_only, task_states=dict(task_states))
    for summary in (extract, load, upload, retention):
        for key, value in (summary or {}).items():
            if key in COUNT_FIELDS and isinstance(value, int) and not isinstance(value, bool):
                setattr(report, key, value)
    fields = (extract or {}).get("incomplete_fields") or {}
    report.incomplete_fields = {str(k): int(v) for k, v in fields.items()
                                if isinstance(v, int) and not isinstance(v, bool)}
    report.extract_seconds = (extract or {}).get("seconds")
    report.load_seconds = (load or {}).get("seconds")
    report.upload_seconds = (upload or {}).get("seconds")
    report.retention_seconds = (retention or {}).get("seconds")
    report.s3_skipped = database_only or task_states.get("upload_s3") == "skipped"
    if load is None and task_states.get("load_db") in FAILED_STATES:
        report.db_errors = max(report.records_found - report.records_superseded, 0)
    failed = sorted(t for t, s in task_states.items() if s in FAILED_STATES)
    report.status = "failed" if failed else "success"
    return report


def report_run(conn: Connection, *, run_id: str, empresa: str, dag_id: str,
               logical_date: datetime | None, data_interval_start: datetime | None,
               data_interval_end: datetime | None, database_only: bool,
               summaries: dict[str, dict[str, Any] | None],
               task_states: dict[str, str],
               quarantined: int | None = None) -> RunReport:
    """Build and record the run's report from the run's own records: every try of
    ``extract`` and ``load_db`` as recorded with its commit (``data_general.run_steps``),
    the uploads from the registry (``last_run_id``); ``summaries`` (the steps' XComs) only
    where a step recorded nothing (it failed before its commit). ``quarantined``: the
    files in ``quarantine/`` whose reason names this run (a try that moved files there
    and died before its commit recorded nothing, but their reasons say who set them
    aside); it replaces the recorded count."""
    recorded = runsteps.run_totals(conn, run_id, empresa)
    steps = {step: recorded.get(step) or summaries.get(step)
             for step in (runsteps.EXTRACT, runsteps.LOAD_DB)}
    extract = steps[runsteps.EXTRACT]
    if quarantined is not None and (extract is not None or quarantined):
        extract = dict(extract or {})
        counted = int(extract.get("files_quarantined") or 0)
        extract["files_new"] = int(extract.get("files_new") or 0) + quarantined - counted
        extract["files_quarantined"] = quarantined
        steps[runsteps.EXTRACT] = extract
    upload = summaries.get("upload_s3")
    retention = recorded.get(runsteps.RETENTION) or summaries.get(runsteps.RETENTION)
    if not database_only:
        # A retried or partly failed upload still reports every file this run handled.
        upload = {**(upload or {}), **registry.upload_counts_for_run(conn, empresa, run_id)}
    report = build_run_report(
        run_id=run_id, empresa=empresa, dag_id=dag_id, logical_date=logical_date,
        data_interval_start=data_interval_start, data_interval_end=data_interval_end,
        database_only=database_only, extract=steps[runsteps.EXTRACT],
        load=steps[runsteps.LOAD_DB], upload=upload, task_states=task_states,
        retention=retention)
    return record_run(conn, report, tries={step: recorded[step]["tries"] for step in recorded})


def record_run(conn: Connection, report: RunReport, *,
               tries: dict[str, list[str]] | None = None) -> RunReport:
    """Upsert the run's row with the run's counts (``report``: every try of the run added
    up from ``data_general.run_steps``, see :mod:`extractorov.runsteps`); ``tries``: which
    tries of each step those are (kept in ``attempts``). Rerunning ``report_stats`` rewrites
    the same row with the same counts. Returns the report as recorded."""
    data = asdict(report)
    data["task_states"] = Jsonb(data["task_states"])
    data["incomplete_fields"] = Jsonb(data["incomplete_fields"])
    data["attempts"] = Jsonb(tries or {})
    columns = list(data)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in {"run_id", "empresa"})
    with conn.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {RUNS_TABLE} ({", ".join(columns)})
                VALUES ({", ".join(["%s"] * len(columns))})
                ON CONFLICT (run_id, empresa) DO UPDATE SET {updates}, updated_at = now()""",
            [data[c] for c in columns],
        )
    conn.commit()
    return report


def get_s3_registry_stats(conn: Connection, empresa: str | None = None) -> dict[str, Any]:
    """Files and bytes in the registry by company, status and source (one query).

    Shape kept from the old system: ``totals.total_files``,
    ``totals.total_size_bytes``, ``by_company_status[empresa][status].count``;
    plus ``by_company_source`` and ``by_status``.
    """
    rows = registry.totals_by_group(conn, empresa)
    stats: dict[str, Any] = {
        "totals": {"total_files": 0, "total_size_bytes": 0},
        "by_company_status": {},
        "by_company_source": {},
        "by_status": {},
    }
    for company, status, source, count, size in rows:
        stats["totals"]["total_files"] += count
        stats["totals"]["total_size_bytes"] += size
        for bucket, key in ((stats["by_company_status"].setdefault(company, {}), status),
                            (stats["by_company_source"].setdefault(company, {}), source),
                            (stats["by_status"], status)):
            entry = bucket.setdefault(key, {"count": 0, "size_bytes": 0})
            entry["count"] += count
            entry["size_bytes"] += size
    return stats


def recent_runs(conn: Connection, empresa: str, limit: int = 10) -> list[dict[str, Any]]:
    """The company's last runs, newest first by when they ran (a run triggered from the CLI
    has no logical date, and must still show)."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT run_id, dag_id, logical_date, database_only, status, files_found, files_new,
                       files_quarantined, files_quarantine_failed, files_reason_lost,
                       files_waiting, records_incomplete, incomplete_fields,
                       db_inserted, db_updated, db_duplicates, db_stale,
                       s3_skipped, s3_uploaded, s3_pre_existing, s3_errors, s3_bytes, s3_moved,
                       local_archived, local_deleted, local_held, manifests_removed,
                       reasons_removed, created_at, updated_at
                FROM {RUNS_TABLE} WHERE empresa = %s
                ORDER BY created_at DESC, run_id DESC LIMIT %s""",
            (empresa, limit),
        )
        names = [d.name for d in cur.description or ()]  # a SELECT always describes its columns
        return [dict(zip(names, row, strict=True)) for row in cur]


def uploads_per_day(conn: Connection, empresa: str, days: int = 30) -> list[tuple[str, int, int]]:
    """(day, files, bytes) uploaded per Bogotá calendar day over the last ``days`` days."""
    return registry.uploads_per_day(conn, empresa, days)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    out = [line]
    for i, row in enumerate(cells):
        # Numbers read best right-aligned; the first column and the header left-aligned.
        padded = [c.ljust(w) if i == 0 or j == 0 or not c[:1].isdigit() else c.rjust(w)
                  for j, (c, w) in enumerate(zip(row, widths, strict=True))]
        out.append("| " + " | ".join(padded) + " |")
        if i == 0:
            out.append(line)
    out.append(line)
    return "\n".join(out)


def format_run_report(report: RunReport) -> str:
    """A readable table of one run for the task log."""
    skipped = "skipped (database_only)" if report.s3_skipped else ""
    rows = [
        ["extract", f"found {report.files_found}, new {report.files_new}, "
                    f"quarantined {report.files_quarantined}"
                    + _quarantine_states(report) + ", "
                    f"in progress {report.files_in_progress}, "
                    f"waiting for their JSON {report.files_waiting}, "
                    f"registered {report.files_registered}"
                    + (f", re-admitted {report.files_readmitted}" if report.files_readmitted
                       else ""), _secs(report.extract_seconds)],
        ["load_db", f"records {report.records_found} (superseded {report.records_superseded}, "
                    f"incomplete {report.records_incomplete}{_fields(report.incomplete_fields)}), "
                    f"inserted {report.db_inserted}, updated {report.db_updated}, "
                    f"duplicates {report.db_duplicates}, stale {report.db_stale}, "
                    f"errors {report.db_errors}",
         _secs(report.load_seconds)],
        ["upload_s3", skipped or f"uploaded {report.s3_uploaded}, pre_existing "
                                 f"{report.s3_pre_existing}, errors {report.s3_errors}, "
                                 f"{human_bytes(report.s3_bytes)}"
                                 + (f", moved to their SGC's folder {report.s3_moved}"
                                    if report.s3_moved else ""),
         _secs(report.upload_seconds)],
        ["retention", f"local copies archived {report.local_archived}, deleted "
                      f"{report.local_deleted}, kept (not verified) {report.local_held}; "
                      f"manifests removed {report.manifests_removed}, reason files without "
                      f"their file removed {report.reasons_removed}",
         _secs(report.retention_seconds)],
    ]
    title = (f"{report.dag_id} run {report.run_id}: {report.status.upper()}"
             f" (database_only={str(report.database_only).lower()})")
    return title + "\n" + _table(["step", "counts", "time"], rows)


def format_registry_stats(stats: dict[str, Any]) -> str:
    """Registry-wide files and bytes by company, status and source."""
    rows = []
    for company, by_status in sorted(stats["by_company_status"].items()):
        for status, entry in sorted(by_status.items()):
            rows.append([company, f"status={status}", entry["count"],
                         human_bytes(entry["size_bytes"])])
        for source, entry in sorted(stats["by_company_source"].get(company, {}).items()):
            rows.append([company, f"source={source}", entry["count"],
                         human_bytes(entry["size_bytes"])])
    totals = stats["totals"]
    rows.append(["ALL", "total", totals["total_files"], human_bytes(totals["total_size_bytes"])])
    return "s3_files_registry\n" + _table(["empresa", "group", "files", "size"], rows)


def _quarantine_states(report: RunReport) -> str:
    """What went wrong around quarantine/, only when something did."""
    return "".join(f", {what} {n}" for what, n in (
        ("could not be quarantined (disk full?)", report.files_quarantine_failed),
        ("in quarantine/ with reason lost", report.files_reason_lost)) if n)


def _fields(counts: dict[str, int]) -> str:
    return (": " + ", ".join(f"{n} × {f} blank" for f, n in sorted(counts.items()))
            if counts else "")


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def human_bytes(size: int) -> str:
    """``1536`` → ``1.50 KiB``: binary units, in the task logs and on the stats page alike."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{int(value)} B" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    return f"{value:.2f} TiB"
