"""Human review of reconcile findings: the questions, their choices, applying an answer.

``ov_s3_reconcile`` writes findings; the ones that need a human are questions
(:mod:`extractorov.findings`). DAG ``ov_review_findings`` asks each open question
in Airflow's *Required actions* (a Human-in-the-loop task per question) with the
choices its kind allows (:func:`options_for`, always including :data:`LEAVE_OPEN`)
and applies the answer here: registry changes through :mod:`extractorov.registry`,
file moves through :mod:`extractorov.landing`, and the answer, who gave it, when and
what applying it did into ``reconcile_findings``.

**A question records what it showed.** :func:`gather_facts` is the one place the facts
of a question are built (registry row, local file, bucket object with its SHA-256,
ETag and VersionId; a waiting file's size, modification time, registry row and the
request JSONs that could own it); :func:`collect` stores them with the question
(``reconcile_findings.shown``) and the form shows exactly them.

**An answer is applied only if those facts still hold, under the company's writer
exclusion.** :func:`apply_answer` (the review task, when its answer arrives) tries the
exclusion for :data:`TRY_SECONDS` only. Got it: the facts are gathered again and
compared with what was shown (:func:`changes`, the one comparison); equal, the choice
is applied; different, nothing is applied, the outcome says what changed and the
question is re-opened (:func:`findings.reopen`): the next review run asks it again
with the facts of then. The company is being written (a run's step, a check): the
answer is recorded as chosen but not applied (``answer_waiting``) and the task ends;
the company's next ``reconcile_{empresa}`` check, which holds the exclusion anyway and
runs hourly, applies it first (:func:`apply_waiting`), with the same comparison. So a
review task never holds a worker slot waiting for a company, never fails for waiting,
and no answer is applied to data that changed under it. (Rescheduling the review task
instead would run ``HITLOperator.execute`` again, i.e. ask again.)

**An answer leaves every file in one place.** quarantine/ never takes a file while a
registry row accounts for it (by its name): moving a document that is filed is refused
(:func:`_quarantine`), and keeping the bucket's object over a local file
(:func:`_keep_bucket_object`) leaves the local file beside its row in ``processed/``
(never uploaded, never removed by retention, counted by it every run). Only an answer
that deletes the row (:func:`_delete_row`) sets that local file aside in quarantine/.

The forms show kinds, S3 keys, file names, sizes and hashes: never a value from a
request (names, documents, e-mails, phones).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from psycopg import Connection

from extractorov import findings, landing, locks, registry, storage
from extractorov.choices import (
    ACCEPT,
    APPLIED_WHEN,
    DAG_ID,
    DELETE_ROW,
    EFFECTS,
    KEEP_PRE_EXISTING,
    KEEP_SUPERSEDED,
    LEAVE_OPEN,
    QUARANTINE,
    REPLACE_OBJECT,
    RESPONSE_TIMEOUT,
    options_for,
)
from extractorov.companies import COMPANIES, Company
from extractorov.errors import CompanyBusy
from extractorov.settings import REGISTRY_TABLE, Settings

log = logging.getLogger(__name__)

STALE_ASK = RESPONSE_TIMEOUT + timedelta(hours=1)
"""A question marked as asked longer ago than this was left by a review run that ended
without an answer: it can be asked again."""
MAX_QUESTIONS = 200
"""Questions one review run asks (oldest first); a later run asks the rest."""
TRY_SECONDS = 5.0
"""How long the review task tries the company's writer exclusion when its answer
arrives; then the answer is recorded and the company's next check applies it."""


# --------------------------------------------------------------------------- facts

KEY_KINDS = frozenset({"object_different", "object_missing", "object_outside_layout",
                       "request_split"})
"""Questions about an S3 key: their facts are the registry row, local file and object."""
FILE_KINDS = frozenset({"document_waiting", "temp_file_stale"})
"""Questions about a file in ``processed/``: their facts are the file's."""


