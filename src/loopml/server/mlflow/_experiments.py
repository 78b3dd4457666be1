"""MLflow REST: experiments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from loopml.errors import InvalidInput
from loopml.server._wire import reply
from loopml.server.mlflow._convert import experiment_json
from loopml.server.mlflow._fields import FieldsIn
from loopml.tracking import TrackingService, ViewType

__all__ = ["router"]

router = APIRouter()
_VIEW = {
    "ACTIVE_ONLY": ViewType.ACTIVE_ONLY,
    "DELETED_ONLY": ViewType.DELETED_ONLY,
    "ALL": ViewType.ALL,
}


def _service(request: Request) -> TrackingService:
    return request.app.state.tracking


def _tags(items: list[Any]) -> dict[str, str]:
    out = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise InvalidInput(f"Invalid tag {item!r}: expected {{'key': ..., 'value': ...}}.")
        out[item["key"]] = "" if item.get("value") is None else str(item["value"])
    return out


@router.post("/experiments/create")
def create(request: Request, f: FieldsIn) -> Response:
    experiment_id = _service(request).experiments.create(
        f.string("name"),
        artifact_location=f.string("artifact_location", required=False) or None,
        tags=_tags(f.items("tags")),
    )
    return reply({"experiment_id": experiment_id})


@router.get("/experiments/get")
def get(request: Request, f: FieldsIn) -> Response:
    experiment = _service(request).experiments.get(f.string("experiment_id"))
    return reply({"experiment": experiment_json(experiment)})


@router.get("/experiments/get-by-name")
def get_by_name(request: Request, f: FieldsIn) -> Response:
    experiment = _service(request).experiments.get_by_name(f.string("experiment_name"))
    return reply({"experiment": experiment_json(experiment)})


@router.api_route("/experiments/search", methods=["GET", "POST"])
def search(request: Request, f: FieldsIn) -> Response:
    view = _VIEW.get(str(f.string("view_type", required=False, default="ACTIVE_ONLY")).upper())
    if view is None:
        raise InvalidInput("view_type must be ACTIVE_ONLY, DELETED_ONLY or ALL.")
    max_results = f.integer("max_results", default=1000)
    if not 1 <= max_results <= 50_000:
        raise InvalidInput(f"max_results must be between 1 and 50000, got {max_results}.")
    token = f.string("page_token", required=False) or "0"
    if not token.isdigit():
        raise InvalidInput(f"Invalid page_token {token[:40]!r}.")
    offset = int(token)
    order_by = f.items("order_by") if f.has("order_by") else None
    found = _service(request).experiments.search(
        view_type=view,
        filter_string=f.string("filter", required=False),
        order_by=[str(o) for o in order_by] if order_by else None,
        max_results=max_results + 1,
        offset=offset,
    )
    out: dict[str, Any] = {"experiments": [experiment_json(e) for e in found[:max_results]]}
    if len(found) > max_results:
        out["next_page_token"] = str(offset + max_results)
    return reply(out)


@router.post("/experiments/update")
def update(request: Request, f: FieldsIn) -> Response:
    _service(request).experiments.rename(f.string("experiment_id"), f.string("new_name"))
    return reply({})


@router.post("/experiments/delete")
def delete(request: Request, f: FieldsIn) -> Response:
    _service(request).experiments.delete(f.string("experiment_id"))
    return reply({})


@router.post("/experiments/restore")
def restore(request: Request, f: FieldsIn) -> Response:
    _service(request).experiments.restore(f.string("experiment_id"))
    return reply({})


@router.post("/experiments/set-experiment-tag")
def set_tag(request: Request, f: FieldsIn) -> Response:
    _service(request).experiments.set_tag(
        f.string("experiment_id"), f.string("key"), f.string("value", required=False, default="")
    )
    return reply({})
