"""The company DAG's ``retention`` task under ``dag.test()``: real PostgreSQL, moto S3.

A morning uploads the sample; a month later (the uploads back-dated in the registry: the
clock is not waited for) the next morning's ``retention`` moves every delivered file to
``archive/``, and ``report_stats`` records how many on the run's row.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devtools.sample import generate_landing
from extractorov.landing import company_folders
from tests.helpers import query

pytestmark = pytest.mark.e2e


def _states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_a_month_after_the_upload_the_morning_run_archives_what_was_delivered(
        dags, db, s3, bucket, landing):
    generate_landing(landing, companies=["afinia"], days=1, requests_per_day=6)
    dag = dags["ov_afinia"]
    first = dag.test(logical_date=datetime(2025, 10, 9, 9, tzinfo=UTC))
    assert str(first.state) == "success" and _states(first)["retention"] == "success"
    [(delivered,)] = query(db, "SELECT count(*) FROM data_general.s3_files_registry "
                               "WHERE upload_status = 'uploaded'")
    assert delivered > 0
    assert query(db, "SELECT local_archived FROM data_general.post_processing_runs "
                     "WHERE run_id = %s", first.run_id) == [(0,)]  # nothing old yet

    with db.cursor() as cur:
        cur.execute("UPDATE data_general.s3_files_registry "
                    "SET uploaded_at = uploaded_at - interval '31 days'")
    db.commit()
    logical = datetime(2025, 10, 10, 9, tzinfo=UTC)
    second = dag.test(logical_date=logical, run_after=logical)
    assert str(second.state) == "success", _states(second)
    assert _states(second)["retention"] == "success"
    assert query(db, "SELECT local_archived, local_deleted, local_held FROM "
                     "data_general.post_processing_runs WHERE run_id = %s",
                     second.run_id) == [(delivered, 0, 0)]
    assert query(db, "SELECT local_removal, count(*) FROM data_general.s3_files_registry "
                     "WHERE upload_status = 'uploaded' GROUP BY 1") == [("archived", delivered)]
    archive = company_folders(landing, "afinia").root / "archive"
    assert sum(1 for p in archive.rglob("*") if p.is_file()) == delivered
