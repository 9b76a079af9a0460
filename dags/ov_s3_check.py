"""
### S3 setup check (`ov_s3_check`)

**Manual only** (no schedule): trigger it after creating or changing the bucket,
the `aws_default` connection, the IAM policy or the Variables `ov_s3_bucket`,
`ov_s3_base_path`, `ov_s3_kms_key_id`; and after rotating an access key.

One task, `check`, checks the setup the S3 guide asks for, through the same
connection and client the pipeline uses, and logs one line per check,
`OK` / `WARN` / `FAIL`, each with its fix:

- **identity**: who the connection is (STS GetCallerIdentity; user or assumed role,
  last 4 characters of the access key);
- **bucket**, **list**: the bucket answers; `s3:ListBucket` on the prefix;
- **region**: the bucket's region against the connection's `region_name`;
- **put**, **get**, **multipart**: a test object
  `{ov_s3_base_path}/_healthcheck/ov_s3_check.txt` written with the pipeline's
  encryption, read back, written again in parts; then **cleanup**: deleted
  (if `s3:DeleteObject` is not granted there, it stays and is overwritten next time);
- **versioning**, **encryption**, **lifecycle**: as the guide recommends
  (`include/aws/`).

The task **fails** (no retry) when any line is `FAIL`, naming those checks and
their fixes; `WARN` lines leave it green. The report is also the task's XCom.
Policies and how to apply them: `include/aws/README.md`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

try:
    from extractorov import tasks
    from extractorov.alerts import RunFailureNotifier
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
    dag_id="ov_s3_check",
    description="Manual: the S3 setup (identity, region, bucket, permissions, versioning, "
                "encryption, lifecycle) checked through aws_default",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2025, 10, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=15),
    default_args={
        "owner": "data-engineering",
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
        "retry_policy": RETRY_POLICY,  # a handled error that retrying cannot fix
    },
    tags=["oficina-virtual", "s3", "check"],
    on_failure_callback=[RunFailureNotifier()],
)
def ov_s3_check() -> None:
    @task(task_id="check", execution_timeout=timedelta(minutes=10))
    def check(**context) -> dict:
        return tasks.s3_check(context)

    check()


ov_s3_check()
