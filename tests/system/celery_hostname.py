"""``[core] hostname_callable`` for the Celery workers the system tests start.

Both workers run on this one machine, so the default (the machine's FQDN) would
give every task instance the same ``hostname``. Each worker process is started
with ``OV_CELERY_HOSTNAME`` set to its Celery node name (``worker1@host``), and
the task processes it forks inherit it: the task instances then say which
worker ran them. Configured only for the workers, through
``AIRFLOW__CORE__HOSTNAME_CALLABLE=tests.system.celery_hostname.hostname``.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("OV_CELERY_HOSTNAME") or socket.getfqdn()
