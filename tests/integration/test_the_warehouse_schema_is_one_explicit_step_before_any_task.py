"""``python -m extractorov.migrate``: the warehouse schema as one explicit step, run by the
compose file's ``airflow-init``, ``make demo`` / ``make airflow`` and the system stack
(``devtools.services.init_airflow``) before any task starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from extractorov import migrate
from extractorov import warehouse as schema

pytestmark = pytest.mark.integration


def test_a_fresh_warehouse_gets_every_migration_and_a_second_run_applies_none(
        db, capsys) -> None:
    assert migrate.main([]) == 0
    first = capsys.readouterr().out
    assert first.startswith("warehouse schema (ov_postgres): applied ")
    for name in (*schema.BASE_MIGRATIONS, "company_table.sql:ov_afinia",
                 "company_table.sql:ov_aire"):
        assert name in first
    # What tasks still do when they start is then a no-op (one query).
    assert schema.ensure_schema(db) == []
    assert migrate.main([]) == 0
    assert capsys.readouterr().out == "warehouse schema (ov_postgres): up to date\n"


def test_it_runs_as_a_module_and_refuses_options(warehouse) -> None:
    assert migrate.main(["--check"]) == 2
    done = subprocess.run([sys.executable, "-m", "extractorov.migrate"], capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "warehouse schema (ov_postgres): applied" in done.stdout
