"""A history of handled requests, written straight into PostgreSQL (and, if asked, as
empty files in ``processed/``): what a year of runs leaves behind, in seconds rather than
by running the pipeline over 900,000 files.

Request ``i`` (1-based) of the history is SGC ``H{i:07d}``, radicado ``HR{i:07d}``, filed
1,000 a day back from ``end`` (the newest day first): a request JSON, a detail PDF and, for
every second request, an attachment (2.5 files a request, the seed guide's estimate). Every
file is registered ``uploaded`` with its key under the SGC's folder, every JSON marked
loaded, every request a row of the company table. Files older than ``keep_days`` are
recorded as deleted by retention (no local path, as retention leaves them; ``keep_days=None``: the
retention ``keep``, every file stays), the others get a local path in ``processed/`` and,
with ``write_files``, an empty file there (a handled file is skipped by its name and the
registry's answer, never read).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from psycopg import Connection, sql

from extractorov.companies import Company
from extractorov.settings import LOADED_TABLE, REGISTRY_TABLE
from extractorov.storage import company_prefix

REQUESTS_PER_DAY = 1000
FILES_PER_TWO_REQUESTS = 5


def requests_for(files: int) -> int:
    """How many history requests hold ``files`` files (2.5 a request)."""
    return files * 2 // FILES_PER_TWO_REQUESTS


def files_of(requests: int) -> int:
    """Files of the first ``requests`` requests: two each, and an attachment every second."""
    return 2 * requests + requests // 2


def fill(conn: Connection, company: Company, bucket: str, base_path: str, processed: Path,
         requests: int, *, end: datetime, keep_days: int | None,
         per_day: int = REQUESTS_PER_DAY) -> int:
    """Write the history's registry rows, loaded marks and table rows; return the files.
    ``per_day``: requests a day (the age of a file, so what retention has removed)."""
    if requests <= 0:
        return 0
    prefix = company_prefix(base_path, company.empresa)
    keep = -1 if keep_days is None else keep_days
    table = sql.Identifier("data_general", company.table)
    with conn.cursor() as cur:
        cur.execute("""CREATE TEMP TABLE ov_history ON COMMIT DROP AS
            SELECT i, 'H' || lpad(i::text, 7, '0') AS sgc, 'HR' || lpad(i::text, 7, '0') AS rad,
                   %s::timestamptz - make_interval(days => (i - 1) / %s)
                       - make_interval(secs => ((i - 1) %% %s) * 30) AS ts,
                   (i - 1) / %s AS age
            FROM generate_series(1, %s) AS i""",
                    (end, per_day, per_day, per_day, requests))
        cur.execute("""CREATE TEMP TABLE ov_history_files ON COMMIT DROP AS
            SELECT h.*, f.kind, f.ext,
                   CASE f.kind WHEN 'json' THEN h.sgc || '_data_' || to_char(h.ts AT TIME ZONE
                                   'America/Bogota', 'YYYYMMDD_HH24MISS') || '.json'
                               WHEN 'pdf' THEN h.sgc || '_' || to_char(h.ts AT TIME ZONE
                                   'America/Bogota', 'YYYYMMDD_HH24MISS') || '.pdf'
                               ELSE h.sgc || '_adjunto_' || to_char(h.ts AT TIME ZONE
                                   'America/Bogota', 'YYYYMMDD_HH24MISS') || '.png' END
                       AS filename
            FROM ov_history h
            CROSS JOIN (VALUES ('json', 'json'), ('pdf', 'pdf'), ('adjunto', 'png'))
                AS f(kind, ext)
            WHERE f.kind <> 'adjunto' OR mod(h.i, 2) = 0""")
        cur.execute(
            f"""INSERT INTO {REGISTRY_TABLE}
                (filename, local_path, s3_bucket, s3_key, s3_url, numero_reclamo_sgc, empresa,
                 file_size, file_type, content_type, file_hash, upload_status, upload_source,
                 attempts, uploaded_at, last_run_id, metadata, numero_radicado, created_at,
                 updated_at, local_removal, local_removed_at, local_deleted_at,
                 local_removed_from)
            SELECT filename, CASE WHEN %(keep)s < 0 OR age < %(keep)s
                                  THEN %(processed)s || '/' || filename END, %(bucket)s,
                   %(prefix)s || sgc || '/' || filename,
                   's3://' || %(bucket)s || '/' || %(prefix)s || sgc || '/' || filename,
                   sgc, %(empresa)s, 1000 + i %% 997, ext,
                   CASE ext WHEN 'json' THEN 'application/json' WHEN 'pdf'
                        THEN 'application/pdf' ELSE 'image/png' END,
                   md5(filename) || md5(sgc), 'uploaded', 'bot', 1, ts,
                   'history-' || to_char(ts, 'YYYYMMDD'),
                   CASE kind WHEN 'json' THEN jsonb_build_object('kind', 'data',
                                                                 'numero_radicado', rad)
                        ELSE jsonb_build_object('kind', kind, 'request_json',
                             sgc || '_data_' || to_char(ts AT TIME ZONE 'America/Bogota',
                                                        'YYYYMMDD_HH24MISS') || '.json') END,
                   rad, ts, ts,
                   CASE WHEN %(keep)s >= 0 AND age >= %(keep)s THEN 'deleted' END,
                   CASE WHEN %(keep)s >= 0 AND age >= %(keep)s
                        THEN ts + make_interval(days => %(keep)s) END,
                   CASE WHEN %(keep)s >= 0 AND age >= %(keep)s
                        THEN ts + make_interval(days => %(keep)s) END,
                   CASE WHEN %(keep)s >= 0 AND age >= %(keep)s
                        THEN %(processed)s || '/' || filename END
            FROM ov_history_files ORDER BY ts, filename""",
            {"processed": str(processed), "bucket": bucket, "prefix": prefix,
             "empresa": company.empresa, "keep": keep})
        files = cur.rowcount
        cur.execute(f"""INSERT INTO {LOADED_TABLE} (empresa, s3_bucket, filename, loaded_at)
                        SELECT %s, %s, filename, ts FROM ov_history_files WHERE kind = 'json'""",
                    (company.empresa, bucket))
        cur.execute(sql.SQL(
            """INSERT INTO {table} (numero_radicado, numero_reclamo_sgc, fecha, estado_solicitud,
                   tipo_pqr, record_number, sgc_number, extraction_timestamp, hash_registro,
                   hash_contenido, archivo_origen, created_at, updated_at)
               SELECT rad, sgc, ts - interval '1 day', 'Finalizado', 'Reclamo', 1, sgc, ts,
                      md5(rad), md5(sgc), sgc || '_data_' || to_char(ts AT TIME ZONE
                      'America/Bogota', 'YYYYMMDD_HH24MISS') || '.json', ts, ts
               FROM ov_history""").format(table=table))
    conn.commit()
    with conn.cursor() as cur:
        cur.execute(f"ANALYZE {REGISTRY_TABLE}")
        cur.execute(f"ANALYZE {LOADED_TABLE}")
        cur.execute(sql.SQL("ANALYZE {}").format(table))
    conn.commit()
    return files


def local_names(conn: Connection, company: Company, bucket: str) -> list[str]:
    """The history's files that are still in ``processed/`` (no removal recorded)."""
    with conn.cursor() as cur:
        cur.execute(f"""SELECT filename FROM {REGISTRY_TABLE} WHERE empresa = %s
                          AND s3_bucket = %s AND local_removal IS NULL
                          AND last_run_id LIKE 'history-%%'""", (company.empresa, bucket))
        names = [name for (name,) in cur]
    conn.commit()
    return names


def write_files(processed: Path, names: list[str], when: datetime) -> None:
    """Empty files of these names in ``processed/``, modified at ``when``."""
    import os

    processed.mkdir(parents=True, exist_ok=True)
    stamp = (when - timedelta(days=1)).timestamp()
    for name in names:
        path = processed / name
        path.touch()
        os.utime(path, (stamp, stamp))
