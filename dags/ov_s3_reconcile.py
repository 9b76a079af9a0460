"""
### Hourly S3 verification (`ov_s3_reconcile`)

Every hour from **04:00 to 22:00 America/Bogota**, for each company, compares
`data_general.s3_files_registry` with the bucket (one listing of
`{ov_s3_base_path}/{empresa}/raw_data/`) and with the request tables, and
repairs what it can:

Findings and actions:

- registry `uploaded`, object missing: back to `pending`, uploaded again;
- registry `uploaded`, object of another size, or a local file whose SHA-256
  differs from the object at its key: **needs a human** (never overwritten by a
  run, not retried while that object is there; uploaded once it is deleted, or
  written over it when the review answers "replace the bucket's object");
- object in S3 with no registry row: registered, status and source `pre_existing`;
- a row registered from the bucket whose object is gone (no local copy):
  **needs a human**;
- `pending` / `error` files (e.g. a `database_only` backlog): uploaded; this
  run's row in `post_processing_runs` counts them;
- request in a table whose source JSON is not in the registry: **needs a human**;
- files under `sin_sgc/{numero_radicado}/` of a request whose real SGC is now known:
  they follow it to the SGC's folder (`request_refiled`, repaired by the upload:
  copy, check, delete); objects that cannot (another object at their new key):
  `request_split`, **needs a human**;
- PDF/attachment waiting over `ov_orphan_after_hours` (counted from when the pipeline
  first saw it, never its modification time) for its request JSON, or whose JSON is
  there but whose owner cannot be told for sure (`document_waiting`, saying which), or a
  temporary file unchanged as long (`temp_file_stale`): **needs a human** (file name
  only; never moved);
- a file in `quarantine/` whose reason file is missing, empty or unreadable
  (`quarantine_reason_lost`): reported, no human needed (it counts as quarantined;
  a company run with `readmit_quarantine=true` validates it again).

Before comparing, each `reconcile_{empresa}` applies the review answers that arrived
while the company was being written (`answer_waiting`), each only if what its
question showed still holds. Each problem is counted once: a key holding a different
object is `object_different`, never also `upload_failed`.

Findings go to `data_general.reconcile_findings` and the task log. A
`reconcile_*` task fails when it finds a **new** question for a human (none of the
earlier checks found it since it was last cleared): each question fails one check,
whose failure e-mail announces it. A question already announced and still waiting
keeps the check green; the log says each hour how many questions remain open
(waiting for an answer, answers waiting to be applied, left open). The questions are
asked in Airflow's **Required actions** by DAG `ov_review_findings`: task
`announce_findings` updates Asset `ov_findings` (which starts it) only when a finding
waits to be asked, and is skipped otherwise; this DAG never waits for the answers. A
finding answered there is not asked again while its cause stays the same.
The `watcher` fails the run when a `reconcile_*` task failed. Each `reconcile_{empresa}`
task holds its company's writer exclusion for the whole check and waits in the
company's pool `ov_{empresa}_writer` (one slot, shared with the company DAG's writing
steps), so it never interleaves with a daily run, a backfill or a review answer.

Alerts (Variable `ov_alert_emails`, connection `smtp_default`; no Variable: a
warning in the log, no e-mail):

- a failed run sends one e-mail listing, per failed task, its log link and the
  new findings that need a human (kind and S3 key or file name only);
- **remind_open_findings**: from the 08:00 run on, e-mails once a day the questions
  announced before that still wait for an answer or for their answer to be applied
  (kind and S3 key or file name only); recorded in
  `data_general.open_findings_reminders`; nothing waiting, no e-mail;
- **check_morning_runs**: from the 06:00 run on, e-mails once per company and
  day whose scheduled morning run (`ov_afinia`, `ov_aire`) has not succeeded
  (never started, queued, still running or failed), or succeeded but read no new
  request JSON (the bot did not run, or wrote elsewhere; not for the companies in
  Variable `ov_expect_quiet`); recorded in `data_general.morning_run_alerts`; its log
  says (warning) when alerts are owed;
- **deliver_alerts**: every hour, whatever the checks end with, sends the alerts
  still owed. Every alert (a failed run's, the morning check's, the reminder) is
  written to `data_general.alert_outbox` before it is sent, then sent by whoever
  wrote it; one the mail server refused or could not take stays there (tried again
  after 1, 5, 15, then every 60 minutes) and this task sends it: exactly one
  message per alert, except a second copy (same Message-ID) if a sender dies between
  the server's acceptance and its commit. Its log lists what is still owed (kind,
  subject, attempts, last error); so does the stats page. It does not fail for it.

A missing landing folder (`{ov_landing_root}`, `{empresa}/`, `oficina_virtual/`,
`processed/`: a share not mounted, a wrong `ov_landing_root`, a renamed folder)
fails that company's `reconcile_{empresa}` at once, naming it; nothing re-creates it.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, TriggerRule, dag, task

try:
    from extractorov import assets, tasks
    from extractorov.alerts import RunFailureNotifier
    from extractorov.companies import COMPANIES
    from extractorov.settings import TIMEZONE
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
        "retry_policy": RETRY_POLICY,  # a handled error that retrying cannot fix
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
          outlets=[assets.FINDINGS], execution_timeout=timedelta(minutes=5))
    def announce_findings(**context) -> dict:
        return tasks.announce_findings(context)

    # announce_findings is a leaf that succeeds after a failed check: without this, the
    # run would look green.
    @task(task_id=tasks.WATCHER, trigger_rule=TriggerRule.ONE_FAILED, retries=0,
          execution_timeout=timedelta(minutes=5))
    def watcher() -> None:
        tasks.watcher()

    # Once a day, the questions announced before that still wait (after the checks: a
    # question a check finds first is announced by that check's failure, not reminded).
    @task(task_id=tasks.REMIND_OPEN_FINDINGS, trigger_rule=TriggerRule.ALL_DONE,
          execution_timeout=timedelta(minutes=5))
    def remind_open_findings(**context) -> dict:
        return tasks.remind_open_findings(context)

    checks >> announce_findings()
    checks >> watcher()
    checks >> remind_open_findings()

    @task(task_id=tasks.CHECK_MORNING_RUNS, execution_timeout=timedelta(minutes=10))
    def check_morning_runs(**context) -> dict:
        return tasks.check_morning_runs(context)

    check_morning_runs()

    # Alerts the mail server refused or could not take: no upstream, so the checks'
    # outcome (or their wait for a writer pool) never holds them back.
    @task(task_id=tasks.DELIVER_ALERTS, execution_timeout=timedelta(minutes=10))
    def deliver_alerts(**context) -> dict:
        return tasks.deliver_alerts(context)

    deliver_alerts()


ov_s3_reconcile()
