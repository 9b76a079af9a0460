"""Upload concurrency sweep: which ``ov_s3_upload_workers`` default suits this machine size
and real S3.

For each concurrency, the same ~100 KiB files go up two ways, ``pipeline.upload``
and a bare thread pool of ``put_object`` calls, to two servers behind the same 60 ms
delay: the moto server (``bench/proxy.py`` in front of it: moto's own work is done
on this machine, so it caps the rate) and the sink (``bench/proxy.py --sink``: answers
every request itself, like real S3 whose work is done elsewhere). Client CPU per file
and the process's peak memory are recorded too.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import env
from bench.data import pipeline_settings
from bench.env import ROOT
from bench.measure import log, sql
from bench.modes import Mode
from bench.s3 import S3_EMPRESA
from bench.services import PROXY_DELAY, Services

CPU_SHARE = 0.5
"""The default is the fastest concurrency on the sink whose client CPU (files/s × CPU per
file) stays within half a core: on a 2-core worker the other core serves the Celery
worker, the other company's task and the database client; and memory grows with the
multi-MB attachments held in flight at once."""


def _client(endpoint: str, workers: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
                        config=Config(max_pool_connections=workers + 2,
                                      retries={"mode": "standard", "max_attempts": 5}))


def _start_sink() -> tuple[subprocess.Popen, str]:
    sink = subprocess.Popen([sys.executable, "-m", "bench.proxy", "--sink", "--delay",
                             str(PROXY_DELAY)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = sink.stdout.readline() if sink.stdout else ""
    if not line.startswith("PORT "):
        sink.terminate()
        raise RuntimeError("S3 sink did not start")
    return sink, f"http://127.0.0.1:{int(line.split()[1])}"


def _timed(files: int, func: Any) -> dict[str, Any]:
    env.peak_rss_reset()
    cpu = time.process_time()
    started = time.monotonic()
    func()
    seconds = time.monotonic() - started
    return {"files": files, "seconds": round(seconds, 3),
            "files_per_second": round(files / seconds, 1),
            "cpu_ms_per_file": round((time.process_time() - cpu) * 1000 / files, 2),
            "peak_rss_mb": env.rss_mb()[1]}


@dataclasses.dataclass
class AwsSync:
    """``aws s3 sync`` of the sweep's files (the tool most users would reach for), at the
    same concurrency (``s3.max_concurrent_requests``) and behind the same delay."""

    aws: str
    folder: Path
    version: str
    startup_seconds: float

    @classmethod
    def find(cls, folder: Path, files: list[Any]) -> AwsSync | None:
        aws = shutil.which("aws")
        if aws is None:
            return None
        shutil.rmtree(folder, ignore_errors=True)
        for item in files:  # the files under their S3 keys: sync sends each one as it is
            target = folder / item.s3_key
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(item.local_path, target)
        started = time.monotonic()
        done = subprocess.run([aws, "--version"], capture_output=True, text=True, check=True)
        return cls(aws, folder, (done.stdout or done.stderr).strip(),
                   round(time.monotonic() - started, 3))

    def describe(self) -> dict[str, Any]:
        return {"version": self.version, "startup_seconds": self.startup_seconds,
                "how": "aws s3 sync <folder> s3://<bucket>/ with s3.max_concurrent_requests "
                       "= workers; its time includes the CLI's start (startup_seconds)"}

    def run(self, workers: int, endpoint: str, bucket: str) -> dict[str, Any]:
        config = self.folder.with_name(f"aws-config-{workers}")
        config.write_text(f"[default]\nregion = us-east-1\ns3 =\n"
                          f"  max_concurrent_requests = {workers}\n")
        env = {**os.environ, "AWS_CONFIG_FILE": str(config),
               "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        files = sum(1 for p in self.folder.rglob("*") if p.is_file())
        started = time.monotonic()
        subprocess.run([self.aws, "s3", "sync", str(self.folder), f"s3://{bucket}/",
                        "--endpoint-url", endpoint, "--only-show-errors", "--no-progress"],
                       env=env, check=True, capture_output=True, text=True)
        seconds = time.monotonic() - started
        return {"files": files, "seconds": round(seconds, 3),
                "files_per_second": round(files / seconds, 1)}


def bench_concurrency(mode: Mode, stack: Services, data: Path) -> dict[str, Any]:
    """Needs the S3 step's database and files (``bench_s3`` ran before)."""
    from extractorov import pipeline, registry, runtime
    from extractorov.companies import get_company

    company = get_company(S3_EMPRESA)
    dsn = stack.use_database("bench_s3", fresh=False)
    settings = pipeline_settings(data / "s3" / "landing", "bench-project")
    sql(dsn, "UPDATE data_general.s3_files_registry SET upload_status = 'pending' "
             "WHERE file_type <> 'json'")
    with runtime.warehouse_connection() as conn:
        every = registry.files_to_upload(conn, company.empresa, settings.bucket)
    files = every[:mode.sweep_files]
    bodies = {f.id: Path(f.local_path) for f in files}
    ids = ",".join(str(f.id) for f in files)
    sync = AwsSync.find(data / "sweep-sync", files)
    sink, sink_endpoint = _start_sink()

    def measure(workers: int, server: str, endpoint: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        client = _client(endpoint, workers)
        bucket = f"bench-sweep-{workers}-{server}"
        if server == "moto":
            stack.moto.create_bucket(bucket)

        def put(item: Any) -> None:
            client.put_object(Bucket=bucket, Key=item.s3_key, Body=bodies[item.id].read_bytes())

        def bare() -> None:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(put, files))

        out[f"bare_{server}"] = _timed(len(files), bare)
        if server == "moto":
            stack.moto.create_bucket(settings.bucket)  # emptied by each reset
        # Only the sweep's files are pending, each once.
        sql(dsn, "UPDATE data_general.s3_files_registry SET uploaded_at = NULL, "
                 "upload_status = CASE WHEN id = ANY(ARRAY[" + ids + "]::bigint[]) "
                 "THEN 'pending' ELSE 'uploaded' END")
        run_settings = dataclasses.replace(settings, upload_workers=workers)
        project_client = _client(endpoint, workers)

        def project() -> None:
            with runtime.warehouse_connection() as conn:
                pipeline.upload(conn, project_client, company, run_settings,
                                run_id=f"sweep-{workers}-{server}", step="sweep")

        out[f"project_{server}"] = _timed(len(files), project)
        if sync is not None:
            sync_bucket = f"bench-sync-{workers}-{server}"
            if server == "moto":
                stack.moto.create_bucket(sync_bucket)
            out[f"aws_sync_{server}"] = sync.run(workers, endpoint, sync_bucket)
        return out

    points = []
    try:
        for workers in mode.sweep_workers:
            point: dict[str, Any] = {"workers": workers}
            point.update(measure(workers, "sink", sink_endpoint))
            point.update(measure(workers, "moto", stack.proxy_endpoint))
            stack.reset_moto()  # the objects are not needed: give moto's memory back
            point["project_of_bare_moto"] = round(
                point["project_moto"]["files_per_second"]
                / point["bare_moto"]["files_per_second"], 3)
            for server in ("sink", "moto") if sync is not None else ():
                point[f"project_x_aws_sync_{server}"] = round(
                    point[f"project_{server}"]["files_per_second"]
                    / point[f"aws_sync_{server}"]["files_per_second"], 2)
            points.append(point)
            log(f"  sweep {workers:>3} workers: sink bare {point['bare_sink']['files_per_second']}"
                f" / upload_s3 {point['project_sink']['files_per_second']} files/s; moto bare "
                f"{point['bare_moto']['files_per_second']} / upload_s3 "
                f"{point['project_moto']['files_per_second']} files/s")
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    best = max(p["project_sink"]["files_per_second"] for p in points)
    for p in points:
        sink = p["project_sink"]
        p["cpu_share"] = round(sink["files_per_second"] * sink["cpu_ms_per_file"] / 1000, 2)
    within = [p for p in points if p["cpu_share"] <= CPU_SHARE] or points[:1]
    chosen = max(within, key=lambda p: p["project_sink"]["files_per_second"])["workers"]
    return {"aws_sync": sync.describe() if sync is not None else {
                "skipped": "the aws CLI is not on PATH: no aws s3 sync comparison"},
            "files": len(files), "average_kib": round(
        sum(f.file_size for f in files) / len(files) / 1024, 1),
        "delay_ms": PROXY_DELAY * 1000, "points": points, "best_sink_files_per_second": best,
        "chosen_workers": chosen}
