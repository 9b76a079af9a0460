"""One writer per company through the real scheduler: a backfill next to a manual trigger.

Airflow counts a backfill's runs apart from the DAG's other runs, so a 3-day backfill
(``max_active_runs`` 3) plus one manual trigger runs four ``ov_afinia`` runs at once,
whatever the DAG's ``max_active_runs=1`` says. The company's writing tasks share the
pool ``ov_afinia_writer`` (one slot) and hold the company's writer exclusion: they run
one at a time, every file is filed once, and the runs' reports add up to the files
delivered. Runs on the CeleryExecutor stack of ``tests/system`` (after the other system
tests: it delivers another morning of files).
"""

from __future__ import annotations

import itertools
import time
from datetime import date, datetime

import pytest

from devtools.standalone import deliver_morning
from tests.helpers import list_keys, query
from tests.system.stack import BUCKET, SUMMARY

pytestmark = [pytest.mark.system, pytest.mark.timeout(1200)]

WRITERS = ("extract", "load_db", "upload_s3", "retention")


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_backfill_and_a_trigger_write_the_company_one_step_at_a_time(airflow_stack,
                                                                       api_runs):
    api = airflow_stack.api
    delivered = deliver_morning(airflow_stack.landing, date(2025, 10, 9), requests_per_day=10,
                                seed=42)["afinia"]
    backfill = api.request("POST", "/api/v2/backfills", json={
        "dag_id": "ov_afinia", "from_date": "2025-10-02T09:00:00Z",
        "to_date": "2025-10-04T09:00:00Z", "max_active_runs": 3,
        "dag_run_conf": {"database_only": False}})
    assert backfill.status_code == 200, backfill.text
    manual = api.trigger("ov_afinia", {"database_only": False})["dag_run_id"]

    deadline = time.monotonic() + 900
    while True:
        runs = [r for r in api.dag_runs("ov_afinia")
                if r["dag_run_id"] == manual or r["run_type"] == "backfill"]
        if len(runs) == 4 and all(r["state"] in ("success", "failed") for r in runs):
            break
        assert time.monotonic() < deadline, [(r["dag_run_id"], r["state"]) for r in runs]
        airflow_stack.check_alive()
        time.sleep(3)
    tis = {r["dag_run_id"]: api.task_instances("ov_afinia", r["dag_run_id"]) for r in runs}
    assert {r["dag_run_id"]: r["state"] for r in runs} == dict.fromkeys(tis, "success"), {
        run: {ti["task_id"]: ti["state"] for ti in t} for run, t in tis.items()}

    # The four runs overlapped, their writing steps did not.
    spans = sorted((_when(ti["start_date"]), _when(ti["end_date"]), run, ti["task_id"])
                   for run, run_tis in tis.items() for ti in run_tis
                   if ti["task_id"] in WRITERS)
    assert len(spans) == 4 * len(WRITERS)
    assert all(ti["pool"] == "ov_afinia_writer" for t in tis.values() for ti in t
               if ti["task_id"] in WRITERS)
    for (_, end, run, task), (start, _, next_run, next_task) in itertools.pairwise(spans):
        assert end <= start, f"{run}.{task} and {next_run}.{next_task} wrote at once"
    run_spans = {run: (min(_when(ti["start_date"]) for ti in t if ti["start_date"]),
                       max(_when(ti["end_date"]) for ti in t if ti["end_date"]))
                 for run, t in tis.items()}
    overlapping = sum(1 for a in run_spans.values() for b in run_spans.values()
                      if a is not b and a[0] < b[1] and b[0] < a[1])
    SUMMARY["writers_runs_overlapping_pairs"] = overlapping // 2

    # Every file of the new morning filed once: the runs' reports add up to the delivery.
    with airflow_stack.warehouse() as conn:
        reports = query(conn, "SELECT run_id, files_new, s3_uploaded, status FROM "
                              "data_general.post_processing_runs WHERE run_id = ANY(%s)",
                        list(tis))
        [(registered,)] = query(conn, "SELECT count(*) FROM data_general.s3_files_registry "
                                      "WHERE empresa = 'afinia'")
        # In the bucket: 'uploaded', or 'pre_existing' (the browser test's review answer
        # keeps the bucket's object of one row; reconcile registers a loose object so).
        [(pending,)] = query(conn, "SELECT count(*) FROM data_general.s3_files_registry "
                                   "WHERE empresa = 'afinia' AND upload_status NOT IN "
                                   "('uploaded', 'pre_existing')")
    assert len(reports) == 4 and {r[3] for r in reports} == {"success"}
    assert sum(r[1] for r in reports) == delivered, reports
    assert sum(r[2] for r in reports) == delivered, reports
    assert pending == 0
    # Not the object the browser test put outside the layout (asked about, left open,
    # never registered: object_outside_layout).
    afinia_keys = [k for k in list_keys(airflow_stack.s3(), BUCKET)
                   if k.startswith("oficina-virtual/afinia/")
                   and not k.endswith("/loose-file.txt")]
    assert len(afinia_keys) == registered
    SUMMARY["writers_backfill"] = {"runs": len(tis), "files_delivered": delivered,
                                   "first_start": str(spans[0][0]),
                                   "last_end": str(spans[-1][1])}
