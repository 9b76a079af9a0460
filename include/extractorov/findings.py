"""Reads and writes of ``data_general.reconcile_findings``: every SQL statement on it.

Each reconcile run writes one row per finding (its hourly record). A finding that
needs a human is also a *question*, named by ``(empresa, kind, subject, cause)``:

* ``subject``: what it is about (an S3 key, a file name, a ``numero_radicado``);
* ``cause``: the state that makes it (sizes and hashes, a registry row, a file's
  modification time). The same subject with another cause is a new question.

All rows of one question share its state: ``open`` (waiting for an answer, or
answered "Leave open"), ``answer`` / ``answered_by`` / ``answered_at`` /
``outcome``, ``answer_waiting`` (the answer is recorded, not applied yet: the company
was being written), ``shown`` (the facts the form showed when it was asked),
``asked_run_id`` (the review run asking it now) and ``cleared_at`` (a later check no
longer found it). A new row of an answered question carries the answer, so it is not
asked again; a question that was cleared and comes back is new (the cause went away
and returned). An answer not applied because what the form showed changed re-opens
the question (:func:`reopen`): no answer, asked again with the facts of then.

A question is *new* to a check when no earlier check found it since it was last
cleared (:func:`announced`): only new questions fail the hourly check (one e-mail
each); the ones already announced wait in the open list and the daily reminder.

Writes that read a question's rows and write new ones (a check's :func:`write_run`,
the review's claims, facts and waiting answers) take one transaction-level lock
(:data:`_LOCK`), so none of them is lost between another's read and write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from extractorov.sqlrow import one

TABLE = "data_general.reconcile_findings"

_LOCK = 0x0E0C_F1D0
"""``pg_advisory_xact_lock`` key serializing writes of question state (see above)."""

_SAME_QUESTION = ("t.empresa = q.empresa AND t.kind = q.kind "
                  "AND t.subject IS NOT DISTINCT FROM q.subject "
                  "AND t.cause IS NOT DISTINCT FROM q.cause")


@dataclass(frozen=True)
class Row:
    """One finding of one run, as reconcile writes it."""

    kind: str
    s3_key: str | None
    detail: str
    repaired: bool
    needs_human: bool
    subject: str | None = None
    cause: str | None = None


@dataclass(frozen=True)
class Answer:
    """The answer a question already has (carried to the new rows of the same question)."""

    answer: str
    answered_by: str | None
    answered_at: datetime
    outcome: str | None
    open: bool


@dataclass(frozen=True)
class KeySlice:
    """What a check compared of the bucket: the keys in ``(after, upto]`` (byte order;
    ``None``: no bound). Questions of ``kinds`` about a key outside it were not looked at."""

    kinds: tuple[str, ...]
    after: str | None
    upto: str | None


def write_run(conn: Connection, empresa: str, run_id: str, rows: Sequence[Row], *,
              looked_at: KeySlice | None = None
              ) -> dict[tuple[str, str | None, str | None], Answer]:
    """Replace this run's rows (a rerun of the same run replaces them) and clear the
    questions this run no longer found, of what it looked at (``looked_at``: a question of
    one of its kinds about a key outside its slice stays as it is); return the answers
    carried, by question.

    The caller holds the company's writer exclusion, so an answer being recorded by
    ``ov_review_findings`` never interleaves with this write.
    """
    _serialize(conn)
    questions = [(r.kind, r.subject, r.cause) for r in rows if r.needs_human]
    carried = _current_state(conn, empresa, questions)  # before this run's rows go
    with conn.cursor() as cur:
        cur.execute(f"DELETE FROM {TABLE} WHERE run_id = %s AND empresa = %s",
                    (run_id, empresa))
        values = []
        for r in rows:
            state = carried.get((r.kind, r.subject, r.cause)) if r.needs_human else None
            answer = state.answer if state else None
            values.append((
                run_id, empresa, r.kind, r.s3_key, r.detail, r.repaired, r.needs_human,
                r.subject, r.cause,
                r.needs_human and (answer is None or answer.open),
                answer.answer if answer else None, answer.answered_by if answer else None,
                answer.answered_at if answer else None,
                answer.outcome if answer else state.outcome if state else None,
                state.asked_run_id if state and not answer else None,
                state.asked_at if state and not answer else None,
                Jsonb(state.shown) if state and state.shown is not None else None,
                bool(state and answer and state.waiting),
            ))
        cur.executemany(
            f"""INSERT INTO {TABLE}
                (run_id, empresa, kind, s3_key, detail, repaired, needs_human, subject, cause,
                 open, answer, answered_by, answered_at, outcome, asked_run_id, asked_at,
                 shown, answer_waiting)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                        %s, %s)""",
            values,
        )
        # Questions this run did not find any more: cleared (closed, never asked again).
        unseen = ""
        unseen_params: list[object] = []
        if looked_at is not None:
            outside = []
            if looked_at.after is not None:
                outside.append('t.s3_key COLLATE "C" <= %s')
                unseen_params.append(looked_at.after)
            if looked_at.upto is not None:
                outside.append('t.s3_key COLLATE "C" > %s')
                unseen_params.append(looked_at.upto)
            if outside:
                unseen = (" AND NOT (t.kind = ANY(%s) AND t.s3_key IS NOT NULL AND ("
                          + " OR ".join(outside) + "))")
                unseen_params.insert(0, list(looked_at.kinds))
        cur.execute(
            f"""UPDATE {TABLE} t SET open = false, cleared_at = now()
                WHERE t.empresa = %s AND t.needs_human AND t.cleared_at IS NULL
                  AND t.run_id <> %s{unseen}
                  AND NOT EXISTS (SELECT 1 FROM {TABLE} q
                                  WHERE q.run_id = %s AND q.needs_human AND {_SAME_QUESTION})""",
            (empresa, run_id, *unseen_params, run_id),
        )
    return {q: s.answer for q, s in carried.items() if s.answer}


def _serialize(conn: Connection) -> None:
    """Hold :data:`_LOCK` until the transaction ends."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))


