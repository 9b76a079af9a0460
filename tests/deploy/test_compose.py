"""Structural checks of the Docker Compose deployment.

No Docker engine is needed: docker-compose.yaml, Dockerfile, .env.example and
requirements.txt are read as files and checked for the invariants the stack
relies on (shared Airflow settings, connections, volumes, health checks,
scalable workers, bucket creation, matching Airflow versions).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.compose_config import INTERPOLATION, with_defaults

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DEV_FILE = ROOT / "docker-compose.dev.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
REQUIREMENTS = ROOT / "requirements.txt"

AIRFLOW_VERSION = "3.3.2"
CONNECTIONS = ("AIRFLOW_CONN_OV_POSTGRES", "AIRFLOW_CONN_AWS_DEFAULT")
VARIABLES = (
    "AIRFLOW_VAR_OV_S3_BUCKET",
    "AIRFLOW_VAR_OV_S3_BASE_PATH",
    "AIRFLOW_VAR_OV_LANDING_ROOT",
)
REQUIRED_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
    "redis",
    "postgres",
    "warehouse",
    "minio",
    "minio-init",
}
ONE_SHOT_SERVICES = {"airflow-init", "minio-init", "airflow-cli"}  # cli: `compose run`
TASK_RUNNING_SERVICES = ("airflow-worker", "airflow-triggerer")
AIRFLOW_MOUNTS = (
    "/opt/airflow/dags",
    "/opt/airflow/plugins",
    "/opt/airflow/landing",
)
DEV_MOUNTS = ("/opt/airflow/include",)
"""Mounted by docker-compose.dev.yaml only: the base file runs the image's package."""

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}; not $${VAR} (escaped).
# The default may not contain `$`, `{` or `}`: nested expressions resolve innermost first.
_INTERPOLATION = INTERPOLATION
_VAR_REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
_ENV_ASSIGNMENT = re.compile(r"^\s*#?\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", re.MULTILINE)