@dataclass(frozen=True)
class Facts:
    """What the form of a question shows and what an answer to it is bound to.

    ``shown`` is JSON (stored in ``reconcile_findings.shown``), by section:

    * ``registry``: ``row``, ``status``, ``size``, ``sha256``, ``local_copy`` (the row
      describes a local file: not registered from the bucket nor kept over it); or None;
    * ``local_file``: ``state`` (``present``, ``missing``, ``not a regular file``…),
      ``size``, ``sha256`` (read now);
    * ``bucket``: ``state`` (``present``, ``missing``, ``could not be read (HTTP n)``),
      ``size``, ``sha256`` (its ``file-hash`` metadata or whole-object checksum, else
      computed by reading it), ``etag``, ``version_id``;
    * ``file`` (a file in ``processed/``): ``state``, ``size``, ``mtime_ns``,
      ``registered``, ``request_jsons`` (names of the request JSONs that could own a
      document: in ``processed/``, being written, registered or in ``quarantine/``).

    A kind whose choices change nothing (``object_outside_layout`` aside, whose bucket
    object is shown) has no sections.
    """

    shown: dict[str, Any] = field(default_factory=dict)
    row: registry.CheckRow | None = None


class _Folders:
    """The names in a company's ``processed/`` and ``quarantine/``, read once per batch of
    questions (a backlog folder holds many thousand names)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._names: dict[str, tuple[list[str], list[str]]] = {}

    def names(self, empresa: str) -> tuple[list[str], list[str]]:
        if empresa not in self._names:
            folders = landing.company_folders(self.settings.landing_root, empresa)
            try:
                with os.scandir(folders.processed) as entries:
                    processed = [e.name for e in entries]
            except FileNotFoundError:
                processed = []
            quarantined = [q.original_name for q in landing.read_quarantine(folders)]
            self._names[empresa] = (processed, quarantined)
        return self._names[empresa]


def gather_facts(conn: Connection, client: BaseClient | None, settings: Settings,
                 question: findings.Question, folders: _Folders | None = None) -> Facts:
    """The facts of a question now: the one builder (what :func:`collect` stores and the
    form shows, and what an answer is compared with). Reads only: no commit."""
    if question.kind in KEY_KINDS and question.s3_key:
        return _key_facts(conn, client, settings, question)
    if question.kind in FILE_KINDS and question.subject:
        return Facts({"file": _file_facts(conn, settings, question,
                                          folders or _Folders(settings))})
    return Facts()


def _key_facts(conn: Connection, client: BaseClient | None, settings: Settings,
               question: findings.Question) -> Facts:
    key = question.s3_key or ""
    row = registry.row_for_key(conn, question.empresa, settings.bucket, key)
    shown: dict[str, Any] = {"registry": None if row is None else {
        "row": row.id, "status": row.upload_status, "size": row.file_size,
        "sha256": row.file_hash, "local_copy": bool(row.local_path)}}
    if row is not None and row.local_path:
        shown["local_file"] = _local_file(Path(row.local_path))
    if client is not None:
        shown["bucket"] = _bucket_object(client, settings, key)
    return Facts(shown, row)


def _local_file(path: Path) -> dict[str, Any]:
    try:
        digest, size = landing.sha256_file(path)
    except FileNotFoundError:
        return {"state": "missing"}
    except landing.NotRegularFile:
        return {"state": "not a regular file"}
    except OSError as exc:
        return {"state": f"unreadable ({exc.strerror})"}
    return {"state": "present", "size": size, "sha256": digest}


def _bucket_object(client: BaseClient, settings: Settings, key: str) -> dict[str, Any]:
    try:
        head = client.head_object(Bucket=settings.bucket, Key=key, ChecksumMode="ENABLED")
        digest = storage.object_sha256(client, settings.bucket, key, head)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = exc.response.get("Error", {}).get("Code")
        if status == 404 or code in {"404", "NoSuchKey", "NotFound"}:
            return {"state": "missing"}
        return {"state": f"could not be read (HTTP {status})"}
    return {"state": "present", "size": head.get("ContentLength"), "sha256": digest,
            "etag": head.get("ETag"), "version_id": head.get("VersionId")}


def _file_facts(conn: Connection, settings: Settings, question: findings.Question,
                folders: _Folders) -> dict[str, Any]:
    name = question.subject or ""
    path = landing.company_folders(settings.landing_root, question.empresa).processed / name
    facts: dict[str, Any] = {"state": "missing"}
    if Path(name).name == name:
        try:
            info = path.lstat()
        except FileNotFoundError:
            pass
        else:
            facts = ({"state": "present", "size": info.st_size, "mtime_ns": info.st_mtime_ns}
                     if path.is_file() and not path.is_symlink()
                     else {"state": "not a regular file"})
    if question.kind == "document_waiting":
        facts["registered"] = bool(registry.registered_names(
            conn, question.empresa, settings.bucket, [name]))
        facts["request_jsons"] = _request_jsons(conn, settings, question.empresa, name,
                                                folders)
    return facts


def _request_jsons(conn: Connection, settings: Settings, empresa: str, document: str,
                   folders: _Folders) -> list[str]:
    """The request JSONs that could own ``document`` (same SGC part), wherever they are."""
    parsed = landing.parse_file_name(document, settings.bot_timezone)
    if parsed is None:
        return []
    sgc = parsed.sgc

    def owns(name: str) -> bool:
        if sgc not in name:  # cheap before parsing
            return False
        bare = name.lstrip(".")
        for suffix in landing.IN_PROGRESS_SUFFIXES:
            bare = bare.removesuffix(suffix)
        other = landing.parse_file_name(bare, settings.bot_timezone)
        return other is not None and other.kind is landing.FileKind.DATA and other.sgc == sgc

    processed, quarantined = folders.names(empresa)
    found = {f"{n} (processed/)" for n in processed if owns(n)}
    found |= {f"{n} (quarantine/)" for n in quarantined if owns(n)}
    pattern = sgc.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with conn.cursor() as cur:
        cur.execute(f"SELECT filename FROM {REGISTRY_TABLE} WHERE empresa = %s "
                    "AND s3_bucket = %s AND file_type = 'json' AND filename LIKE %s",
                    (empresa, settings.bucket, f"%{pattern}%"))
        found |= {f"{n} (registered)" for (n,) in cur if owns(n)}
    return sorted(found)


LABELS: dict[str, str] = {
    "registry": "the registry row",
    "registry.row": "the registry row",
    "registry.status": "the registry row's status",
    "registry.size": "the registry row's size",
    "registry.sha256": "the registry row's SHA-256",
    "registry.local_copy": "whether the registry row has a local file",
    "local_file": "the local file",
    "local_file.state": "the local file",
    "local_file.size": "the local file's size",
    "local_file.sha256": "the local file's SHA-256",
    "bucket": "the bucket object",
    "bucket.state": "the bucket object",
    "bucket.size": "the bucket object's size",
    "bucket.sha256": "the bucket object's SHA-256",
    "bucket.etag": "the bucket object's ETag",
    "bucket.version_id": "the bucket object's VersionId",
    "file": "the file in processed/",
    "file.state": "the file in processed/",
    "file.size": "the file's size",
    "file.mtime_ns": "the file's modification time",
    "file.registered": "whether the file is registered",
    "file.request_jsons": "the request JSONs that could own it",
}
"""What each fact is called in an outcome, in the order changes are listed."""


def changes(shown: dict[str, Any] | None, now: dict[str, Any]) -> list[str]:
    """What differs between the facts a question showed and the facts now (empty: they
    still hold): the one comparison."""
    if shown is None:
        return ["what the question showed was not recorded (asked before answers were bound "
                "to it)"]
    old, new = _flat(shown), _flat(now)
    order = {name: n for n, name in enumerate(LABELS)}
    differ = sorted((k for k in old.keys() | new.keys() if old.get(k) != new.get(k)),
                    key=lambda k: (order.get(k, len(order)), k))
    return [f"{LABELS.get(k, k)} (shown {_show(k, old.get(k))}, now {_show(k, new.get(k))})"
            for k in differ]


def _flat(facts: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in facts.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value
    return out


def _show(name: str, value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    if name.endswith("mtime_ns"):
        return _when(value)
    if name.endswith("sha256") and isinstance(value, str) and len(value) == 64:
        return value[:12] + "…"
    if isinstance(value, int):
        return f"{value:,} bytes" if name.endswith("size") else str(value)
    return str(value)


def _when(mtime_ns: int) -> str:
    return datetime.fromtimestamp(mtime_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --------------------------------------------------------------------------- asking


def question_form(question: findings.Question, facts: Facts) -> dict[str, Any]:
    """The keyword arguments of one Human-in-the-loop task: subject, body, options, and
    the finding it is about. The body shows the facts the answer is bound to."""
    registry_facts = facts.shown.get("registry")
    local_copy = registry_facts is None or bool(registry_facts.get("local_copy"))
    options = options_for(question.kind, local_copy=local_copy)
    if question.s3_key:
        about = landing.shown_key(question.s3_key)
    elif question.kind in FILE_KINDS and question.subject:
        about = landing.shown_name(question.subject)
    else:
        about = question.subject or ""
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
    if question.outcome:
        lines += [f"Asked again: an earlier answer was {question.outcome}", ""]
    lines += _facts_lines(facts.shown)
    lines.append("**Choices**")
    lines += [f"- **{option}**: {EFFECTS[option]}" for option in options]
    lines += ["", APPLIED_WHEN, "", f"Cause: {question.cause or '-'}"]
    return {
        "subject": f"{question.empresa} · {question.kind} · {short}",
        "body": "\n".join(lines),
        "options": options,
        # What this form shows: the answer given on it is compared with exactly this.
        # Keys and names as shown (the full key stays in reconcile_findings: the answer
        # is applied to the finding by its id).
        "finding": {**question.as_dict(), "subject": about or question.subject,
                    "s3_key": about if question.s3_key else None, "shown": facts.shown},
    }


def _facts_lines(shown: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if "registry" in shown or "bucket" in shown:
        lines += ["| | status | size (bytes) | SHA-256 |", "|---|---|---|---|"]
        row = shown.get("registry")
        if row is not None:
            copy = "local file" if row["local_copy"] else "no local copy"
            lines.append(f"| registry row {row['row']} ({copy}) | {row['status']} | "
                         f"{_num(row['size'])} | `{row['sha256'] or '-'}` |")
        elif "registry" in shown:
            lines.append("| registry | no row | - | - |")
        if local := shown.get("local_file"):
            lines.append(f"| local file | {local['state']} | {_num(local.get('size'))} | "
                         f"`{local.get('sha256') or '-'}` |")
        if bucket := shown.get("bucket"):
            lines.append(f"| bucket object | {bucket['state']} | {_num(bucket.get('size'))} | "
                         f"`{bucket.get('sha256') or '-'}` |")
        lines.append("")
        if bucket and bucket.get("etag"):
            lines += [f"Bucket object: ETag `{bucket['etag']}`, VersionId "
                      f"`{bucket.get('version_id') or '-'}`", ""]
    if file := shown.get("file"):
        lines += ["| | state | size (bytes) | modified |", "|---|---|---|---|",
                  f"| file in processed/ | {file['state']} | {_num(file.get('size'))} | "
                  f"{_when(file['mtime_ns']) if file.get('mtime_ns') else '-'} |", ""]
        if "registered" in file:
            owners = ", ".join(f"`{n}`" for n in file["request_jsons"]) or "none"
            lines += [f"Registered: {'yes' if file['registered'] else 'no'}. "
                      f"Request JSONs that could own it: {owners}", ""]
    return lines


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def collect(conn: Connection, client: BaseClient | None, settings: Settings, run_id: str,
            *, limit: int = MAX_QUESTIONS) -> list[dict[str, Any]]:
    """Claim the open questions nobody answers or asks (up to ``limit``) for review run
    ``run_id``; record the facts each form shows (``shown``); return one form per
    question."""
    questions = findings.claim_questions(conn, run_id, limit=limit, stale_after=STALE_ASK)
    conn.commit()
    folders = _Folders(settings)
    forms = []
    for question in questions:
        facts = gather_facts(conn, client, settings, question, folders)
        findings.record_shown(conn, question.id, facts.shown)
        conn.commit()
        forms.append(question_form(question, facts))
    return forms


# --------------------------------------------------------------------------- answering


@dataclass(frozen=True)
class Outcome:
    applied: bool
    text: str
    open: bool
    waiting: bool = False
    """Recorded as chosen, not applied yet (the company was being written)."""

    def as_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "outcome": self.text, "open": self.open,
                "waiting": self.waiting}


def apply_answer(conn: Connection, client: BaseClient, settings: Settings, finding_id: int,
                 choice: str, *, answered_by: str | None, answered_at: datetime,
                 run_id: str, wait_seconds: float = TRY_SECONDS,
                 shown: dict[str, Any] | None = None) -> Outcome:
    """Apply ``choice`` to the question of finding ``finding_id`` and record it on every
    row of that question (see the module docstring).

    Takes the company's writer exclusion if it is free within ``wait_seconds``; then the
    answer is applied only while the facts the question showed still hold. Otherwise
    the answer is recorded as chosen, not applied (``Outcome.waiting``), and
    :func:`apply_waiting` applies it in the company's next check.

    ``shown``: the facts the answered form displayed (the review task carries them from
    :func:`collect`); default, what was recorded when that finding was asked. An answer is
    compared with its own form's facts, never a later form's.
    """
    state = findings.question_state(conn, finding_id)
    conn.rollback()
    if state is None:
        return Outcome(False, f"finding {finding_id} no longer exists", False)
    if state.answered is not None:
        return _already(state.answered)
    answer = findings.Answer(choice, answered_by, answered_at, None, True)
    empresa = state.question.empresa
    company = COMPANIES.get(empresa)
    if company is not None:
        try:
            locks.acquire(conn, company, f"review answer to finding {finding_id}",
                          wait_seconds=wait_seconds)
        except CompanyBusy as busy:
            return _record_waiting(conn, finding_id, answer, busy)
    try:
        return _settle(conn, client, settings, finding_id, answer, run_id=run_id,
                       waiting=False, shown=shown)
    finally:
        conn.rollback()
        if company is not None:
            locks.release(conn, company)


def apply_waiting(conn: Connection, client: BaseClient, company: Company, settings: Settings,
                  *, run_id: str) -> list[Outcome]:
    """Apply the company's answers that wait to be applied (oldest first), each only while
    what its question showed still holds. The caller holds the company's writer exclusion
    (``reconcile_{empresa}``, at the start of its check)."""
    assert locks.holds(conn, company), "apply_waiting runs inside the company's exclusion"
    outcomes = []
    for finding_id in findings.waiting_answers(conn, company.empresa):
        conn.rollback()
        state = findings.question_state(conn, finding_id)
        conn.rollback()
        if state is None or state.answered is None or not state.waiting:
            continue
        outcomes.append(_settle(conn, client, settings, finding_id, state.answered,
                                run_id=run_id, waiting=True))
    return outcomes


def withdraw(conn: Connection, finding_id: int) -> None:
    """No answer in time: the question is asked again after a later check."""
    findings.release_question(conn, finding_id)
    conn.commit()


def _already(previous: findings.Answer) -> Outcome:
    return Outcome(False, f"already answered by {previous.answered_by or '?'} at "
                   f"{previous.answered_at:%Y-%m-%d %H:%M} UTC: {previous.answer}",
                   previous.open)


def _record_waiting(conn: Connection, finding_id: int, answer: findings.Answer,
                    busy: CompanyBusy) -> Outcome:
    text = (f"chosen, not applied yet: {busy.empresa} is being written by {busy.holder}; "
            f"the next reconcile_{busy.empresa} applies it (hourly), only if what the "
            "question showed still holds")
    recorded = findings.record_waiting(conn, finding_id, findings.Answer(
        answer.answer, answer.answered_by, answer.answered_at, text, True))
    conn.commit()
    if not recorded:
        state = findings.question_state(conn, finding_id)
        conn.rollback()
        if state is not None and state.answered is not None:
            return _already(state.answered)
        return Outcome(False, f"finding {finding_id}: nothing to answer", False)
    log.info("finding %d: %s by %s: %s", finding_id, answer.answer, answer.answered_by or "?",
             text)
    return Outcome(False, text, True, waiting=True)


def _settle(conn: Connection, client: BaseClient, settings: Settings, finding_id: int,
            answer: findings.Answer, *, run_id: str, waiting: bool,
            shown: dict[str, Any] | None = None) -> Outcome:
    """Under the company's exclusion: compare, apply, record (one transaction)."""
    state = findings.question_state(conn, finding_id)  # locked until the commit
    if state is None:
        conn.rollback()
        return Outcome(False, f"finding {finding_id} no longer exists", False)
    if state.answered is not None and not (waiting and state.waiting):
        conn.rollback()
        return _already(state.answered)
    question, choice = state.question, answer.answer
    if state.cleared:
        outcome = Outcome(False, "not applied: a later check no longer found it", False)
    elif state.form_cleared:
        # The question came back after this form was shown: another occurrence, with a form
        # of its own (asked with what holds then). This answer is about facts that went
        # away: nothing is applied, and it is not recorded on the new occurrence.
        conn.rollback()
        text = ("not applied: a later check no longer found what this form showed; if the "
                "question came back, it is asked again with what holds now")
        log.info("finding %d (%s, %s): answer by %s: %s", finding_id, question.empresa,
                 question.kind, answer.answered_by or "?", text)
        return Outcome(False, text, False)
    elif choice not in options_for(question.kind, local_copy=True):
        outcome = Outcome(False, f"not applied: {choice!r} is no choice for "
                          f"{question.kind}", True)
    elif choice == LEAVE_OPEN:
        outcome = Outcome(True, "left open", True)
    else:
        if choice == QUARANTINE:  # a missing landing folder fails the task, never "gone"
            landing.company_folders(settings.landing_root, question.empresa).require()
        facts = gather_facts(conn, client, settings, question)
        if changed := changes(state.shown if shown is None else shown, facts.shown):
            # No answerer in it: the outcome goes to the task's XCom (a login may be an
            # e-mail address); who answered stays in the log.
            text = (f"not applied: changed since asked: {'; '.join(changed)}; asked again with "
                    f"what holds now (the answer was {choice!r})")
            findings.reopen(conn, finding_id, text)
            conn.commit()
            log.info("finding %d (%s, %s): answer by %s: %s", finding_id, question.empresa,
                     question.kind, answer.answered_by or "?", text)
            return Outcome(False, text, True)
        outcome = _apply(conn, client, settings, question, facts, choice, run_id=run_id)
    findings.record_answer(conn, finding_id, findings.Answer(
        choice, answer.answered_by, answer.answered_at, outcome.text, outcome.open))
    conn.commit()
    log.info("finding %d (%s, %s): %s by %s%s: %s", finding_id, question.empresa,
             question.kind, choice, answer.answered_by or "?",
             " (answer that waited)" if waiting else "", outcome.text)
    return outcome


