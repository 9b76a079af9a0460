"""Benchmark of the pipeline at backfill scale, side by side with the stock Airflow way.

``python -m bench.run --full`` (``make bench``) measures, on the same generated
data, against a real PostgreSQL (``pgserver``) and a moto S3 server behind a
60 ms latency proxy:

1. database load (``pipeline.load`` vs ``PostgresHook.insert_rows`` vs the old
   per-record way), records/s, exact counts, peak memory (``bench/load.py``);
2. S3 upload (``pipeline.upload`` vs ``S3Hook.load_file(replace=True)`` per
   file), files/s and S3 requests per file;
3. an incremental run (extract → load → upload) over a folder with many
   already handled files and a few new ones, and with nothing new;
4. DAG parsing time per file beyond ``import airflow``.

``--quick`` does the same on small data in about a minute (``make bench-quick``,
run once by ``tests/bench/test_bench_quick.py``). Results go to
``bench/results.json`` and a printed table; ``docs/performance.md`` holds the
last full run on the reference machine.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import itertools
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench import env

ROOT = env.ROOT
DEFAULT_OUTPUT = ROOT / "bench" / "results.json"
DEFAULT_DATA = ROOT / ".dev" / "bench"
PROXY_DELAY = 0.060

LOAD_EMPRESA = "afinia"
S3_EMPRESA = "aire"


@dataclass(frozen=True)
class Mode:
    name: str
    load_sizes: tuple[int, ...]
    s3_files: int
    s3_file_size: int
    incremental_handled: tuple[int, ...]
    incremental_new_requests: int
    """Each new request is two files (JSON + detail PDF)."""
    parse_repeats: int
    stock_rerun_sample: int
    """Files re-sent with S3Hook to count its requests for files already uploaded."""


FULL = Mode("full", (10_000, 100_000), 2_000, 100_000, (10_000, 100_000), 50, 5, 50)
QUICK = Mode("quick", (1_000,), 30, 100_000, (500, 2_000), 5, 1, 5)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- services


@dataclass
class Services:
    postgres: Any
    moto: Any
    proxy: subprocess.Popen
    proxy_port: int
    pg_dir: Path

    @property
    def proxy_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def dsn(self, database: str) -> str:
        return self.postgres.dsn(database)

    def use_database(self, database: str, *, fresh: bool = True) -> str:
        """Create a database and point connection ``ov_postgres`` at it."""
        self.postgres.create_database(database, fresh=fresh)
        os.environ["AIRFLOW_CONN_OV_POSTGRES"] = self.postgres.conn_json(database)
        return self.dsn(database)


@contextlib.contextmanager
def services() -> Iterator[Services]:
    from devtools import services

    pg_dir = Path(tempfile.mkdtemp(prefix="ovpg-"))  # short: unix socket paths are limited
    postgres = services.start_postgres(pg_dir)
    moto = proxy = None
    try:
        moto = services.start_moto()
        proxy = subprocess.Popen(
            [sys.executable, "-m", "bench.proxy", "--upstream-port", str(moto.port),
             "--delay", str(PROXY_DELAY)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        line = proxy.stdout.readline() if proxy.stdout else ""
        if not line.startswith("PORT "):
            raise RuntimeError("latency proxy did not start")
        stack = Services(postgres, moto, proxy, int(line.split()[1]), pg_dir)
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps({
            "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": stack.proxy_endpoint, "region_name": "us-east-1",
                      "config_kwargs": {"retries": {"mode": "standard", "max_attempts": 5}}},
        })
        yield stack
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=10)
        if moto is not None:
            moto.stop()
        postgres.stop()
        shutil.rmtree(pg_dir, ignore_errors=True)


# --------------------------------------------------------------------------- data


def _generate(folder: Path, **params: Any) -> dict[str, Any]:
    """Generate landing data once per parameter set; reuse it while the stamp matches."""
    from devtools.sample import generate_landing

    stamp = folder / "stamp.json"
    wanted = json.dumps({k: str(v) for k, v in sorted(params.items())})
    if stamp.is_file() and stamp.read_text() == wanted:
        return {"generated": False, "seconds": 0.0}
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    summary = generate_landing(folder / "landing", **params)
    stamp.write_text(wanted)
    seconds = round(time.perf_counter() - started, 2)
    log(f"generated {summary.files} files in {folder} ({seconds} s)")
    return {"generated": True, "seconds": seconds, "files": summary.files}


def _dataset(requests: int, **params: Any) -> dict[str, Any]:
    per_day = min(1_000, requests)
    if requests % per_day:
        raise ValueError("dataset sizes are whole days of 1,000 requests")
    return {"days": requests // per_day, "requests_per_day": per_day, "rescrape_ratio": 0.0,
            "attachment_ratio": 0.0, **params}


def _clean_landing(root: Path) -> None:
    """Forget what earlier benchmark runs left next to the data (manifests, quarantine)."""
    for folder in root.glob("*/oficina_virtual"):
        for name in ("manifests", "quarantine"):
            shutil.rmtree(folder / name, ignore_errors=True)


def _settings(landing_root: Path, bucket: str) -> Any:
    from extractorov.settings import Settings

    return Settings(landing_root=landing_root, bucket=bucket, settle_seconds=0.0,
                    upload_workers=16)


# --------------------------------------------------------------------------- measuring


class ProgressLog(logging.Handler):
    """Times of the pipeline's progress lines (``label: done / total (rate, left)``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.times: list[float] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if " / " in message:
            self.times.append(time.monotonic())
            self.lines.append(message)

    def gap(self, started: float, ended: float) -> dict[str, Any]:
        inside = [t for t in self.times if started <= t <= ended]
        marks = [started, *inside, ended]
        return {"progress_lines": len(inside),
                "max_silent_seconds": round(max(b - a for a, b in itertools.pairwise(marks)), 3)}


