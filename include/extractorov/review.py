"""Human review of reconcile findings: the questions, their choices, applying an answer.

``ov_s3_reconcile`` writes findings; the ones that need a human are questions
(:mod:`extractorov.findings`). DAG ``ov_review_findings`` asks each open question
in Airflow's *Required actions* (a Human-in-the-loop task per question) with the
choices its kind allows (:func:`options_for`, always including :data:`LEAVE_OPEN`)
and applies the answer here: registry changes through :mod:`extractorov.registry`,
file moves through :mod:`extractorov.landing`, and the answer, who gave it, when and
what applying it did into ``reconcile_findings``.

The forms show kinds, S3 keys, file names, sizes and hashes: never a value from a
request (names, documents, e-mails, phones).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from psycopg import Connection

from extractorov import findings, landing, locks, reconcile, registry, storage
from extractorov.choices import (
    ACCEPT,
    DAG_ID,
    DELETE_ROW,
    EFFECTS,
    KEEP_PRE_EXISTING,
    KEEP_SUPERSEDED,
    LEAVE_OPEN,
    QUARANTINE,
    RESPONSE_TIMEOUT,
    options_for,
)
from extractorov.companies import COMPANIES
from extractorov.settings import Settings

log = logging.getLogger(__name__)

STALE_ASK = RESPONSE_TIMEOUT + timedelta(hours=1)
"""A question marked as asked longer ago than this was left by a review run that ended
without an answer: it can be asked again."""
MAX_QUESTIONS = 200
"""Questions one review run asks (oldest first); a later run asks the rest."""
LOCK_WAIT_SECONDS = 20 * 60
"""Applying an answer holds the company's writer exclusion (no run or check writes meanwhile)."""


# --------------------------------------------------------------------------- asking


@dataclass(frozen=True)
class Facts:
    """What the form shows next to the finding (registry row, bucket object)."""

    row: registry.CheckRow | None = None
    bucket_size: int | None = None
    bucket_sha256: str | None = None
    bucket_state: str = ""
    """``present``, ``missing`` or why it could not be read; empty when not looked at."""


def gather_facts(conn: Connection, client: BaseClient | None, settings: Settings,
                 question: findings.Question) -> Facts:
    if question.kind not in {"object_different", "object_missing"} or not question.s3_key:
        return Facts()
    row = registry.row_for_key(conn, question.empresa, settings.bucket, question.s3_key)
    conn.commit()
    if client is None:
        return Facts(row=row)
    try:
        head = client.head_object(Bucket=settings.bucket, Key=question.s3_key,
                                  ChecksumMode="ENABLED")
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return Facts(row=row, bucket_state="missing" if status == 404
                     else f"could not be read (HTTP {status})")
    return Facts(row=row, bucket_size=head.get("ContentLength"),
                 bucket_sha256=storage.recorded_sha256(head), bucket_state="present")


def question_form(question: findings.Question, facts: Facts) -> dict[str, Any]:
    """The keyword arguments of one Human-in-the-loop task: subject, body, options, and
    the finding it is about."""
    local_copy = facts.row is None or bool(facts.row.local_path)
    options = options_for(question.kind, local_copy=local_copy)
    about = question.s3_key or question.subject or ""
    short = about.rsplit("/", 1)[-1] or question.kind
    lines = [
        f"**{question.empresa}** · `{question.kind}` · finding {question.id} "
        f"(check `{question.run_id}`)",
        "",
        f"`{about}`" if about else "",
        "",
        question.detail,
        "",
    ]
    if facts.row is not None or facts.bucket_state:
        lines += ["| | status | size (bytes) | SHA-256 |", "|---|---|---|---|"]
        if facts.row is not None:
            copy = "local file" if facts.row.local_path else "no local copy"
            lines.append(f"| registry ({copy}) | {facts.row.upload_status} | "
                         f"{_num(facts.row.file_size)} | `{facts.row.file_hash or '-'}` |")
        if facts.bucket_state:
            digest = facts.bucket_sha256 or ("not recorded (read when you choose)"
                                             if facts.bucket_state == "present" else "-")
            lines.append(f"| bucket object | {facts.bucket_state} | "
                         f"{_num(facts.bucket_size)} | `{digest}` |")
        lines.append("")
    lines.append("**Choices**")
    lines += [f"- **{option}**: {EFFECTS[option]}" for option in options]
    lines += ["", f"Cause: {question.cause or '-'}"]
    return {
        "subject": f"{question.empresa} · {question.kind} · {short}",
        "body": "\n".join(lines),
        "options": options,
        "finding": question.as_dict(),
    }


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def collect(conn: Connection, client: BaseClient | None, settings: Settings, run_id: str,
            *, limit: int = MAX_QUESTIONS) -> list[dict[str, Any]]:
    """Claim the open questions nobody answers or asks (up to ``limit``) for review run
    ``run_id``; return one form per question."""
    questions = findings.claim_questions(conn, run_id, limit=limit, stale_after=STALE_ASK)
    conn.commit()
    return [question_form(q, gather_facts(conn, client, settings, q)) for q in questions]