def _apply(conn: Connection, client: BaseClient, settings: Settings,
           question: findings.Question, facts: Facts, choice: str, *,
           run_id: str) -> Outcome:
    """Apply a choice to the facts just found equal to what the question showed."""
    if choice == ACCEPT:
        return Outcome(True, "accepted as it is", False)
    if choice in (KEEP_PRE_EXISTING, KEEP_SUPERSEDED):
        return _keep_bucket_object(conn, question, facts,
                                   superseded=choice == KEEP_SUPERSEDED, choice=choice)
    if choice == REPLACE_OBJECT:
        return _replace_object(conn, client, settings, question, facts, run_id=run_id)
    if choice == DELETE_ROW:
        return _delete_row(conn, settings, question, facts, run_id=run_id)
    if choice == QUARANTINE:
        return _quarantine(settings, question, facts, run_id=run_id)
    raise ValueError(f"unknown choice {choice!r}")  # pragma: no cover - options_for checked


def _present_object(facts: Facts) -> dict[str, Any] | None:
    bucket = facts.shown.get("bucket") or {}
    return bucket if bucket.get("state") == "present" else None


def _keep_bucket_object(conn: Connection, question: findings.Question, facts: Facts, *,
                        superseded: bool, choice: str) -> Outcome:
    row, bucket = facts.row, _present_object(facts)
    if row is None or bucket is None:
        what = "no registry row" if row is None else "the object is not readable in the bucket"
        return Outcome(False, f"not applied: {what}", True)
    if superseded and not row.local_path:
        return Outcome(False, "not applied: the row has no local file to supersede", True)
    # The registry row stays (it now describes the kept object, under the file's name), so
    # the local file stays beside it in processed/: a file is in one place, and quarantine/
    # never takes a file a registry row accounts for. It is never uploaded nor removed by
    # retention (the row records it in metadata.review.local_file); retention counts it
    # every run until a person deletes it, and if the row is later deleted (the kept object
    # removed on purpose) that answer moves it to quarantine/ (_delete_row).
    done = registry.keep_bucket_object(
        conn, row.id, expected_hash=row.file_hash, expected_size=row.file_size,
        size=bucket["size"], file_hash=bucket["sha256"], superseded=superseded,
        review={"finding": question.id, "answer": choice,
                "object": {k: bucket[k] for k in ("sha256", "size", "etag", "version_id")}})
    if not done:  # pragma: no cover - the exclusion keeps the row as just read
        return Outcome(False, "not applied: the registry row changed", True)
    text = (f"registry row {row.id}: pre_existing with the bucket's object "
            f"({bucket['size']:,} bytes, SHA-256 {bucket['sha256'][:12]}…)")
    kept = ("; the local file stays in processed/ beside its row (never uploaded; counted "
            "by retention until a person deletes it)" if row.local_path else "")
    return Outcome(True, text + ("; local file reported as superseded" if superseded else "")
                   + kept, False)


