"""Data checks after ``load_db``: the table and the registry must say what the load said.

Each check is one SQL count, named, with counts (never values) in its result: a failed
check fails the run with a message an operator can act on and that carries no
personal data. Empty tables pass (a company with no requests yet is not an error).

Why not the ``common.sql`` check operators: they compare aggregates of whole tables,
while two of these checks are about *this run's* records (from its manifest), and their
failure messages print the query and raw results; one task with named checks, counted
the same way every run, reads better in the log and in the run report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from psycopg import Connection, sql

from extractorov import registry, warehouse
from extractorov.companies import Company

FUTURE_TOLERANCE = "1 day"
"""``fecha`` is the portal's filing time in Bogotá; a day of slack absorbs clock and zone
mistakes of the bot host without letting a swapped day/month (months ahead) pass."""
EARLIEST_FECHA = "2000-01-01"


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    found: int
    """How many rows (or files) break the rule; 0 when ``ok``."""
    what: str
    """The rule, in words, for the log and the failure message."""


@dataclass(frozen=True)
class ChecksReport:
    results: list[CheckResult]
    fecha_missing: int
    """This run's rows with a NULL ``fecha`` (the bot left it blank): allowed, counted."""

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ok]

    def as_xcom(self) -> dict:
        return {"checks": [asdict(r) for r in self.results], "fecha_missing": self.fecha_missing,
                "failed": [r.name for r in self.failed]}


def _count(conn: Connection, query: sql.Composable, params: Sequence[object] = ()) -> int:
    with conn.cursor() as cur:
        cur.execute(query, params)
        row = cur.fetchone()
    return int(row[0] or 0) if row else 0


def run_checks(conn: Connection, company: Company, *, bucket: str, records_loaded: int,
               radicados: Sequence[str], json_files: Sequence[str]) -> ChecksReport:
    """Run every check for ``company``; ``records_loaded`` is what ``load_db`` reported,
    ``radicados`` and ``json_files`` come from the run's manifest."""
    table = sql.Identifier(warehouse.SCHEMA, company.table)
    results: list[CheckResult] = []

    def check(name: str, what: str, found: int) -> None:
        results.append(CheckResult(name, found == 0, found, what))

    check("numero_radicado_not_null", "every row has a numero_radicado",
          _count(conn, sql.SQL("SELECT count(*) FROM {t} WHERE numero_radicado IS NULL "
                               "OR btrim(numero_radicado) = ''").format(t=table)))
    check("numero_radicado_unique", "no numero_radicado appears twice",
          _count(conn, sql.SQL("SELECT count(*) - count(DISTINCT numero_radicado) FROM {t}")
                 .format(t=table)))
    # The fecha rules look at this run's records only: an older bad row was reported by
    # the run that loaded it, and must not fail every later run (clearing would not help).
    of_run = list(radicados)
    check("fecha_not_in_future", f"no fecha of this run later than now + {FUTURE_TOLERANCE}",
          _count(conn, sql.SQL("SELECT count(*) FROM {t} WHERE numero_radicado = ANY(%s) "
                               "AND fecha > now() + %s::interval").format(t=table),
                 (of_run, FUTURE_TOLERANCE)))
    check("fecha_not_before_2000", f"no fecha of this run before {EARLIEST_FECHA}",
          _count(conn, sql.SQL("SELECT count(*) FROM {t} WHERE numero_radicado = ANY(%s) "
                               "AND fecha < %s::timestamptz").format(t=table),
                 (of_run, EARLIEST_FECHA)))
    in_table = _count(conn, sql.SQL("SELECT count(*) FROM {t} WHERE numero_radicado = ANY(%s)")
                      .format(t=table), (list(radicados),))
    check("rows_of_run_match_load", "every record the load reported is a row of the table "
          f"(load reported {records_loaded}, table holds {in_table} of them)",
          abs(records_loaded - in_table) + abs(len(set(radicados)) - records_loaded))
    not_loaded = len(set(json_files)) - registry.count_loaded(conn, company.empresa, bucket,
                                                              json_files)
    check("json_files_marked_loaded", "every loaded request JSON is marked in "
          "data_general.s3_files_loaded", not_loaded)
    missing = _count(conn, sql.SQL("SELECT count(*) FROM {t} WHERE numero_radicado = ANY(%s) "
                                   "AND fecha IS NULL").format(t=table), (of_run,))
    return ChecksReport(results, missing)


def failure_message(company: Company, report: ChecksReport) -> str:
    lines = [f"{r.name}: {r.found} break the rule ({r.what})" for r in report.failed]
    return (f"data checks failed for {company.empresa}: fix the source or the parser, then "
            f"clear this task\n" + "; ".join(lines) + f". The rows stay loaded in "
            f"data_general.{company.table}: find them with the rule above (SQL in "
            "include/extractorov/checks.py).")