@dataclass(frozen=True)
class _State:
    answer: Answer | None
    asked_run_id: str | None
    asked_at: datetime | None
    shown: dict[str, Any] | None = None
    waiting: bool = False
    outcome: str | None = None


def _current_state(conn: Connection, empresa: str,
                   questions: Iterable[tuple[str, str | None, str | None]]
                   ) -> dict[tuple[str, str | None, str | None], _State]:
    """The latest not-cleared row of each question: its answer and who is asking it."""
    questions = list(dict.fromkeys(questions))
    if not questions:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT DISTINCT ON (t.kind, t.subject, t.cause)
                       t.kind, t.subject, t.cause, t.answer, t.answered_by, t.answered_at,
                       t.outcome, t.open, t.asked_run_id, t.asked_at, t.shown,
                       t.answer_waiting
                FROM {TABLE} t
                JOIN unnest(%s::text[], %s::text[], %s::text[]) AS q(kind, subject, cause)
                  ON t.kind = q.kind AND t.subject IS NOT DISTINCT FROM q.subject
                 AND t.cause IS NOT DISTINCT FROM q.cause
                WHERE t.empresa = %s AND t.needs_human AND t.cleared_at IS NULL
                ORDER BY t.kind, t.subject, t.cause, t.id DESC""",
            ([q[0] for q in questions], [q[1] for q in questions], [q[2] for q in questions],
             empresa),
        )
        found = {}
        for (kind, subject, cause, answer, by, at, outcome, is_open, asked, asked_at, shown,
             waiting) in cur:
            found[(kind, subject, cause)] = _State(
                Answer(answer, by, at, outcome, is_open) if answer else None, asked, asked_at,
                shown, waiting, outcome)
    return found


def announced(conn: Connection, empresa: str, run_id: str,
              questions: Iterable[tuple[str, str | None, str | None]]
              ) -> set[tuple[str, str | None, str | None]]:
    """Which of ``questions`` an earlier check (another run) already found, and no check
    cleared since: announced then (its run failed, its e-mail went), not new now."""
    questions = list(dict.fromkeys(questions))
    if not questions:
        return set()
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT DISTINCT t.kind, t.subject, t.cause
                FROM {TABLE} t
                JOIN unnest(%s::text[], %s::text[], %s::text[]) AS q(kind, subject, cause)
                  ON t.kind = q.kind AND t.subject IS NOT DISTINCT FROM q.subject
                 AND t.cause IS NOT DISTINCT FROM q.cause
                WHERE t.empresa = %s AND t.needs_human AND t.cleared_at IS NULL
                  AND t.run_id <> %s""",
            ([q[0] for q in questions], [q[1] for q in questions], [q[2] for q in questions],
             empresa, run_id),
        )
        return {tuple(row) for row in cur}


