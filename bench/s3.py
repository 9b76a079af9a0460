"""Step 2, S3 upload: files/s and S3 requests per file of ``pipeline.upload`` (new files,
files already in the registry, files in the bucket but not in the registry) against one
``S3Hook.load_file(replace=True)`` per file in sequence, through the latency proxy; and
the ceiling of the moto server itself (no proxy, 16 threads).
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.data import clean_landing, dataset, generate, pipeline_settings
from bench.measure import ProgressLog, RequestCounter, log, sql
from bench.modes import Mode
from bench.services import PROXY_DELAY, Services
from extractorov.settings import AWS_CONN_ID

S3_EMPRESA = "aire"


def _median_rtt(client: Any, bucket: str, n: int = 15) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.head_bucket(Bucket=bucket)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def bench_s3(mode: Mode, stack: Services, data: Path, progress: ProgressLog) -> dict[str, Any]:
    """Upload the same ~100 KiB files the project's way, the stock way and straight to moto."""
    import boto3
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.config import Config

    from extractorov import pipeline, registry, runtime
    from extractorov.companies import get_company

    company = get_company(S3_EMPRESA)
    gen = generate(data / "s3", companies=(S3_EMPRESA,), pdf_size=mode.s3_file_size,
                   **dataset(mode.s3_files))
    landing = data / "s3" / "landing"
    clean_landing(landing)
    dsn = stack.use_database("bench_s3")
    buckets = {"project": "bench-project", "stock": "bench-stock", "ceiling": "bench-ceiling"}
    for name in buckets.values():
        stack.moto.create_bucket(name)
    settings = pipeline_settings(landing, buckets["project"])
    with runtime.warehouse_connection() as conn:
        pipeline.extract(conn, company, settings, "bench-s3-extract")
    # The files to upload: the ~100 KB detail PDFs. The small request JSONs are set
    # aside (marked uploaded) so every measured file is ~100 KB.
    sql(dsn, "UPDATE data_general.s3_files_registry SET upload_status = 'uploaded' "
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
    sql(dsn, "UPDATE data_general.s3_files_registry SET upload_status = 'pending', "
          "uploaded_at = NULL WHERE file_type <> 'json'")
    results["project_in_bucket_not_registry"] = project_upload("bench-s3-forgotten")
    log(f"  s3 project in bucket, not in registry: "
        f"{results['project_in_bucket_not_registry']['files_per_second']} files/s")

    # Stock: one S3Hook.load_file(replace=True) per file, in sequence.
    started = time.monotonic()
    hook = S3Hook(aws_conn_id=AWS_CONN_ID)
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
