"""The data each company DAG produces, as Airflow Assets a downstream DAG can wait for.

* ``ov_{empresa}_table``: the company's request table, loaded by ``load_db``; the event
  is emitted by ``check_data`` once the rows passed the checks;
* ``ov_{empresa}_s3``: the company's prefix in the bucket, updated by ``upload_s3``;
* ``ov_findings`` (:data:`FINDINGS`): reconcile findings that wait for an answer.

Bucket and base path are Variables, read only when a task runs, so the URIs name the
connection and the company (``x-`` schemes: Airflow does not resolve them); each event's
``extra`` carries the run's counts and the real location. Events are emitted only when
the step ran: a ``database_only`` run emits no S3 event.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset

from extractorov.companies import Company
from extractorov.settings import AWS_CONN_ID, POSTGRES_CONN_ID, SCHEMA

GROUP = "oficina-virtual"

FINDINGS = Asset("ov_findings")
"""Asset ``ov_s3_reconcile``'s ``announce_findings`` updates when findings wait for an
answer; DAG ``ov_review_findings`` is scheduled on it. The one definition: the DAGs and
the task body import it."""


def table_asset(company: Company) -> Asset:
    return Asset(name=f"{company.dag_id}_table", group=GROUP,
                 uri=f"x-ov-warehouse://{POSTGRES_CONN_ID}/{SCHEMA}/{company.table}")


def s3_asset(company: Company) -> Asset:
    return Asset(name=f"{company.dag_id}_s3", group=GROUP,
                 uri=f"x-ov-s3://{AWS_CONN_ID}/{company.empresa}/raw_data")


LOAD_EVENT_FIELDS = ("records", "db_inserted", "db_updated", "db_duplicates", "db_stale")
UPLOAD_EVENT_FIELDS = ("files", "s3_uploaded", "s3_pre_existing", "s3_errors", "s3_bytes",
                       "s3_moved")


def event_extra(summary: dict[str, Any], fields: tuple[str, ...], **where: Any) -> dict[str, Any]:
    """Counts only (never record content) plus where the data is."""
    return {**{name: summary.get(name, 0) for name in fields}, **where}
