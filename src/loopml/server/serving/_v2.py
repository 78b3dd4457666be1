"""The Open Inference Protocol V2 REST routes (``/v2/...``), as KServe, Triton and MLServer
answer them; tested with tritonclient.http."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from loopml.errors import NotFound, Unavailable
from loopml.server.serving._common import REQUEST_ID_HEADER, answer, decode, read_body
from loopml.server.serving._v2_wire import HEADER_LENGTH, infer_response, parse_infer_request
from loopml.serving import Call, ModelInput, ModelPool, ServedModel, datatype_of

__all__ = ["SERVER_NAME", "v2_routes"]

SERVER_NAME = "loopml"
_EXTENSIONS = ["binary_tensor_data"]


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _pool(request: Request) -> ModelPool:
    pool: ModelPool = request.app.state.pool
    return pool


def _model(request: Request) -> ServedModel:
    params = request.path_params
    return _pool(request).get(params["name"], params.get("version"))


async def infer(request: Request) -> Response:
    """POST /v2/models/{name}[/versions/{version}]/infer."""
    pool = _pool(request)
    params = request.path_params
    endpoint = pool.endpoint(params["name"])
    headers = request.headers
    call = Call(pool, endpoint, protocol="v2", version=params.get("version"),
                request_id=headers.get(REQUEST_ID_HEADER), headers=headers)  # fmt: skip

    async def work() -> Response:
        body = await read_body(request, call.table.max_body)
        parsed = await decode(body, parse_infer_request, body, headers.get(HEADER_LENGTH))
        call.name_request(parsed.id)

        async def parse(model: ServedModel) -> ModelInput:
            return await decode(body, model.schema.from_tensors, parsed.tensors)

        results = await call.predict(parse, [name for name, _ in parsed.outputs])
        return infer_response(endpoint.name, call.model, parsed, results)

    return await answer(request, call, work)


async def server_metadata(request: Request) -> Response:
    """GET /v2."""
    return _json(
        {"name": SERVER_NAME, "version": request.app.state.version, "extensions": _EXTENSIONS}
    )


async def live(request: Request) -> Response:
    """GET /v2/health/live: the process answers."""
    return Response(status_code=200)


async def ready(request: Request) -> Response:
    """GET /v2/health/ready: every model is loaded."""
    if not _pool(request).ready:
        raise Unavailable("the server is shutting down")
    return Response(status_code=200)


async def model_ready(request: Request) -> Response:
    """GET /v2/models/{name}[/versions/{version}]/ready."""
    _model(request)  # a 404 for a model or version not served
    if not _pool(request).ready:
        raise Unavailable("the server is shutting down")
    return Response(status_code=200)


async def model_metadata(request: Request) -> Response:
    """GET /v2/models/{name}[/versions/{version}]: inputs and outputs from the signature."""
    model = _model(request)
    endpoint = _pool(request).endpoint(request.path_params["name"])
    body: dict[str, Any] = {"name": endpoint.name}
    versions = endpoint.versions if "version" not in request.path_params else [model.version]
    if any(versions):
        body["versions"] = versions
    body["platform"] = model.platform
    body["inputs"] = _inputs(model)
    body["outputs"] = [
        {"name": o.name, "datatype": datatype_of(o.dtype), "shape": list(o.shape)}
        for o in model.outputs
    ]
    return _json(body)


def _inputs(model: ServedModel) -> list[dict[str, Any]]:
    spec = model.schema.tensor
    if spec is not None:
        return [{"name": "input", "datatype": datatype_of(spec.dtype), "shape": list(spec.shape)}]
    signature = model.model.signature
    if signature is None or not isinstance(signature.inputs, tuple):
        return []  # no signature: anything goes
    # One input per column; a single [-1, n_columns] tensor holding the columns in this
    # order is accepted too.
    return [
        {"name": c.name, "datatype": datatype_of(c.dtype), "shape": [-1, 1]}
        for c in signature.inputs
    ]


async def unknown(request: Request) -> Response:
    """Any other path under /v2: a JSON 404, which tritonclient can read."""
    raise NotFound(f"no route {request.method} {request.scope['path']} on this server")


def v2_routes() -> list[BaseRoute]:
    """The routes, infer first (most of the traffic, matched in order)."""
    model = "/v2/models/{name}"
    version = "/v2/models/{name}/versions/{version}"
    return [
        Route(f"{model}/infer", infer, methods=["POST"]),
        Route(f"{version}/infer", infer, methods=["POST"]),
        Route("/v2", server_metadata, methods=["GET"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route(f"{model}/ready", model_ready, methods=["GET"]),
        Route(f"{version}/ready", model_ready, methods=["GET"]),
        Route(model, model_metadata, methods=["GET"]),
        Route(version, model_metadata, methods=["GET"]),
        Route("/v2/{rest:path}", unknown),
    ]
