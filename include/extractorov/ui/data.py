"""What the stats page shows, read from the warehouse (no Airflow web imports here).

``load_snapshot`` opens the ``ov_postgres`` connection through
``extractorov.runtime.warehouse_connection`` (``PostgresHook``), makes the
session read-only with a statement timeout, and calls the same
``extractorov.stats`` functions the ``report_stats`` task uses. Every failure
an operator can meet before or during setup is turned into a
:class:`StatsUnavailable` with a readable message, never a traceback.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

KNOWN_STATUSES = ("uploaded", "pre_existing", "pending", "error")
"""Upload statuses of ``data_general.s3_files_registry``, in display order."""
KNOWN_SOURCES = ("bot", "pre_existing", "manual")
"""Upload sources of ``data_general.s3_files_registry`` (who brought the file), in display
order."""

RUNS_LIMIT = 10
DAYS = 30
STATEMENT_TIMEOUT_MS = 15_000


class StatsUnavailable(Exception):
    """The numbers cannot be read; ``kind`` tells why, ``message`` tells the operator."""

    def __init__(self, kind: str, message: str, *, http_status: int = 503) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.http_status = http_status


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def company_snapshot(conn: Any, company: Any, registry: dict[str, Any], *,
                     runs_limit: int = RUNS_LIMIT, days: int = DAYS,
                     prices: Any = None) -> dict[str, Any]:
    """One company's numbers: registry files/bytes by status, last runs, uploads per day,
    and the estimated monthly S3 cost (:mod:`extractorov.costs`)."""
    from extractorov import costs, stats
    from extractorov import registry as registry_sql

    by_status = _groups(registry["by_company_status"].get(company.empresa, {}),
                        KNOWN_STATUSES)
    by_source = _groups(registry["by_company_source"].get(company.empresa, {}),
                        KNOWN_SOURCES)
    runs = [{key: _json_value(value) for key, value in run.items()}
            for run in stats.recent_runs(conn, company.empresa, limit=runs_limit)]
    uploads = stats.uploads_per_day(conn, company.empresa, days=days)
    per_day = [{"day": day, "files": files, "bytes": size} for day, files, size in uploads]
    in_s3 = [by_status[s] for s in ("uploaded", "pre_existing")]
    per_month = costs.DAYS / days
    used = costs.usage(
        stored_bytes=sum(s["size_bytes"] for s in in_s3),
        stored_objects=sum(s["count"] for s in in_s3),
        uploaded_last_30_days=round(sum(files for _, files, _ in uploads) * per_month),
        found_taken_last_30_days=round(
            registry_sql.pre_existing_since(conn, company.empresa, days) * per_month))
    return {
        "empresa": company.empresa,
        "display_name": company.display_name,
        "dag_id": company.dag_id,
        "by_status": by_status,
        "by_source": by_source,
        "totals": {"count": sum(s["count"] for s in by_status.values()),
                   "size_bytes": sum(s["size_bytes"] for s in by_status.values())},
        "recent_runs": runs,
        "uploads_per_day": per_day,
        "cost": costs.estimate(used, prices or costs.Prices()).as_dict(),
    }


def _groups(raw: dict[str, Any], known: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Files and bytes per status (or source): the known ones always, in order, then any
    other value the registry holds."""
    return {key: {"count": int(raw.get(key, {}).get("count", 0)),
                  "size_bytes": int(raw.get(key, {}).get("size_bytes", 0))}
            for key in [*known, *sorted(set(raw) - set(known))]}


def alerts_not_delivered(conn: Any) -> dict[str, Any]:
    """The alert e-mails still owed in the outbox (oldest first, at most
    ``outbox.OWED_SHOWN``) and how many in all."""
    from extractorov import outbox

    rows, total = outbox.owed(conn)
    return {"total": total, "alerts": [row.as_dict() for row in rows]}


def _every_company(companies: list[Any]) -> bool:
    from extractorov.companies import COMPANIES

    return {c.empresa for c in companies} >= set(COMPANIES)


def snapshot(conn: Any, companies: Iterable[Any], *, runs_limit: int = RUNS_LIMIT,
             days: int = DAYS, prices: Any = None,
             prices_error: str | None = None) -> dict[str, Any]:
    """The whole page's numbers from an open warehouse connection (JSON-ready)."""
    from extractorov import costs, stats

    companies = list(companies)
    prices = prices or costs.Prices()
    registry = stats.get_s3_registry_stats(conn)
    sections = [company_snapshot(conn, c, registry, runs_limit=runs_limit, days=days,
                                 prices=prices) for c in companies]
    result = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "days": days,
        "runs_limit": runs_limit,
        "companies": sections,
        "costs": cost_summary(sections, prices, prices_error),
        # Alerts name DAGs and runs of every company: only for who may read them all.
        "alerts_not_delivered": (alerts_not_delivered(conn) if _every_company(companies)
                                 else None),
    }
    conn.rollback()  # end the read-only transaction
    return result