def _replace_object(conn: Connection, client: BaseClient, settings: Settings,
                    question: findings.Question, facts: Facts, *, run_id: str) -> Outcome:
    row, bucket = facts.row, _present_object(facts)
    local = facts.shown.get("local_file") or {}
    if row is None or not row.local_path or row.file_hash is None or row.file_size is None:
        return Outcome(False, "not applied: the row has no local file", True)
    if bucket is None or not bucket.get("etag"):
        return Outcome(False, "not applied: the object is not readable in the bucket", True)
    if (local.get("state"), local.get("sha256"), local.get("size")) != (
            "present", row.file_hash, row.file_size):
        return Outcome(False, "not applied: the local file does not have the registry's "
                       f"SHA-256 and size (it is {local.get('state')})", True)
    item = registry.pending_file(conn, row.id)
    if item is None:  # pragma: no cover - the exclusion keeps the row as just read
        return Outcome(False, "not applied: the registry row is gone", True)
    refused = storage.overwrite_object(client, settings.bucket, item, if_match=bucket["etag"],
                                       sse_kms_key_id=settings.sse_kms_key_id,
                                       conn_id=settings.aws_conn_id)
    if refused:
        return Outcome(False, f"not applied: {refused}", True)
    replaced = {k: bucket[k] for k in ("sha256", "size", "etag", "version_id")}
    if not registry.record_replaced(conn, row.id, expected_hash=row.file_hash,
                                    expected_size=row.file_size, run_id=run_id,
                                    review={"finding": question.id, "answer": REPLACE_OBJECT,
                                            "replaced_object": replaced}):
        # pragma: no cover - the exclusion keeps the row as just read
        return Outcome(True, "the object was replaced; the registry row changed meanwhile: "
                       "the next check compares them", True)
    return Outcome(True, f"registry row {row.id}: uploaded over the bucket's object "
                   f"({bucket['size']:,} bytes, SHA-256 {bucket['sha256'][:12]}… replaced by "
                   f"{row.file_hash[:12]}…)", False)


