"""MLflow REST: MLflow 3's logged models (``/logged-models``) and run outputs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from loopml.errors import InvalidInput
from loopml.server._wire import Fields, reply
from loopml.server.mlflow._convert import MODEL_STATUS_FROM_WIRE, logged_model_json
from loopml.server.mlflow._experiments import _service, _tags
from loopml.server.mlflow._fields import FieldsIn
from loopml.tracking import ModelOrder, ModelOutput

__all__ = ["router"]

router = APIRouter()


def _objects(f: Fields, name: str) -> list[Fields]:
    out = []
    for item in f.items(name):
        if not isinstance(item, dict):
            raise InvalidInput(f"Invalid entry {str(item)[:80]!r} in '{name}': expected an object.")
        out.append(Fields(item))
    return out


@router.post("/logged-models")
def create(request: Request, f: FieldsIn) -> Response:
    model = _service(request).logged_models.create(
        f.string("experiment_id"),
        name=f.string("name", required=False) or None,
        source_run_id=f.string("source_run_id", required=False) or None,
        model_type=f.string("model_type", required=False, default=""),
        params=_tags(f.items("params")),
        tags=_tags(f.items("tags")),
    )
    return reply({"model": logged_model_json(model)})


@router.post("/logged-models/search")
def search(request: Request, f: FieldsIn) -> Response:
    experiment_ids = f.items("experiment_ids")
    if not experiment_ids:
        raise InvalidInput("Missing value for required parameter 'experiment_ids'.")
    datasets = []
    for d in _objects(f, "datasets"):
        datasets.append(
            {
                "dataset_name": d.string("dataset_name"),
                "dataset_digest": d.string("dataset_digest", required=False, default=""),
            }
        )
    order_by = [
        ModelOrder(
            o.string("field_name"),
            ascending=o.flag("ascending", default=True),
            dataset_name=o.string("dataset_name", required=False),
            dataset_digest=o.string("dataset_digest", required=False),
        )
        for o in _objects(f, "order_by")
    ]
    page = _service(request).logged_models.search(
        [str(e) for e in experiment_ids],
        filter_string=f.string("filter", required=False),
        datasets=datasets,
        order_by=order_by,
        max_results=f.integer("max_results", default=100),
        page_token=f.string("page_token", required=False) or None,
    )
    out: dict[str, Any] = {"models": [logged_model_json(m) for m in page.models]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return reply(out)


@router.get("/logged-models/{model_id}")
def get(model_id: str, request: Request, f: FieldsIn) -> Response:
    model = _service(request).logged_models.get(
        model_id, allow_deleted=f.flag("allow_deleted", default=False)
    )
    return reply({"model": logged_model_json(model)})


@router.patch("/logged-models/{model_id}")
def finalize(model_id: str, request: Request, f: FieldsIn) -> Response:
    raw = f.data.get("status")
    ok = isinstance(raw, str | int) and not isinstance(raw, bool)
    status = MODEL_STATUS_FROM_WIRE.get(raw) if ok else None
    if status is None:
        raise InvalidInput(
            f"Invalid value {raw!r} for parameter 'status': "
            "LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED."
        )
    model = _service(request).logged_models.finalize(model_id, status)
    return reply({"model": logged_model_json(model)})


@router.delete("/logged-models/{model_id}")
def delete(model_id: str, request: Request, _body: FieldsIn) -> Response:  # a bad body: 400
    _service(request).logged_models.delete(model_id)
    return reply({})


@router.patch("/logged-models/{model_id}/tags")
def set_tags(model_id: str, request: Request, f: FieldsIn) -> Response:
    model = _service(request).logged_models.set_tags(model_id, _tags(f.items("tags")))
    return reply({"model": logged_model_json(model)})


@router.delete("/logged-models/{model_id}/tags/{tag_key:path}")
def delete_tag(model_id: str, tag_key: str, request: Request) -> Response:
    _service(request).logged_models.delete_tag(model_id, tag_key)
    return reply({})


@router.post("/logged-models/{model_id}/params")
def log_params(model_id: str, request: Request, f: FieldsIn) -> Response:
    _service(request).logged_models.log_params(model_id, _tags(f.items("params")))
    return reply({})


@router.get("/logged-models/{model_id}/artifacts/directories")
def list_artifacts(model_id: str, request: Request, f: FieldsIn) -> Response:
    service = _service(request)
    model = service.logged_models.get(model_id)
    path = f.string("artifact_directory_path", required=False, default="")
    files = []
    for entry in service.model_artifacts.list(model_id, path):
        item: dict[str, Any] = {"path": entry.path, "is_dir": entry.is_dir}
        if not entry.is_dir:
            item["file_size"] = entry.file_size
        files.append(item)
    return reply({"root_uri": model.artifact_location, "files": files})


@router.post("/runs/outputs")
def log_outputs(request: Request, f: FieldsIn) -> Response:
    outputs = [
        ModelOutput(o.string("model_id"), o.integer("step", default=0))
        for o in _objects(f, "models")
    ]
    _service(request).logged_models.log_outputs(f.string("run_id"), outputs)
    return reply({})
