"""loopml's own API (``/api/loopml/v1``): what ``LOOPML_TRACKING_URI=http://...`` talks to.

Two kinds of route:

- ``POST /call/{area}/{method}`` runs one method of the tracking service (an allow-list,
  below) with arguments in :mod:`loopml.tracking`'s wire codec. The remote client is then
  the embedded API, method for method, with the same batching: one flush of the client's
  writer is one request and one transaction.
- Artifact bytes stream as request and response bodies, never as JSON:
  ``PUT|GET /runs/{run_id}/artifacts/{path}``, ``GET /models/{model_id}/artifacts/{path}``
  (logged models' files) and ``PUT|GET /blobs``.

Errors answer ``{"error": {code, message, details}}`` with the error's HTTP status; the
client rebuilds the same exception class from ``code``.
"""

from __future__ import annotations

import inspect

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from loopml.errors import InvalidInput, NotFound, PayloadTooLarge
from loopml.registry import ModelRegistry
from loopml.server._wire import received_file, reply
from loopml.tracking import TrackingService
from loopml.tracking._codec import NATIVE_API, decode, encode

__all__ = ["PREFIX", "router"]

PREFIX = NATIVE_API

# What a remote client may call. Nothing that reads or writes the server's own file
# system by a path the caller names (log_file, log_dir, download): those are done by the
# client on its side, over the byte routes.
_METHODS: dict[str, frozenset[str]] = {
    "experiments": frozenset(
        {"create", "get", "get_by_name", "search", "count_runs", "delete", "restore"}
        | {"rename", "set_tag"}
    ),
    "runs": frozenset(
        {"create", "write", "get_info", "get", "get_many", "update", "finish", "delete"}
        | {"restore", "delete_tag", "check_writable", "log_batch", "metric_history", "search"}
    ),
    "artifacts": frozenset({"list", "delete", "log_bytes"}),
    "inputs": frozenset({"log", "get"}),
    "datasets": frozenset(
        {"latest_schema", "add_version", "by_hash", "version", "versions", "list"}
    ),
    "pipeline_cache": frozenset({"get", "put", "touch"}),
    "logged_models": frozenset(
        {"create", "get", "search", "finalize", "set_tags", "delete_tag", "log_params"}
        | {"log_metrics", "delete", "log_outputs", "log_inputs", "outputs", "inputs"}
    ),
    "model_artifacts": frozenset({"list"}),
    # Every public method of the registry: each works on the store alone and takes plain
    # values; promotion (which loads models) runs on the client, through these.
    "registry": frozenset(
        name
        for name, _ in inspect.getmembers(ModelRegistry, inspect.isfunction)
        if not name.startswith("_")
    ),
}

router = APIRouter()


def _service(request: Request) -> TrackingService:
    return request.app.state.tracking


@router.post("/call/{area}/{method}")
async def call(area: str, method: str, request: Request) -> Response:
    """Run ``service.<area>.<method>(*args, **kwargs)``; answer ``{"result": ...}``."""
    if method not in _METHODS.get(area, ()):
        raise NotFound(f"the tracking API has no method {area}.{method}")
    limit = request.app.state.settings.max_upload_mb * 1024 * 1024
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(f"request body is {len(body)} bytes; the limit is {limit}")
    try:
        payload = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON body: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidInput('the body must be a JSON object {"args": [...], "kwargs": {...}}')
    args, kwargs = decode(payload.get("args", [])), decode(payload.get("kwargs", {}))
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise InvalidInput('"args" must be a JSON array and "kwargs" a JSON object')
    owner = request.app.state.areas.get(area) or getattr(_service(request), area)
    target = getattr(owner, method)
    try:
        inspect.signature(target).bind(*args, **kwargs)
    except TypeError as exc:
        raise InvalidInput(f"{area}.{method}: {exc}") from None
    if area == "runs" and method == "write":  # the writer's flushes: group-committed
        result = await request.app.state.commits.write(*args, **kwargs)
    else:  # in the thread pool: a slow query or transfer never holds up other requests
        result = await run_in_threadpool(target, *args, **kwargs)
    return reply({"result": encode(result)})


@router.put("/runs/{run_id}/artifacts/{path:path}")
async def upload(run_id: str, path: str, request: Request) -> Response:
    """Store the body as the run's artifact file ``path``."""
    allow_ended = request.query_params.get("allow_ended", "false") == "true"
    log_upload = _service(request).artifacts.log_upload
    async with received_file(request) as tmp:
        info = await run_in_threadpool(log_upload, run_id, tmp, path, allow_ended=allow_ended)
    return reply({"result": encode(info)})


@router.get("/runs/{run_id}/artifacts/{path:path}")
def download(run_id: str, path: str, request: Request) -> Response:
    """The bytes of one artifact file, verified against its sha256."""
    return _file_reply(_service(request).artifacts.read_bytes(run_id, path))


@router.get("/models/{model_id}/artifacts/{path:path}")
def download_model_file(model_id: str, path: str, request: Request) -> Response:
    """The bytes of one file of a logged model, verified against its sha256."""
    return _file_reply(_service(request).model_artifacts.read_bytes(model_id, path))


def _file_reply(data: bytes) -> Response:
    # A download, never rendered by a browser that happens to open the URL.
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/blobs/{sha256}")
def get_blob(sha256: str, request: Request) -> Response:
    """A blob's bytes, verified against its name (dataset files, reports)."""
    data = _service(request).blobs.get_bytes(sha256)
    return Response(data, media_type="application/octet-stream")


@router.put("/blobs")
async def put_blob(request: Request) -> Response:
    """Store the body content-addressed (files recorded with a new run); answer its Blob."""
    put_file = _service(request).blobs.put_file
    async with received_file(request) as tmp:
        blob = await run_in_threadpool(put_file, tmp)
    return reply({"result": encode(blob)})
