"""Data checks after ``load_db``: the table and the registry must say what the load said.

Each check is one SQL count over *this run's* records (their ``numero_radicado`` from the
run's manifest, one index probe each), named, with counts (never values) in its result: a
failed check fails the run with a message an operator can act on and that carries no
personal data. A run that loaded nothing passes. What the table's own constraints
enforce (``numero_radicado`` NOT NULL, UNIQUE, never blank: ``company_003``) is not
checked again: a count of it could never fail, and scanned the whole table every run.

Why not ``common.sql``'s ``SQLTableCheckOperator`` / ``SQLColumnCheckOperator`` (provider
2.4, evaluated): (1) a run's partition would be a ``partition_clause`` naming its
records, either their radicados (thousands of request numbers in the query the operator
prints in its failure text) or a loaded-run column the load writes; (2) on an empty
partition (a morning with no new request) each check's ``MIN`` is NULL and the operator
raises ``ValueError: 'none' is not a boolean-like string value`` instead of passing;
(3) two checks compare the table with the load's own report and the loaded-JSON marks,
which the operators cannot express, so a custom task stays anyway, and the table's Asset
event must follow *all* checks. One task with named checks, counted the same way every
run, is the smaller design.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from psycopg import Connection, sql

from extractorov import registry
from extractorov.companies import Company
from extractorov.settings import SCHEMA

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

    def as_xcom(self) -> dict[str, Any]:
        return {"checks": [asdict(r) for r in self.results], "fecha_missing": self.fecha_missing,
                "failed": [r.name for r in self.failed]}


def _count(conn: Connection, query: sql.Composed | sql.SQL,
           params: Sequence[object] = ()) -> int:
    with conn.cursor() as cur:
        cur.execute(query, params)
        row = cur.fetchone()
    return int(row[0] or 0) if row else 0


def run_checks(conn: Connection, company: Company, *, bucket: str, records_loaded: int,
               radicados: Sequence[str], json_files: Sequence[str]) -> ChecksReport:
    """Run every check for ``company``; ``records_loaded`` is what ``load_db`` reported,
    ``radicados`` and ``json_files`` come from the run's manifest."""
    table = sql.Identifier(SCHEMA, company.table)
    results: list[CheckResult] = []

    def check(name: str, what: str, found: int) -> None:
        results.append(CheckResult(name, found == 0, found, what))

    # This run's records only: an older bad row was reported by the run that loaded it,
    # and must not fail every later run (clearing would not help).
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
