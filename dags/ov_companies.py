"""
### Oficina Virtual post-processing for {display_name} (`{empresa}`)

Every day at **04:00 America/Bogota** this DAG takes what the scraper saved in
`{{ov_landing_root}}/{empresa}/oficina_virtual/processed/` and:

0. **scrape**: gets the scraper's output in place, in one of two modes, chosen
   *when the task runs* (a DAG file cannot read Variables while it is parsed, so
   this page cannot say which mode is in force: look at Admin → Variables, or at
   the first lines of the `scrape` log, which name the mode):
   - **command mode**, when Variable `ov_bot_command_{empresa}` is set: runs that
     command line (no shell; POSIX quoting) in `ov_bot_workdir` (empty: the
     worker's directory) and never logs its arguments. Only the bot's known
     progress lines reach the task log (field values in them as `<redacted>`);
     any other line shows as `<bot line: N characters, not a known progress
     line>`, its length only: it may hold personal data. The full text is on the
     bot's host (its log `data/logs/current/{empresa}_ov.log` under its working
     directory; console-only lines: run it by hand). Its whole process group is
     killed after `ov_bot_timeout_minutes` (default 90), and stopped with the
     task when the task is marked failed, loses its heartbeat or its worker
     stops (the bot never outlives its task). A non-zero exit fails the task,
     which is retried;
     a missing program or working directory fails it at once. One bot per
     company: while the company's bot runs on another worker (lock
     `oficina_virtual/bot.lock`), the task waits in reschedule mode and looks
     again every minute; a bot left by a killed try on the same worker is
     stopped before a new one starts.
   - **quiet mode**, when that Variable is unset or empty (the bot runs elsewhere,
     e.g. a Windows scheduled task writing to a shared folder): waits, in
     reschedule mode (no worker slot held between looks), until no file in
     `processed/` has changed for `ov_landing_quiet_minutes` (default 10). After
     `ov_landing_wait_minutes` (default 120) it goes on with what is settled and
     logs a warning "wait limit reached"; files still being written are left for
     the next run.

   In both modes a missing folder of the bot (`{{ov_landing_root}}`, `{empresa}/`,
   `oficina_virtual/`, and in quiet mode `processed/`) fails the task at once, without
   retries, naming it and the likely cause (share not mounted, wrong Variable
   `ov_landing_root`, company folder renamed): it is never taken for a quiet morning,
   and the pipeline never creates those folders (`extract` checks them too).

   **Switching**: set Variable `ov_bot_command_{empresa}` (e.g.
   `/opt/bot/.venv/bin/python main.py --empresa {empresa}`) for command mode;
   delete it, or make it empty, for quiet mode. The next run uses the new mode.
1. **extract**: validates each request JSON and files its detail PDF and
   attachment (any extension) with it, registers every good file as `pending`
   in `data_general.s3_files_registry`, and moves bad files to `quarantine/`
   with a `.reason.txt`. A PDF or attachment whose JSON has not arrived yet
   **waits** in `processed/` (counted as waiting, never quarantined); with the
   bot's placeholder SGCs (`PQR_4_ERROR`…) a document is filed only when the
   write order proves its request, under `sin_sgc/{{numero_radicado}}/`. A blank
   `fecha` loads as NULL (counted incomplete). Files handled by earlier runs are
   skipped; files earlier versions quarantined under retired rules come back.
   A file that cannot be quarantined (the landing volume is full) stays in
   `processed/`; the rest of the batch is filed, then the task fails with
   `disk full: … could not be quarantined …`: free space and clear it.
   Rules: `docs/data-contract.md`.
2. **load_db**: upserts the requests into `data_general.{table}` by
   `numero_radicado` (inserted / updated / duplicate), in one transaction.
   **check_data** then checks, by name and with counts only: `numero_radicado`
   not null and unique; `fecha` not in the future (1 day of slack) and not before
   2000 (blank `fecha` allowed and counted); every record the load reported is in
   the table; every loaded request JSON is marked in `data_general.s3_files_loaded`. A failed
   check fails the run (not the upload: the files are fine either way). Only a
   run whose checks passed updates the Asset `ov_{empresa}_table`.
3. **upload_s3**: uploads every `pending` or `error` file of `{empresa}` to
   `s3://{{ov_s3_bucket}}/{{ov_s3_base_path}}/{empresa}/raw_data/{{numero_reclamo_sgc}}/`
   (or `…/raw_data/sin_sgc/{{numero_radicado}}/`) through the `aws_default`
   connection, and records each outcome.
4. **retention**: a file whose object is verified in the bucket (local bytes and
   object checked by SHA-256 / S3's checksum or ETag now, not by the registry's status)
   and whose upload is over `ov_local_retention_days` (default 30) old leaves
   `processed/`: moved to `archive/YYYY-MM/` or deleted, per `ov_local_retention`
   (`archive` by default, `delete`, `keep`); an archived copy is deleted
   `ov_local_archive_days` (default 60) later. Never a file not verified, one an open
   question is about, or a request JSON not loaded. Loaded run manifests go after
   `ov_manifest_retention_days` (default 7), reason files left without their file after
   a day. Runs even when an earlier step failed (it only touches what earlier runs
   delivered); with `database_only` it removes no local copy (verifying needs S3).
   Crash-safe: a removal a kill interrupted is completed or undone by the next run.
5. **report_stats**: writes the run's counts to
   `data_general.post_processing_runs` and logs them with registry-wide stats.

**Param `database_only`** (toggle in the trigger form, default off): when on,
`upload_s3` is skipped and the files stay `pending` in the registry. They are
uploaded as soon as S3 works: by the next hourly `ov_s3_reconcile` (04:00–22:00
Bogotá) or the next run of this DAG, whichever comes first; that run's report
counts them. Use it when S3 is unavailable or credentials are not set yet (and
pause `ov_s3_reconcile` if nothing may reach S3 until you say so).

**Param `readmit_quarantine`** (default off): when on, `extract` first moves every
file of `quarantine/` back to `processed/` and validates it again (after a parser
fix, say); files that fail again return to `quarantine/` with their new reason.
Files whose reason file was lost (`reason lost`) come back too. The run report
counts them as re-admitted.

**Backfill** (trigger form → Backfill, or `airflow backfill create`): a run for a
past data interval does exactly what a normal run does. It takes what is in
`processed/` *now*, not the files of that interval: every file is handled once
(the registry remembers it), so the first backfill run does the work and the
others find nothing new and change nothing. To process old files again, put them
back in `processed/` (or use `readmit_quarantine` for quarantined ones).

**One writer per company**: `extract`, `load_db`, `upload_s3` and `retention` (and the hourly
`reconcile_{empresa}` of `ov_s3_reconcile`) share the pool `ov_{empresa}_writer` of one
slot and hold the company's writer exclusion while they change its data, so a
backfill's runs and a manual trigger take turns (Airflow does not count a backfill's
runs in `max_active_runs`). A waiting task holds no worker slot and never fails for
waiting.

If any step fails the run fails (the `watcher` task), after `report_stats`
has recorded what happened; after a failed `scrape`, `extract` does not run.
A failed run e-mails Variable `ov_alert_emails` (through `smtp_default`): the
run, the failed tasks with their log links and the run's counts, never request
data; recorded first in `data_general.alert_outbox`, so a message the mail server
does not take is sent by the next hourly `ov_s3_reconcile` (`deliver_alerts`).
By 06:00 Bogotá `ov_s3_reconcile` e-mails if this run has not succeeded.
Connections: `ov_postgres`, `aws_default`, `smtp_default`. Variables:
`ov_alert_emails`, `ov_s3_bucket`, `ov_s3_base_path`, `ov_landing_root`,
`ov_bot_command_{empresa}`, `ov_bot_workdir`,
`ov_bot_timeout_minutes`, `ov_landing_quiet_minutes`, `ov_landing_wait_minutes`,
`ov_bot_timezone`, `ov_orphan_after_hours`, `ov_local_retention`,
`ov_local_retention_days`, `ov_local_archive_days`, `ov_manifest_retention_days`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, TriggerRule, dag, task

try:
    from extractorov import assets, tasks
    from extractorov.alerts import RunFailureNotifier
    from extractorov.bot_operator import ScrapeSensor
    from extractorov.companies import COMPANIES, Company
    from extractorov.settings import DAILY_CRON, TIMEZONE
    from extractorov.taskfail import RETRY_POLICY
except ModuleNotFoundError as missing:  # one clear line in Import Errors, not a traceback
    if missing.name != "extractorov":
        raise
    raise ImportError(
        "package 'extractorov' is not installed where Airflow runs: install the project "
        "into the Airflow image or environment ('pip install .' from the project, or the "
        "project's Dockerfile); see the README, section 'Install into any Airflow'"
    ) from None

SCRAPE_EXECUTION_TIMEOUT = timedelta(minutes=90 + 30)
"""Default ``ov_bot_timeout_minutes`` plus a margin: a backstop, the bot's own timeout
kills its process group first (a larger Variable is capped to this, with a warning)."""

OPTIONAL_BOOLEAN = ["boolean", "null"]
"""A toggle's schema type. Airflow's trigger form marks a param required (red ``*``) when
its type is not a list that includes ``"null"``; with this one it is an optional switch,
still ``False`` by default (what scheduled runs use), and ``null`` reads as off."""

DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    # A handled error retrying cannot fix fails at once, its message and no traceback.
    "retry_policy": RETRY_POLICY,
}


def build_company_dag(company: Company) -> DAG:
    """One DAG per registered company; tasks only call `extractorov` functions."""

    @dag(
        dag_id=company.dag_id,
        description=f"Oficina Virtual {company.display_name}: landing → Postgres → S3 → stats",
        doc_md=__doc__.format(
            display_name=company.display_name, empresa=company.empresa, table=company.table
        ),
        schedule=CronDataIntervalTimetable(DAILY_CRON, timezone=TIMEZONE),
        start_date=pendulum.datetime(2025, 10, 1, tz=TIMEZONE),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["oficina-virtual", company.empresa, "s3", "postgres"],
        # At DAG level: task callbacks are skipped when a task process is killed.
        on_failure_callback=[RunFailureNotifier(counts_task_ids=[tasks.REPORT_STATS])],
        params={
            "database_only": Param(
                False,
                type=OPTIONAL_BOOLEAN,
                title="Database only (skip S3 upload)",
                description=(
                    "On: load the requests into PostgreSQL and register the files, but do not "
                    "upload to S3 in this run (upload_s3 is skipped; the files stay 'pending' "
                    "and are uploaded as soon as S3 works: by the next hourly ov_s3_reconcile "
                    "or the next run of this DAG, whichever comes first). Off (default, and "
                    "what scheduled runs use): upload to S3 as well."
                ),
            ),
            "readmit_quarantine": Param(
                False,
                type=OPTIONAL_BOOLEAN,
                title="Re-admit quarantined files",
                description=(
                    "On: before extracting, move every file in quarantine/ back to processed/ "
                    "so it is validated again (e.g. after a parser fix). Files that pass are "
                    "loaded and uploaded as usual; files that fail again return to quarantine/ "
                    "with their new reason. The run report counts them (re-admitted). "
                    "Off (default): quarantined files stay where they are."
                ),
            ),
        },
    )
    def company_dag() -> None:
        # Every task has a time limit: a hung read or lock never blocks later runs
        # (max_active_runs=1) for ever.
        # A sensor class, not @task.sensor: its on_kill stops the bot's process group.
        scrape = ScrapeSensor(task_id=tasks.SCRAPE, company=company, mode="reschedule",
                              poke_interval=60, execution_timeout=SCRAPE_EXECUTION_TIMEOUT)

        # One writer per company: the tasks that change the company's files, registry,
        # table or bucket share its pool of one slot (with ov_s3_reconcile's check of the
        # company), so a backfill's runs and a manual trigger take turns; a waiting task
        # holds no worker slot. Weights favour the run furthest along (its load before
        # another run's extract).
        writer = {"pool": company.writer_pool, "weight_rule": "upstream"}

        @task(task_id=tasks.EXTRACT, execution_timeout=timedelta(hours=2), **writer)
        def extract(**context) -> dict:
            return tasks.extract(company, context)

        @task(task_id=tasks.LOAD_DB, execution_timeout=timedelta(hours=1), **writer)
        def load_db(extract_summary: dict, **context) -> dict:
            return tasks.load_db(company, extract_summary, context)

        # The table's Asset is updated here, once the loaded rows passed the checks.
        @task(task_id=tasks.CHECK_DATA, execution_timeout=timedelta(minutes=30),
              outlets=[assets.table_asset(company)])
        def check_data(extract_summary: dict, load_summary: dict, **context) -> dict:
            return tasks.check_data(company, extract_summary, load_summary, context)

        @task(task_id=tasks.UPLOAD_S3, execution_timeout=timedelta(hours=4),
              outlets=[assets.s3_asset(company)], **writer)
        def upload_s3(**context) -> dict:
            return tasks.upload_s3(company, context)

        # After the upload, whatever it ended with: it only touches what earlier runs
        # delivered, verified again in the bucket (a failed step today must not let the
        # landing folder grow); with database_only it removes no local copy.
        @task(task_id=tasks.RETENTION, trigger_rule=TriggerRule.ALL_DONE,
              execution_timeout=timedelta(hours=1), **writer)
        def retention(**context) -> dict:
            return tasks.retention(company, context)

        @task(task_id=tasks.REPORT_STATS, trigger_rule=TriggerRule.ALL_DONE,
              execution_timeout=timedelta(minutes=15))
        def report_stats(**context) -> dict:
            return tasks.report_stats(company, context)

        @task(task_id=tasks.WATCHER, trigger_rule=TriggerRule.ONE_FAILED, retries=0,
              execution_timeout=timedelta(minutes=5))
        def watcher() -> None:
            tasks.watcher()

        scraped = scrape
        summary = extract()
        loaded = load_db(summary)
        checked = check_data(summary, loaded)
        uploaded = upload_s3()
        retained = retention()
        reported = report_stats()
        scraped >> summary >> loaded >> uploaded >> retained >> reported
        checked >> reported  # the checks do not hold the upload back: files are fine either way
        [scraped, summary, loaded, checked, uploaded, retained] >> watcher()

    return company_dag()


for _company in COMPANIES.values():
    globals()[_company.dag_id] = build_company_dag(_company)
