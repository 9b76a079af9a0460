"""Run the ``scrape`` task of a company DAG in this process, as Airflow's task runner does.

For tests that signal a real task process: the DAG file is parsed and its ``scrape``
operator pokes once, with a minimal context (no metadata database: Variables come
from ``AIRFLOW_VAR_*``). SIGTERM does what the task runner's handler does
(``task_runner._run_task_and_map_outcome._on_term``): call the operator's
``on_kill()`` and return. With ``--plain-sigterm`` SIGTERM keeps its default action
(a process that is no Airflow task).

Usage: ``python tests/scrape_task.py EMPRESA [--plain-sigterm]``. Prints one line to
stdout: ``done {json}``, ``rescheduled`` or ``failed {type}: {message}``; logs (the
bot's lines included) go to stderr.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import signal
import sys
from pathlib import Path
from types import SimpleNamespace

DAGS = Path(__file__).resolve().parents[1] / "dags"


def main(argv: list[str]) -> int:
    empresa = argv[1]
    spec = importlib.util.spec_from_file_location("ov_companies", DAGS / "ov_companies.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # After Airflow's import configured its own logging: the task's lines to stderr.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s",
                        force=True)
    dag = getattr(module, f"ov_{empresa}")
    task = dag.get_task("scrape").prepare_for_execution()  # as the task runner does
    if "--plain-sigterm" not in argv:
        signal.signal(signal.SIGTERM, lambda signum, frame: task.on_kill())
    ti = SimpleNamespace(max_tries=0, try_number=1,
                         get_first_reschedule_date=lambda context: None)
    context = {"task": task, "ti": ti, "dag": dag, "dag_run": SimpleNamespace(conf={}),
               "params": {"database_only": False, "readmit_quarantine": False}}
    print("started", flush=True)
    from airflow.sdk.exceptions import AirflowRescheduleException

    try:
        result = task.poke(context)
    except AirflowRescheduleException:
        print("rescheduled", flush=True)
        return 0
    except (Exception, SystemExit) as exc:  # the outcome is the output
        # A handled error fails the task as a SystemExit (extractorov.taskfail): name the
        # pipeline error it stands for.
        cause = exc.__context__ if isinstance(exc, SystemExit) and exc.__context__ else exc
        text = str(exc).replace("\n", " ")  # one line (a message's details are below it)
        print(f"failed {type(cause).__name__}: {text}", flush=True)
        return 1
    print(f"done {json.dumps(getattr(result, 'xcom_value', result), default=str)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
