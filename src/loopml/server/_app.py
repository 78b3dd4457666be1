"""The ASGI app: one FastAPI application, one router per protocol, all on the same services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response

from loopml.config import Settings, load_settings
from loopml.data import DatasetCatalog
from loopml.monitoring import (
    MonitorMetrics,
    MonitorScheduler,
    MonitorService,
    get_retrain_handler,
    named_retrain_handler,
)
from loopml.pipeline import CacheIndex
from loopml.registry import ModelRegistry
from loopml.server._errors import install_error_handlers
from loopml.server._group_commit import GroupCommit
from loopml.server._openapi import install_openapi
from loopml.server.mlflow import artifacts_router
from loopml.server.mlflow import router as mlflow_router
from loopml.server.native import PREFIX as NATIVE_PREFIX
from loopml.server.native import router as native_router
from loopml.serving import PROMETHEUS_CONTENT_TYPE
from loopml.tracking import TrackingService

__all__ = ["create_app"]

VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the server app. Opening the store applies pending migrations.

    Args:
        settings: explicit settings; by default read from ``LOOPML_*`` now.
    """
    settings = settings or load_settings()
    app = FastAPI(
        title="loopml", version=VERSION, docs_url="/docs", redoc_url=None, lifespan=_lifespan
    )
    app.state.settings = settings
    app.state.tracking = TrackingService.from_settings(settings)
    app.state.commits = GroupCommit(app.state.tracking.runs)
    app.state.registry = ModelRegistry(app.state.tracking.store)
    # Areas of the native API served by other layers' services, on the same stores.
    app.state.areas = {
        "datasets": DatasetCatalog(app.state.tracking.store),
        "pipeline_cache": CacheIndex(app.state.tracking.store, app.state.tracking.blobs),
        "registry": app.state.registry,
    }
    named = settings.monitors_retrain_handler
    app.state.monitors = MonitorService.from_settings(
        settings, store=app.state.tracking.store, blobs=app.state.tracking.blobs,
        metrics=MonitorMetrics(),
        retrain_handler=get_retrain_handler() or (named_retrain_handler(named) if named else None),
    )  # fmt: skip
    install_error_handlers(app)
    # The MLflow UI calls the same API under /ajax-api.
    app.include_router(mlflow_router, prefix="/api/2.0/mlflow")
    app.include_router(mlflow_router, prefix="/ajax-api/2.0/mlflow")
    app.include_router(artifacts_router, prefix="/api/2.0/mlflow-artifacts")
    app.include_router(artifacts_router, prefix="/ajax-api/2.0/mlflow-artifacts")
    app.include_router(native_router, prefix=NATIVE_PREFIX)
    install_openapi(app, ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"))
    _hot_routes_first(app)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus text: the gauges of every monitor's latest run, read from the store at
        each scrape (runs made by other processes show too)."""
        service: MonitorService = app.state.monitors
        assert service.metrics is not None
        service.metrics.keep_only(m.name for m in service.list())
        service.metrics.observe_all(service.latest_runs())
        return Response(service.metrics.exposition(), media_type=PROMETHEUS_CONTENT_TYPE)

    @app.get("/version")
    async def version() -> dict[str, Any]:
        """The server's version."""
        return {"version": VERSION}

    @app.get("/api/3.0/mlflow/server-info")
    async def server_info() -> dict[str, Any]:
        """What the MLflow client asks before artifact transfers."""
        return {
            "store_type": "loopml",
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
            "workspaces_enabled": False,
        }

    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run due monitors in a background thread while the server is up
    (``LOOPML_MONITORS_SCHEDULE``); every replica may, each due run is made by one."""
    settings: Settings = app.state.settings
    scheduler = None
    if settings.monitors_schedule:
        scheduler = MonitorScheduler(app.state.monitors, poll_s=settings.monitors_poll_s)
        scheduler.start()
    app.state.monitor_scheduler = scheduler
    try:
        yield
    finally:
        if scheduler is not None:
            await asyncio.to_thread(scheduler.stop)
        await asyncio.to_thread(app.state.monitors.close, 5.0)


# Routes are matched in order, and the logging calls are most of the traffic: a copy of each
# is tried first instead of after some fifty others (the copies stay out of the schema).
# Their paths are literal, so no other route is shadowed.
def _hot_routes_first(app: FastAPI) -> None:
    from fastapi.routing import APIRoute

    from loopml.server.mlflow import hot_routes

    first = [
        APIRoute(f"/api/2.0/mlflow{path}", endpoint, methods=["POST"], include_in_schema=False)
        for path, endpoint in hot_routes().items()
    ]
    app.router.routes[:0] = first
