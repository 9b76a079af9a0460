"""Process environment shared by the benchmark and its child processes.

Airflow reads its configuration when first imported, so :func:`prepare` must run
before anything imports ``airflow``: a throw-away ``AIRFLOW_HOME``, no example
DAGs, no AWS credentials or metadata lookups from the machine.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                  "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION")


def prepare() -> tuple[Path, bool]:
    """Set the environment for Airflow hooks outside a scheduler.

    Returns AIRFLOW_HOME and whether this call created it (child processes reuse
    their parent's, named by ``EXTRACTOROV_BENCH_HOME``).
    """
    created = not os.environ.get("EXTRACTOROV_BENCH_HOME")
    if created:
        home = Path(tempfile.mkdtemp(prefix="ov-bench-airflow-"))
        os.environ["EXTRACTOROV_BENCH_HOME"] = str(home)
    else:
        home = Path(os.environ["EXTRACTOROV_BENCH_HOME"])
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AWS_EC2_METADATA_DISABLED": "true",
        "XDG_RUNTIME_DIR": str(home),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
    })
    for name in _AWS_VARIABLES:
        os.environ.pop(name, None)
    return home, created


def peak_rss_reset() -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS; False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS since start or the last reset) of this process, in MiB."""
    current = peak = 0.0
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    current = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return round(current, 1), round(peak, 1)


def quiet_airflow() -> None:
    """Keep Airflow's own INFO lines (connections, hooks) out of the benchmark's output.

    Airflow logs through structlog; the pipeline logs through ``logging`` and is
    not affected, so its progress lines are still seen and timed.
    """
    import logging

    import airflow  # noqa: F401  (configures structlog first)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