# --------------------------------------------------------------------------- answering


@dataclass(frozen=True)
class Outcome:
    applied: bool
    text: str
    open: bool

    def as_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "outcome": self.text, "open": self.open}


def apply_answer(conn: Connection, client: BaseClient, settings: Settings, finding_id: int,
                 choice: str, *, answered_by: str | None, answered_at: datetime,
                 run_id: str, wait_seconds: float = LOCK_WAIT_SECONDS) -> Outcome:
    """Apply ``choice`` to the question of finding ``finding_id`` and record it on every
    row of that question, holding the company's writer exclusion. Applied only while the finding
    still stands as asked; otherwise the answer is recorded with why it was not applied
    (a later check asks again if a new cause appears)."""
    state = findings.question_state(conn, finding_id)
    conn.rollback()
    if state is None:
        return Outcome(False, f"finding {finding_id} no longer exists", False)
    company = COMPANIES.get(state.question.empresa)
    if company is not None:
        locks.acquire(conn, company, f"review answer to finding {finding_id}",
                      wait_seconds=wait_seconds)
    try:
        state = findings.question_state(conn, finding_id)  # locked until the commit
        assert state is not None
        if state.answered is not None:
            conn.rollback()
            previous = state.answered
            return Outcome(False, f"already answered by {previous.answered_by or '?'} at "
                           f"{previous.answered_at:%Y-%m-%d %H:%M} UTC: {previous.answer}",
                           previous.open)
        question = state.question
        if state.cleared:
            outcome = Outcome(False, "not applied: a later check no longer found it", False)
        elif choice not in options_for(question.kind, local_copy=True):
            outcome = Outcome(False, f"not applied: {choice!r} is no choice for "
                              f"{question.kind}", True)
        else:
            outcome = _apply(conn, client, settings, question, choice, run_id=run_id)
        findings.record_answer(conn, finding_id, findings.Answer(
            choice, answered_by, answered_at, outcome.text, outcome.open))
        conn.commit()
    finally:
        conn.rollback()
        if company is not None:
            locks.release(conn, company)
    log.info("finding %d (%s, %s): %s by %s: %s", finding_id, question.empresa,
             question.kind, choice, answered_by or "?", outcome.text)
    return outcome


def withdraw(conn: Connection, finding_id: int) -> None:
    """No answer in time: the question is asked again after a later check."""
    findings.release_question(conn, finding_id)
    conn.commit()


_CHANGED = "not applied: {what} changed since the question was asked (a later check asks " \
           "again if it still needs a human)"


def _apply(conn: Connection, client: BaseClient, settings: Settings,
           question: findings.Question, choice: str, *, run_id: str) -> Outcome:
    if choice == LEAVE_OPEN:
        return Outcome(True, "left open", True)
    if choice == ACCEPT:
        return Outcome(True, "accepted as it is", False)
    if choice in (KEEP_PRE_EXISTING, KEEP_SUPERSEDED):
        return _keep_bucket_object(conn, client, settings, question,
                                   superseded=choice == KEEP_SUPERSEDED, choice=choice)
    if choice == DELETE_ROW:
        return _delete_row(conn, client, settings, question)
    if choice == QUARANTINE:
        return _quarantine(conn, settings, question, run_id=run_id)
    raise ValueError(f"unknown choice {choice!r}")  # pragma: no cover - options_for checked


