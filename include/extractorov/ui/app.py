"""The FastAPI app mounted at ``/ov-stats`` on the Airflow api-server.

Routes (relative to the mount point):

* ``GET /``          the HTML page (shown inside the Airflow UI by the nav entry)
* ``GET /api/stats`` the same numbers as JSON

Both need a signed-in Airflow user (the UI's ``_token`` cookie or an
``Authorization: Bearer`` token from ``POST /auth/token``) and show only the
companies whose DAG runs that user may read. Importing this module imports
Airflow's API security helpers, so the plugin entry only builds the app on
the first request (see :class:`extractorov.ui.plugin.LazyASGIApp`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from . import render
from .data import DAYS, RUNS_LIMIT, StatsUnavailable, load_snapshot

log = logging.getLogger(__name__)

QUERY_TIMEOUT_SECONDS = 20.0
"""Upper bound for one page load (connecting included), so a blackholed host cannot hang it."""

NO_STORE = {"Cache-Control": "no-store"}


def readable_companies(request: Request, user: Any) -> list[Any]:
    """Registered companies whose DAG runs this user may read."""
    from extractorov.companies import COMPANIES

    allowed = []
    for company in COMPANIES.values():
        try:
            requires_access_dag("GET", DagAccessEntity.RUN, company.dag_id)(request, user)
        except HTTPException:
            continue
        allowed.append(company)
    return allowed


async def read_stats(companies: list[Any]) -> dict[str, Any]:
    """The snapshot, read in a worker thread with an overall timeout."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(load_snapshot, companies, runs_limit=RUNS_LIMIT, days=DAYS),
            timeout=QUERY_TIMEOUT_SECONDS,
        )
    except TimeoutError:
        raise StatsUnavailable(
            "timeout", f"The warehouse (connection 'ov_postgres') did not answer within "
                       f"{QUERY_TIMEOUT_SECONDS:.0f} s: it may be down or unreachable.",
        ) from None


async def stats_for(request: Request, user: Any) -> dict[str, Any]:
    """The snapshot of the companies this user may read (empty when none)."""
    companies = await asyncio.to_thread(readable_companies, request, user)
    if not companies:
        return {"generated_at": None, "days": DAYS, "companies": []}
    return await read_stats(companies)


def create_app() -> FastAPI:
    app = FastAPI(
        title="Oficina Virtual stats",
        description="Files, bytes and runs of the ov_* DAGs, read through connection "
                    "ov_postgres.",
        docs_url=None, redoc_url=None, openapi_url=None,
    )

    @app.get("/", response_class=HTMLResponse)
    async def stats_page(request: Request, user: GetUserDep) -> HTMLResponse:
        try:
            snapshot = await stats_for(request, user)
        except StatsUnavailable as exc:
            return HTMLResponse(render.unavailable_page(exc.kind, exc.message),
                                status_code=exc.http_status, headers=NO_STORE)
        return HTMLResponse(render.stats_page(snapshot), headers=NO_STORE)

    @app.get("/api/stats")
    async def stats_json(request: Request, user: GetUserDep) -> JSONResponse:
        try:
            snapshot = await stats_for(request, user)
        except StatsUnavailable as exc:
            return JSONResponse({"error": exc.kind, "message": exc.message, "companies": []},
                                status_code=exc.http_status, headers=NO_STORE)
        return JSONResponse(snapshot, headers=NO_STORE)

    return app
