"""The approval of ``ov_remove_request``: a Human-in-the-loop task (Required actions).

Airflow's ``ApprovalOperator`` (standard provider) asks *Approve* / *Reject* and waits in
state ``awaiting_input`` (no worker slot held). This subclass builds its form from what
``find_request`` found (counts, keys, paths: :func:`extractorov.removal.describe`),
records the answer in ``data_general.request_removals`` (who, when, why, what the form
showed) and lets only the removal task of the run's company go on. Rejected, or not
answered within :data:`RESPONSE_TIMEOUT` (the default is *Reject*): nothing is removed.

Constants only besides the operator: the DAG file imports this module while it is parsed
(no boto3, no psycopg here).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

from extractorov import tasks
from extractorov.companies import COMPANIES, Company

FIND_REQUEST = "find_request"
APPROVE = "approve"
RESPONSE_TIMEOUT = timedelta(days=3)
"""How long the approval waits in Required actions; then it is rejected (nothing removed)."""


def remove_task_id(company: Company) -> str:
    """The removal task of a company (in its writer pool)."""
    return f"remove_{company.empresa}"


class RemovalApprovalOperator(ApprovalOperator):
    """Asks a human to approve removing what ``find_request`` found (its XCom)."""

    def execute(self, context: Any) -> Any:
        self.subject, self.body = tasks.removal_form(context, find_task_id=FIND_REQUEST)
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        payload = super().execute_complete(context=context, event=event)  # skips on Reject
        decision = tasks.record_removal_decision(dict(payload), context,
                                                 find_task_id=FIND_REQUEST)
        if decision["decision"] == "approved":  # only the run's company's removal goes on
            mine = remove_task_id(COMPANIES[decision["empresa"]])
            others = [t for t in context["task"].get_direct_relatives(upstream=False)
                      if t.task_id != mine]
            if others:
                self.skip(ti=context["ti"], tasks=others)
        return decision
