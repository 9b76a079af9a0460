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

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator

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
        # HITLOperator's (validates the answer); ApprovalOperator's would skip the downstream
        # tasks on Reject before the decision is recorded (a skip ends the task at once).
        payload = HITLOperator.execute_complete(self, context=context, event=event)
        decision = tasks.record_removal_decision(dict(payload), context,
                                                 find_task_id=FIND_REQUEST)
        context["ti"].xcom_push(key="return_value", value=decision)  # names no user
        mine = remove_task_id(COMPANIES[decision["empresa"]])
        # Rejected: every removal task is skipped; approved: the other companies' ones.
        skipped = [t for t in context["task"].get_direct_relatives(upstream=False)
                   if decision["decision"] != "approved" or t.task_id != mine]
        if skipped:
            self.skip(ti=context["ti"], tasks=skipped)  # ends the task (success)
        return decision
