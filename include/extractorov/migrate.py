"""The warehouse schema as one explicit step: ``python -m extractorov.migrate``.

Applies on connection ``ov_postgres`` every migration of ``sql/`` not applied yet
(:func:`extractorov.warehouse.ensure_schema`: the numbered base migrations, then each
registered company's table and its migrations) and prints what it applied. The compose
file's ``airflow-init`` runs it after ``airflow db migrate``, as do ``make demo``,
``make airflow`` and the system tests' stack (``devtools.services.init_airflow``): a
deployment has its schema before any task starts, and a migration that fails stops the
deployment's start instead of a morning's run.

Tasks still apply what is missing when they start (after this step that is one query
under the schema lock): installing into another Airflow needs no extra command, a company
added to the registry gets its table on its first run, and the steps stay plain Python
that tests and benchmarks call on a fresh database (README, *Architecture*).
"""

from __future__ import annotations

import sys

from extractorov.settings import POSTGRES_CONN_ID


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: python -m extractorov.migrate [CONN_ID]   (default: ov_postgres)",
              file=sys.stderr)
        return 2
    from extractorov import runtime, warehouse

    conn_id = args[0] if args else POSTGRES_CONN_ID
    with runtime.warehouse_connection(conn_id) as conn:
        applied = warehouse.ensure_schema(conn)
    if applied:
        print(f"warehouse schema ({conn_id}): applied {len(applied)} migration(s): "
              + ", ".join(applied))
    else:
        print(f"warehouse schema ({conn_id}): up to date")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
