"""The AirflowPlugin: a FastAPI app on the api-server and a navigation entry in the UI."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from . import URL_PREFIX, URL_ROUTE, VIEW_NAME


class LazyASGIApp:
    """An ASGI app that builds the real one on its first request.

    Every Airflow process loads plugins (the scheduler, the workers and each
    task process too, for macros); only the api-server serves requests. Building
    the FastAPI app lazily keeps Airflow's web security imports out of the others.
    """

    def __init__(self, target: str) -> None:
        self.target = target  # "module:function" returning an ASGI app
        self._app: Callable[..., Any] | None = None
        self._lock = threading.Lock()

    def load(self) -> Callable[..., Any]:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    module, _, factory = self.target.partition(":")
                    self._app = getattr(importlib.import_module(module), factory)()
        return self._app

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        await self.load()(scope, receive, send)

    def __repr__(self) -> str:
        return f"<LazyASGIApp {self.target}>"


stats_app = LazyASGIApp(f"{__package__}.app:create_app")


class OvStatsPlugin(AirflowPlugin):
    """Oficina Virtual stats page (``/ov-stats``), listed under Browse in the UI."""

    name = "ov_stats"
    fastapi_apps = [  # noqa: RUF012 - the attribute names and shapes are Airflow's
        {"app": stats_app, "url_prefix": URL_PREFIX, "name": VIEW_NAME},
    ]
    external_views = [  # noqa: RUF012
        {
            "name": VIEW_NAME,
            # Relative to the UI's <base href>, so it also works under a path prefix.
            "href": f"{URL_PREFIX.lstrip('/')}/",
            "destination": "nav",
            "category": "browse",
            # With a url_route the UI shows the page inside its own frame at /plugin/ov-stats.
            "url_route": URL_ROUTE,
        },
    ]
