"""
### Remove one request everywhere (`ov_remove_request`)

**Manual only.** For a request that must go: a customer's *supresión* (Ley 1581 de
2012), a court order, a request captured by mistake. Trigger it with the company
(`empresa`), the request's `numero_radicado` and a `reason` (required; recorded: a case
or order number, not a person's name). From the CLI:

```bash
airflow dags trigger ov_remove_request \\
  -c '{"empresa": "afinia", "numero_radicado": "…", "reason": "orden judicial N° …"}'
```

With `list_only` on, it only lists where the request lives (the `find_request` log
and XCom) and asks nothing.

**Tasks.**

1. `find_request` lists every place the request lives, as counts and keys or paths,
   never a field value: its row in `data_general.ov_{empresa}`; its registry rows (by
   `numero_radicado`, by its request JSONs and the documents filed with them, everything
   under `sin_sgc/{numero_radicado}/`); **every S3 version and delete marker** of its
   objects (an SGC folder may hold more than one request: there only the keys of its
   registry rows and the objects named as its files are its own; the others are listed as
   *kept*, never deleted); its files in `processed/`, `quarantine/` and any archive folder
   (`{empresa}/oficina_virtual/archive/`); the run manifests holding its rows; its loaded
   marks, findings and first sightings; and the runs that filed it (kept: their records
   hold counts only).
2. `approve` asks in **Required actions** (Browse → Required actions): the form shows
   those counts and keys. **Approve**, or **Reject** (removes nothing; also what happens
   when nobody answers within 3 days). Either answer is recorded with who gave it.
3. `remove_{empresa}` (in the company's writer pool `ov_{empresa}_writer`, holding its
   writer exclusion: it takes turns with the company's runs and hourly check, and waits
   for them in state *scheduled* or *up_for_reschedule*, no worker slot held) removes
   **only what the approved form showed** (files that came after the listing under other
   names, a re-scrape written while the approval waited, are left to the next run and a new
   removal; the log and the audit row's `kept.after_listing` name them): the request's
   names and keys are recorded first, then a manifest not loaded yet is rewritten without
   its rows (crash-atomically; the other requests' rows stay, and its `load_db` loads them),
   and so is a loaded one whose run's `check_data` has not passed yet (its header notes the
   rows taken after the load, which that check subtracts); a loaded and checked one is
   deleted; then the table row, registry rows, loaded marks, findings
   and first sightings (one transaction); the local files; every S3 version and delete
   marker. It checks nothing is left, then marks the audit row `completed`.

**Audit.** `data_general.request_removals`: who triggered, who approved (Airflow user),
when, why (`reason`), what the form showed, what was removed and what was kept.

**Crash or failure midway**: the task's retry (or clearing it, or a new approved run for
the same request) finishes the removal in the same audit row. **Nothing comes back**:
`extract` never registers a file of a removed request's names (one left in `processed/`,
or a copy put back) and `ov_s3_reconcile` never registers an object at its keys. A later
scrape of the same request by the bot writes new files: they are filed as usual (the
portal still shows it); remove it again, and have the portal side settled.

Connections: `ov_postgres`, `aws_default` (or the one Variable `ov_removal_aws_conn_id`
names: it needs `s3:ListBucketVersions` and `s3:DeleteObjectVersion`, see
`include/aws/README.md`). Variables: `ov_s3_bucket`, `ov_s3_base_path`, `ov_landing_root`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

try:
    from extractorov import tasks
    from extractorov.alerts import RunFailureNotifier
    from extractorov.companies import COMPANIES, Company
    from extractorov.removal_operator import (
        APPROVE,
        FIND_REQUEST,
        RESPONSE_TIMEOUT,
        RemovalApprovalOperator,
        remove_task_id,
    )
    from extractorov.settings import REMOVAL_DAG_ID, TIMEZONE
    from extractorov.taskfail import RETRY_POLICY
except ModuleNotFoundError as missing:  # one clear line in Import Errors, not a traceback
    if missing.name != "extractorov":
        raise
    raise ImportError(
        "package 'extractorov' is not installed where Airflow runs: install the project "
        "into the Airflow image or environment ('pip install .' from the project, or the "
        "project's Dockerfile); see the README, section 'Install into any Airflow'"
    ) from None


@dag(
    dag_id=REMOVAL_DAG_ID,
    description="Manual: find one request everywhere and, once approved in Required "
                "actions, remove it (audited)",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2025, 10, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_policy": RETRY_POLICY,  # a handled error that retrying cannot fix
    },
    tags=["oficina-virtual", "removal", "personal-data"],
    on_failure_callback=[RunFailureNotifier()],
    params={
        "empresa": Param(
            type="string", enum=sorted(COMPANIES), title="Company",
            description="The company whose request is removed."),
        "numero_radicado": Param(
            type="string", minLength=1, maxLength=64, title="numero_radicado",
            description="The request's number (numero_radicado), as in its table row."),
        "reason": Param(
            type="string", minLength=3, maxLength=500, title="Reason (recorded)",
            description="Why it is removed, e.g. 'captured by mistake', 'supresión pedida "
                        "por el titular (caso N° …)', 'orden judicial N° …'. Recorded in the "
                        "audit row: a case or order number, not a person's name."),
        "list_only": Param(
            False, type=["boolean", "null"], title="List only",
            description="On: only list where the request lives (the find_request log and "
                        "XCom); nothing is asked, nothing is removed."),
    },
)
def ov_remove_request() -> None:
    @task(task_id=FIND_REQUEST, execution_timeout=timedelta(minutes=30), multiple_outputs=False)
    def find_request(**context) -> dict:
        return tasks.find_request(context)

    approve = RemovalApprovalOperator(
        task_id=APPROVE,
        subject="Remove a request everywhere?",  # the form's real subject: built when asked
        # execution_timeout bounds asking and recording; the wait for a human is
        # response_timeout (then "Reject" is the default: nothing is removed).
        execution_timeout=timedelta(minutes=15),
        response_timeout=RESPONSE_TIMEOUT,
        defaults=[RemovalApprovalOperator.REJECT],
    )
    find_request() >> approve

    for company in COMPANIES.values():
        approve >> removal_task(company)


def removal_task(company: Company):
    """``remove_{empresa}``: in the company's writer pool, so never at the same time as its
    runs' writing steps or its hourly check (a waiting removal holds no worker slot)."""

    @task(task_id=remove_task_id(company), pool=company.writer_pool,
          execution_timeout=timedelta(hours=1), multiple_outputs=False)
    def remove(**context) -> dict:
        return tasks.remove_request(company, context)

    return remove()


ov_remove_request()
