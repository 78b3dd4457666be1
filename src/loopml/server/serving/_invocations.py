"""MLflow's scoring protocol: ``POST /invocations``, ``GET /ping``, ``/health``, ``/version``.

The request shapes are those ``mlflow models serve`` reads (JSON ``dataframe_split``,
``dataframe_records``, ``instances``, ``inputs``; CSV; Parquet) and the answer is
``{"predictions": [...]}``. Two deliberate differences: a missing Content-Type is a 415
(MLflow answers 500), and no error carries a stack trace.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from loopml.errors import InvalidInput, LoopMLError, UnsupportedMediaType
from loopml.server.serving._common import REQUEST_ID_HEADER, answer, decode, read_body
from loopml.serving import (
    Call,
    ModelInput,
    ModelPool,
    ServedModel,
    scoring_csv,
    scoring_json,
    scoring_parquet,
)

__all__ = ["invocations_routes"]

_JSON = "application/json"
_CSV = "text/csv"
_PARQUET = "application/vnd.apache.parquet"
_TYPES = (_JSON, _CSV, _PARQUET)


def _media_type(header: str | None) -> str:
    """The media type, refusing what MLflow refuses (other charsets, other parameters)."""
    if not header:
        raise UnsupportedMediaType(
            f"the request has no Content-Type; send one of {', '.join(_TYPES)}"
        )
    media, *params = (part.strip() for part in header.split(";"))
    media = media.lower()
    if media not in _TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {header[:100]!r} is not supported; send one of {', '.join(_TYPES)}"
        )
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() != "charset":
            raise UnsupportedMediaType(f"unsupported Content-Type parameter {key.strip()!r}")
        if value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType("the scoring server reads UTF-8 only")
    return media


def _rows(media: str, body: bytes, model: ServedModel) -> ModelInput:
    if media == _CSV:
        return scoring_csv(body, model.schema)
    if media == _PARQUET:
        return scoring_parquet(body, model.schema)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    return scoring_json(parsed, model.schema)


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    if isinstance(value, pd.Series):
        value = value.to_numpy()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return np.ascontiguousarray(value)  # orjson writes these natively
        return value.tolist()
    return value


def _predictions(value: Any) -> bytes:
    try:
        return orjson.dumps(
            {"predictions": _jsonable(value)},
            option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
            default=_fallback,
        )
    except TypeError as exc:
        raise LoopMLError(f"the model's output cannot be written as JSON: {exc}") from None


def _fallback(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


async def invocations(request: Request) -> Response:
    """POST /invocations: score with the (only, or first) model."""
    pool: ModelPool = request.app.state.pool
    headers = request.headers
    call = Call(pool, pool.endpoints[0], protocol="invocations",
                request_id=headers.get(REQUEST_ID_HEADER), headers=headers)  # fmt: skip

    async def work() -> Response:
        media = _media_type(headers.get("content-type"))
        body = await read_body(request, call.table.max_body)

        async def parse(model: ServedModel) -> ModelInput:
            return await decode(body, _rows, media, body, model)

        results = await call.predict(parse, ["predict"])
        return Response(_predictions(results["predict"]), media_type=_JSON)

    return await answer(request, call, work)


async def ping(request: Request) -> Response:
    """GET /ping and /health: 200 once the model is loaded (always, here), as MLflow."""
    return Response("\n", media_type="text/plain")


async def version(request: Request) -> Response:
    """GET /version: the server's version string."""
    return Response(request.app.state.version, media_type="text/plain")


def invocations_routes() -> list[BaseRoute]:
    """The routes of MLflow's scoring server."""
    return [
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
    ]