REJECTED_LOCAL_REASON = (
    "set aside by a human review (ov_review_findings): a review kept the bucket's object "
    "over this local file, and that object was later removed on purpose and its registry "
    f"row deleted; this file is not the version to upload; {landing.KEPT_BY_A_DECISION}")


def _delete_row(conn: Connection, settings: Settings, question: findings.Question,
                facts: Facts, *, run_id: str) -> Outcome:
    row = facts.row
    if row is None:
        return Outcome(True, "the registry row was already deleted", False)
    if row.local_path:
        return Outcome(False, "not applied: the registry row has a local file", True)
    if (facts.shown.get("bucket") or {}).get("state") != "missing":
        return Outcome(False, "not applied: the object is in the bucket again", True)
    # A local file a review rejected (the object was kept over it) would be registered and
    # uploaded again by the next run once its row is gone: it goes to quarantine/ first.
    rejected = registry.rejected_local_file(conn, row.id)
    moved = ""
    if rejected and Path(rejected).is_file():
        folders = landing.company_folders(settings.landing_root, question.empresa)
        try:
            target = landing.quarantine(Path(rejected), REJECTED_LOCAL_REASON, folders,
                                        run_id=run_id)
        except landing.NotQuarantined as exc:
            return Outcome(False, f"not applied: its rejected local file could not be moved "
                           f"to quarantine/ ({exc.strerror}); free space on the landing "
                           "volume", True)
        moved = f"; its rejected local file moved to quarantine/{landing.shown_name(target.name)}"
    if not registry.delete_bucket_row(conn, row.id):
        return Outcome(False, "not applied: the registry row changed", True)
    return Outcome(True, f"registry row {row.id} deleted{moved}", False)


