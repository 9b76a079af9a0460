"""The backfill benchmark's measuring processes: ``python -m bench.backfill_child SPEC OUT
PART``.

Each step of this project's way runs in a process of its own, as each task does, so
its peak memory (``VmHWM``) is its own; every statement a process sends to PostgreSQL
is counted
(:class:`bench.measure.StatementCounter`). Three ways over the same landing folder,
each from an empty warehouse and its own bucket:

* ``project``: ``pipeline.extract`` → ``pipeline.load`` → ``pipeline.upload``, each
  with a fresh connection from ``PostgresHook`` / ``S3Hook``, as the tasks do;
* ``stock``: what a DAG author writes with the stock hooks: read and parse every
  file, ``PostgresHook.insert_rows`` for the records and the registry, then per
  file ``S3Hook.load_file(replace=True)`` and an update of its registry row;
* ``old``: the old system's way: per record a lookup by content hash, one by
  radicado, then an insert or update (commit every 100); per file a HEAD, an
  upload and an insert of its registry row, one after another.

Steps a full run of which would take hours (the sequential uploads) run on an evenly
spread sample of the files and are extrapolated; the result says so.

Ceilings, same data, same run: ``extract``: read + SHA-256 every file and
``json.loads`` every request JSON, nothing else; ``load``: a bare ``COPY`` of the
rows ``extract`` wrote into an empty table of the same shape; ``upload``: a bare
thread pool of ``put_object`` calls through the same proxy with the same concurrency.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import env
from bench.measure import RequestCounter, StatementCounter, log

STATEMENTS = StatementCounter()
REQUESTS = RequestCounter()


def _measure(label: str, func: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one step: seconds, peak RSS of this process, statements, S3 requests."""
    env.peak_rss_reset()
    rss_before, _ = env.rss_mb()
    STATEMENTS.take()
    REQUESTS.take()
    cpu = time.process_time()
    started = time.monotonic()
    out = func()
    seconds = time.monotonic() - started
    _, peak = env.rss_mb()
    files = out.get("files", 0)
    result = {"seconds": round(seconds, 3),
              "files_per_second": round(files / seconds, 1) if files and seconds else None,
              "cpu_seconds": round(time.process_time() - cpu, 2),
              "rss_before_mb": rss_before, "peak_rss_mb": peak,
              "db": STATEMENTS.take(), "s3_requests": REQUESTS.take(), **out}
    if files:
        result["db_round_trips_per_file"] = round(result["db"]["round_trips"] / files, 4)
        result["db_statements_per_file"] = round(result["db"]["statements"] / files, 4)
    log(f"  backfill {label}: {files} files in {seconds:.1f} s "
        f"({result['files_per_second']} files/s), peak {peak:.0f} MiB, "
        f"{result['db']['round_trips']} DB round trips")
    return result


def _extrapolate(result: dict[str, Any], total_files: int) -> dict[str, Any]:
    sample = result["files"]
    full = result["seconds"] * total_files / sample
    return {**result, "extrapolated": True, "sample_files": sample,
            "sample_seconds": result["seconds"], "files": total_files,
            "seconds": round(full, 1),
            "files_per_second": round(total_files / full, 1) if full else None}


def _spread(items: list[Any], n: int) -> list[Any]:
    """``n`` items evenly spread over ``items`` (JSONs, PDFs and attachments alike)."""
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