@dataclass(frozen=True)
class OpenQuestion:
    """A question still open, as the daily reminder lists it (no detail text)."""

    empresa: str
    kind: str
    s3_key: str | None
    subject: str | None
    cause: str | None
    answer_waiting: bool
    first_seen: datetime


def open_questions(conn: Connection, *, not_found_by: str | None = None
                   ) -> tuple[list[OpenQuestion], int]:
    """The open questions that wait for an answer or for their answer to be applied
    (oldest first), leaving out those ``not_found_by`` run found first (they are new:
    that run announces them), and how many more were answered "Leave open"."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT empresa, kind, s3_key, subject, cause, answer_waiting, answer,
                       first_seen, first_run
                FROM (SELECT DISTINCT ON (t.empresa, t.kind, t.subject, t.cause) t.*,
                             min(t.created_at) OVER w AS first_seen,
                             bool_and(t.run_id = %s) OVER w AS first_run
                      FROM {TABLE} t
                      WHERE t.needs_human AND t.cleared_at IS NULL
                      WINDOW w AS (PARTITION BY t.empresa, t.kind, t.subject, t.cause)
                      ORDER BY t.empresa, t.kind, t.subject, t.cause, t.id DESC) latest
                WHERE open
                ORDER BY first_seen, empresa, kind, subject""",
            (not_found_by,),
        )
        rows = cur.fetchall()
    waiting = [OpenQuestion(e, k, key, subject, cause, bool(w), first)
               for e, k, key, subject, cause, w, answer, first, first_run in rows
               if (answer is None or w) and not first_run]
    left_open = sum(1 for *_, w, answer, _, _ in rows if answer is not None and not w)
    return waiting, left_open


def open_counts(conn: Connection, empresa: str) -> dict[str, int]:
    """The company's open questions: waiting for an answer, answers waiting to be applied,
    answered "Leave open" (what ``data_general.open_findings`` lists)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT count(*) FILTER (WHERE answer IS NULL),
                      count(*) FILTER (WHERE answer_waiting),
                      count(*) FILTER (WHERE answer IS NOT NULL AND NOT answer_waiting)
               FROM data_general.open_findings WHERE empresa = %s""",
            (empresa,),
        )
        unanswered, waiting, left_open = one(cur)
    return {"unanswered": unanswered, "answer_waiting": waiting, "left_open": left_open}


# --------------------------------------------------------------------------- review


@dataclass(frozen=True)
class Question:
    """The latest row of an open question, as the review form shows it."""

    id: int
    run_id: str
    empresa: str
    kind: str
    subject: str | None
    cause: str | None
    s3_key: str | None
    detail: str
    outcome: str | None = None
    """What became of an earlier answer that was not applied (the form says it)."""

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run_id": self.run_id, "empresa": self.empresa,
                "kind": self.kind, "subject": self.subject, "cause": self.cause,
                "s3_key": self.s3_key}