QUARANTINE_REASON = {
    "document_waiting": "set aside by a human review (ov_review_findings) after it waited "
                        "over ov_orphan_after_hours for its request JSON; move it back to "
                        "processed/ to have it filed",
    "temp_file_stale": "set aside by a human review (ov_review_findings): a temporary file "
                       "whose writer stopped",
}


def _quarantine(settings: Settings, question: findings.Question, facts: Facts, *,
                run_id: str) -> Outcome:
    file = facts.shown.get("file") or {}
    if question.kind not in QUARANTINE_REASON or not question.subject:
        return Outcome(False, f"not applied: {question.kind} has no file to move", True)
    if file.get("state") != "present":
        return Outcome(False, "not applied: the file is no longer in processed/", False)
    if file.get("registered"):
        return Outcome(False, "not applied: the document is filed (registered); moving it "
                       "would leave its registry row without its file", False)
    folders = landing.company_folders(settings.landing_root, question.empresa)
    try:
        target = landing.quarantine(folders.processed / question.subject,
                                    QUARANTINE_REASON[question.kind], folders, run_id=run_id)
    except landing.NotQuarantined as exc:
        return Outcome(False, f"not applied: the file could not be moved to quarantine/ "
                       f"({exc.strerror}); it stays in processed/", True)
    return Outcome(True, f"moved to quarantine/{landing.shown_name(target.name)}", False)


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
    "REPLACE_OBJECT",
    "RESPONSE_TIMEOUT",
    "STALE_ASK",
    "TRY_SECONDS",
    "Facts",
    "Outcome",
    "apply_answer",
    "apply_waiting",
    "changes",
    "collect",
    "gather_facts",
    "options_for",
    "question_form",
    "withdraw",
]