class Backfill:
    def __init__(self, spec: dict[str, Any]) -> None:
        from extractorov.companies import get_company
        from extractorov.landing import company_folders
        from extractorov.settings import Settings

        self.spec = spec
        self.company = get_company(spec["empresa"])
        self.landing = Path(spec["landing"])
        self.processed = company_folders(self.landing, self.company.empresa).processed
        self.workers = spec["workers"]

        def settings(bucket: str) -> Settings:
            return Settings(landing_root=self.landing, bucket=bucket, settle_seconds=0.0,
                            upload_workers=self.workers)

        self.settings = settings

    # ---- helpers

    def _admin(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.spec["dsn"], autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def fresh_warehouse(self) -> None:
        """An empty warehouse: the next way starts as a first backfill does."""
        from extractorov import runtime, warehouse

        self._admin("DROP SCHEMA IF EXISTS data_general CASCADE")
        with runtime.warehouse_connection() as conn:
            warehouse.ensure_schema(conn)
            conn.commit()
        self._admin("CHECKPOINT")

    def clean_landing(self) -> None:
        import shutil

        for name in ("manifests", "quarantine"):
            shutil.rmtree(self.processed.parent / name, ignore_errors=True)

    def files(self) -> list[Path]:
        return sorted(self.processed.iterdir())

    # ---- this project

    def project_step(self, step: str, state: dict[str, Any]) -> dict[str, Any]:
        """One step of this project's way; ``state`` carries the manifest to the load."""
        from extractorov import pipeline, runtime

        settings = self.settings(self.spec["buckets"]["project"])
        if step == "extract":
            self.fresh_warehouse()
            self.clean_landing()

        def extract() -> dict[str, Any]:
            with runtime.warehouse_connection() as conn:
                summary = pipeline.extract(conn, self.company, settings, "backfill")
            state["manifest"] = summary.manifest
            return {"files": summary.files_found, "files_registered": summary.files_registered,
                    "records": summary.records, "json_files": summary.records_found,
                    "quarantined": summary.files_quarantined, "waiting": summary.files_waiting}

        def load() -> dict[str, Any]:
            with runtime.warehouse_connection() as conn:
                summary = pipeline.load(conn, self.company, state["manifest"])
            return {"files": summary.json_files_loaded, "records": summary.records,
                    "inserted": summary.db_inserted, "updated": summary.db_updated,
                    "duplicates": summary.db_duplicates}

        def upload() -> dict[str, Any]:
            client = REQUESTS.attach(runtime.s3_client(settings.aws_conn_id,
                                                       workers=settings.upload_workers))
            with runtime.warehouse_connection() as conn:
                summary = pipeline.upload(conn, client, self.company, settings,
                                          run_id="backfill")
            return {"files": summary.s3_uploaded + summary.s3_pre_existing,
                    "uploaded": summary.s3_uploaded, "errors": summary.s3_errors,
                    "bytes": summary.s3_bytes}

        labels = {"extract": "extract", "load": "load_db", "upload": "upload_s3"}
        work = {"extract": extract, "load": load, "upload": upload}[step]
        return _measure(f"project {labels[step]}", work)

    # ---- ceilings

    def ceilings(self, manifest: str, json_files: int) -> dict[str, Any]:
        from extractorov import manifest as run_manifest
        from extractorov import runtime, warehouse

        out: dict[str, Any] = {}

        def read_all() -> dict[str, Any]:
            n = size = 0
            for path in self.files():
                data = path.read_bytes()
                hashlib.sha256(data).hexdigest()
                if path.suffix == ".json":
                    json.loads(data)
                n += 1
                size += len(data)
            return {"files": n, "bytes": size}

        out["extract"] = _measure("ceiling extract (read + SHA-256 + json.loads)", read_all)

        table = f"data_general.bench_copy_ceiling_{self.company.table}"
        columns = ", ".join(warehouse.load_columns(self.company))
        header = json.loads(Path(manifest).read_text(encoding="utf-8").splitlines()[0])
        rows = Path(manifest).with_name(header["rows"])
        self._admin(f"DROP TABLE IF EXISTS {table}",
                    f"CREATE TABLE {table} (LIKE data_general.{self.company.table} "
                    "INCLUDING ALL)",
                    "CHECKPOINT")

        def bare_copy() -> dict[str, Any]:
            with runtime.warehouse_connection() as conn, conn.cursor() as cur:
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN "
                              "(FORMAT text, ENCODING 'UTF8')") as copy:
                    for block in run_manifest.row_blocks(rows):
                        copy.write(block)
                records = cur.rowcount
                conn.commit()
            return {"files": json_files, "records": records}

        out["load"] = _measure("ceiling load (bare COPY)", bare_copy)
        self._admin(f"DROP TABLE IF EXISTS {table}")

        import boto3
        from botocore.config import Config

        with runtime.warehouse_connection() as conn:  # every file upload_s3 sent
            uploaded = conn.execute(
                "SELECT local_path, s3_key FROM data_general.s3_files_registry "
                "WHERE s3_bucket = %s ORDER BY id", (self.spec["buckets"]["project"],)).fetchall()
        sample = _spread(uploaded, self.spec["ceiling_sample"])
        client = REQUESTS.attach(boto3.client(
            "s3", endpoint_url=self.spec["proxy_endpoint"], region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
            config=Config(max_pool_connections=self.workers + 2,
                          retries={"mode": "standard", "max_attempts": 5})))
        bucket = self.spec["buckets"]["ceiling"]

        def put(item: tuple[str, str]) -> None:
            with open(item[0], "rb") as handle:
                client.put_object(Bucket=bucket, Key=item[1], Body=handle.read())

        def bare_pool() -> dict[str, Any]:
            with ThreadPoolExecutor(self.workers) as pool:
                list(pool.map(put, sample))
            return {"files": len(sample), "workers": self.workers}

        out["upload"] = _measure(f"ceiling upload (bare pool, {self.workers} threads)",
                                 bare_pool)
        return out

    # ---- the stock Airflow way

    def _read_for_stock(self) -> tuple[list[tuple], list[tuple]]:
        """What a DAG author's extract task does: every file read; the JSONs parsed."""
        from extractorov.landing import parse_file_name
        from extractorov.records import InvalidRecord, parse_record, table_columns
        from extractorov.settings import BOGOTA
        from extractorov.storage import request_folder, s3_key, s3_url

        typed = table_columns(self.company)
        bucket = self.spec["buckets"]["stock"]
        records: list[tuple] = []
        files: list[tuple] = []
        for path in self.files():
            name = parse_file_name(path.name, BOGOTA)
            if name is None:
                continue
            data = path.read_bytes()
            folder = name.sgc
            if path.suffix == ".json":
                try:
                    record = parse_record(data, company=self.company, file_name=path.name,
                                          file_sgc=name.sgc, file_timestamp=name.timestamp)
                except InvalidRecord:
                    continue
                records.append((*[record.values.get(c) for c in typed], record.extras,
                                record.hash_registro, record.hash_contenido,
                                record.archivo_origen))
                folder = request_folder(record.numero_reclamo_sgc, record.numero_radicado)
            key = s3_key("oficina-virtual", self.company.empresa, folder, path.name)
            files.append((path.name, str(path), bucket, key, s3_url(bucket, key),
                          folder, self.company.empresa, len(data), name.extension,
                          name.content_type, hashlib.sha256(data).hexdigest(), "bot"))
        return records, files

    def stock(self) -> dict[str, Any]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from extractorov import warehouse
        from extractorov.settings import AWS_CONN_ID, POSTGRES_CONN_ID, REGISTRY_TABLE

        self.fresh_warehouse()
        state: dict[str, Any] = {}
        table = f"{warehouse.SCHEMA}.{self.company.table}"

        def extract() -> dict[str, Any]:
            state["records"], state["files"] = self._read_for_stock()
            return {"files": len(state["files"]), "records": len(state["records"])}

        def load() -> dict[str, Any]:
            hook = PostgresHook(postgres_conn_id=POSTGRES_CONN_ID)
            hook.insert_rows(table, state["records"],
                             target_fields=list(warehouse.load_columns(self.company)),
                             replace=True, replace_index="numero_radicado", executemany=True)
            hook.insert_rows(REGISTRY_TABLE, state["files"], target_fields=[
                "filename", "local_path", "s3_bucket", "s3_key", "s3_url",
                "numero_reclamo_sgc", "empresa", "file_size", "file_type", "content_type",
                "file_hash", "upload_source"], replace=True,
                replace_index=["s3_bucket", "s3_key"], executemany=True)
            return {"files": len(state["files"]), "records": len(state["records"])}

        steps = {"extract": _measure("stock extract (read + parse)", extract)}
        steps["load"] = _measure("stock load (insert_rows)", load)
        total = len(state["files"])
        sample = _spread(state["files"], self.spec["stock_sample"])
        del state["records"]

        def upload() -> dict[str, Any]:
            s3 = S3Hook(aws_conn_id=AWS_CONN_ID)
            REQUESTS.attach(s3.get_conn())
            pg = PostgresHook(postgres_conn_id=POSTGRES_CONN_ID)
            for row in sample:
                s3.load_file(row[1], row[3], bucket_name=row[2], replace=True)
                pg.run(f"UPDATE {REGISTRY_TABLE} SET upload_status = 'uploaded', "
                       "uploaded_at = now(), attempts = attempts + 1 "
                       "WHERE s3_bucket = %s AND s3_key = %s", parameters=(row[2], row[3]))
            return {"files": len(sample)}

        steps["upload"] = _extrapolate(
            _measure("stock upload (S3Hook.load_file, sample)", upload), total)
        return {"steps": steps}

    # ---- the old system's way

    def old(self) -> dict[str, Any]:
        from extractorov import runtime, warehouse
        from extractorov.landing import parse_file_name
        from extractorov.records import InvalidRecord, parse_record
        from extractorov.settings import BOGOTA, REGISTRY_TABLE
        from extractorov.storage import request_folder, s3_key, s3_url

        self.fresh_warehouse()
        table = f"{warehouse.SCHEMA}.{self.company.table}"
        self._admin(f"CREATE INDEX bench_old_hash ON {table} (hash_contenido)")
        columns = warehouse.load_columns(self.company)
        typed = columns[:-4]
        insert = (f"INSERT INTO {table} ({', '.join(columns)}) "
                  f"VALUES ({', '.join(['%s'] * len(columns))})")
        others = [c for c in columns if c != "numero_radicado"]
        update = (f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in others)}, "
                  "updated_at = now() WHERE numero_radicado = %s")
        state: dict[str, Any] = {"folders": {}}

        def extract_and_load() -> dict[str, Any]:
            from psycopg.types.json import Jsonb

            counts = {"inserted": 0, "updated": 0, "duplicates": 0}
            n = 0
            with runtime.warehouse_connection() as conn, conn.cursor() as cur:
                for path in self.files():
                    n += 1
                    if path.suffix != ".json":
                        continue
                    name = parse_file_name(path.name, BOGOTA)
                    if name is None:
                        continue
                    try:
                        record = parse_record(path.read_bytes(), company=self.company,
                                              file_name=path.name, file_sgc=name.sgc,
                                              file_timestamp=name.timestamp)
                    except InvalidRecord:
                        continue
                    state["folders"][path.name] = request_folder(record.numero_reclamo_sgc,
                                                                 record.numero_radicado)
                    row = {**{c: record.values.get(c) for c in typed},
                           "extras": Jsonb(record.extras), "hash_registro": record.hash_registro,
                           "hash_contenido": record.hash_contenido,
                           "archivo_origen": record.archivo_origen}
                    cur.execute(f"SELECT 1 FROM {table} WHERE hash_contenido = %s",
                                (record.hash_contenido,), prepare=False)
                    if cur.fetchone():
                        counts["duplicates"] += 1
                    else:
                        cur.execute(f"SELECT 1 FROM {table} WHERE numero_radicado = %s",
                                    (record.numero_radicado,), prepare=False)
                        if cur.fetchone():
                            cur.execute(update, [row[c] for c in others]
                                        + [record.numero_radicado], prepare=False)
                            counts["updated"] += 1
                        else:
                            cur.execute(insert, [row[c] for c in columns], prepare=False)
                            counts["inserted"] += 1
                    if sum(counts.values()) % 100 == 0:
                        conn.commit()
                conn.commit()
            return {"files": n, **counts}

        steps = {"extract+load": _measure("old extract + load (per record)", extract_and_load)}
        paths = self.files()
        sample = _spread(paths, self.spec["old_sample"])
        bucket = self.spec["buckets"]["old"]

        def upload() -> dict[str, Any]:
            client = REQUESTS.attach(runtime.s3_client(workers=1))
            with runtime.warehouse_connection() as conn, conn.cursor() as cur:
                for path in sample:
                    name = parse_file_name(path.name, BOGOTA)
                    if name is None:
                        continue
                    folder = state["folders"].get(path.name, name.sgc)
                    key = s3_key("oficina-virtual", self.company.empresa, folder, path.name)
                    try:
                        client.head_object(Bucket=bucket, Key=key)
                        status = "pre_existing"
                    except client.exceptions.ClientError:
                        client.upload_file(str(path), bucket, key)
                        status = "uploaded"
                    data = path.read_bytes()
                    cur.execute(
                        f"INSERT INTO {REGISTRY_TABLE} (filename, local_path, s3_bucket, "
                        "s3_key, s3_url, numero_reclamo_sgc, empresa, file_size, file_type, "
                        "content_type, file_hash, upload_status, uploaded_at) VALUES "
                        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) "
                        "ON CONFLICT (s3_bucket, s3_key) DO NOTHING",
                        (path.name, str(path), bucket, key, s3_url(bucket, key), folder,
                         self.company.empresa, len(data), name.extension, name.content_type,
                         hashlib.sha256(data).hexdigest(), status), prepare=False)
                    conn.commit()
            return {"files": len(sample)}

        steps["upload"] = _extrapolate(
            _measure("old upload (HEAD + PUT + registry row per file, sample)", upload),
            len(paths))
        return {"steps": steps}


def main(argv: list[str] | None = None) -> int:
    """``SPEC OUT PART``: PART is a step of this project's way (``extract``, ``load``,
    ``upload``: each in its own process, as each task runs in its own, so its peak
    memory is its own) or ``rest`` (the ceilings, the stock way, the old way)."""
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(args[0]).read_text())
    out_path, part = Path(args[1]), args[2]
    env.prepare()
    env.quiet_airflow()
    import logging

    logger = logging.getLogger("extractorov")
    logger.setLevel(logging.WARNING)
    STATEMENTS.install()
    backfill = Backfill(spec)
    out: dict[str, Any] = json.loads(out_path.read_text()) if out_path.exists() else {}
    out.setdefault("ways", {}).setdefault("project", {"steps": {}})
    state = out.setdefault("state", {})
    if part in ("extract", "load", "upload"):
        out["ways"]["project"]["steps"][part] = backfill.project_step(part, state)
    else:
        steps = out["ways"]["project"]["steps"]
        out["ceilings"] = backfill.ceilings(state["manifest"], steps["load"]["files"])
        out["ways"]["stock"] = backfill.stock()
        out["ways"]["old"] = backfill.old()
    out["peak_rss_reset"] = env.peak_rss_reset()
    out_path.write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
