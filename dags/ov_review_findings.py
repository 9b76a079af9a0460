"""
### Human review of reconcile findings (`ov_review_findings`)

Asks a human, in Airflow's **Required actions** (Browse → Required actions, or the
run's `review` tasks), about each finding of `ov_s3_reconcile` that it must not
repair alone, and applies the answer.

**When it runs.** Scheduled on Asset `ov_findings`: the `announce_findings` task of
`ov_s3_reconcile` updates it only when an open finding waits to be asked (it is
skipped otherwise). The hourly check never waits for this DAG: an Asset event
starts a run here and the check is done (a `TriggerDagRunOperator` would tie the
check's run to this one; questions may wait a day). One review run at a time; a
newer event waits for it, and the next run asks only what is still unasked.
It can also be triggered by hand. This DAG starts **unpaused** (even where new DAGs
start paused): paused, it would start no run and every question would go unasked;
pausing it stops the questions, not the checks.

**Tasks.** `collect` claims up to 200 open questions (oldest first), reads the
facts of each and records them with the question (`reconcile_findings.shown`);
`review` is one Human-in-the-loop task per question (the map index shows company,
kind and file name). A question waits **24 hours**; unanswered, it is withdrawn
(nothing recorded) and asked again after a later check.

**One question, one message.** The hourly `reconcile_*` task of a company fails
once per question: in the check that first finds it (that run's failure e-mail
announces it, and its `announce_findings` starts this DAG). While the question
waits, later checks stay green and their log says how many questions remain open;
`remind_open_findings` e-mails the questions still waiting once a day (from 08:00
Bogotá). The open list: `data_general.open_findings`.

**A question** is a finding with its *cause* (sizes, SHA-256, registry row, a file's
modification time): answered once, it is not asked again while the cause stays
the same; another cause (the object changed again, the file was copied again) is
a new question. A finding a later check no longer finds is closed (cleared).

**What the form shows, and what an answer is bound to.** For `object_different`,
`object_missing` (and `object_outside_layout`): the registry row (id, status, size,
SHA-256, whether it has a local file), the local file (size, SHA-256, read when
asked) and the bucket object (size; SHA-256 from its `file-hash` metadata or
checksum, else computed by reading it; ETag, VersionId). For `document_waiting` /
`temp_file_stale`: the file's size and modification time, whether it is registered
and the request JSONs that could own it (in `processed/`, being written, registered
or in `quarantine/`). Every answer but *Leave open* is applied only if those facts
still hold: otherwise nothing is applied, the outcome says what changed
("not applied: changed since asked: …"), and the question is re-opened: the next
review run asks it again with the new facts (the form says why).

**Who applies an answer.** Answers are applied under the company's writer
exclusion (no run, backfill or check writes the company meanwhile). When the answer
arrives the `review` task tries it for 5 seconds; if a run or a check is writing
the company, the answer is recorded as chosen but not applied (`answer_waiting`,
outcome "chosen, not applied yet: …") and the task succeeds. The company's next
hourly `reconcile_{empresa}` check, which holds the exclusion anyway, applies it
first, with the same comparison. A review task never holds a worker slot waiting
for a company and never fails for waiting.

**Choices** (every kind has *Leave open*):

- `object_different`: *Keep the bucket's object; mark the registry row
  pre_existing*; *Keep the bucket's object; report the local file as
  superseded* and *My local file is right: replace the bucket's object with it*
  (both only when the row has a local file); *Leave open*;
- `object_missing` (a row registered from the bucket, its object gone):
  *Removed on purpose: delete its registry row*; *Leave open*;
- `document_waiting`: *Move the file to quarantine/*; *Accept as it is*;
  *Leave open*;
- `temp_file_stale`: *Move the file to quarantine/*; *Leave open*;
- `object_outside_layout`, `request_without_file`, `request_split`, `upload_failed`:
  *Accept as it is*; *Leave open*.

What each choice does:

- **Keep the bucket's object; mark the registry row pre_existing**: the registry
  row becomes `pre_existing` with the size and SHA-256 of the object the form
  showed; the object is never overwritten, the local file never uploaded; the
  local file's hash and size are kept in `metadata.review`.
- **Keep the bucket's object; report the local file as superseded**: the same,
  and the row's `last_error` says `superseded: …` and
  `metadata.review.local_file_superseded` is true.
- **My local file is right: replace the bucket's object with it**: only if the
  object is still the one shown and the local file still has the registry's
  SHA-256: one PutObject with `If-Match` on the shown ETag (S3 refuses it if the
  object changed); the row becomes `uploaded`; the replaced object's SHA-256,
  size and ETag are kept in `metadata.review.replaced_object`.
- **Removed on purpose: delete its registry row**: the row (no local copy) is
  deleted; if the object comes back, a later check registers it again.
- **Move the file to quarantine/**: the file moves from `processed/` to
  `quarantine/` with a `.reason.txt` ("set aside by a human review"); runs never
  bring it back by themselves. Never applied to a registered file.
- **Accept as it is**: nothing changes; the finding is closed.
- **Leave open**: nothing changes; the finding stays on the open list
  (`data_general.open_findings`).

Each answer is recorded on the finding's rows in `data_general.reconcile_findings`:
`answer`, `answered_by` (Airflow user), `answered_at`, `outcome`, `open`,
`answer_waiting`, and `shown` (the facts asked about). The forms show kinds, S3
keys, file names, sizes and hashes only.
Connections: `ov_postgres`, `aws_default`. Variables: `ov_s3_bucket`,
`ov_landing_root`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

try:
    from extractorov import assets, choices, tasks
    from extractorov.alerts import RunFailureNotifier
    from extractorov.review_operator import FindingReviewOperator
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
    dag_id=choices.DAG_ID,
    description="Asks a human about reconcile findings (Required actions) and applies answers",
    doc_md=__doc__,
    schedule=[assets.FINDINGS],
    # Unpaused even where new DAGs start paused (compose, `make airflow`): it runs only when
    # a check announces a question, and a paused one would let every question go unasked.
    is_paused_upon_creation=False,
    start_date=pendulum.datetime(2025, 10, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-engineering",
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
        "retry_policy": RETRY_POLICY,  # a handled error that retrying cannot fix
    },
    tags=["oficina-virtual", "s3", "reconcile", "review"],
    on_failure_callback=[RunFailureNotifier()],
)
def ov_review_findings() -> None:
    @task(task_id="collect", execution_timeout=timedelta(minutes=15))
    def collect(**context) -> list[dict]:
        return tasks.collect_findings(context)

    FindingReviewOperator.partial(
        task_id="review",
        # execution_timeout bounds asking and applying; the wait for a human is
        # response_timeout (then "Leave open" is the default, recorded as no answer).
        execution_timeout=timedelta(minutes=30),
        response_timeout=choices.RESPONSE_TIMEOUT,
        defaults=[choices.LEAVE_OPEN],
        map_index_template="{{ task.subject }}",
    ).expand_kwargs(collect())


ov_review_findings()
