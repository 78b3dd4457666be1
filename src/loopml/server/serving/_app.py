"""The serving app: a plain Starlette app (its routes are the hot path; FastAPI's request
machinery would cost more than the rest of a small request), one pool of models."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import metadata

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from loopml.config import Settings, load_settings
from loopml.server.serving._errors import exception_handlers
from loopml.server.serving._feedback import feedback_routes
from loopml.server.serving._invocations import invocations_routes
from loopml.server.serving._openapi import openapi_schema
from loopml.server.serving._v2 import v2_routes
from loopml.serving import MULTIPROC_ENV, PROMETHEUS_CONTENT_TYPE, ModelPool

__all__ = ["create_serving_app"]


def _version() -> str:
    try:
        return metadata.version("loopml")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree
        return "unknown"


async def _metrics(request: Request) -> Response:
    pool: ModelPool = request.app.state.pool
    return Response(pool.render_metrics(), media_type=PROMETHEUS_CONTENT_TYPE)


async def _openapi(request: Request) -> Response:
    return Response(request.app.state.openapi, media_type="application/json")


async def _docs(request: Request) -> Response:
    from fastapi.openapi.docs import get_swagger_ui_html

    page = get_swagger_ui_html(openapi_url="/openapi.json", title="loopml serving")
    return HTMLResponse(bytes(page.body))


def create_serving_app(
    pool: ModelPool | None = None,
    *,
    settings: Settings | None = None,
    targets: Sequence[str] | None = None,
) -> Starlette:
    """Build the serving app; every model is loaded before this returns.

    Called with no arguments (as ``uvicorn --factory loopml.server.serving:create_serving_app``
    and each ``--workers`` process does), it serves ``LOOPML_SERVE_TARGETS`` with the
    ``LOOPML_SERVE_*`` settings. The app's lifespan starts the pool's background work (hot
    swaps, shadow calls) and, at shutdown (SIGTERM included), stops it, flushes the logs
    and frees the models: run it with lifespan on.

    Args:
        pool: the models to serve (the app owns it from now on); by default loaded from
            ``targets``.
        settings: the settings (limits, batching, the store); read from ``LOOPML_*`` now
            by default.
        targets: model URIs or directories; default ``settings.serve_targets``.

    Raises:
        InvalidInput: nothing to serve, or a target that cannot be loaded.
        NotFound: a target that does not exist.
    """
    settings = settings or load_settings()
    if pool is None:
        chosen = list(targets) if targets is not None else settings.serve_targets
        pool = ModelPool.load(chosen, settings=settings)
    owned = pool

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await owned.start()
        try:
            yield
        finally:
            await owned.stop()  # the watcher, shadows and predict threads end; logs flush
            directory = os.environ.get(MULTIPROC_ENV)
            if directory:  # a worker's live gauges leave with it
                from prometheus_client import multiprocess

                multiprocess.mark_process_dead(os.getpid(), directory)

    # Matched in order: the two prediction routes come first (each route skipped costs a
    # regex match per request).
    routes = [
        *invocations_routes(),
        *v2_routes(),
        *feedback_routes(),
        Route("/metrics", _metrics, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
        Route("/docs", _docs, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers=exception_handlers, lifespan=lifespan)
    app.state.pool = pool
    app.state.max_body = int(settings.serve_max_body_mb * 1024 * 1024)
    app.state.version = _version()
    app.state.openapi = orjson.dumps(openapi_schema(pool, version=app.state.version))
    return app
