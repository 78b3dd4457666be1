"""The MLflow REST API's request shapes, for ``/openapi.json``.

Handlers read their fields by hand (GET fields come from the query string, proto-JSON
numbers may be strings), so FastAPI cannot see them: this table describes them, field for
field as in MLflow's ``service.proto``, so that schema-driven tools (client generators,
schemathesis) know what each route takes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REQUESTS"]

_S: dict[str, Any] = {"type": "string"}
_I: dict[str, Any] = {"type": "integer", "format": "int64"}
_N: dict[str, Any] = {"type": "number"}
_KV: dict[str, Any] = {
    "type": "array",
    "items": {"type": "object", "properties": {"key": _S, "value": _S}, "required": ["key"]},
}
_STRINGS: dict[str, Any] = {"type": "array", "items": _S}
_VIEW: dict[str, Any] = {"type": "string", "enum": ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]}
_STATUS: dict[str, Any] = {
    "type": "string",
    "enum": ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"],
}
_METRIC: dict[str, Any] = {
    "type": "object",
    "properties": {"key": _S, "value": _N, "timestamp": _I, "step": _I},
    "required": ["key", "value", "timestamp"],
}
_DATASET: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tags": _KV,
        "dataset": {
            "type": "object",
            "properties": {
                k: _S for k in ("name", "digest", "source_type", "source", "schema", "profile")
            },
            "required": ["name", "digest"],
        },
    },
}
_MODEL_STATUS: dict[str, Any] = {
    "type": "string",
    "enum": ["LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"],
}
_MODEL_ORDER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "field_name": _S,
        "ascending": {"type": "boolean"},
        "dataset_name": _S,
        "dataset_digest": _S,
    },
    "required": ["field_name"],
}


def _shape(fields: dict[str, Any], *required: str) -> dict[str, Any]:
    return {"properties": fields, "required": list(required)}


_NAME: dict[str, Any] = {"name": _S}
_VERSION: dict[str, Any] = {"name": _S, "version": _S}
_SEARCH: dict[str, Any] = {"filter": _S, "max_results": _I, "order_by": _STRINGS, "page_token": _S}
_STAGE: dict[str, Any] = {"type": "string", "enum": ["None", "Staging", "Production", "Archived"]}
# The model registry (model_registry.proto): registered models, aliases, versions.
_REGISTRY: dict[str, dict[str, dict[str, Any]]] = {
    "/registered-models/create": {
        "post": _shape({**_NAME, "tags": _KV, "description": _S}, "name")
    },
    "/registered-models/get": {"get": _shape(_NAME, "name")},
    "/registered-models/search": {"get": _shape(_SEARCH)},
    "/registered-models/rename": {"post": _shape({**_NAME, "new_name": _S}, "name", "new_name")},
    "/registered-models/update": {"patch": _shape({**_NAME, "description": _S}, "name")},
    "/registered-models/delete": {"delete": _shape(_NAME, "name")},
    "/registered-models/set-tag": {
        "post": _shape({**_NAME, "key": _S, "value": _S}, "name", "key", "value")
    },
    "/registered-models/delete-tag": {"delete": _shape({**_NAME, "key": _S}, "name", "key")},
    "/registered-models/alias": {
        "post": _shape({**_NAME, "alias": _S, "version": _S}, "name", "alias", "version"),
        "delete": _shape({**_NAME, "alias": _S}, "name", "alias"),
        "get": _shape({**_NAME, "alias": _S}, "name", "alias"),
    },
    "/registered-models/get-latest-versions": {
        method: _shape({**_NAME, "stages": _STRINGS}, "name") for method in ("get", "post")
    },
    "/model-versions/create": {
        "post": _shape(
            {
                **_NAME,
                "source": _S,
                "run_id": _S,
                "tags": _KV,
                "run_link": _S,
                "description": _S,
                "model_id": _S,
            },
            "name",
            "source",
        )
    },
    "/model-versions/get": {"get": _shape(_VERSION, "name", "version")},
    "/model-versions/update": {"patch": _shape({**_VERSION, "description": _S}, "name", "version")},
    "/model-versions/transition-stage": {
        "post": _shape(
            {**_VERSION, "stage": _STAGE, "archive_existing_versions": {"type": "boolean"}},
            "name",
            "version",
            "stage",
        )
    },
    "/model-versions/delete": {"delete": _shape(_VERSION, "name", "version")},
    "/model-versions/search": {"get": _shape(_SEARCH)},
    "/model-versions/get-download-uri": {"get": _shape(_VERSION, "name", "version")},
    "/model-versions/set-tag": {
        "post": _shape({**_VERSION, "key": _S, "value": _S}, "name", "version", "key", "value")
    },
    "/model-versions/delete-tag": {
        "delete": _shape({**_VERSION, "key": _S}, "name", "version", "key")
    },
}


# path (below /api/2.0/mlflow) -> method -> (fields, required fields)
REQUESTS: dict[str, dict[str, dict[str, Any]]] = {
    "/experiments/create": {
        "post": _shape({"name": _S, "artifact_location": _S, "tags": _KV}, "name")
    },
    "/experiments/get": {"get": _shape({"experiment_id": _S}, "experiment_id")},
    "/experiments/get-by-name": {"get": _shape({"experiment_name": _S}, "experiment_name")},
    "/experiments/search": {
        method: _shape(
            {
                "max_results": _I,
                "page_token": _S,
                "filter": _S,
                "order_by": _STRINGS,
                "view_type": _VIEW,
            }
        )
        for method in ("get", "post")
    },
    "/experiments/update": {
        "post": _shape({"experiment_id": _S, "new_name": _S}, "experiment_id", "new_name")
    },
    "/experiments/delete": {"post": _shape({"experiment_id": _S}, "experiment_id")},
    "/experiments/restore": {"post": _shape({"experiment_id": _S}, "experiment_id")},
    "/experiments/set-experiment-tag": {
        "post": _shape({"experiment_id": _S, "key": _S, "value": _S}, "experiment_id", "key")
    },
    "/runs/create": {
        "post": _shape(
            {
                "experiment_id": _S,
                "user_id": _S,
                "run_name": _S,
                "start_time": _I,
                "tags": _KV,
            }
        )
    },
    "/runs/get": {"get": _shape({"run_id": _S, "run_uuid": _S}, "run_id")},
    "/runs/update": {
        "post": _shape(
            {"run_id": _S, "run_uuid": _S, "status": _STATUS, "end_time": _I, "run_name": _S},
            "run_id",
        )
    },
    "/runs/delete": {"post": _shape({"run_id": _S}, "run_id")},
    "/runs/restore": {"post": _shape({"run_id": _S}, "run_id")},
    "/runs/log-metric": {
        "post": _shape(
            {"run_id": _S, "key": _S, "value": _N, "timestamp": _I, "step": _I},
            "run_id",
            "key",
            "value",
            "timestamp",
        )
    },
    "/runs/log-parameter": {
        "post": _shape({"run_id": _S, "key": _S, "value": _S}, "run_id", "key", "value")
    },
    "/runs/set-tag": {"post": _shape({"run_id": _S, "key": _S, "value": _S}, "run_id", "key")},
    "/runs/delete-tag": {"post": _shape({"run_id": _S, "key": _S}, "run_id", "key")},
    "/runs/log-batch": {
        "post": _shape(
            {
                "run_id": _S,
                "metrics": {"type": "array", "items": _METRIC},
                "params": _KV,
                "tags": _KV,
            },
            "run_id",
        )
    },
    "/runs/log-inputs": {
        "post": _shape({"run_id": _S, "datasets": {"type": "array", "items": _DATASET}}, "run_id")
    },
    "/runs/search": {
        "post": _shape(
            {
                "experiment_ids": _STRINGS,
                "filter": _S,
                "run_view_type": _VIEW,
                "max_results": _I,
                "order_by": _STRINGS,
                "page_token": _S,
            }
        )
    },
    "/logged-models": {
        "post": _shape(
            {
                "experiment_id": _S,
                "name": _S,
                "model_type": _S,
                "source_run_id": _S,
                "params": _KV,
                "tags": _KV,
            },
            "experiment_id",
        )
    },
    "/logged-models/search": {
        "post": _shape(
            {
                "experiment_ids": _STRINGS,
                "filter": _S,
                "order_by": {"type": "array", "items": _MODEL_ORDER},
                "page_token": _S,
                "max_results": _I,
            }
        )
    },
    "/logged-models/{model_id}": {"patch": _shape({"status": _MODEL_STATUS}, "status")},
    "/logged-models/{model_id}/tags": {"patch": _shape({"tags": _KV}, "tags")},
    "/logged-models/{model_id}/params": {"post": _shape({"params": _KV}, "params")},
    "/runs/outputs": {
        "post": _shape(
            {
                "run_id": _S,
                "models": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"model_id": _S, "step": _I},
                        "required": ["model_id"],
                    },
                },
            },
            "run_id",
        )
    },
    "/metrics/get-history-bulk": {
        "get": _shape(
            {"run_id": _STRINGS, "metric_key": _S, "max_results": _I}, "run_id", "metric_key"
        )
    },
    "/metrics/get-history-bulk-interval": {
        "get": _shape(
            {
                "run_ids": _STRINGS,
                "metric_key": _S,
                "start_step": _I,
                "end_step": _I,
                "max_results": _I,
            },
            "run_ids",
            "metric_key",
        )
    },
    "/metrics/get-history": {
        "get": _shape(
            {
                "run_id": _S,
                "run_uuid": _S,
                "metric_key": _S,
                "page_token": _S,
                "max_results": _I,
            },
            "run_id",
            "metric_key",
        )
    },
    **_REGISTRY,
}
