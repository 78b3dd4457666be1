"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts``): upload, download, list, delete.

Paths are ``<experiment id>/<run id>/artifacts/<path in the run>``, as in the runs'
``mlflow-artifacts:`` URIs. The path is checked once (one normalisation, no second decode)
and confined to the run; bytes are stored content-addressed and verified on every read.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from loopml.artifacts import normalize_artifact_path
from loopml.errors import InvalidInput, NotFound, PayloadTooLarge
from loopml.server._wire import reply
from loopml.server.mlflow._experiments import _service
from loopml.tracking import TrackingService

__all__ = ["router"]

router = APIRouter()


def _locate(service: TrackingService, raw: str) -> tuple[str, str]:
    """``(run id, path inside the run)`` for a proxy path; 400 for a path that escapes."""
    clean = normalize_artifact_path(raw, allow_empty=True)
    parts = clean.split("/") if clean else []
    if len(parts) < 3 or parts[2] != "artifacts" or not parts[0].isdigit():
        raise InvalidInput(
            f"artifact path {raw!r} is not <experiment id>/<run id>/artifacts/<path>"
        )
    info = service.runs.get_info(parts[1])
    if info.experiment_id != parts[0]:
        raise NotFound(f"run {parts[1]} is not in experiment {parts[0]}")
    return info.run_id, "/".join(parts[3:])


@router.put("/artifacts/{path:path}")
async def upload(path: str, request: Request) -> Response:
    service = _service(request)
    run_id, rel = _locate(service, path)
    if not rel:
        raise InvalidInput("give a file path below the run's artifacts/ directory")
    limit = request.app.state.settings.max_upload_mb * 1024 * 1024
    fd, tmp = tempfile.mkstemp(prefix="loopml-upload-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        f"upload is over {limit} bytes (LOOPML_MAX_UPLOAD_MB); "
                        "store large files in the artifact store directly"
                    )
                out.write(chunk)
        service.artifacts.log_upload(run_id, tmp, rel)
    finally:
        os.unlink(tmp)
    return reply({})


@router.get("/artifacts/{path:path}")
async def download(path: str, request: Request) -> Response:
    service = _service(request)
    run_id, rel = _locate(service, path)
    data = service.artifacts.read_bytes(run_id, rel)
    name = rel.rsplit("/", 1)[-1].replace('"', "")
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
async def list_files(request: Request) -> Response:
    service = _service(request)
    raw = request.query_params.get("path", "")
    try:
        run_id, rel = _locate(service, raw)
    except NotFound:
        return reply({})
    entries = service.artifacts.list(run_id, rel)
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
async def delete(path: str, request: Request) -> Response:
    service = _service(request)
    run_id, rel = _locate(service, path)
    if service.artifacts.delete(run_id, rel, allow_ended=True) == 0:
        raise NotFound(f"run {run_id} has no artifact {rel!r}")
    return reply({})