class RequestCounter:
    """Counts every HTTP attempt a boto3 client sends, by S3 operation (botocore hook)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send.s3", self._on_send)
        return client

    def _on_send(self, event_name: str = "", **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self.counts[operation] += 1

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self.counts = dict(self.counts), Counter()
        return counts


def _table_writes(dsn: str) -> int:
    """Rows inserted + updated + deleted in schema data_general so far (pg_stat counters).

    Each pipeline step closes its connection, which flushes its counters; poll until
    two reads agree so a backend still exiting is counted.
    """
    import psycopg

    query = ("SELECT COALESCE(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
             "FROM pg_stat_user_tables WHERE schemaname = 'data_general'")
    last = None
    for _ in range(40):
        with psycopg.connect(dsn, autocommit=True) as conn:
            value = int(conn.execute(query).fetchone()[0])
        if value == last:
            return value
        last = value
        time.sleep(0.25)
    return int(last or 0)


def _sql(dsn: str, *statements: str, autocommit: bool = False) -> list[Any]:
    import psycopg

    out = []
    with psycopg.connect(dsn, autocommit=autocommit) as conn:
        for statement in statements:
            cur = conn.execute(statement)
            out.append(cur.fetchall() if cur.description else cur.rowcount)
    return out


# --------------------------------------------------------------------------- 1. load


def bench_load(mode: Mode, stack: Services, data: Path, progress: ProgressLog,
               work: Path) -> dict[str, Any]:
    from bench import load
    from extractorov import pipeline, runtime
    from extractorov.companies import get_company

    company = get_company(LOAD_EMPRESA)
    requests = max(max(mode.load_sizes), max(mode.incremental_handled) // 2)
    gen = _generate(data / "load", companies=(LOAD_EMPRESA,), pdf_size=0,
                    **_dataset(requests))
    landing = data / "load" / "landing"
    _clean_landing(landing)
    dsn = stack.use_database("bench_load")

    # The backfill's extract: every file new. It writes the manifest the loads read.
    settings = _settings(landing, "bench-load")
    started = time.monotonic()
    with runtime.warehouse_connection() as conn:
        extracted = pipeline.extract(conn, company, settings, "bench-backfill")
    ended = time.monotonic()
    extract = {"files": extracted.files_found, "records": extracted.records,
               "seconds": round(ended - started, 3),
               "files_per_second": round(extracted.files_found / (ended - started), 1),
               **progress.gap(started, ended)}
    log(f"extract (backfill) {extracted.files_found} files in {extract['seconds']} s")

    runs = []
    for size in mode.load_sizes:
        new = work / f"load-{size}-new.jsonl"
        changed = work / f"load-{size}-changed.jsonl"
        load.write_subset(Path(extracted.manifest), new, size)
        runs.append({"size": size, "changed": load.write_changed(new, changed),
                     "manifests": {"new": str(new), "changed": str(changed)}})
    spec = work / "load-spec.json"
    out = work / "load-results.json"
    spec.write_text(json.dumps({"dsn": dsn, "empresa": LOAD_EMPRESA, "runs": runs,
                                "methods": list(load.METHODS)}))
    subprocess.run([sys.executable, "-m", "bench.load", str(spec), str(out)], check=True,
                   cwd=ROOT)
    child = json.loads(out.read_text())
    results = child["results"]

    ratios = []
    for size in mode.load_sizes:
        for case in load.CASES:
            by = {r["method"]: r for r in results if r["size"] == size and r["case"] == case}
            rate = by["project"]["records_per_second"]
            ratios.append({
                "size": size, "case": case,
                "vs_stock": round(rate / by["stock"]["records_per_second"], 2),
                "vs_per_record": round(rate / by["per_record"]["records_per_second"], 2),
            })
    return {"dataset": {"empresa": LOAD_EMPRESA, "requests": requests,
                        "files": extracted.files_found, "generation": gen},
            "backfill_extract": extract, "results": results, "ratios": ratios,
            "peak_rss_measured_per_case": child["peak_rss_reset"]}


# --------------------------------------------------------------------------- 2. S3


def _median_rtt(client: Any, bucket: str, n: int = 15) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.head_bucket(Bucket=bucket)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def bench_s3(mode: Mode, stack: Services, data: Path, progress: ProgressLog) -> dict[str, Any]:
    import boto3
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.config import Config

    from extractorov import pipeline, registry, runtime
    from extractorov.companies import get_company

    company = get_company(S3_EMPRESA)
    gen = _generate(data / "s3", companies=(S3_EMPRESA,), pdf_size=mode.s3_file_size,
                    **_dataset(mode.s3_files))
    landing = data / "s3" / "landing"
    _clean_landing(landing)
    dsn = stack.use_database("bench_s3")
    buckets = {"project": "bench-project", "stock": "bench-stock", "ceiling": "bench-ceiling"}
    for name in buckets.values():
        stack.moto.create_bucket(name)
    settings = _settings(landing, buckets["project"])
    with runtime.warehouse_connection() as conn:
        pipeline.extract(conn, company, settings, "bench-s3-extract")
    # The files to upload: the ~100 KB detail PDFs. The small request JSONs are set
    # aside (marked uploaded) so every measured file is ~100 KB.
    _sql(dsn, "UPDATE data_general.s3_files_registry SET upload_status = 'uploaded' "
              "WHERE file_type = 'json'")
    with runtime.warehouse_connection() as conn:
        files = registry.files_to_upload(conn, company.empresa, settings.bucket)
    n = len(files)
    size = sum(f.file_size for f in files)
    log(f"s3: {n} files, {size / n / 1024:.0f} KiB average, proxy +{PROXY_DELAY * 1000:.0f} ms")

    direct = stack.moto.client()
    proxied = boto3.client("s3", endpoint_url=stack.proxy_endpoint, region_name="us-east-1",
                           aws_access_key_id="testing",
                           aws_secret_access_key="testing")  # noqa: S106 - moto's fake key
    rtt = {"direct_ms": _median_rtt(direct, buckets["project"]),
           "through_proxy_ms": _median_rtt(proxied, buckets["project"])}

    counter = RequestCounter()

    def project_upload(run_id: str) -> dict[str, Any]:
        started = time.monotonic()
        client = counter.attach(runtime.s3_client(settings.aws_conn_id,
                                                  workers=settings.upload_workers))
        with runtime.warehouse_connection() as conn:
            summary = pipeline.upload(conn, client, company, settings, run_id=run_id)
        ended = time.monotonic()
        seconds = ended - started
        requests = counter.take()
        handled = summary.s3_uploaded + summary.s3_pre_existing + summary.s3_errors
        return {"files": summary.files, "uploaded": summary.s3_uploaded,
                "pre_existing": summary.s3_pre_existing, "errors": summary.s3_errors,
                "seconds": round(seconds, 3),
                "files_per_second": round(handled / seconds, 1) if handled else None,
                "requests": requests, "requests_total": sum(requests.values()),
                "requests_per_file": _per_file(requests, n, exclude=("ListObjectsV2",)),
                **progress.gap(started, ended)}

    results: dict[str, Any] = {}
    results["project_new"] = project_upload("bench-s3-new")
    log(f"  s3 project new: {results['project_new']['files_per_second']} files/s")
    results["project_registered"] = project_upload("bench-s3-again")
    # In the bucket but not (or no longer) in the registry: the registry forgets the upload.
    _sql(dsn, "UPDATE data_general.s3_files_registry SET upload_status = 'pending', "
              "uploaded_at = NULL WHERE file_type <> 'json'")
    results["project_in_bucket_not_registry"] = project_upload("bench-s3-forgotten")
    log(f"  s3 project in bucket, not in registry: "
        f"{results['project_in_bucket_not_registry']['files_per_second']} files/s")

    # Stock: one S3Hook.load_file(replace=True) per file, in sequence.
    started = time.monotonic()
    hook = S3Hook(aws_conn_id="aws_default")
    counter.attach(hook.get_conn())
    for item in files:
        hook.load_file(item.local_path, item.s3_key, bucket_name=buckets["stock"], replace=True)
    seconds = time.monotonic() - started
    requests = counter.take()
    results["stock_new"] = {"files": n, "seconds": round(seconds, 3),
                            "files_per_second": round(n / seconds, 1), "requests": requests,
                            "requests_total": sum(requests.values()),
                            "requests_per_file": _per_file(requests, n)}
    log(f"  s3 stock new: {results['stock_new']['files_per_second']} files/s")
    sample = files[:mode.stock_rerun_sample]
    for item in sample:  # already in the bucket: the stock way sends it again
        hook.load_file(item.local_path, item.s3_key, bucket_name=buckets["stock"], replace=True)
    requests = counter.take()
    results["stock_already_uploaded"] = {"files": len(sample), "requests": requests,
                                         "requests_per_file": _per_file(requests, len(sample))}

    # The ceiling: the moto server itself, no proxy, 16 threads of put_object.
    bodies = [(f.s3_key, Path(f.local_path).read_bytes()) for f in files]
    ceiling_client = boto3.client(
        "s3", endpoint_url=stack.moto.endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
        config=Config(max_pool_connections=20))
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kb: ceiling_client.put_object(Bucket=buckets["ceiling"],
                                                           Key=kb[0], Body=kb[1]), bodies))
    seconds = time.monotonic() - started
    results["moto_ceiling"] = {"files": n, "seconds": round(seconds, 3),
                               "files_per_second": round(n / seconds, 1)}
    log(f"  s3 moto ceiling (no proxy, 16 threads): {results['moto_ceiling']['files_per_second']}")

    return {"dataset": {"empresa": S3_EMPRESA, "files": n, "bytes": size,
                        "average_kib": round(size / n / 1024, 1), "generation": gen},
            "proxy_delay_ms": PROXY_DELAY * 1000, "round_trip": rtt, **results,
            "ratio_vs_stock": round(results["project_new"]["files_per_second"]
                                    / results["stock_new"]["files_per_second"], 2)}


def _per_file(requests: dict[str, int], files: int, exclude: tuple[str, ...] = ()) -> float:
    if not files:
        return 0.0
    return round(sum(v for k, v in requests.items() if k not in exclude) / files, 3)


# --------------------------------------------------------------------------- 3. incremental


def _link_requests(source: Path, target: Path, requests: int) -> int:
    """Hard-link the files of the first ``requests`` SGC numbers of ``source`` into ``target``."""
    from extractorov.landing import parse_file_name

    by_sgc: dict[str, list[str]] = {}
    for name in sorted(os.listdir(source)):
        parsed = parse_file_name(name)
        if parsed is not None:
            by_sgc.setdefault(parsed.sgc, []).append(name)
    target.mkdir(parents=True, exist_ok=True)
    linked = 0
    for sgc in sorted(by_sgc)[:requests]:
        for name in by_sgc[sgc]:
            os.link(source / name, target / name)
            linked += 1
    return linked


def bench_incremental(mode: Mode, stack: Services, data: Path,
                      progress: ProgressLog) -> dict[str, Any]:
    from extractorov import pipeline, runtime
    from extractorov.companies import get_company
    from extractorov.landing import company_folders

    company = get_company(LOAD_EMPRESA)
    new_requests = mode.incremental_new_requests
    # New files from another seed and an earlier month: names and numbers never collide.
    _generate(data / "new", companies=(LOAD_EMPRESA,), pdf_size=mode.s3_file_size,
              start=date(2025, 8, 4), seed=7, days=1, requests_per_day=new_requests,
              rescrape_ratio=0.0, attachment_ratio=0.0)
    new_processed = company_folders(data / "new" / "landing", LOAD_EMPRESA).processed
    source = company_folders(data / "load" / "landing", LOAD_EMPRESA).processed
    counter = RequestCounter()
    results = []
    for handled in mode.incremental_handled:
        root = data / f"incremental-{handled}"
        shutil.rmtree(root, ignore_errors=True)
        processed = company_folders(root, LOAD_EMPRESA).processed
        linked = _link_requests(source, processed, handled // 2)
        dsn = stack.use_database(f"bench_inc_{handled}")
        bucket = f"bench-inc-{handled}"
        stack.moto.create_bucket(bucket)
        settings = _settings(root, bucket)

        # The backlog: extracted and loaded by earlier runs, uploaded long ago.
        with runtime.warehouse_connection() as conn:
            first = pipeline.extract(conn, company, settings, "backlog")
            pipeline.load(conn, company, first.manifest)
        _sql(dsn, "UPDATE data_general.s3_files_registry SET upload_status = 'uploaded', "
                  "attempts = 1, uploaded_at = now()")
        _sql(dsn, "VACUUM ANALYZE", "CHECKPOINT", autocommit=True)
        new_files = 0
        for path in sorted(new_processed.iterdir()):
            os.link(path, processed / path.name)
            new_files += 1

        for label, run_id in ((f"{new_files}_new", "incremental-1"),
                              ("nothing_new", "incremental-2")):
            writes_before = _table_writes(dsn)
            counter.take()
            steps: dict[str, float] = {}
            started = time.monotonic()
            t = time.monotonic()
            with runtime.warehouse_connection() as conn:
                extracted = pipeline.extract(conn, company, settings, run_id)
            steps["extract"] = round(time.monotonic() - t, 3)
            t = time.monotonic()
            with runtime.warehouse_connection() as conn:
                loaded = pipeline.load(conn, company, extracted.manifest)
            steps["load_db"] = round(time.monotonic() - t, 3)
            t = time.monotonic()
            client = counter.attach(runtime.s3_client(settings.aws_conn_id,
                                                      workers=settings.upload_workers))
            with runtime.warehouse_connection() as conn:
                uploaded = pipeline.upload(conn, client, company, settings, run_id=run_id)
            steps["upload_s3"] = round(time.monotonic() - t, 3)
            seconds = time.monotonic() - started
            requests = counter.take()
            rows = _table_writes(dsn) - writes_before
            # What the new files alone must write: registry rows, loaded marks, outcomes.
            rows_for_new = (extracted.files_registered + loaded.db_inserted + loaded.db_updated
                            + loaded.json_files_loaded + uploaded.s3_uploaded
                            + uploaded.s3_pre_existing + uploaded.s3_errors)
            requests_for_new = uploaded.files + (1 if uploaded.files else 0)  # + preflight
            results.append({
                "handled_files": linked, "case": label, "new_files": extracted.files_new,
                "seconds": round(seconds, 3), "steps": steps,
                "files_handled_before": extracted.files_handled_before,
                "records_loaded": loaded.records, "db_inserted": loaded.db_inserted,
                "s3_uploaded": uploaded.s3_uploaded,
                "rows_written": rows, "rows_written_for_new_files": rows_for_new,
                "rows_written_for_backlog": rows - rows_for_new,
                "s3_requests": requests, "s3_requests_total": sum(requests.values()),
                "s3_requests_for_backlog": sum(requests.values()) - requests_for_new,
            })
            log(f"  incremental {linked} handled, {label}: {seconds:.2f} s, rows {rows}, "
                f"S3 requests {sum(requests.values())}")
        shutil.rmtree(root, ignore_errors=True)
    return {"new_requests": new_requests, "results": results}


# --------------------------------------------------------------------------- 4. DAG parsing

_PARSE_SCRIPT = r"""
import importlib, importlib.util, json, sys, time
path, preload = sys.argv[1], json.loads(sys.argv[2])
t0 = time.perf_counter()
import airflow
t1 = time.perf_counter()
for name in preload:
    importlib.import_module(name)
