"""Process environment shared by the benchmark and its child processes.

Airflow reads its configuration when first imported, so :func:`prepare` must run
before anything imports ``airflow``: a throw-away ``AIRFLOW_HOME``, no example
DAGs, no AWS credentials or metadata lookups from the machine.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from devtools import services

ROOT = Path(__file__).resolve().parents[1]



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
    services.isolate_process(home)
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
