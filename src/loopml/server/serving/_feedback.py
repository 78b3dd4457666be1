"""``POST /feedback`` (labels for earlier requests) and ``GET /endpoints`` (what each
endpoint serves now, its hot swaps and its last error)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from loopml.errors import InvalidInput, NotFound, UnsupportedMediaType
from loopml.server.serving._common import decode, read_body
from loopml.serving import ModelPool, parse_feedback

__all__ = ["feedback_routes"]


async def feedback(request: Request) -> Response:
    """POST /feedback: 202 ``{"recorded": n, "endpoint": name}``; the labels are written
    with the log's next flush."""
    pool: ModelPool = request.app.state.pool
    if pool.feedback is None:
        raise NotFound("this server records no feedback: its prediction log is off "
                       "(LOOPML_SERVE_LOG=false)")  # fmt: skip
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType("send the labels as application/json")
    body = await read_body(request)
    try:
        parsed = await decode(body, orjson.loads, body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    labels = parse_feedback(parsed, [e.name for e in pool.endpoints])
    recorded = pool.feedback.record_columns(
        labels.endpoint, labels.request_ids, labels.labels, labels.rows
    )
    pool.metrics.feedback.labels(labels.endpoint).inc(recorded)
    answer = {"recorded": recorded, "endpoint": labels.endpoint}
    if recorded < len(labels.request_ids):
        answer["dropped"] = len(labels.request_ids) - recorded  # the buffer is full
    return Response(orjson.dumps(answer), status_code=202, media_type="application/json")


async def endpoints(request: Request) -> Response:
    """GET /endpoints: each endpoint's routes, shadows, generation, swaps, last error."""
    pool: ModelPool = request.app.state.pool
    return Response(orjson.dumps({"endpoints": pool.status()}), media_type="application/json")


def feedback_routes() -> list[BaseRoute]:
    """The routes."""
    return [
        Route("/feedback", feedback, methods=["POST"]),
        Route("/endpoints", endpoints, methods=["GET"]),
    ]
