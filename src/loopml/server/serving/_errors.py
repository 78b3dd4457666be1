"""The serving app's one place where errors become responses.

Open Inference Protocol routes (``/v2...``) answer ``{"error": "message"}``, which is what
tritonclient reads; everything else answers MLflow's scoring-server shape
``{"error_code", "message"}``. The status is the error class's own (see loopml.errors).
"""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from loopml.errors import InvalidInput, LoopMLError, NotFound

__all__ = ["error_response", "exception_handlers", "unexpected"]

log = logging.getLogger("loopml.serving")


def error_response(path: str, exc: LoopMLError, status: int | None = None) -> Response:
    """The JSON error answer for ``exc`` on a route at ``path``."""
    if path == "/v2" or path.startswith("/v2/"):
        body = {"error": exc.message}
    else:
        body = {"error_code": exc.mlflow_code, "message": exc.message}
    return Response(
        orjson.dumps(body), status_code=status or exc.http_status, media_type="application/json"
    )


def unexpected(path: str, exc: BaseException) -> Response:
    """A 500 for a bug (never a model's error, which is a PredictionFailed): logged, and
    answered without internals."""
    log.error("unexpected error on %s", path, exc_info=exc)
    message = f"internal error ({type(exc).__name__}); the server log has the details"
    return error_response(path, LoopMLError(message))


async def _loopml_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoopMLError)
    return error_response(request.scope["path"], exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.scope["path"]
    if exc.status_code == 404:
        error: LoopMLError = NotFound(f"no route {request.method} {path} on this server")
    elif exc.status_code == 405:
        error = InvalidInput(f"{path} does not answer {request.method}")
    else:
        error = InvalidInput(str(exc.detail))
    return error_response(path, error, status=exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> Response:
    return unexpected(request.scope["path"], exc)


exception_handlers = {
    LoopMLError: _loopml_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
