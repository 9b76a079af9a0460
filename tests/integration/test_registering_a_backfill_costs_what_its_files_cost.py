"""Registering a backfill reads each staged file a bounded number of times.

A first run over a copied backlog registers hundreds of thousands of files in one
``register_pending``: each document takes its request from its request JSON, staged with
it. Done as a correlated lookup per document in the unindexed stage, that was one pass
over the whole stage per document: quadratic (100,000 requests: 200,000 files, the full
benchmark's backfill, sat in that one statement for over ten minutes). Asserted through
PostgreSQL's own count of the rows read from the stage (``pg_stat_user_tables``), never by
the clock: a join reads the stage a few times, a lookup per document once per document.
"""

from __future__ import annotations

import pytest

from extractorov import registry, warehouse
from tests.helpers import query

pytestmark = pytest.mark.integration

REQUESTS = 1_500
"""3,000 staged files: a per-document pass over the stage reads 1,500 × 3,000 rows."""


def _entry(bucket: str, name: str, metadata: dict) -> registry.RegistryEntry:
    return registry.RegistryEntry(
        filename=name, local_path=f"/landing/{name}", s3_bucket=bucket,
        s3_key=f"oficina-virtual/afinia/raw_data/S/{name}", s3_url=f"s3://{bucket}/{name}",
        numero_reclamo_sgc="S", empresa="afinia", file_size=10, file_type=name[-3:],
        content_type="application/octet-stream", file_hash="0" * 64, metadata=metadata)


def test_registering_a_backfill_reads_each_staged_file_a_bounded_number_of_times(db, bucket):
    warehouse.ensure_schema(db)
    db.commit()
    entries = []
    for n in range(REQUESTS):
        json_name = f"S{n:05d}_data_20251008_090010.json"
        entries.append(_entry(bucket, json_name, {"kind": "data",
                                                  "numero_radicado": f"R-{n}"}))
        entries.append(_entry(bucket, f"S{n:05d}_20251008_090000.pdf",
                              {"kind": "detalle", "request_json": json_name}))
    assert registry.register_pending(db, entries) == 2 * REQUESTS
    # This transaction's reads of the stage (it is dropped at commit).
    [(read,)] = query(db, """SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0)
                             FROM pg_stat_xact_user_tables
                             WHERE relname = 'ov_registry_stage'""")
    db.commit()

    # Every document took its request from its JSON, staged with it.
    assert query(db, "SELECT count(*) FROM data_general.s3_files_registry "
                     "WHERE numero_radicado IS NULL") == [(0,)]
    # A few passes over the 3,000 staged rows, not one per document (4.5 million).
    print(f"stage rows read: {read:,}")
    assert read < 50 * 2 * REQUESTS, read