_ASKABLE = """t.needs_human AND t.open AND t.answer IS NULL AND t.cleared_at IS NULL
              AND (t.asked_run_id IS NULL OR t.asked_run_id = %(run)s
                   OR t.asked_at < now() - %(stale)s)"""


def count_askable(conn: Connection, *, stale_after: timedelta) -> dict[tuple[str, str], int]:
    """Questions waiting to be asked, per (empresa, kind): nobody answers or asks them."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT empresa, kind, count(DISTINCT (subject, cause)) FROM {TABLE} t
                WHERE {_ASKABLE} GROUP BY 1, 2 ORDER BY 1, 2""",
            {"run": None, "stale": stale_after},
        )
        return {(empresa, kind): n for empresa, kind, n in cur}


def claim_questions(conn: Connection, run_id: str, *, limit: int, stale_after: timedelta
                    ) -> list[Question]:
    """Mark up to ``limit`` open, unanswered questions as asked by review run ``run_id``
    (the longest waiting first) and return them (their latest row). A question asked by
    another run is left to it unless that ask is older than ``stale_after`` (that run
    ended without an answer). A retried task of the same run gets its questions again."""
    _serialize(conn)
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT id, run_id, empresa, kind, subject, cause, s3_key, detail, outcome FROM (
                    SELECT DISTINCT ON (t.empresa, t.kind, t.subject, t.cause) t.*,
                           min(t.id) OVER (PARTITION BY t.empresa, t.kind, t.subject,
                                                        t.cause) AS first_id
                    FROM {TABLE} t WHERE {_ASKABLE}
                    ORDER BY t.empresa, t.kind, t.subject, t.cause, t.id DESC) latest
                ORDER BY first_id LIMIT %(limit)s""",
            {"run": run_id, "stale": stale_after, "limit": limit},
        )
        questions = [Question(*row) for row in cur.fetchall()]
        if questions:
            cur.execute(
                f"""UPDATE {TABLE} t SET asked_run_id = %s, asked_at = now()
                    FROM {TABLE} q
                    WHERE q.id = ANY(%s) AND {_SAME_QUESTION}
                      AND t.needs_human AND t.answer IS NULL AND t.cleared_at IS NULL""",
                (run_id, [q.id for q in questions]),
            )
    return questions


@dataclass(frozen=True)
class QuestionState:
    """Where a question stands when its answer arrives."""

    question: Question
    answered: Answer | None
    cleared: bool
    shown: dict[str, Any] | None = None
    """The facts the form of the answered finding showed when it was asked (``None``: not
    recorded)."""
    waiting: bool = False
    """``answered`` is recorded but not applied yet."""
    form_cleared: bool = False
    """The answered finding's own occurrence of the question was cleared (a later check no
    longer found it) since its form was shown: a newer occurrence is another form."""


def question_state(conn: Connection, finding_id: int) -> QuestionState | None:
    """The question of finding ``finding_id``, as its latest row says (locked for the
    answer: the caller records it in the same transaction)."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT t.id, t.run_id, t.empresa, t.kind, t.subject, t.cause, t.s3_key,
                       t.detail, t.outcome, t.answer, t.answered_by, t.answered_at,
                       t.outcome, t.open, t.cleared_at IS NOT NULL, q.shown, t.answer_waiting,
                       q.cleared_at IS NOT NULL
                FROM {TABLE} q JOIN {TABLE} t ON {_SAME_QUESTION} AND t.needs_human
                WHERE q.id = %s
                ORDER BY t.id DESC LIMIT 1 FOR UPDATE OF t""",
            (finding_id,),
        )
        row = cur.fetchone()
    if row is None:
        return None
    *question, answer, by, at, outcome, is_open, cleared, shown, waiting, form_cleared = row
    return QuestionState(Question(*question),
                         Answer(answer, by, at, outcome, is_open) if answer else None, cleared,
                         shown, bool(waiting), bool(form_cleared))


def record_answer(conn: Connection, finding_id: int, answer: Answer) -> int:
    """Write the applied answer on every row of the question not answered yet (or whose
    answer was waiting to be applied); return how many.

    Rows of a question that was cleared keep ``open = false``."""
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE {TABLE} t
                SET answer = %s, answered_by = %s, answered_at = %s, outcome = %s,
                    open = %s AND t.cleared_at IS NULL, asked_run_id = NULL, asked_at = NULL,
                    answer_waiting = false
                FROM {TABLE} q
                WHERE q.id = %s AND {_SAME_QUESTION} AND t.needs_human
                  AND (t.answer IS NULL OR t.answer_waiting)""",
            (answer.answer, answer.answered_by, answer.answered_at, answer.outcome, answer.open,
             finding_id),
        )
        return cur.rowcount


