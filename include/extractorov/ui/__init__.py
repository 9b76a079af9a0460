"""Oficina Virtual stats page: an Airflow 3 UI plugin.

``extractorov.ui.plugin.OvStatsPlugin`` (registered by the package's
``airflow.plugins`` entry point, see ``pyproject.toml``) mounts a FastAPI app at
``/ov-stats`` on the api-server and puts an entry "Oficina Virtual stats" in the Browse
menu that shows it inside the Airflow UI. The page reads the warehouse only through
the ``ov_postgres`` connection (``extractorov.runtime.warehouse_connection``) with the
same functions the ``report_stats`` task logs with (``extractorov.stats``), so both show
the same numbers. See docs/operations-ui.md.
"""

from __future__ import annotations

URL_PREFIX = "/ov-stats"
URL_ROUTE = "ov-stats"
VIEW_NAME = "Oficina Virtual stats"
