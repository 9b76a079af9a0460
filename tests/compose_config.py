"""The Airflow configuration the shipped ``docker-compose.yaml`` gives every component,
as the process-level stack of ``make e2e`` uses it: one configuration, tested.

``process_environment`` takes the ``x-airflow-common`` environment itself (Compose
interpolation resolved with every default, as ``docker compose up`` without a ``.env``
does) and only maps what cannot be the same outside containers: service host names
to local addresses (``postgres``, ``redis``, ``warehouse``, ``minio``, the api-server)
and container paths to local ones. Every other setting is used exactly as shipped;
``tests/deploy/test_compose.py`` fails when a setting is neither used nor mapped nor
listed in :data:`EXCLUDED` with its reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"

INTERPOLATION = re.compile(
    r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^${}]*))?\}"
)


def with_defaults(value: str) -> str:
    """Resolve Compose interpolation as if no variable were set (every default applies)."""

    def replace(match: re.Match[str]) -> str:
        op = match.group("op") or ""
        return match.group("arg") if op.endswith("-") else ""

    previous = None
    while previous != value:
        previous, value = value, INTERPOLATION.sub(replace, value)
    return value.replace("$$", "$")


def compose_airflow_environment() -> dict[str, str]:
    """``x-airflow-common.environment`` of the shipped file, defaults applied."""
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return {key: with_defaults(str(value))
            for key, value in data["x-airflow-common"]["environment"].items()}


EXCLUDED: dict[str, str] = {
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK":
        "serves the container healthcheck on :8974; the process stack watches its "
        "processes directly, and two stacks on one machine would fight over the port",
}
"""Compose settings the process stack deliberately does not use, with the reason."""


def process_environment(*, home: Path, landing: Path, api_url: str, metadata_dsn: str,
                        broker_url: str, warehouse: dict[str, Any],
                        s3: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(environment for the processes, how each mapped setting was mapped).

    ``metadata_dsn``: ``user@host:port/db`` of the local metadata database;
    ``warehouse``: the local ``ov_postgres`` connection (JSON fields); ``s3``: the local
    S3 server's connection (JSON fields: ``login``, ``password``, ``extra.endpoint_url``).
    """
    shipped = compose_airflow_environment()

    def aws(value: str) -> str:
        conn = json.loads(value)
        conn["login"], conn["password"] = s3["login"], s3["password"]
        conn["extra"]["endpoint_url"] = s3["extra"]["endpoint_url"]
        return json.dumps(conn)

    mappings: dict[str, tuple[str, Callable[[str], str]]] = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
            "host postgres → the local metadata database",
            lambda v: re.sub(r"//[^@/]*@postgres/\w+", "//" + metadata_dsn, v)),
        "AIRFLOW__CELERY__RESULT_BACKEND": (
            "host postgres → the local metadata database",
            lambda v: re.sub(r"//[^@/]*@postgres/\w+", "//" + metadata_dsn, v)),
        "AIRFLOW__CELERY__BROKER_URL": ("host redis → the local Redis", lambda v: broker_url),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (
            "host airflow-apiserver → the local api-server",
            lambda v: v.replace("http://airflow-apiserver:8080", api_url)),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": (
            "container path → the stack's AIRFLOW_HOME (the file airflow-init writes in "
            "compose is written by the stack)", lambda v: str(home / "passwords.json")),
        "AIRFLOW_CONFIG": ("container path → the stack's AIRFLOW_HOME",
                           lambda v: str(home / "airflow.cfg")),
        "AIRFLOW_CONN_OV_POSTGRES": ("host warehouse → the local warehouse database",
                                     lambda v: json.dumps(warehouse)),
        "AIRFLOW_CONN_AWS_DEFAULT": ("host minio → the local S3 server (same retries and pool)",
                                     aws),
        "AIRFLOW_VAR_OV_LANDING_ROOT": ("container path → the test's landing folder",
                                        lambda v: str(landing)),
    }
    env: dict[str, str] = {}
    mapped: dict[str, str] = {}
    for key, value in shipped.items():
        if key in EXCLUDED:
            continue
        if key in mappings:
            how, change = mappings[key]
            env[key], mapped[key] = change(value), how
        else:
            env[key] = value
    return env, mapped