def _head(client: BaseClient, settings: Settings, key: str) -> dict[str, Any] | None:
    try:
        return client.head_object(Bucket=settings.bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise


def _keep_bucket_object(conn: Connection, client: BaseClient, settings: Settings,
                        question: findings.Question, *, superseded: bool,
                        choice: str) -> Outcome:
    key = question.s3_key or ""
    row = registry.row_for_key(conn, question.empresa, settings.bucket, key)
    head = _head(client, settings, key) if row is not None else None
    if row is None or head is None:
        what = "the registry row" if row is None else "the object (it is gone)"
        return Outcome(False, _CHANGED.format(what=what), True)
    size = int(head["ContentLength"])
    if reconcile.different_cause(row.file_hash, row.file_size, size) != question.cause:
        return Outcome(False, _CHANGED.format(what="the registry row or the object"), True)
    if superseded and not row.local_path:
        return Outcome(False, "not applied: the row has no local file to supersede", True)
    digest = storage.object_sha256(client, settings.bucket, key, head)
    done = registry.keep_bucket_object(
        conn, row.id, expected_hash=row.file_hash, expected_size=row.file_size, size=size,
        file_hash=digest, superseded=superseded,
        review={"finding": question.id, "answer": choice})
    if not done:
        return Outcome(False, _CHANGED.format(what="the registry row"), True)
    text = (f"registry row {row.id}: pre_existing with the bucket's object ({size:,} bytes, "
            f"SHA-256 {digest[:12]}…)")
    return Outcome(True, text + ("; local file reported as superseded" if superseded else ""),
                   False)


def _delete_row(conn: Connection, client: BaseClient, settings: Settings,
                question: findings.Question) -> Outcome:
    key = question.s3_key or ""
    row = registry.row_for_key(conn, question.empresa, settings.bucket, key)
    if row is None:
        return Outcome(True, "the registry row was already deleted", False)
    if reconcile.missing_cause(row.id, row.upload_status) != question.cause or row.local_path:
        return Outcome(False, _CHANGED.format(what="the registry row"), True)
    if _head(client, settings, key) is not None:
        return Outcome(False, "not applied: the object is in the bucket again", True)
    if not registry.delete_bucket_row(conn, row.id):
        return Outcome(False, _CHANGED.format(what="the registry row"), True)
    return Outcome(True, f"registry row {row.id} deleted", False)


QUARANTINE_REASON = {
    "document_waiting": "set aside by a human review (ov_review_findings): no request JSON "
                        "will come for it; move it back to processed/ to have it filed",
    "temp_file_stale": "set aside by a human review (ov_review_findings): a temporary file "
                       "whose writer stopped",
}


def _quarantine(conn: Connection, settings: Settings, question: findings.Question, *,
                run_id: str) -> Outcome:
    if question.kind not in QUARANTINE_REASON or not question.subject:
        return Outcome(False, f"not applied: {question.kind} has no file to move", True)
    folders = landing.company_folders(settings.landing_root, question.empresa)
    name = question.subject
    path = folders.processed / name
    if Path(name).name != name or not path.is_file() or path.is_symlink():
        return Outcome(False, "not applied: the file is no longer in processed/", False)
    stat = path.stat()
    if reconcile.landing_cause(stat.st_size, stat.st_mtime) != question.cause:
        return Outcome(False, _CHANGED.format(what="the file"), True)
    if question.kind == "document_waiting" and registry.registered_names(
            conn, question.empresa, settings.bucket, [name]):
        return Outcome(False, "not applied: the document was filed meanwhile", False)
    target = landing.quarantine(path, QUARANTINE_REASON[question.kind], folders,
                                run_id=run_id)
    return Outcome(True, f"moved to quarantine/{target.name}", False)


__all__ = [
    "ACCEPT",
    "DAG_ID",
    "DELETE_ROW",
    "EFFECTS",
    "KEEP_PRE_EXISTING",
    "KEEP_SUPERSEDED",
    "LEAVE_OPEN",
    "MAX_QUESTIONS",
    "QUARANTINE",
    "RESPONSE_TIMEOUT",
    "STALE_ASK",
    "Outcome",
    "apply_answer",
    "collect",
    "options_for",
    "question_form",
    "withdraw",
]
