"""A morning through the scheduler: each company's day of bot output through its DAG on the
CeleryExecutor stack of ``make e2e`` (``tests/system/stack.py``: api-server, scheduler,
dag-processor, two Celery workers, the machine's PostgreSQL and Redis), both runs
triggered through the REST API at once, S3 (moto) behind the same 60 ms proxy.

Per DAG run, from Airflow's own timestamps (REST API): trigger (``queued_at``) to
success, the time tasks ran (their ``duration``) and the rest, Airflow's overhead:
waiting to be scheduled and queued, and a worker starting the task; and within the
task time, the pipeline's own seconds (each step's summary) and the task process's.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.env import ROOT
from bench.measure import log
from bench.modes import Mode
from bench.services import PROXY_DELAY

DAG_IDS = ("ov_afinia", "ov_aire")
RAN = ("scrape", "extract", "load_db", "upload_s3", "report_stats")
ARTIFACTS = ROOT / "test-artifacts" / "bench-morning"
STEP_SECONDS = {"extract": "seconds", "load_db": "seconds", "upload_s3": "seconds"}


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return round((b - a).total_seconds(), 2) if a and b else None


def _proxy(moto_port: int) -> tuple[subprocess.Popen, str]:
    proxy = subprocess.Popen([sys.executable, "-m", "bench.proxy", "--upstream-port",
                              str(moto_port), "--delay", str(PROXY_DELAY)],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = proxy.stdout.readline() if proxy.stdout else ""
    if not line.startswith("PORT "):
        proxy.terminate()
        raise RuntimeError("latency proxy did not start")
    return proxy, f"http://127.0.0.1:{int(line.split()[1])}"


def _analyse(api: Any, dag_id: str, run: dict[str, Any]) -> dict[str, Any]:
    run_id = run["dag_run_id"]
    tis = {ti["task_id"]: ti for ti in api.task_instances(dag_id, run_id)}
    queued, ended = _ts(run.get("queued_at")), _ts(run.get("end_date"))
    total = _seconds(queued, ended)
    tasks = {}
    previous_end = queued
    task_seconds = pipeline_seconds = 0.0
    for task_id in RAN:
        ti = tis.get(task_id)
        if not ti or not ti.get("start_date"):
            continue
        start, end = _ts(ti["start_date"]), _ts(ti["end_date"])
        duration = ti.get("duration") or _seconds(start, end) or 0.0
        own = None
        if task_id in STEP_SECONDS:
            xcom = api.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/"
                                      f"{task_id}/xcomEntries/return_value",
                               params={"deserialize": "true"})
            if xcom.status_code == 200:
                value = xcom.json().get("value")
                if isinstance(value, dict) and value.get("seconds") is not None:
                    own = float(value["seconds"])
                    pipeline_seconds += own
        tasks[task_id] = {
            "waited_to_start": _seconds(previous_end, start),
            "queued_to_start": _seconds(_ts(ti.get("queued_when")), start),
            "duration": round(duration, 2), "pipeline_seconds": own,
            "hostname": ti.get("hostname"), "try_number": ti.get("try_number"),
        }
        task_seconds += duration
        previous_end = end
    overhead = round(total - task_seconds, 2) if total is not None else None
    return {"run_id": run_id, "state": run["state"], "trigger_to_success": total,
            "task_seconds": round(task_seconds, 2), "pipeline_seconds": round(pipeline_seconds, 2),
            "airflow_overhead_seconds": overhead,
            "airflow_overhead_share": round(overhead / total, 3) if total else None,
            "task_process_seconds": round(task_seconds - pipeline_seconds, 2),
            "tasks": tasks}


def bench_morning(mode: Mode) -> dict[str, Any]:
    """Start the stack, trigger both DAGs at once, analyse the two runs; stop everything."""
    from _pytest.outcomes import OutcomeException  # the stack skips when a service is missing

    from devtools.sample import generate_landing
    from tests.system import stack as system

    requests = mode.morning_requests
    proxy: subprocess.Popen | None = None

    def sample(landing: Path) -> Any:
        return generate_landing(landing, days=1, requests_per_day=requests,
                                rescrape_ratio=0.0, attachment_ratio=1.0, pdf_size=100_000)

    def behind_proxy(moto: Any) -> str:
        nonlocal proxy
        proxy, endpoint = _proxy(moto.port)
        return endpoint

    started = time.monotonic()
    try:
        with contextlib.ExitStack() as cleanup:
            stack = cleanup.enter_context(system.running_stack(
                sample, artifacts=ARTIFACTS, upload_workers=mode.upload_workers,
                s3_endpoint=behind_proxy))
            cleanup.callback(lambda: proxy and (proxy.terminate(), proxy.wait(timeout=10)))
            startup = round(time.monotonic() - started, 1)
            api = stack.api
            parse_wait = round(system.wait_for_dags(api, stack), 1)
            for dag_id in DAG_IDS:
                api.unpause(dag_id)
            log(f"morning: stack up in {startup} s; triggering {', '.join(DAG_IDS)} "
                f"({requests} requests each)")
            triggered = {dag_id: api.trigger(dag_id, {"database_only": False})
                         for dag_id in DAG_IDS}
            runs = {dag_id: api.wait_run(dag_id, run["dag_run_id"], timeout=1800,
                                         on_wait=stack.check_alive)
                    for dag_id, run in triggered.items()}
            out = {dag_id: _analyse(api, dag_id, run) for dag_id, run in runs.items()}
            files = stack.sample.by_company
    except OutcomeException as exc:  # PostgreSQL or Redis missing: said, not hidden
        return {"skipped": str(getattr(exc, "msg", exc))}
    except AssertionError as exc:  # a run failed or timed out: reported, the bench goes on
        return {"failed": str(exc)[:2000]}
    for dag_id, result in out.items():
        result["files"] = files.get(dag_id.removeprefix("ov_"))
        log(f"  morning {dag_id}: {result['trigger_to_success']} s trigger to success, "
            f"Airflow overhead {result['airflow_overhead_seconds']} s "
            f"({result['airflow_overhead_share']:.0%})")
    return {"requests_per_company": requests, "upload_workers": mode.upload_workers,
            "stack_startup_seconds": startup, "dag_parse_wait_seconds": parse_wait,
            "runs": out}
