"""The ``scrape`` task of a company DAG: a sensor that runs the bot or waits for it.

A small operator rather than ``@task.sensor``: TaskFlow's sensor has no ``on_kill``,
and ``on_kill`` is what Airflow calls when it stops a running task (the task is
marked failed, loses its heartbeat, its worker shuts down: SIGTERM to the task
process, whose handler calls ``on_kill``, then SIGKILL a few seconds later) and when
``execution_timeout`` strikes. Here it stops the process group of the bot this task
runs (:func:`extractorov.bot.stop_running_bots`). The rest of the rule (the bot's
guard takes the group down if the task process is SIGKILLed; one bot per company,
through the company's bot lock) lives in :mod:`extractorov.bot`, so it holds
whoever calls it.

Reschedule mode, as before: quiet mode, and a bot running where this task may not
stop it, hold no worker slot while they wait. The body is
:func:`extractorov.tasks.scrape`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseSensorOperator

from extractorov import tasks
from extractorov.companies import Company


class ScrapeSensor(BaseSensorOperator):
    """Run the company's bot (command mode) or wait until its folder is quiet."""

    def __init__(self, *, company: Company, **kwargs: Any) -> None:
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.company = company

    def poke(self, context: Any) -> Any:
        return tasks.scrape(self.company, context)

    def on_kill(self) -> None:
        from extractorov import bot

        bot.stop_running_bots("on_kill")