@pytest.fixture(scope="module")
def compose_text() -> str:
    assert COMPOSE_FILE.is_file(), f"{COMPOSE_FILE} is missing"
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict:
    data = yaml.safe_load(compose_text)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def dev() -> dict:
    assert DEV_FILE.is_file(), f"{DEV_FILE} is missing"
    data = yaml.safe_load(DEV_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def common(compose: dict) -> dict:
    assert "x-airflow-common" in compose, "the x-airflow-common extension is missing"
    return compose["x-airflow-common"]


@pytest.fixture(scope="module")
def airflow_services(services: dict[str, dict]) -> dict[str, dict]:
    found = {name: svc for name, svc in services.items() if name.startswith("airflow-")}
    assert found, "no airflow-* services"
    return found


@pytest.fixture(scope="module")
def common_env(common: dict) -> dict[str, str]:
    env = common["environment"]
    assert isinstance(env, dict), "x-airflow-common environment must be a mapping (anchor)"
    return {key: str(value) for key, value in env.items()}


def _mount_targets(volumes: list) -> set[str]:
    targets = set()
    for volume in volumes:
        if isinstance(volume, dict):
            targets.add(volume["target"])
        else:
            parts = volume.split(":")
            assert len(parts) >= 2, f"volume {volume!r} has no container path"
            # "${OV_LANDING_HOST_DIR:-./landing}:/opt/airflow/landing" contains extra colons
            targets.add(with_defaults(volume).split(":")[1])
    return targets


# --- x-airflow-common ------------------------------------------------------


def test_common_anchor_is_declared_and_merged(compose_text: str) -> None:
    assert re.search(r"^x-airflow-common:\s*\n?\s*&airflow-common\b", compose_text, re.MULTILINE)
    assert re.search(r"^\s*environment:\s*\n?\s*&airflow-common-env\b", compose_text, re.MULTILINE)
    merges = re.findall(r"^  (airflow-[a-z-]+):\n    <<: \*airflow-common\n", compose_text, re.M)
    declared = re.findall(r"^  (airflow-[a-z-]+):\n", compose_text, re.MULTILINE)
    assert declared
    assert sorted(merges) == sorted(declared), "every airflow-* service must start with <<"


def test_common_builds_the_project_image(common: dict) -> None:
    build = common.get("build")
    context = build.get("context") if isinstance(build, dict) else build
    assert context in (".", "./"), "the Airflow image must be built from ./Dockerfile"
    assert common["user"] == "${AIRFLOW_UID:-50000}:0"


def test_every_airflow_service_merges_the_common_settings(
    airflow_services: dict[str, dict], common: dict, common_env: dict[str, str]
) -> None:
    for name, svc in airflow_services.items():
        assert svc.get("build") == common["build"], f"{name} does not use the common image"
        env = {key: str(value) for key, value in svc.get("environment", {}).items()}
        for key, value in common_env.items():
            assert env.get(key) == value, f"{name}: {key} differs from x-airflow-common"
        for key in (*CONNECTIONS, *VARIABLES):
            assert key in env, f"{name} lacks {key}"
        assert svc.get("user") == common["user"] or name == "airflow-init", name


def test_core_settings(common_env: dict[str, str]) -> None:
    assert common_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert common_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(
        "postgresql+psycopg2://airflow:airflow@postgres/"
    )
    assert common_env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert "@postgres/" in common_env["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert common_env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert "@redis:6379" in common_env["AIRFLOW__CELERY__BROKER_URL"]
    assert common_env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert "AIRFLOW__CORE__FERNET_KEY" in common_env
    assert "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION" in common_env
    assert (
        common_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
        == "http://airflow-apiserver:8080/execution/"
    )
    # One secret for all components (a per-process random one breaks task tokens).
    assert with_defaults(common_env["AIRFLOW__API_AUTH__JWT_SECRET"])
    # The image's installed package runs: no PYTHONPATH in the base file (the mounted
    # include/ first on PYTHONPATH is docker-compose.dev.yaml's, test_dev_file_...).
    assert "PYTHONPATH" not in common_env
    assert with_defaults(common_env["AIRFLOW_VAR_OV_S3_BUCKET"]) == "extractorov-data"
    assert "AWS_S3_BUCKET_NAME" in common_env["AIRFLOW_VAR_OV_S3_BUCKET"]
    assert with_defaults(common_env["AIRFLOW_VAR_OV_S3_BASE_PATH"]) == "oficina-virtual"
    assert "S3_BASE_PATH" in common_env["AIRFLOW_VAR_OV_S3_BASE_PATH"]
    assert common_env["AIRFLOW_VAR_OV_LANDING_ROOT"] == "/opt/airflow/landing"


def test_simple_auth_manager(common_env: dict[str, str], services: dict[str, dict]) -> None:
    assert common_env["AIRFLOW__CORE__AUTH_MANAGER"].endswith(".SimpleAuthManager")
    users = with_defaults(common_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"])
    assert users == "admin:admin"
    passwords_file = common_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert passwords_file.startswith("/opt/airflow/config/"), "must live on a mounted folder"
    init_env = services["airflow-init"]["environment"]
    assert {"_OV_ADMIN_USERNAME", "_OV_ADMIN_PASSWORD"} <= set(init_env)


# --- services ----------------------------------------------------------------


def test_required_services_exist(services: dict[str, dict]) -> None:
    missing = REQUIRED_SERVICES - set(services)
    assert not missing, f"missing services: {sorted(missing)}"
    if "flower" in services:
        assert services["flower"].get("profiles") == ["flower"], "flower must be opt-in"


def test_long_running_services_have_healthchecks(services: dict[str, dict]) -> None:
    for name, svc in services.items():
        if name in ONE_SHOT_SERVICES:
            continue
        test = svc.get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck"


def test_healthcheck_commands(services: dict[str, dict]) -> None:
    def command(name: str) -> str:
        test = services[name]["healthcheck"]["test"]
        return " ".join(test) if isinstance(test, list) else test

    assert "pg_isready" in command("postgres")
    assert "pg_isready" in command("warehouse")
    assert "redis-cli ping" in command("redis")
    assert "mc ready local" in command("minio") or "/minio/health/live" in command("minio")
    assert "http://localhost:8080/api/v2/version" in command("airflow-apiserver")
    assert ":8974/health" in command("airflow-scheduler")
    assert "--job-type DagProcessorJob" in command("airflow-dag-processor")
    assert "--job-type TriggererJob" in command("airflow-triggerer")
    assert "inspect ping" in command("airflow-worker")
    for name in ("airflow-dag-processor", "airflow-triggerer", "airflow-worker"):
        # $$ keeps ${HOSTNAME} for the container's shell instead of Compose.
        assert "$${HOSTNAME}" in command(name), name


def test_images_and_commands(services: dict[str, dict]) -> None:
    assert services["postgres"]["image"] == "postgres:16.11-bookworm"
    assert services["warehouse"]["image"] == "postgres:16.11-bookworm"
    assert services["redis"]["image"] == "redis:7.2-bookworm"
    assert services["minio"]["image"].startswith("quay.io/minio/minio:RELEASE.2025-")
    assert services["minio-init"]["image"].startswith("quay.io/minio/mc:RELEASE.2025-")
    assert "server /data" in services["minio"]["command"]
    assert '--console-address ":9001"' in services["minio"]["command"]
    assert services["airflow-apiserver"]["command"] == "api-server"
    assert services["airflow-scheduler"]["command"] == "scheduler"
    assert services["airflow-dag-processor"]["command"] == "dag-processor"
    assert services["airflow-triggerer"]["command"] == "triggerer"
    assert services["airflow-worker"]["command"] == "celery worker"
    assert services["airflow-worker"]["environment"]["DUMB_INIT_SETSID"] == "0"
    assert any(str(p).endswith(":8080") for p in services["airflow-apiserver"]["ports"])


def test_airflow_init_migrates_the_database_and_creates_the_writer_pools(
        services: dict[str, dict]) -> None:
    script = "\n".join(services["airflow-init"]["command"])
    assert "airflow db migrate" in script
    # The pools come from the company registry (a new company needs no edit here).
    assert "python -m extractorov.pools /tmp/ov-pools.json" in script
    assert "airflow pools import /tmp/ov-pools.json" in script
    assert script.index("db migrate") < script.index("pools import")
    # The warehouse schema too, as one step before any task (extractorov.migrate).
    assert "python -m extractorov.migrate" in script
    assert (script.index("airflow db migrate") < script.index("python -m extractorov.migrate")
            < script.index("pools import"))
    depends = services["airflow-init"]["depends_on"]
    assert depends["warehouse"]["condition"] == "service_healthy"
    assert "mkdir -p" in script
    assert services["airflow-init"]["user"] == "0:0"


def test_dependencies(airflow_services: dict[str, dict]) -> None:
    for name, svc in airflow_services.items():
        depends = svc.get("depends_on", {})
        assert depends.get("redis", {}).get("condition") == "service_healthy", name
        assert depends.get("postgres", {}).get("condition") == "service_healthy", name
        if name != "airflow-init":
            condition = depends.get("airflow-init", {}).get("condition")
            assert condition == "service_completed_successfully", name
    for name in TASK_RUNNING_SERVICES:
        depends = airflow_services[name]["depends_on"]
        assert depends["warehouse"]["condition"] == "service_healthy", name
        assert depends["minio-init"]["condition"] == "service_completed_successfully", name


def test_airflow_folders_are_mounted_everywhere(
        airflow_services: dict[str, dict], dev: dict) -> None:
    for name, svc in airflow_services.items():
        targets = _mount_targets(svc.get("volumes", []))
        for target in AIRFLOW_MOUNTS:
            assert target in targets, f"{name} does not mount {target}"
        # include/ only in development, where it shadows the installed package.
        dev_targets = _mount_targets(dev["services"][name].get("volumes", []))
        for target in DEV_MOUNTS:
            assert target not in targets, f"{name}: {target} shadows the image's package"
            assert target in dev_targets, f"{name} does not mount {target} in development"


def test_mounted_folders_follow_airflow_proj_dir(common: dict, dev: dict) -> None:
    """As the official file: every project folder is ${AIRFLOW_PROJ_DIR:-.}/<folder>."""
    expected = {f"${{AIRFLOW_PROJ_DIR:-.}}/{folder}:/opt/airflow/{folder}"
                for folder in ("dags", "logs", "config", "plugins")}
    assert expected <= set(common["volumes"])
    include = "${AIRFLOW_PROJ_DIR:-.}/include:/opt/airflow/include"
    assert dev["x-airflow-dev"]["volumes"] == [include]
    for volume in common["volumes"]:
        source = str(volume).split(":/opt/airflow/")[0]
        assert source.startswith(("${AIRFLOW_PROJ_DIR:-.}/", "${OV_LANDING_HOST_DIR:-")), volume
        assert with_defaults(source).startswith("./"), volume


def test_the_base_file_runs_the_installed_package(compose_text: str,
                                                  services: dict[str, dict]) -> None:
    mentions = [line for line in compose_text.splitlines() if "PYTHONPATH" in line]
    assert mentions and all(line.lstrip().startswith("#") for line in mentions), mentions
    for name, svc in services.items():
        assert "PYTHONPATH" not in (svc.get("environment") or {}), name


def test_dev_file_mounts_include_over_the_package_in_every_airflow_service(
        dev: dict, airflow_services: dict[str, dict], services: dict[str, dict]) -> None:
    assert set(dev["services"]) <= set(services), "the dev file names an unknown service"
    python_services = set(airflow_services) | {"flower"}
    assert set(dev["services"]) == python_services
    for name in python_services:
        svc = dev["services"][name]
        assert svc["environment"]["PYTHONPATH"] == "/opt/airflow/include", name
        # Nothing else: the base file stays the one configuration (tests/compose_config.py).
        assert set(svc) == {"environment", "volumes"}, name
        assert set(svc["environment"]) == {"PYTHONPATH"}, name


def test_airflow_cli_is_in_the_debug_profile(services: dict[str, dict]) -> None:
    cli = services["airflow-cli"]
    assert cli["profiles"] == ["debug"]
    assert cli["command"] == ["bash", "-c", "airflow"]
    assert str(cli["environment"]["CONNECTION_CHECK_MAX_COUNT"]) == "0"
    assert "ports" not in cli and "healthcheck" not in cli
    # Every other airflow-* service starts with `docker compose up`.
    for name, svc in services.items():
        if name.startswith("airflow-") and name != "airflow-cli":
            assert "profiles" not in svc, name


def test_airflow_init_warns_when_airflow_uid_is_not_set(services: dict[str, dict]) -> None:
    script = "\n".join(services["airflow-init"]["command"])
    assert 'if [[ -z "${AIRFLOW_UID:-}" ]]; then' in script
    assert "WARNING!!!: AIRFLOW_UID not set!" in script
    assert "#setting-the-right-airflow-user" in script
    assert script.index("AIRFLOW_UID not set") < script.index("mkdir -p")


def test_landing_folder_is_configurable(common: dict) -> None:
    landing = [v for v in common["volumes"] if str(v).endswith(":/opt/airflow/landing")]
    assert landing == ["${OV_LANDING_HOST_DIR:-./landing}:/opt/airflow/landing"]


def test_worker_is_scalable(compose_text: str, services: dict[str, dict]) -> None:
    worker = services["airflow-worker"]
    assert "container_name" not in worker
    assert not worker.get("ports"), "published host ports prevent --scale"
    assert "scale" not in worker
    assert not re.search(r"^\s*scale:", compose_text, re.MULTILINE)


def test_named_volumes(compose: dict, services: dict[str, dict]) -> None:
    declared = set(compose.get("volumes") or {})
    for name in ("postgres", "warehouse", "minio"):
        sources = {str(v).split(":")[0] for v in services[name].get("volumes", [])}
        named = sources & declared
        assert named, f"{name} has no named data volume"


# --- connections ---------------------------------------------------------------


def test_aws_connection_json(common_env: dict[str, str], services: dict[str, dict]) -> None:
    raw = common_env["AIRFLOW_CONN_AWS_DEFAULT"]
    conn = json.loads(with_defaults(raw))
    assert conn["conn_type"] == "aws"
    extra = conn["extra"]
    assert extra["endpoint_url"] == "http://minio:9000"
    assert extra["region_name"] == "us-east-1"
    retries = extra["config_kwargs"]["retries"]
    assert retries["mode"] == "standard"
    assert retries["max_attempts"] >= 3
    assert extra["config_kwargs"]["max_pool_connections"] >= 10
    # Overridable from .env with the seed's variable names.
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        assert "${" + var + ":-" in raw, f"{var} does not override the aws_default connection"
    # Local defaults are the MinIO root credentials.
    minio_env = services["minio"]["environment"]
    assert conn["login"] == with_defaults(minio_env["MINIO_ROOT_USER"])
    assert conn["password"] == with_defaults(minio_env["MINIO_ROOT_PASSWORD"])


def test_warehouse_connection_uri(common_env: dict[str, str], services: dict[str, dict]) -> None:
    uri = urlsplit(with_defaults(common_env["AIRFLOW_CONN_OV_POSTGRES"]))
    assert uri.scheme in ("postgres", "postgresql")
    assert uri.hostname == "warehouse"
    assert (uri.port or 5432) == 5432
    assert uri.path == "/extractorov"
    warehouse_env = {
        k: with_defaults(str(v)) for k, v in services["warehouse"]["environment"].items()
    }
    assert warehouse_env["POSTGRES_DB"] == "extractorov"
    assert uri.username == warehouse_env["POSTGRES_USER"]
    assert uri.password == warehouse_env["POSTGRES_PASSWORD"]
    # Not Airflow's metadata DB.
    assert "@postgres" not in common_env["AIRFLOW_CONN_OV_POSTGRES"]


def test_minio_init_creates_the_bucket(
    common_env: dict[str, str], services: dict[str, dict]
) -> None:
    init = services["minio-init"]
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    command = init["command"]
    script = "\n".join(command) if isinstance(command, list) else command
    match = re.search(r"mc mb --ignore-existing \"?local/([^\"\s]+)", script)
    assert match, "minio-init does not create a bucket idempotently"
    # Same expression (hence same bucket) as the ov_s3_bucket Variable.
    assert match.group(1) == common_env["AIRFLOW_VAR_OV_S3_BUCKET"]
    assert with_defaults(match.group(1)) == "extractorov-data"


# --- Dockerfile, .env.example, requirements.txt -------------------------------------


def _dockerfile_base_version() -> str:
    text = DOCKERFILE.read_text(encoding="utf-8")
    match = re.search(r"^FROM\s+apache/airflow:(\d+\.\d+\.\d+)-python3\.11\s*$", text, re.M)
    assert match, "Dockerfile must start FROM apache/airflow:<version>-python3.11"
    return match.group(1)


def test_dockerfile() -> None:
    assert DOCKERFILE.is_file()
    assert _dockerfile_base_version() == AIRFLOW_VERSION
    lines = [
        line.strip()
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    copy = next(i for i, line in enumerate(lines) if re.match(r"COPY\b.*requirements\.txt", line))
    install = next(
        i
        for i, line in enumerate(lines)
        if re.match(r'RUN pip install --no-cache-dir "apache-airflow==\$\{AIRFLOW_VERSION\}" '
                    r"-r \S*requirements\.txt$", line)
    )
    assert copy < install
    users = [line.split()[1] for line in lines[:install] if line.startswith("USER ")]
    assert users and users[-1] == "airflow", "pip must run as the airflow user"
    # The package is installed (no PYTHONPATH needed), after the pinned requirements and
    # without letting pip change them.
    package = next(i for i, line in enumerate(lines)
                   if re.match(r"RUN pip install --no-cache-dir --no-deps /opt/airflow/src$",
                               line))
    assert install < package
    assert "COPY --chown=airflow:root include/extractorov /opt/airflow/src/include/extractorov" \
        in lines[:package]
    assert "COPY --chown=airflow:root pyproject.toml /opt/airflow/src/pyproject.toml" \
        in lines[:package]
    assert not any(line.startswith("ENV PYTHONPATH") for line in lines)


def test_env_example_documents_every_variable(compose_text: str) -> None:
    assert ENV_EXAMPLE.is_file()
    used = set(_VAR_REFERENCE.findall(compose_text + DEV_FILE.read_text(encoding="utf-8")))
    assert {"AIRFLOW_UID", "AWS_ACCESS_KEY_ID", "AWS_S3_BUCKET_NAME", "OV_LANDING_HOST_DIR",
            "AIRFLOW_PROJ_DIR"} <= used
    documented = set(_ENV_ASSIGNMENT.findall(ENV_EXAMPLE.read_text(encoding="utf-8")))
    missing = used - documented
    assert not missing, f".env.example does not document: {sorted(missing)}"


def test_requirements_pin_the_image_airflow_version() -> None:
    if not REQUIREMENTS.is_file():
        pytest.skip("requirements.txt does not exist yet")
    pins = {}
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;]+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    assert "apache-airflow" in pins, "requirements.txt must pin apache-airflow=="
    assert pins["apache-airflow"] == _dockerfile_base_version()


def test_the_lock_follows_airflows_constraints() -> None:
    """requirements*.txt are resolved within Airflow's published constraints for the pinned
    Airflow and Python 3.11 (vendored in constraints/, its source URL in its header); a pin
    may differ only when constraints/deviations.txt names it with a reason."""
    from scripts import airflow_constraints as constraints

    assert constraints.airflow_version() == AIRFLOW_VERSION == _dockerfile_base_version()
    assert constraints.source_url() == ("https://raw.githubusercontent.com/apache/airflow/"
                                        f"constraints-{AIRFLOW_VERSION}/constraints-3.11.txt")
    assert all(constraints.deviations().values()), "every deviation says why"
    vendored = constraints.vendored_path()
    if not vendored.is_file():
        pytest.skip(f"{vendored.relative_to(ROOT)} is not vendored yet: `make constraints` "
                    "(needs raw.githubusercontent.com), then `make lock`")
    assert vendored.read_text().startswith(f"# Source: {constraints.source_url()}\n")
    for lock in (REQUIREMENTS, ROOT / "requirements-dev.txt"):
        assert constraints.disagreements(lock, vendored) == [], lock.name


def test_compose_file_passes_the_compose_spec_schema() -> None:
    """The official schema (vendored in tests/deploy/schema, source and commit noted)."""
    import jsonschema

    schema = json.loads((ROOT / "tests/deploy/schema/compose-spec.json").read_text())
    for path in (COMPOSE_FILE, DEV_FILE):
        document = yaml.safe_load(path.read_text())
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(document), key=str)
        assert errors == [], "\n".join(f"{path.name} {list(e.path)}: {e.message}"
                                        for e in errors[:10])


def test_minio_accepts_the_encryption_the_code_sends() -> None:
    """Every upload sends SSE headers (storage.SERVER_SIDE_ENCRYPTION); MinIO answers such a
    request with "Server side encryption specified but KMS is not configured" unless a KMS
    is set: the shipped MinIO must have its local single-key KMS, with a valid key."""
    import base64

    from extractorov import storage

    assert storage.SERVER_SIDE_ENCRYPTION == "AES256"
    minio = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["minio"]
    value = str(minio["environment"]["MINIO_KMS_SECRET_KEY"])
    match = _INTERPOLATION.fullmatch(value)
    default = match["arg"] if match else value  # ${MINIO_KMS_SECRET_KEY:-name:key}
    name, _, key = default.partition(":")
    assert name and len(base64.b64decode(key)) == 32, "MinIO wants name:base64(32 bytes)"
    assert "MINIO_KMS_SECRET_KEY" in ENV_EXAMPLE.read_text()


def test_the_process_stack_uses_every_airflow_setting_of_the_compose_file(tmp_path) -> None:
    """make e2e runs the shipped configuration: each x-airflow-common setting is passed
    as is, mapped (host names and container paths only), or excluded with a reason."""
    from tests import compose_config
    from tests.system.stack import PROCESS_ONLY

    shipped = compose_config.compose_airflow_environment()
    s3 = {"login": "k", "password": "s", "extra": {"endpoint_url": "http://127.0.0.1:1"}}
    env, mapped = compose_config.process_environment(
        home=tmp_path, landing=tmp_path / "landing", api_url="http://127.0.0.1:2",
        metadata_dsn="postgres@127.0.0.1:5432/meta", broker_url="redis://127.0.0.1:6379/5",
        warehouse={"conn_type": "postgres", "host": "127.0.0.1"}, s3=s3)
    for key, value in shipped.items():
        if key in compose_config.EXCLUDED:
            assert compose_config.EXCLUDED[key], f"{key}: excluded without a reason"
            assert key not in env
        elif key in mapped:
            assert not any(host in env[key] for host in
                           ("@postgres/", "redis:6379", "//warehouse", "minio:9000",
                            "airflow-apiserver", "/opt/airflow")), (key, env[key])
        else:
            assert env[key] == value, f"{key}: not used as shipped"
    assert set(env) | set(compose_config.EXCLUDED) == set(shipped)
    assert not set(PROCESS_ONLY) & set(shipped), "the process stack overrides a compose key"
    # The mapped S3 connection keeps the shipped retries and pool, only the endpoint moves.
    aws = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert aws["extra"]["config_kwargs"] == json.loads(with_defaults(
        str(yaml.safe_load(COMPOSE_FILE.read_text())["x-airflow-common"]["environment"][
            "AIRFLOW_CONN_AWS_DEFAULT"])))["extra"]["config_kwargs"]


def test_constraints_check_accepts_only_explained_deviations(tmp_path, monkeypatch) -> None:
    """What `make lock` and the test above rely on: a pin that differs from Airflow's
    constraints is reported unless deviations.txt names it, and a nameless reason fails."""
    from scripts import airflow_constraints as constraints

    vendored = tmp_path / "constraints.txt"
    vendored.write_text("# Source: x\nboto3==1.40.0\nCelery==5.6.0\nsix==1.17.0\n")
    lock = tmp_path / "requirements.txt"
    lock.write_text("boto3==1.44.1\n    # via x\ncelery==5.6.0\nmoto[s3]==5.2.5\n")
    assert constraints.disagreements(lock, vendored) == [
        "boto3==1.44.1 (Airflow's constraints: 1.40.0)"]
    deviations = tmp_path / "deviations.txt"
    deviations.write_text("# comment\nBoto3  # the checksum API of 1.44\n")
    monkeypatch.setattr(constraints, "DEVIATIONS", deviations)
    assert constraints.disagreements(lock, vendored) == []
    deviations.write_text("boto3\n")
    with pytest.raises(SystemExit, match="no reason"):
        constraints.deviations()
