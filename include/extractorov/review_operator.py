"""The Human-in-the-loop task of ``ov_review_findings``: one reconcile finding per task.

Airflow's ``HITLOperator`` (standard provider) shows the question in *Required
actions* and waits in state ``awaiting_input`` (no worker slot held). This subclass
applies the answer as soon as it is given (:func:`apply_review`: :mod:`extractorov.review`
with the resources of :mod:`extractorov.runtime`), so each
answer takes effect without waiting for the other questions of the run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator

from extractorov.runtime import s3_client, settings_from_variables, warehouse_connection
from extractorov.taskfail import airflow_errors

log = logging.getLogger(__name__)


class FindingReviewOperator(HITLOperator):
    """Ask about one finding (``finding``: its id, company, kind, subject, cause)."""

    def __init__(self, *, finding: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.finding = finding

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        payload = super().execute_complete(context=context, event=event)  # validates it
        return apply_review(self.finding, dict(payload), context)


def apply_review(finding: dict[str, Any], payload: dict[str, Any],
                 context: dict[str, Any]) -> dict[str, Any]:
    """After a review task got its answer (or timed out): apply and record it, or, while
    its company is being written, record it as chosen and not applied (the company's next
    ``reconcile_{empresa}`` applies it): the task never waits for the company."""
    # Here, not at the top: review imports botocore and psycopg, which a DAG file's
    # parsing never pays for (the DAG file imports this module).
    from extractorov import review

    finding_id = int(finding["id"])
    user = payload.get("responded_by_user")
    if user is None:  # the response timeout chose the default: nobody answered
        with airflow_errors(), warehouse_connection() as conn:
            review.withdraw(conn, finding_id)
        log.info("finding %d: no answer within %s; withdrawn (asked again after a later "
                 "check)", finding_id, review.RESPONSE_TIMEOUT)
        return {"finding": finding_id, "answer": None, "outcome": "no answer in time"}
    [choice] = payload["chosen_options"]
    answered_at = payload.get("responded_at") or datetime.now(UTC)
    with airflow_errors():
        settings = settings_from_variables()
        client = s3_client(settings.aws_conn_id, workers=1)
        with warehouse_connection() as conn:
            outcome = review.apply_answer(
                conn, client, settings, finding_id, choice,
                answered_by=user.get("name") or user.get("id"), answered_at=answered_at,
                run_id=context["run_id"], shown=finding.get("shown"))
    return {"finding": finding_id, "answer": choice, **outcome.as_dict()}
