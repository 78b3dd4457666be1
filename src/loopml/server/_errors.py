"""The server's one place where exceptions become responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from loopml.errors import AlreadyExists, Conflict, LoopMLError

__all__ = ["install_error_handlers", "is_mlflow_path"]

log = logging.getLogger("loopml.server")
_MLFLOW_PREFIXES = ("/api/2.0/", "/ajax-api/2.0/", "/api/3.0/", "/ajax-api/3.0/")


def is_mlflow_path(path: str) -> bool:
    """Routes that answer in MLflow's error shape ``{error_code, message}``."""
    return path.startswith(_MLFLOW_PREFIXES)


def _mlflow_status(exc: LoopMLError) -> int:
    # MLflow's server answers RESOURCE_ALREADY_EXISTS and state errors with 400; its
    # client depends on that (a 409 would not be recognised).
    if isinstance(exc, AlreadyExists) or type(exc) is Conflict:
        return 400  # (ArtifactCorrupted stays a 409: the stored bytes, not the call, are wrong)
    return exc.http_status


def install_error_handlers(app: FastAPI) -> None:
    """Map LoopMLError, unknown routes and anything unexpected to JSON errors."""

    @app.exception_handler(LoopMLError)
    async def _loopml_error(request: Request, exc: LoopMLError) -> JSONResponse:
        if is_mlflow_path(request.url.path):
            return JSONResponse(
                {"error_code": exc.mlflow_code, "message": exc.message},
                status_code=_mlflow_status(exc),
            )
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code in (404, 405):
            # Never RESOURCE_DOES_NOT_EXIST for a route: MLflow's client falls back to older
            # APIs on ENDPOINT_NOT_FOUND only.
            message = f"No route {request.method} {request.url.path} on this server."
            body: dict[str, Any]
            if is_mlflow_path(request.url.path):
                body = {"error_code": "ENDPOINT_NOT_FOUND", "message": message}
            else:
                body = {"error": {"code": "NOT_FOUND", "message": message, "details": {}}}
            return JSONResponse(body, status_code=exc.status_code)
        return JSONResponse(
            {"error_code": "BAD_REQUEST", "message": str(exc.detail)}, status_code=exc.status_code
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = f"Internal error ({type(exc).__name__}); the server log has the details."
        if is_mlflow_path(request.url.path):
            return JSONResponse({"error_code": "INTERNAL_ERROR", "message": message}, 500)
        return JSONResponse({"error": {"code": "INTERNAL_ERROR", "message": message}}, 500)
