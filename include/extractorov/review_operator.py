"""The Human-in-the-loop task of ``ov_review_findings``: one reconcile finding per task.

Airflow's ``HITLOperator`` (standard provider) shows the question in *Required
actions* and waits in state ``awaiting_input`` (no worker slot held). This subclass
applies the answer as soon as it is given (:func:`extractorov.tasks.apply_review`),
so each answer takes effect without waiting for the other questions of the run.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator

from extractorov import tasks


class FindingReviewOperator(HITLOperator):
    """Ask about one finding (``finding``: its id, company, kind, subject, cause)."""

    def __init__(self, *, finding: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.finding = finding

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        payload = super().execute_complete(context=context, event=event)  # validates it
        return tasks.apply_review(self.finding, dict(payload), context)
