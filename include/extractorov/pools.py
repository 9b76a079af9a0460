"""The Airflow pools the DAGs need: one writer pool of one slot per company.

``python -m extractorov.pools FILE`` writes them in the format of
``airflow pools import FILE``; the compose file's ``airflow-init`` and ``make airflow``
run both commands, so a new company needs no edit there. Installing into another
Airflow: run the same two commands once (a task whose pool does not exist is never
scheduled: the scheduler only logs "Tasks using non-existent pool").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from extractorov.companies import COMPANIES


def pools() -> dict[str, dict[str, Any]]:
    """Pool name → what ``airflow pools import`` reads."""
    return {
        company.writer_pool: {
            "slots": 1,
            "description": (
                f"One writer at a time for {company.display_name}: extract, load_db, "
                f"upload_s3 of {company.dag_id}, reconcile_{company.empresa} of "
                f"ov_s3_reconcile and remove_{company.empresa} of ov_remove_request take "
                "turns (keep 1 slot)"),
            "include_deferred": False,
        }
        for company in COMPANIES.values()
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = json.dumps(pools(), indent=2) + "\n"
    if not args or args == ["-"]:
        sys.stdout.write(text)
    else:
        Path(args[0]).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
