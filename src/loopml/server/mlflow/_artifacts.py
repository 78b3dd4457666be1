"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts``): upload, download, list, delete.

Paths are ``<experiment id>/<run id>/artifacts/<path in the run>``, as in the runs'
``mlflow-artifacts:`` URIs, or ``<experiment id>/models/<model id>/artifacts/<path>`` for
MLflow 3's logged models. The path is checked once (one normalisation, no second decode)
and confined to its run or model; bytes are stored content-addressed and verified on every
read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from loopml.artifacts import normalize_artifact_path
from loopml.errors import InvalidInput, NotFound
from loopml.server._wire import received_file, reply
from loopml.server.mlflow._experiments import _service
from loopml.tracking import ArtifactInfo, TrackingService

__all__ = ["router"]

router = APIRouter()


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a proxy path points: a run's or a logged model's artifact ``rel``."""

    service: TrackingService
    owner: str  # a run id, or a model id (``m-...``) when ``is_model``
    rel: str
    is_model: bool

    def upload(self, local: str) -> None:
        if self.is_model:
            self.service.model_artifacts.log_upload(self.owner, local, self.rel)
        else:
            self.service.artifacts.log_upload(self.owner, local, self.rel)

    def read(self) -> bytes:
        if self.is_model:
            return self.service.model_artifacts.read_bytes(self.owner, self.rel)
        return self.service.artifacts.read_bytes(self.owner, self.rel)

    def list(self) -> list[ArtifactInfo]:
        if self.is_model:
            return self.service.model_artifacts.list(self.owner, self.rel)
        return self.service.artifacts.list(self.owner, self.rel)

    def delete(self) -> int:
        if self.is_model:
            return self.service.model_artifacts.delete(self.owner, self.rel)
        return self.service.artifacts.delete(self.owner, self.rel, allow_ended=True)


def _locate(service: TrackingService, raw: str) -> _Target:
    """The run or model a proxy path points into; 400 for a path that escapes."""
    clean = normalize_artifact_path(raw, allow_empty=True)
    parts = clean.split("/") if clean else []
    if len(parts) >= 4 and parts[0].isdigit() and parts[1:4:2] == ["models", "artifacts"]:
        model = service.logged_models.get(parts[2])
        if model.experiment_id != parts[0]:
            raise NotFound(f"logged model {parts[2]} is not in experiment {parts[0]}")
        return _Target(service, model.model_id, "/".join(parts[4:]), is_model=True)
    if len(parts) < 3 or parts[2] != "artifacts" or not parts[0].isdigit():
        raise InvalidInput(
            f"artifact path {raw!r} is not <experiment id>/<run id>/artifacts/<path> "
            "or <experiment id>/models/<model id>/artifacts/<path>"
        )
    info = service.runs.get_info(parts[1])
    if info.experiment_id != parts[0]:
        raise NotFound(f"run {parts[1]} is not in experiment {parts[0]}")
    return _Target(service, info.run_id, "/".join(parts[3:]), is_model=False)


@router.put("/artifacts/{path:path}")
async def upload(path: str, request: Request) -> Response:
    # The body is received on the loop; finding the run and storing the file (an object
    # store transfer) run in the thread pool, as every other handler here does.
    target = await run_in_threadpool(_locate, _service(request), path)
    if not target.rel:
        raise InvalidInput("give a file path below the artifacts/ directory")
    async with received_file(request) as tmp:
        await run_in_threadpool(target.upload, tmp)
    return reply({})


@router.get("/artifacts/{path:path}")
def download(path: str, request: Request) -> Response:
    target = _locate(_service(request), path)
    data = target.read()
    name = target.rel.rsplit("/", 1)[-1].replace('"', "")
    return Response(
        data,
        media_type="application/octet-stream",
        # Served as a download, never rendered: an uploaded HTML/SVG must not run in a browser.
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/artifacts")
def list_files(request: Request) -> Response:
    raw = request.query_params.get("path", "")
    try:
        target = _locate(_service(request), raw)
    except NotFound:
        return reply({})
    rel = target.rel
    entries = target.list()
    files = []
    for entry in entries:
        item: dict[str, Any] = {
            "path": entry.path[len(rel) + 1 :] if rel else entry.path,
            "is_dir": entry.is_dir,
        }
        if not entry.is_dir:
            item["file_size"] = entry.file_size
        files.append(item)
    return reply({"files": files} if files else {})


@router.delete("/artifacts/{path:path}")
def delete(path: str, request: Request) -> Response:
    target = _locate(_service(request), path)
    if target.delete() == 0:
        raise NotFound(f"{target.owner} has no artifact {target.rel!r}")
    return reply({})
