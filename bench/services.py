"""The services the benchmark measures against: an embedded PostgreSQL (``pgserver``),
a moto S3 server, and ``bench/proxy.py`` in front of moto adding ``PROXY_DELAY`` per
response (about the round trip from Colombia to ``us-east-1``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.env import ROOT
from devtools.services import MotoS3, Postgres, start_moto, start_postgres

PROXY_DELAY = 0.060


@dataclass
class Services:
    """What :func:`bench_services` started; S3 clients of the pipeline go through the proxy."""

    postgres: Postgres
    moto: MotoS3
    proxy: subprocess.Popen
    proxy_port: int
    pg_dir: Path

    @property
    def proxy_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def dsn(self, database: str) -> str:
        return self.postgres.dsn(database)

    def reset_moto(self) -> None:
        """Forget every bucket and object (moto keeps them in memory)."""
        import httpx

        httpx.post(f"{self.moto.endpoint}/moto-api/reset", timeout=300).raise_for_status()

    def use_database(self, database: str, *, fresh: bool = True) -> str:
        """Create a database and point connection ``ov_postgres`` at it."""
        self.postgres.create_database(database, fresh=fresh)
        os.environ["AIRFLOW_CONN_OV_POSTGRES"] = self.postgres.conn_json(database)
        return self.dsn(database)


@contextlib.contextmanager
def bench_services() -> Iterator[Services]:
    """Start PostgreSQL, moto and the latency proxy; point ``aws_default`` at the proxy."""
    pg_dir = Path(tempfile.mkdtemp(prefix="ovpg-"))  # short: unix socket paths are limited
    postgres = start_postgres(pg_dir)
    moto = proxy = None
    try:
        moto = start_moto()
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
