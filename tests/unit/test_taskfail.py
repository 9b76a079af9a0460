"""A handled error fails its task with its message first and short, and no traceback
(issue 21): how each pipeline error is raised to Airflow, and the policy that fails at
once the ones retrying cannot fix. The task log itself: tests/e2e/test_operator_first_hour.py.
"""

from __future__ import annotations

import pytest
from airflow.sdk import RetryAction

from extractorov import errors, tasks
from extractorov.taskfail import (
    FIRST_LINE,
    RETRY_POLICY,
    HandledError,
    NotRetried,
    short_first_line,
)

LONG = ("load_db failed for afinia: OperationalError (SQLSTATE 08006); the transaction was "
        "rolled back, no row of this batch was written; the task is retried once the "
        "database answers again")


def test_a_long_first_line_is_cut_at_a_clause_and_nothing_is_lost():
    text = short_first_line(LONG)
    first, *rest = text.splitlines()
    assert first == "load_db failed for afinia: OperationalError (SQLSTATE 08006)"
    assert len(first) <= FIRST_LINE
    assert " ".join([first, *rest]).replace(") the", "); the") == LONG
    assert short_first_line("short: kept\nas it is") == "short: kept\nas it is"


@pytest.mark.parametrize(("error", "retried"), [
    (errors.ConfigurationError("Variable ov_s3_bucket is wrong: fix it"), False),
    (errors.FindingsNeedHuman("2 new finding(s) need a human for afinia: answer them"), False),
    (errors.DataCheckFailed("data checks failed for afinia"), False),
    (errors.LoadFailed(LONG), True),
    (errors.BotFailed("the bot exited with code 3"), True),
])
def test_a_pipeline_error_fails_its_task_without_a_traceback(error, retried):
    mapped = tasks.airflow_error(error)
    # SystemExit is the one exception Airflow's task runner logs without a traceback.
    assert isinstance(mapped, HandledError) and isinstance(mapped, SystemExit)
    assert isinstance(mapped, NotRetried) is (not retried)
    assert len(str(mapped).splitlines()[0]) <= FIRST_LINE
    assert mapped.code == str(mapped).splitlines()[0]  # Airflow's "Task exited" line
    decision = RETRY_POLICY.evaluate(mapped, try_number=1, max_tries=4)
    assert decision.action is (RetryAction.DEFAULT if retried else RetryAction.FAIL)


def test_an_unexpected_error_keeps_its_traceback():
    error = KeyError("bug")
    assert tasks.airflow_error(error) is error
    assert RETRY_POLICY.evaluate(error, try_number=1, max_tries=4).action is RetryAction.DEFAULT


def test_the_task_logs_the_message_itself_before_failing(caplog):
    caplog.set_level("ERROR")
    with pytest.raises(NotRetried) as failed, tasks.airflow_errors():
        raise errors.ConfigurationError("unknown conf key 'x': trigger again\nNothing was done.")
    assert str(failed.value) == "unknown conf key 'x': trigger again\nNothing was done."
    [record] = [r for r in caplog.records if r.name == "extractorov.tasks"]
    assert record.getMessage() == str(failed.value) and record.exc_info is None


def test_a_clause_is_never_cut_inside_parentheses_or_quotes():
    text = ("bot for afinia was stopped with its task (SIGTERM: the task was marked failed, "
            "lost its heartbeat or its worker is shutting down) after 0.3 s; its process group "
            "was stopped")
    first, rest = short_first_line(text).split("\n")
    # No clause ends within 120 characters outside the brackets: the first one that does.
    assert first == ("bot for afinia was stopped with its task (SIGTERM: the task was marked "
                     "failed, lost its heartbeat or its worker is shutting down) after 0.3 s")
    assert rest == "its process group was stopped"
    quoted = "the run's file '" + "a; b. c, " * 12 + "' is refused; fix it and move it back"
    assert short_first_line(quoted).split("\n")[0].endswith("' is refused")
