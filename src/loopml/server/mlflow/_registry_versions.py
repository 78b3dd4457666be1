"""MLflow REST: the model registry's versions (``/model-versions``).

``model-versions/create`` answers a retry with the version its first attempt made. The
MLflow client retries POSTs (up to 7 times, on 429/5xx or a lost answer, over about 18
minutes with its defaults), and its request carries no id to deduplicate on, so the route
asks the registry for its retry rule (:data:`~loopml.registry.RETRY_WINDOW_MS`, see
:meth:`~loopml.registry.ModelRegistry.create_version`): an identical request (same model,
source, run, tags and description) arriving within 20 minutes of the model's newest
version, while that version exists, gets that version back. The price: a client that
deliberately registers the very same thing twice in a row within 20 minutes also gets one
version, where MLflow's own server makes two; a different tag or description makes two.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from loopml.errors import NotFound
from loopml.registry import RETRY_WINDOW_MS, ModelVersion
from loopml.server._wire import reply
from loopml.server.mlflow._experiments import _service, _tags
from loopml.server.mlflow._fields import FieldsIn
from loopml.server.mlflow._registry_models import registry, version_json, version_number
from loopml.tracking import TrackingService

__all__ = ["router"]

router = APIRouter()


def _download_uri(service: TrackingService, source: str) -> str:
    """Where the files of ``source`` are, as an ``mlflow-artifacts:/`` URI.

    ``runs:/<run>/<path>`` names the run's own files at ``path`` or, in MLflow 3, the
    logged model of that name which the run produced (newest step first). The client makes
    that choice on ``runs:/`` URIs but not on the download URI of a registered version, so
    the choice is made here; a stored ``mlflow-artifacts:/`` source is already a location.
    """
    if not source.startswith("runs:/"):
        return source
    run_id, _, path = source.removeprefix("runs:/").partition("/")
    root = service.runs.get_info(run_id).artifact_uri.rstrip("/")
    if service.artifacts.list(run_id, path):
        return f"{root}/{path}"
    for output in sorted(reversed(service.logged_models.outputs(run_id)), key=lambda o: -o.step):
        try:
            model = service.logged_models.get(output.model_id)
        except NotFound:  # deleted since: not a place to download from
            continue
        if model.name == path:
            return model.artifact_location
    return f"{root}/{path}"


def _version_reply(version: ModelVersion) -> Response:
    return reply({"model_version": version_json(version)})


@router.post("/model-versions/create")
def create(request: Request, f: FieldsIn) -> Response:
    # ``model_id`` is not read: MLflow 3 sends it with source "models:/m-<id>", which names
    # the same model and is the one the registry checks; ``run_link`` is not kept.
    version = registry(request).create_version(
        f.string("name"),
        f.string("source"),
        run_id=f.string("run_id", required=False) or None,
        description=f.string("description", required=False, default=""),
        tags=_tags(f.items("tags")),
        retry_window_ms=RETRY_WINDOW_MS,
    )
    return _version_reply(version)


@router.get("/model-versions/get")
def get(request: Request, f: FieldsIn) -> Response:
    return _version_reply(registry(request).get_version(f.string("name"), version_number(f)))


@router.patch("/model-versions/update")
def update(request: Request, f: FieldsIn) -> Response:
    reg, name, number = registry(request), f.string("name"), version_number(f)
    if not f.has("description"):
        return _version_reply(reg.get_version(name, number))
    return _version_reply(reg.update_version(name, number, description=f.string("description")))


@router.post("/model-versions/transition-stage")
def transition_stage(request: Request, f: FieldsIn) -> Response:
    version = registry(request).transition_stage(
        f.string("name"),
        version_number(f),
        f.string("stage"),
        archive_existing_versions=f.flag("archive_existing_versions"),
    )
    return _version_reply(version)


@router.delete("/model-versions/delete")
def delete(request: Request, f: FieldsIn) -> Response:
    registry(request).delete_version(f.string("name"), version_number(f))
    return reply({})


@router.get("/model-versions/search")
def search(request: Request, f: FieldsIn) -> Response:
    page = registry(request).search_versions(
        f.string("filter", required=False) or None,
        max_results=f.integer("max_results", default=10_000),
        order_by=[str(o) for o in f.items("order_by")] or None,
        page_token=f.string("page_token", required=False) or None,
    )
    out: dict[str, Any] = {"model_versions": [version_json(v) for v in page.versions]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return reply(out)


@router.get("/model-versions/get-download-uri")
def get_download_uri(request: Request, f: FieldsIn) -> Response:
    version = registry(request).get_version(f.string("name"), version_number(f))
    return reply({"artifact_uri": _download_uri(_service(request), version.source)})


@router.post("/model-versions/set-tag")
def set_tag(request: Request, f: FieldsIn) -> Response:
    registry(request).set_version_tag(
        f.string("name"),
        version_number(f),
        f.string("key"),
        f.string("value", required=False, default=""),
    )
    return reply({})


@router.delete("/model-versions/delete-tag")
def delete_tag(request: Request, f: FieldsIn) -> Response:
    registry(request).delete_version_tag(f.string("name"), version_number(f), f.string("key"))
    return reply({})