t2 = time.perf_counter()
from airflow.sdk.definitions._internal.contextmanager import DagContext
spec = importlib.util.spec_from_file_location("bench_parsed_dag", path)
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
DagContext.current_autoregister_module_name = spec.name  # as DagBag does
spec.loader.exec_module(module)
t3 = time.perf_counter()
from airflow.sdk import DAG
found = {v.dag_id for v in vars(module).values() if isinstance(v, DAG)}
found |= {dag.dag_id for dag, _ in DagContext.autoregistered_dags}
dags = sorted(found)
print(json.dumps({"import_airflow": t1 - t0, "preload": t2 - t1, "file": t3 - t2,
                  "dags": dags}))
"""


def _imports_of(path: Path) -> list[str]:
    """Modules outside this project that a DAG file imports (what Airflow pre-imports)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return [n for n in dict.fromkeys(names)
            if n.split(".")[0] not in {"extractorov", "__future__"}]


def bench_dag_parsing(mode: Mode) -> dict[str, Any]:
    files = []
    for path in sorted((ROOT / "dags").glob("*.py")):
        preload = _imports_of(path)
        runs: dict[str, list[dict[str, Any]]] = {"cold": [], "preloaded": []}
        for _ in range(mode.parse_repeats):
            for variant, modules in (("cold", []), ("preloaded", preload)):
                out = subprocess.run(
                    [sys.executable, "-c", _PARSE_SCRIPT, str(path), json.dumps(modules)],
                    check=True, capture_output=True, text=True, cwd=ROOT,
                )
                runs[variant].append(json.loads(out.stdout.strip().splitlines()[-1]))

        def median(variant: str, key: str, runs: dict = runs) -> float:
            return round(statistics.median(r[key] for r in runs[variant]) * 1000, 1)

        files.append({
            "file": f"dags/{path.name}",
            "dags": runs["cold"][0]["dags"],
            "repeats": mode.parse_repeats,
            "import_airflow_ms": median("cold", "import_airflow"),
            "parse_beyond_import_airflow_ms": median("cold", "file"),
            "airflow_modules_it_imports": preload,
            "airflow_modules_ms": median("preloaded", "preload"),
            "parse_own_code_ms": median("preloaded", "file"),
            "samples_beyond_import_airflow_ms": [round(r["file"] * 1000, 1)
                                                 for r in runs["cold"]],
        })
        log(f"  parse {path.name}: {files[-1]['parse_beyond_import_airflow_ms']} ms beyond "
            f"import airflow ({files[-1]['parse_own_code_ms']} ms own code)")
    return {"files": files}


