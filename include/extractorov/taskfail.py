"""How a task fails on an error the project raised on purpose: its message, no traceback.

Airflow 3.3's task runner (``airflow/sdk/execution_time/task_runner.py``,
``_run_task_and_map_outcome``) logs every exception a task raises with
``log.exception("Task failed with exception")``, i.e. with its traceback (13 frames for a
wrong conf key, most of them Airflow's), ``AirflowFailException`` included. The one
exception it logs without one is ``SystemExit``: ``log.error("Task exited",
exit_code=...)``, then the normal failure path: retried while tries are left, unless the
task's ``retry_policy`` (public: ``airflow.sdk.ExceptionRetryPolicy``) decides to fail.

So a handled :class:`~extractorov.errors.PipelineError` becomes a :class:`HandledError`
(a ``SystemExit`` whose code is the message's first line), logged first by the task
itself as the message (:func:`short_first_line`: at most :data:`FIRST_LINE` characters,
details on the lines below); one that retrying cannot fix is a :class:`NotRetried`, which
:data:`RETRY_POLICY` (every DAG's ``default_args``) fails at once, as
``AirflowFailException`` did. Anything else (a bug, an unexpected library error) keeps
its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

from extractorov.errors import CompanyBusy, PipelineError

log = logging.getLogger(__name__)
task_log = logging.getLogger("extractorov.tasks")
"""A handled failure's own line is logged under the task bodies' logger
(:mod:`extractorov.tasks`) whichever module runs the body (an operator's too): the line
is the task's, and tests and log filters look for it there."""

FIRST_LINE = 120
"""Characters of a failure's first line: what the log viewer shows without scrolling."""


def short_first_line(message: str, width: int = FIRST_LINE) -> str:
    """``message`` with a first line of at most ``width`` characters where it can be cut
    at the end of a clause (``; ``, ``. ``, then ``: ``, then ``, ``; never inside
    brackets or quotes; when none ends in time, the first that ends): the rest follows on
    the next line. A message written with its actionable sentence first keeps it first."""
    first, newline, rest = message.partition("\n")
    if len(first) <= width:
        return message
    depth, outside = 0, []  # where a clause may end: not inside (…), […], {…}, quotes
    quote = ""
    for index, char in enumerate(first):
        before = first[index - 1] if index else " "
        after = first[index + 1] if index + 1 < len(first) else " "
        if quote:  # a closing quote is not followed by a letter (the run's, it's)
            quote = "" if char == quote and not after.isalnum() else quote
        elif char in "'\"" and not before.isalnum():
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0 and first[index:index + 2] in ("; ", ". ", ": ", ", "):
            outside.append(index)
    cut = None
    for marks in ((";", "."), (":",), (",",)):
        cuts = [i for i in outside if first[i] in marks and width // 3 <= i < width]
        if cuts:
            cut = cuts[-1]
            break
    else:  # no clause ends in time: the first one that ends at all
        cut = next((i for i in outside if i >= width // 3), None)
    if cut is None:
        return message
    head, tail = first[:cut + 1].removesuffix(";"), first[cut + 2:]
    return head + "\n" + tail + newline + rest


class HandledError(SystemExit):
    """A failure the project explained: Airflow logs ``Task exited`` with the first line
    as ``exit_code``, and no traceback. Retried as any failure (while tries are left)."""

    retryable = True

    def __init__(self, message: str) -> None:
        self.message = short_first_line(message)
        super().__init__(self.message.split("\n", 1)[0])

    def __str__(self) -> str:
        return self.message


class NotRetried(HandledError):
    """A handled failure retrying cannot fix (a wrong setting, a decision to make): the
    task fails at once (:data:`RETRY_POLICY`)."""

    retryable = False


RETRY_POLICY = ExceptionRetryPolicy(rules=[RetryRule(
    exception=NotRetried, action=RetryAction.FAIL,
    reason="retrying cannot fix it: see the message above")])
"""Every task's ``retry_policy`` (the DAGs' ``default_args``): a :class:`NotRetried` fails
the task at once; everything else follows the task's ``retries``."""


RESCHEDULE_SECONDS = 60
"""When a task whose company is being written looks again (no worker slot held meanwhile)."""


def reschedule_at(when: datetime) -> BaseException:
    """What a task raises to look again at ``when``: it waits in ``up_for_reschedule``,
    holding no worker slot and using no try."""
    from airflow.sdk.exceptions import AirflowRescheduleException

    # Airflow 3.3.2 leaves AirflowRescheduleException.__init__(self, reschedule_date)
    # unannotated (airflow/sdk/exceptions.py): the one untyped call the package makes.
    return AirflowRescheduleException(when)  # type: ignore[no-untyped-call]


def airflow_error(exc: BaseException) -> BaseException:
    """What a task raises for ``exc``. A :class:`~extractorov.errors.PipelineError` is
    explained by its message, so it fails the task with that message and no traceback
    (:class:`HandledError`): retried with backoff when retrying may help, at once when not
    (a wrong setting or a needed decision does not heal by waiting). A company being written
    by another step is no failure: the task reschedules itself (``up_for_reschedule``: no
    worker slot held, no try used) and looks again. Anything else is raised as it is (with
    its traceback)."""
    if isinstance(exc, CompanyBusy):
        log.info("%s: looking again in %d s (the task waits in state up_for_reschedule, "
                 "holding no worker slot)", exc, RESCHEDULE_SECONDS)
        return reschedule_at(datetime.now(UTC) + timedelta(seconds=RESCHEDULE_SECONDS))
    if isinstance(exc, PipelineError):
        return (NotRetried if exc.needs_human or not exc.retryable else HandledError)(str(exc))
    return exc


@contextmanager
def airflow_errors() -> Iterator[None]:
    """Apply :func:`airflow_error` to whatever the block raises."""
    try:
        yield
    except PipelineError as exc:
        mapped = airflow_error(exc)
        if mapped is exc:
            raise
        if isinstance(mapped, HandledError):  # the message first, as the task's own line
            task_log.error("%s", mapped)
        raise mapped from None


__all__ = ["FIRST_LINE", "RESCHEDULE_SECONDS", "RETRY_POLICY", "HandledError", "NotRetried",
           "airflow_error", "airflow_errors", "reschedule_at", "short_first_line"]
