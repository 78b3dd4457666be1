"""``/openapi.json`` with the request shapes the handlers read by hand."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from loopml.server.mlflow._schemas import REQUESTS
from loopml.tracking._codec import NATIVE_API

__all__ = ["install_openapi"]

_BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
_CALL = {
    "type": "object",
    "properties": {"args": {"type": "array"}, "kwargs": {"type": "object"}},
}


def _query(fields: dict[str, Any], required: list[str]) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "required": name in required, "schema": schema}
        for name, schema in fields.items()
    ]


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def install_openapi(app: FastAPI, mlflow_prefixes: tuple[str, ...]) -> None:
    """Make ``app.openapi()`` describe every route's query fields and bodies."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        paths = schema["paths"]
        for prefix in mlflow_prefixes:
            for path, methods in REQUESTS.items():
                item = paths.get(prefix + path, {})
                for method, shape in methods.items():
                    operation = item.get(method)
                    if operation is None:
                        continue
                    if method == "get":
                        operation["parameters"] = _query(shape["properties"], shape["required"])
                    else:
                        operation["requestBody"] = _json_body({"type": "object", **shape})
        for path, item in paths.items():
            put = item.get("put")
            if put is not None and ("/artifacts/" in path or path.endswith("/blobs")):
                put["requestBody"] = {"required": True, "content": _BINARY}
        call = paths.get(f"{NATIVE_API}/call/{{area}}/{{method}}", {}).get("post")
        if call is not None:
            call["requestBody"] = _json_body(_CALL)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