# --------------------------------------------------------------------------- targets


def evaluate(mode: Mode, results: dict[str, Any]) -> list[dict[str, Any]]:
    load = results["load"]
    big = max(mode.load_sizes)
    by = {(r["method"], r["size"], r["case"]): r for r in load["results"]}
    ratio = next(r for r in load["ratios"] if r["size"] == big and r["case"] == "all_new")
    project_cases = [r for r in load["results"] if r["method"] == "project"]
    s3 = results["s3"]
    inc = results["incremental"]["results"]
    inc_big = [r for r in inc if r["handled_files"] == max(x["handled_files"] for x in inc)]
    parse = results["dag_parsing"]["files"]
    gaps = {
        "extract (backfill)": load["backfill_extract"]["max_silent_seconds"],
        "load_db": max(r["max_silent_seconds"] for r in project_cases),
        "upload_s3": s3["project_new"]["max_silent_seconds"],
    }
    targets = [
        {"target": f"load {big:,} new: >= 5x stock insert_rows",
         "value": ratio["vs_stock"], "met": ratio["vs_stock"] >= 5},
        {"target": f"load {big:,} new: >= 50x per-record",
         "value": ratio["vs_per_record"], "met": ratio["vs_per_record"] >= 50},
        {"target": "load counts (inserted/updated/duplicates) exact, every case",
         "value": all(r["counts_exact"] for r in project_cases),
         "met": all(r["counts_exact"] for r in project_cases)},
        {"target": f"load {big:,} new: peak memory < 300 MB (process max RSS)",
         "value": by[("project", big, "all_new")]["peak_rss_mb"],
         "met": by[("project", big, "all_new")]["peak_rss_mb"] < 300},
        {"target": "S3: >= 10x sequential S3Hook.load_file(replace=True)",
         "value": s3["ratio_vs_stock"], "met": s3["ratio_vs_stock"] >= 10},
        {"target": "S3: <= 1 request per new file",
         "value": s3["project_new"]["requests_per_file"],
         "met": s3["project_new"]["requests_per_file"] <= 1},
        {"target": "S3: 0 requests per file the registry already has",
         "value": s3["project_registered"]["requests_total"],
         "met": s3["project_registered"]["requests_total"] == 0},
    ]
    for r in inc_big:
        targets.append({
            "target": f"incremental, {r['handled_files']:,} handled + {r['case']}: < 5 s, "
                      "0 rows and 0 S3 requests for the backlog",
            "value": {"seconds": r["seconds"], "rows_for_backlog": r["rows_written_for_backlog"],
                      "s3_requests_for_backlog": r["s3_requests_for_backlog"],
                      "rows_written": r["rows_written"], "s3_requests": r["s3_requests_total"]},
            "met": r["seconds"] < 5 and r["rows_written_for_backlog"] == 0
            and r["s3_requests_for_backlog"] == 0})
    for f in parse:
        targets.append({"target": f"{f['file']} parses in < 100 ms beyond import airflow",
                        "value": f["parse_beyond_import_airflow_ms"],
                        "met": f["parse_beyond_import_airflow_ms"] < 100})
    targets.append({"target": "progress logged at least every 10 s (longest silence, s)",
                    "value": gaps, "met": max(gaps.values()) <= 10.0})
    return targets


