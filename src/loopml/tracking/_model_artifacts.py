"""A logged model's artifacts: paths in the metadata store pointing at content-addressed blobs."""

from __future__ import annotations

import builtins
import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from loopml.artifacts import ArtifactStore, normalize_artifact_path
from loopml.errors import InvalidInput, NotFound
from loopml.ids import now_ms
from loopml.store import LoggedModelArtifactRow, Store, upsert
from loopml.tracking._entities import ArtifactInfo
from loopml.tracking._logged_models import LoggedModels

__all__ = ["ModelArtifacts"]

_ROW = LoggedModelArtifactRow


class ModelArtifacts:
    """Log, list, read, download and delete the files of a logged model.

    As for runs, bytes go to the blob store before the path is recorded, so a crash between
    the two leaves at worst an unreferenced blob.
    """

    def __init__(self, store: Store, blobs: ArtifactStore, models: LoggedModels) -> None:
        self.store = store
        self.blobs = blobs
        self.models = models

    def log_upload(
        self, model_id: str, local_path: str | os.PathLike[str], artifact_file: str
    ) -> ArtifactInfo:
        """Store a file at exactly ``artifact_file`` among the model's artifacts."""
        target = normalize_artifact_path(artifact_file)
        self.models.get(model_id)
        blob = self.blobs.put_file(local_path)
        with self.store.write() as conn:
            self.models.check_exists(conn, model_id)
            upsert(
                conn,
                _ROW,
                [
                    {
                        "model_id": model_id,
                        "path": target,
                        "sha256": blob.sha256,
                        "size": blob.size,
                        "created": now_ms(),
                    }
                ],
                keys=["model_id", "path"],
                update=["sha256", "size", "created"],
            )
        return ArtifactInfo(target, False, blob.size, blob.sha256)

    def _rows(self, model_id: str, base: str) -> builtins.list[Any]:
        q = select(_ROW.path, _ROW.size, _ROW.sha256).where(_ROW.model_id == model_id)
        if base:
            q = q.where((_ROW.path == base) | _ROW.path.startswith(base + "/", autoescape=True))
        with self.store.read() as conn:
            return builtins.list(conn.execute(q.order_by(_ROW.path)))

    def list(self, model_id: str, path: str = "") -> builtins.list[ArtifactInfo]:
        """The files and directories directly under ``path`` (``""`` is the root)."""
        self.models.get(model_id)
        base = normalize_artifact_path(path, allow_empty=True)
        out: dict[str, ArtifactInfo] = {}
        for row in self._rows(model_id, base):
            if row.path == base:
                return []  # a file, not a directory
            head, sep, _ = (row.path[len(base) + 1 :] if base else row.path).partition("/")
            child = f"{base}/{head}" if base else head
            if sep:
                out.setdefault(child, ArtifactInfo(child, True))
            else:
                out[child] = ArtifactInfo(child, False, row.size, row.sha256)
        return builtins.list(out.values())

    def read_bytes(self, model_id: str, path: str) -> bytes:
        """The content of one file, verified against its sha256."""
        target = normalize_artifact_path(path)
        self.models.get(model_id)
        with self.store.read() as conn:
            sha = conn.execute(
                select(_ROW.sha256).where(_ROW.model_id == model_id, _ROW.path == target)
            ).scalar()
        if sha is None:
            raise NotFound(f"logged model {model_id} has no artifact file {target!r}")
        return self.blobs.get_bytes(sha)

    def download(
        self, model_id: str, path: str = "", dst: str | os.PathLike[str] | None = None
    ) -> Path:
        """Copy a file, or a directory recursively, to ``dst``; returns the local path."""
        self.models.get(model_id)
        base = normalize_artifact_path(path, allow_empty=True)
        rows = self._rows(model_id, base)
        if not rows:
            raise NotFound(f"logged model {model_id} has no artifact {base!r}")
        root = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="loopml-"))
        top = root / Path(base).name if base else root
        for row in rows:
            rel = row.path[len(base) :].lstrip("/") if base else row.path
            self.blobs.download(row.sha256, top / rel if rel else top)
        return top

    def delete(self, model_id: str, path: str) -> int:
        """Forget a file or directory; returns how many files were removed."""
        base = normalize_artifact_path(path, allow_empty=True)
        if not base:
            raise InvalidInput("give the artifact path to delete; the root cannot be deleted")
        with self.store.write() as conn:
            self.models.check_exists(conn, model_id)
            result = conn.execute(
                delete(_ROW).where(
                    _ROW.model_id == model_id,
                    (_ROW.path == base) | _ROW.path.startswith(base + "/", autoescape=True),
                )
            )
        return int(result.rowcount)
