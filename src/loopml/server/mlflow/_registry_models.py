"""MLflow REST: the model registry's registered models, tags, aliases and latest versions.

Every route reads MLflow's fields, calls :class:`~loopml.registry.ModelRegistry` and writes
MLflow's JSON; the rules (names, aliases, search grammar, audit) are the registry's.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from loopml.errors import InvalidInput, NotFound
from loopml.registry import ModelRegistry, ModelVersion, RegisteredModel
from loopml.server._wire import Fields, reply
from loopml.server.mlflow._experiments import _tags
from loopml.server.mlflow._fields import FieldsIn

__all__ = ["model_json", "registry", "router", "version_json", "version_number"]

router = APIRouter()

# A version registered from a logged model stores that model's artifact root; MLflow 3's
# ModelVersion names the model in ``model_id`` as well.
_MODEL_ROOT = re.compile(r"^mlflow-artifacts:/\d+/models/(m-[0-9a-f]{32})/artifacts(?:/|$)")


def registry(request: Request) -> ModelRegistry:
    """The app's registry service (built once in ``create_app``)."""
    return request.app.state.registry


def version_number(f: Fields) -> int:
    """``version``: MLflow's client sends a string (``"3"``); raw callers may send 3."""
    return f.integer("version", required=True)


def _kv(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def version_json(v: ModelVersion) -> dict[str, Any]:
    """MLflow's ModelVersion: ``version`` as a string, stage and status as enum names.

    ``description`` and ``run_id`` are left out when empty, as MLflow's server does (its
    client then reads None, not ``""``).
    """
    out: dict[str, Any] = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp,
        "user_id": v.user_id,
        "current_stage": v.current_stage.value,
        "source": v.source,
        "status": v.status,
        "tags": _kv(v.tags),
        "aliases": list(v.aliases),
    }
    if v.description:
        out["description"] = v.description
    if v.run_id:
        out["run_id"] = v.run_id
    if match := _MODEL_ROOT.match(v.source):
        out["model_id"] = match[1]
    return out


def model_json(m: RegisteredModel, latest: list[ModelVersion]) -> dict[str, Any]:
    """MLflow's RegisteredModel, with ``latest_versions`` (newest per stage) and
    ``aliases`` as ``[{alias, version}]``."""
    out: dict[str, Any] = {
        "name": m.name,
        "creation_timestamp": m.creation_timestamp,
        "last_updated_timestamp": m.last_updated_timestamp,
        "user_id": m.user_id,
        "latest_versions": [version_json(v) for v in latest],
        "tags": _kv(m.tags),
        "aliases": [{"alias": a, "version": str(n)} for a, n in m.aliases.items()],
    }
    if m.description:
        out["description"] = m.description
    return out


def _with_latest(reg: ModelRegistry, model: RegisteredModel) -> dict[str, Any]:
    try:
        latest = reg.get_latest_versions(model.name)
    except NotFound:  # deleted or renamed between the two reads: it had no versions to show
        latest = []
    return model_json(model, latest)


def _model_reply(reg: ModelRegistry, model: RegisteredModel) -> Response:
    return reply({"registered_model": _with_latest(reg, model)})


@router.post("/registered-models/create")
def create(request: Request, f: FieldsIn) -> Response:
    reg = registry(request)
    model = reg.create_model(
        f.string("name"),
        description=f.string("description", required=False, default=""),
        tags=_tags(f.items("tags")),
    )
    return _model_reply(reg, model)


@router.get("/registered-models/get")
def get(request: Request, f: FieldsIn) -> Response:
    reg = registry(request)
    return _model_reply(reg, reg.get_model(f.string("name")))


@router.get("/registered-models/search")
def search(request: Request, f: FieldsIn) -> Response:
    reg = registry(request)
    page = reg.search_models(
        f.string("filter", required=False) or None,
        max_results=f.integer("max_results", default=100),
        order_by=[str(o) for o in f.items("order_by")] or None,
        page_token=f.string("page_token", required=False) or None,
    )
    out: dict[str, Any] = {"registered_models": [_with_latest(reg, m) for m in page.models]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return reply(out)


@router.post("/registered-models/rename")
def rename(request: Request, f: FieldsIn) -> Response:
    reg = registry(request)
    return _model_reply(reg, reg.rename_model(f.string("name"), f.string("new_name")))


@router.patch("/registered-models/update")
def update(request: Request, f: FieldsIn) -> Response:
    reg = registry(request)
    name = f.string("name")
    if not f.has("description"):  # nothing else here is ours to update (deployment jobs)
        return _model_reply(reg, reg.get_model(name))
    return _model_reply(reg, reg.update_model(name, description=f.string("description")))


@router.delete("/registered-models/delete")
def delete(request: Request, f: FieldsIn) -> Response:
    registry(request).delete_model(f.string("name"))
    return reply({})


@router.post("/registered-models/set-tag")
def set_tag(request: Request, f: FieldsIn) -> Response:
    registry(request).set_model_tag(
        f.string("name"), f.string("key"), f.string("value", required=False, default="")
    )
    return reply({})


@router.delete("/registered-models/delete-tag")
def delete_tag(request: Request, f: FieldsIn) -> Response:
    registry(request).delete_model_tag(f.string("name"), f.string("key"))
    return reply({})


@router.post("/registered-models/alias")
def set_alias(request: Request, f: FieldsIn) -> Response:
    registry(request).set_alias(f.string("name"), f.string("alias"), version_number(f))
    return reply({})


@router.delete("/registered-models/alias")
def delete_alias(request: Request, f: FieldsIn) -> Response:
    registry(request).delete_alias(f.string("name"), f.string("alias"))
    return reply({})


@router.get("/registered-models/alias")
def get_by_alias(request: Request, f: FieldsIn) -> Response:
    try:
        version = registry(request).get_version_by_alias(f.string("name"), f.string("alias"))
    except NotFound as exc:
        # MLflow answers an unknown alias (of a known model) with INVALID_PARAMETER_VALUE,
        # and its client branches on that code; an unknown model stays a 404.
        if "alias" not in exc.details:
            raise
        raise InvalidInput(exc.message, details=exc.details) from None
    return reply({"model_version": version_json(version)})


@router.api_route("/registered-models/get-latest-versions", methods=["GET", "POST"])
def get_latest_versions(request: Request, f: FieldsIn) -> Response:
    stages = [str(s) for s in f.items("stages")] or None
    versions = registry(request).get_latest_versions(f.string("name"), stages)
    return reply({"model_versions": [version_json(v) for v in versions]})