# --------------------------------------------------------------------------- report


def _table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header, *[[("" if c is None else str(c)) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def report(results: dict[str, Any]) -> str:
    out = [f"# extractorov benchmark ({results['mode']}, {results['started']}, "
           f"{results['seconds']:.0f} s)", ""]
    load = results["load"]
    extract = load["backfill_extract"]
    out += ["## 1. Database load (records/s; counts inserted/updated/duplicates)", "",
            f"backfill extract of {extract['files']:,} files: {extract['seconds']} s "
            f"({extract['files_per_second']:,.0f} files/s)", ""]
    rows = []
    for r in load["results"]:
        counts = ("-" if r["inserted"] is None else
                  f"{r['inserted']}/{r['updated']}/{r['duplicates']}")
        rows.append([f"{r['size']:,}", r["case"], r["method"], r["seconds"],
                     f"{r['records_per_second']:,.0f}", counts,
                     {True: "exact", False: "WRONG", None: f"{r['rows_in_table']:,} rows"}[
                         r["counts_exact"]], r["peak_rss_mb"], r["peak_rss_increase_mb"]])
    out += [_table(rows, ["requests", "case", "method", "seconds", "rec/s", "ins/upd/dup",
                          "check", "peak RSS MiB", "+MiB in step"]), ""]
    out += [_table([[f"{r['size']:,}", r["case"], r["vs_stock"], r["vs_per_record"]]
                    for r in load["ratios"]],
                   ["requests", "case", "x stock insert_rows", "x per-record"]), ""]
    project = [r for r in load["results"] if r["method"] == "project"]
    out += ["project load_db split: " + "; ".join(
        f"{r['size']:,} {r['case']}: upsert {r['upsert_seconds']} s + mark_loaded "
        f"{r['mark_loaded_seconds']} s" for r in project), ""]

    s3 = results["s3"]
    out += [f"## 2. S3 upload ({s3['dataset']['files']:,} files, "
            f"{s3['dataset']['average_kib']} KiB average, +{s3['proxy_delay_ms']:.0f} ms "
            f"proxy; median HEAD {s3['round_trip']['direct_ms']} ms direct, "
            f"{s3['round_trip']['through_proxy_ms']} ms through the proxy)", ""]
    rows = []
    for key, label in (("project_new", "upload_s3: new files"),
                       ("project_in_bucket_not_registry", "upload_s3: in bucket, not in registry"),
                       ("project_registered", "upload_s3: already in registry"),
                       ("stock_new", "S3Hook.load_file(replace=True), sequential: new"),
                       ("stock_already_uploaded", "S3Hook.load_file: already uploaded (sample)"),
                       ("moto_ceiling", "moto itself, no proxy, 16 threads put_object")):
        r = s3[key]
        rows.append([label, r["files"], r.get("seconds", ""), r.get("files_per_second", ""),
                     r.get("requests_per_file", ""),
                     ", ".join(f"{k} {v}" for k, v in sorted(r.get("requests", {}).items()))])
    out += [_table(rows, ["path", "files", "seconds", "files/s", "requests/file", "requests"]),
            "", f"ratio upload_s3 / stock: {s3['ratio_vs_stock']}x", ""]

    out += ["## 3. Incremental run (extract -> load_db -> upload_s3, outside Airflow)", ""]
    rows = [[f"{r['handled_files']:,}", r["case"], r["new_files"], r["seconds"],
             " / ".join(str(r["steps"][s]) for s in ("extract", "load_db", "upload_s3")),
             r["rows_written"], r["rows_written_for_backlog"], r["s3_requests_total"],
             r["s3_requests_for_backlog"]] for r in results["incremental"]["results"]]
    out += [_table(rows, ["handled files", "case", "new files", "seconds",
                          "extract / load / upload s", "rows written", "for backlog",
                          "S3 requests", "for backlog"]), ""]

    out += ["## 4. DAG parsing (fresh interpreter, median)", ""]
    rows = [[f["file"], ", ".join(f["dags"]), f["import_airflow_ms"],
             f["parse_beyond_import_airflow_ms"], f["airflow_modules_ms"],
             f["parse_own_code_ms"]] for f in results["dag_parsing"]["files"]]
    out += [_table(rows, ["file", "DAGs", "import airflow ms", "file beyond it ms",
                          "of which Airflow modules ms", "own code ms"]), ""]

    out += ["## Targets", ""]
    out += [_table([[t["target"], json.dumps(t["value"]), "met" if t["met"] else "MISSED"]
                    for t in results["targets"]], ["target", "value", ""]), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("apache-airflow", "apache-airflow-providers-postgres",
                 "apache-airflow-providers-amazon", "psycopg", "boto3", "moto", "pgserver"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def run(mode: Mode, output: Path, data: Path) -> dict[str, Any]:
    home, created_home = env.prepare()
    warnings.simplefilter("ignore", DeprecationWarning)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    data.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ov-bench-"))
    progress = ProgressLog()
    pipeline_log = logging.getLogger("extractorov")
    pipeline_log.setLevel(logging.INFO)
    pipeline_log.addHandler(progress)
    pipeline_log.propagate = False  # keep the printed table readable; lines are still timed
    results: dict[str, Any] = {"mode": mode.name, "started": started_at,
                               "parameters": asdict(mode),
                               "machine": {"cpus": os.cpu_count(), **_versions()}}
    try:
        with services() as stack:
            import psycopg

            with psycopg.connect(stack.dsn("postgres")) as conn:
                results["machine"]["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            env.quiet_airflow()
            log("1. database load")
            results["load"] = bench_load(mode, stack, data, progress, work)
            log("2. S3 upload")
            results["s3"] = bench_s3(mode, stack, data, progress)
            log("3. incremental run")
            results["incremental"] = bench_incremental(mode, stack, data, progress)
        log("4. DAG parsing")
        results["dag_parsing"] = bench_dag_parsing(mode)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if created_home:
            shutil.rmtree(home, ignore_errors=True)
    results["targets"] = evaluate(mode, results)
    results["seconds"] = round(time.monotonic() - started, 1)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--full", action="store_const", const=FULL, dest="mode")
    size.add_argument("--quick", action="store_const", const=QUICK, dest="mode")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"results JSON (default {DEFAULT_OUTPUT.relative_to(ROOT)})")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA,
                        help="generated landing data, reused while its parameters match "
                             f"(default {DEFAULT_DATA.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    results = run(args.mode, args.output, args.data_dir / args.mode.name)
    print(report(results))
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
