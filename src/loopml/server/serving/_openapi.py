"""``/openapi.json`` of the serving app, written out: the routes read their bodies by hand
(for speed), so no framework could infer the request shapes."""

from __future__ import annotations

from typing import Any

from loopml.serving import DATATYPES, SCORING_FORMATS, ModelPool

__all__ = ["openapi_schema"]

_OBJECT = {"application/json": {"schema": {"type": "object"}}}
_ERROR = {"description": "An error", "content": _OBJECT}
_ERRORS = {str(code): _ERROR for code in (400, 404, 413, 415, 500, 503)}
_EMPTY = {"200": {"description": "Yes"}, **_ERRORS}
_JSON_OK = {
    "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
    **_ERRORS,
}
_PARAMETERS = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string", "enum": list(DATATYPES)},
        "parameters": _PARAMETERS,
        "data": {"type": "array"},
    },
}
_INFER = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": _PARAMETERS,
        "inputs": {"type": "array", "minItems": 1, "items": _TENSOR},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "parameters": _PARAMETERS},
            },
        },
    },
}
_SCORING = {
    "type": "object",
    "properties": {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}},
            },
        },
        "dataframe_records": {"type": "array", "items": {"type": "object"}},
        "instances": {"type": "array"},
        "inputs": {"type": ["object", "array"]},
        "params": {"type": "object"},
    },
    "description": f"exactly one of {', '.join(SCORING_FORMATS)}",
}


_LABEL = {"type": ["number", "string", "boolean"]}
_ITEM_FIELDS: dict[str, Any] = {
    "request_id": {"type": "string", "minLength": 1, "maxLength": 128},
    "label": _LABEL,
    "row": {"type": "integer", "minimum": 0},
}
_FEEDBACK_ITEM = {
    "type": "object",
    "required": ["request_id", "label"],
    "properties": _ITEM_FIELDS,
    "additionalProperties": False,
}
_FEEDBACK = {
    "oneOf": [
        {**_FEEDBACK_ITEM, "properties": {**_ITEM_FIELDS, "endpoint": {"type": "string"}}},
        {
            "type": "object",
            "required": ["feedback"],
            "properties": {
                "endpoint": {"type": "string"},
                "feedback": {"type": "array", "minItems": 1, "items": _FEEDBACK_ITEM},
            },
            "additionalProperties": False,
        },
    ],
    "description": "one label, or a batch; endpoint may be left out when one is served",
}  # fmt: skip
# The caller's id for the request: echoed in the answer's X-Request-Id, kept in the log.
_REQUEST_ID = {"name": "X-Request-Id", "in": "header", "required": False,
               "schema": {"type": "string", "minLength": 1, "maxLength": 128}}  # fmt: skip


def _get(summary: str, responses: dict[str, Any], params: list[Any] | None = None) -> Any:
    return {"get": {"summary": summary, "parameters": params or [], "responses": responses}}


def openapi_schema(pool: ModelPool, *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the serving routes, with the served names as examples."""
    names = [e.name for e in pool.endpoints]
    versions = sorted({v for e in pool.endpoints for v in e.versions}) or ["1"]
    name = {"name": "name", "in": "path", "required": True,
            "schema": {"type": "string", "enum": names}}  # fmt: skip
    number = {"name": "version", "in": "path", "required": True,
              "schema": {"type": "string", "examples": versions}}  # fmt: skip
    paths: dict[str, Any] = {
        "/v2": _get("Server metadata", _JSON_OK),
        "/v2/health/live": _get("Liveness", _EMPTY),
        "/v2/health/ready": _get("Readiness", _EMPTY),
    }
    for prefix, params in (
        ("/v2/models/{name}", [name]),
        ("/v2/models/{name}/versions/{version}", [name, number]),
    ):
        paths[prefix] = _get("Model metadata", _JSON_OK, params)
        paths[f"{prefix}/ready"] = _get("Model readiness", _EMPTY, params)
        paths[f"{prefix}/infer"] = {
            "post": {
                "summary": "Inference (JSON, or JSON + binary tensor data)",
                "parameters": [*params, _REQUEST_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _INFER}},
                },
                "responses": _JSON_OK,
            }
        }
    paths["/invocations"] = {
        "post": {
            "summary": "MLflow scoring: {'predictions': [...]}",
            "parameters": [_REQUEST_ID],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _SCORING},
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
            "responses": _JSON_OK,
        }
    }
    accepted = {"202": {"description": "Recorded (written with the log's next flush)",
                        "content": _OBJECT}, **_ERRORS}  # fmt: skip
    paths["/feedback"] = {
        "post": {
            "summary": "Ground truth for earlier requests, by request id (and row)",
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": _FEEDBACK}}},
            "responses": accepted,
        }
    }  # fmt: skip
    paths["/endpoints"] = _get("Each endpoint's routes, generation, swaps, last error", _JSON_OK)
    text = {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}}
    for path, summary in (
        ("/ping", "Health (MLflow)"),
        ("/health", "Health (MLflow)"),
        ("/version", "Server version"),
        ("/metrics", "Prometheus metrics"),
    ):
        paths[path] = _get(summary, text)
    return {
        "openapi": "3.1.0",
        "info": {"title": "loopml serving", "version": version},
        "paths": paths,
    }