def record_shown(conn: Connection, finding_id: int, shown: dict[str, Any]) -> None:
    """What the form of the question shows now (its unanswered rows): what an answer to it
    is bound to."""
    _serialize(conn)
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE {TABLE} t SET shown = %s
                FROM {TABLE} q
                WHERE q.id = %s AND {_SAME_QUESTION} AND t.needs_human AND t.answer IS NULL
                  AND t.cleared_at IS NULL""",
            (Jsonb(shown), finding_id),
        )


def record_waiting(conn: Connection, finding_id: int, answer: Answer) -> bool:
    """The answer arrived while the company was being written: record it as chosen, not
    applied (``answer_waiting``; still open); the company's next check applies it. False
    when the question was answered meanwhile."""
    _serialize(conn)
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE {TABLE} t
                SET answer = %s, answered_by = %s, answered_at = %s, outcome = %s,
                    open = t.cleared_at IS NULL, asked_run_id = NULL, asked_at = NULL,
                    answer_waiting = true
                FROM {TABLE} q
                WHERE q.id = %s AND {_SAME_QUESTION} AND t.needs_human AND t.answer IS NULL""",
            (answer.answer, answer.answered_by, answer.answered_at, answer.outcome, finding_id),
        )
        return cur.rowcount > 0


def reopen(conn: Connection, finding_id: int, outcome: str) -> None:
    """An answer was not applied because what the form showed changed: the question has
    no answer again (asked again by the next review run, with the facts of then), and
    ``outcome`` says why. The caller holds the company's writer exclusion (no check writes
    the question meanwhile) and may hold the question's row lock: :data:`_LOCK` is not
    taken here (always taken before a row lock, never after one)."""
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE {TABLE} t
                SET answer = NULL, answered_by = NULL, answered_at = NULL, outcome = %s,
                    open = t.cleared_at IS NULL, asked_run_id = NULL, asked_at = NULL,
                    answer_waiting = false, shown = NULL
                FROM {TABLE} q
                WHERE q.id = %s AND {_SAME_QUESTION} AND t.needs_human""",
            (outcome, finding_id),
        )


def waiting_answers(conn: Connection, empresa: str) -> list[int]:
    """The questions of a company whose answer waits to be applied (a finding id each,
    oldest answer first)."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT id FROM (SELECT DISTINCT ON (kind, subject, cause) id, answered_at
                                FROM {TABLE} WHERE empresa = %s AND answer_waiting
                                ORDER BY kind, subject, cause, id DESC) w
                ORDER BY answered_at, id""",
            (empresa,),
        )
        return [fid for (fid,) in cur]


def release_question(conn: Connection, finding_id: int) -> None:
    """Nobody answered in time: the question is no longer being asked (a later review
    run asks it again, once a reconcile run announces it)."""
    _serialize(conn)
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE {TABLE} t SET asked_run_id = NULL, asked_at = NULL
                FROM {TABLE} q
                WHERE q.id = %s AND {_SAME_QUESTION} AND t.answer IS NULL""",
            (finding_id,),
        )