def cost_summary(sections: list[dict[str, Any]], prices: Any,
                 prices_error: str | None = None) -> dict[str, Any]:
    """All companies' monthly estimate, the prices used and the guide's own estimate."""
    from extractorov import costs

    total = {key: sum(section["cost"][key] for section in sections)
             for key in (sections[0]["cost"] if sections else {})}
    return {
        "prices": prices.as_dict(),
        "prices_error": prices_error,
        "total": total,
        "guide": {"source": costs.GUIDE_SOURCE, "quote": costs.GUIDE_QUOTE,
                  "total_usd": costs.GUIDE_TOTAL_USD,
                  "at_prices": costs.guide_scenario(prices).as_dict()},
    }


def read_prices() -> tuple[Any, str | None]:
    """Prices from Variable ``ov_s3_prices`` (defaults when unset); a wrong value gives the
    defaults and a message for the page, never an error page."""
    from extractorov.costs import Prices

    try:
        from airflow.sdk import Variable

        text = Variable.get("ov_s3_prices", default="")
    except Exception as exc:
        log.warning("ov_stats: Variable ov_s3_prices could not be read: %s", type(exc).__name__)
        return Prices(), (f"Variable ov_s3_prices could not be read ({type(exc).__name__}); "
                          "default prices shown")
    try:
        return Prices.from_json(str(text or "")), None
    except ValueError as exc:
        return Prices(), f"{exc}; default prices shown"


def load_snapshot(companies: Iterable[Any], *, runs_limit: int = RUNS_LIMIT,
                  days: int = DAYS) -> dict[str, Any]:
    """Open ``ov_postgres``, read the snapshot, close; failures become StatsUnavailable."""
    import psycopg
    from psycopg import errors as pg_errors

    from extractorov import runtime
    from extractorov.settings import POSTGRES_CONN_ID

    conn_id = POSTGRES_CONN_ID
    prices, prices_error = read_prices()
    try:
        with runtime.warehouse_connection(conn_id) as conn:
            _read_only(conn)
            return snapshot(conn, companies, runs_limit=runs_limit, days=days, prices=prices,
                            prices_error=prices_error)
    except (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName) as exc:
        raise StatsUnavailable(
            "no_schema",
            "No statistics yet: the warehouse has no Oficina Virtual tables "
            f"({_first_line(exc)}). `python -m extractorov.migrate` (compose's airflow-init "
            "runs it) or the first run of an ov_* DAG creates them.",
            http_status=200,
        ) from None
    except pg_errors.QueryCanceled:
        raise StatsUnavailable(
            "timeout",
            f"The warehouse (connection '{conn_id}') did not answer the statistics queries "
            f"within {STATEMENT_TIMEOUT_MS // 1000} s. Try again later.",
        ) from None
    except psycopg.OperationalError as exc:
        raise StatsUnavailable(
            "unreachable",
            f"The warehouse (connection '{conn_id}') is unreachable: {_first_line(exc)}",
        ) from None
    except psycopg.Error as exc:
        log.exception("ov_stats: warehouse query failed")
        raise StatsUnavailable(
            "query_failed",
            f"Reading the statistics from the warehouse failed: {_first_line(exc)}",
        ) from None
    except Exception as exc:
        if type(exc).__name__ == "AirflowNotFoundException":
            raise StatsUnavailable(
                "no_connection",
                f"The Airflow connection '{conn_id}' is not defined. Define it (Admin → "
                f"Connections, or AIRFLOW_CONN_{conn_id.upper()}) to see the statistics.",
            ) from None
        log.exception("ov_stats: could not read the statistics")
        raise StatsUnavailable(
            "error", f"Could not read the statistics ({type(exc).__name__}); see the "
                     "api-server log for details.",
        ) from None


def _read_only(conn: Any) -> None:
    """Read-only session with a statement timeout (psycopg 3; best effort otherwise)."""
    with contextlib.suppress(Exception):  # older drivers: the queries are SELECTs anyway
        conn.read_only = True
    with conn.cursor() as cur:
        cur.execute(f"SET statement_timeout = {int(STATEMENT_TIMEOUT_MS)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def day_axis(per_day: list[dict[str, Any]], days: int, today: date) -> list[dict[str, Any]]:
    """Every day of the window, oldest first, with zeros where nothing was uploaded."""
    known = {row["day"]: row for row in per_day}
    axis = []
    for offset in range(days - 1, -1, -1):
        day = (today - timedelta(days=offset)).isoformat()
        row = known.get(day, {"day": day, "files": 0, "bytes": 0})
        axis.append({"day": day, "files": int(row["files"]), "bytes": int(row["bytes"])})
    # Days outside the window (clock skew between the api-server and the warehouse).
    extra = [row for day, row in sorted(known.items()) if day > today.isoformat()]
    return axis + extra
