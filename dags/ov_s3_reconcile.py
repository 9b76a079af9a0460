"""
### Hourly S3 verification (`ov_s3_reconcile`)

Every hour from **04:00 to 22:00 America/Bogota**, for each company, compares
`data_general.s3_files_registry` with the bucket (one listing of
`{ov_s3_base_path}/{empresa}/raw_data/`) and with the request tables, and
repairs what it can:

Findings and actions:

- registry `uploaded`, object missing: back to `pending`, uploaded again;
- registry `uploaded`, object of another size, or a local file whose SHA-256
  differs from the object at its key: **needs a human** (never overwritten, not
  retried while that object is there; uploaded once it is deleted);
- object in S3 with no registry row: registered, status and source `pre_existing`;
- a row registered from the bucket whose object is gone (no local copy):
  **needs a human**;
- `pending` / `error` files (e.g. a `database_only` backlog): uploaded; this
  run's row in `post_processing_runs` counts them;
- request in a table whose source JSON is not in the registry: **needs a human**;
- PDF/attachment waiting over `ov_orphan_after_hours` for its request JSON
  (`document_waiting`), or a temporary file untouched as long
  (`temp_file_stale`): **needs a human** (file name only; never moved);
- a file in `quarantine/` whose reason file is missing, empty or unreadable
  (`quarantine_reason_lost`): reported, no human needed (it counts as quarantined;
  a company run with `readmit_quarantine=true` validates it again).

Findings go to `data_general.reconcile_findings` and the task log. A
`reconcile_*` task fails while a finding of its company needs a human and has no
answer yet; its log says what. Those findings are asked in Airflow's **Required
actions** by DAG `ov_review_findings`: task `announce_findings` updates Asset
`ov_findings` (which starts it) only when a finding waits to be asked, and is
skipped otherwise; this DAG never waits for the answers. A finding answered
there is not asked again, nor fails this DAG, while its cause stays the same.
The `watcher` fails the run when a `reconcile_*` task failed. Each `reconcile_{empresa}`
task holds its company's writer exclusion for the whole check and waits in the
company's pool `ov_{empresa}_writer` (one slot, shared with the company DAG's writing
steps), so it never interleaves with a daily run, a backfill or a review answer.

Alerts (Variable `ov_alert_emails`, connection `smtp_default`; no Variable: a
warning in the log, no e-mail):

- a failed run sends one e-mail listing, per failed task, its log link and the
  findings that need a human (kind and S3 key or file name only);
- **check_morning_runs**: from the 06:00 run on, e-mails once per company and
  day whose scheduled morning run (`ov_afinia`, `ov_aire`) has not succeeded
  (never started, queued, still running or failed); recorded in
  `data_general.morning_run_alerts`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, TriggerRule, dag, task
from airflow.timetables.trigger import CronTriggerTimetable

try:
    from extractorov import tasks
    from extractorov.alerts import RunFailureNotifier
    from extractorov.companies import COMPANIES
    from extractorov.settings import FINDINGS_ASSET, TIMEZONE
except ModuleNotFoundError as missing:  # one clear line in Import Errors, not a traceback
    if missing.name != "extractorov":
        raise
    raise ImportError(
        "package 'extractorov' is not installed where Airflow runs: install the project "
        "into the Airflow image or environment ('pip install .' from the project, or the "
        "project's Dockerfile); see the README, section 'Install into any Airflow'"
    ) from None


@dag(
    dag_id="ov_s3_reconcile",
    description="Hourly: registry vs bucket vs request tables, repaired where possible",
    doc_md=__doc__,
    schedule=CronTriggerTimetable("0 4-22 * * *", timezone=TIMEZONE),
    start_date=pendulum.datetime(2025, 10, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    # No dagrun_timeout: a check waits (holding no worker slot) while its company's pool is
    # taken by a long upload or backfill; waiting is not a failure (each task keeps its
    # execution_timeout).
    default_args={
        "owner": "data-engineering",
        "retries": 1,
        "retry_delay": timedelta(minutes=5),
    },
    tags=["oficina-virtual", "s3", "reconcile"],
    # One e-mail per failed run: every failed reconcile task with its findings.
    on_failure_callback=[RunFailureNotifier(
        counts_task_ids=[tasks.reconcile_task_id(c) for c in COMPANIES.values()])],
)
def ov_s3_reconcile() -> None:
    checks = []
    for company in COMPANIES.values():

        # The company's writer pool: never at the same time as its daily run's steps.
        @task(task_id=tasks.reconcile_task_id(company), execution_timeout=timedelta(minutes=50),
              pool=company.writer_pool)
        def reconcile(empresa: str = company.empresa, **context) -> dict:
            return tasks.reconcile(COMPANIES[empresa], context)

        checks.append(reconcile())

    # Runs whatever the checks ended with (a failed check has written its findings).
    @task(task_id=tasks.ANNOUNCE_FINDINGS, trigger_rule=TriggerRule.ALL_DONE,
          outlets=[Asset(FINDINGS_ASSET)], execution_timeout=timedelta(minutes=5))
    def announce_findings(**context) -> dict:
        return tasks.announce_findings(context)

    # announce_findings is a leaf that succeeds after a failed check: without this, the
    # run would look green.
    @task(task_id=tasks.WATCHER, trigger_rule=TriggerRule.ONE_FAILED, retries=0,
          execution_timeout=timedelta(minutes=5))
    def watcher() -> None:
        tasks.watcher()

    checks >> announce_findings()
    checks >> watcher()

    @task(task_id=tasks.CHECK_MORNING_RUNS, execution_timeout=timedelta(minutes=10))
    def check_morning_runs(**context) -> dict:
        return tasks.check_morning_runs(context)

    check_morning_runs()


ov_s3_reconcile()
