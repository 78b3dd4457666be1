"""A run's artifacts: paths in the metadata store pointing at content-addressed blobs."""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from loopml.artifacts import ArtifactStore, Blob, normalize_artifact_path
from loopml.errors import InvalidInput, NotFound
from loopml.ids import now_ms
from loopml.store import RunArtifactRow, Store, upsert
from loopml.tracking._entities import ArtifactInfo
from loopml.tracking._runs import Runs
from loopml.tracking._writes import check_writable

__all__ = ["RunArtifacts"]


class RunArtifacts:
    """Log, list, read and download a run's artifacts.

    Bytes go to the blob store first and the path is recorded second, so a crash between the
    two leaves at worst an unreferenced blob, never a path that points at nothing.
    """

    def __init__(self, store: Store, blobs: ArtifactStore, runs: Runs) -> None:
        self.store = store
        self.blobs = blobs
        self.runs = runs

    def _record(
        self, run_id: str, entries: list[tuple[str, Blob]], *, allow_ended: bool = False
    ) -> list[ArtifactInfo]:
        now = now_ms()
        with self.store.write() as conn:
            check_writable(conn, run_id, allow_ended=allow_ended)
            upsert(
                conn,
                RunArtifactRow,
                [
                    {
                        "run_id": run_id,
                        "path": p,
                        "sha256": b.sha256,
                        "size": b.size,
                        "created": now,
                    }
                    for p, b in entries
                ],
                keys=["run_id", "path"],
                update=["sha256", "size", "created"],
            )
        return [ArtifactInfo(p, False, b.size, b.sha256) for p, b in entries]

    def log_file(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> ArtifactInfo:
        """Store a file as ``<artifact_path>/<file name>`` among the run's artifacts."""
        path = Path(local_path)
        if not path.is_file():
            raise NotFound(f"no file at {path} to log as an artifact")
        base = normalize_artifact_path(artifact_path or "", allow_empty=True)
        target = f"{base}/{path.name}" if base else path.name
        self.runs.check_writable(run_id)
        return self._record(run_id, [(target, self.blobs.put_file(path))])[0]

    def log_dir(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[ArtifactInfo]:
        """Store every file under ``local_dir``, keeping the tree, under ``artifact_path``."""
        root = Path(local_dir)
        if not root.is_dir():
            raise NotFound(f"no directory at {root} to log as artifacts")
        base = normalize_artifact_path(artifact_path or "", allow_empty=True)
        self.runs.check_writable(run_id)
        entries = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = file.relative_to(root).as_posix()
            target = normalize_artifact_path(f"{base}/{rel}" if base else rel)
            entries.append((target, self.blobs.put_file(file)))
        return self._record(run_id, entries) if entries else []

    def log_upload(
        self,
        run_id: str,
        local_path: str | os.PathLike[str],
        artifact_file: str,
        *,
        allow_ended: bool = True,
    ) -> ArtifactInfo:
        """Store an uploaded file at exactly ``artifact_file`` (the servers' upload routes).

        As over MLflow's API, ended (not deleted) runs accept artifacts unless
        ``allow_ended`` is False (loopml's own API).
        """
        target = normalize_artifact_path(artifact_file)
        with self.store.read() as conn:
            check_writable(conn, run_id, allow_ended=allow_ended)
        blob = self.blobs.put_file(local_path)
        return self._record(run_id, [(target, blob)], allow_ended=allow_ended)[0]

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> ArtifactInfo:
        """Store ``data`` at the artifact path ``artifact_file``."""
        target = normalize_artifact_path(artifact_file)
        self.runs.check_writable(run_id)
        return self._record(run_id, [(target, self.blobs.put_bytes(data))])[0]

    def list(self, run_id: str, path: str = "") -> builtins.list[ArtifactInfo]:
        """The files and directories directly under ``path`` (``""`` is the root)."""
        self.runs.get_info(run_id)
        base = normalize_artifact_path(path, allow_empty=True)
        out: dict[str, ArtifactInfo] = {}
        for row in self._rows_all(run_id, base):
            if row.path == base:
                return []  # a file, not a directory: nothing is under it
            rest = row.path[len(base) + 1 :] if base else row.path
            head, sep, _ = rest.partition("/")
            child = f"{base}/{head}" if base else head
            if sep:
                out.setdefault(child, ArtifactInfo(child, True))
            else:
                out[child] = ArtifactInfo(child, False, row.size, row.sha256)
        return list(out.values())

    def _rows_all(self, run_id: str, base: str) -> builtins.list[Any]:
        with self.store.read() as conn:
            q = select(RunArtifactRow.path, RunArtifactRow.size, RunArtifactRow.sha256).where(
                RunArtifactRow.run_id == run_id
            )
            if base:
                q = q.where(
                    (RunArtifactRow.path == base)
                    | RunArtifactRow.path.startswith(base + "/", autoescape=True)
                )
            return builtins.list(conn.execute(q.order_by(RunArtifactRow.path)))

    def read_bytes(self, run_id: str, path: str) -> bytes:
        """The content of one artifact file, verified against its sha256."""
        target = normalize_artifact_path(path)
        with self.store.read() as conn:
            sha = conn.execute(
                select(RunArtifactRow.sha256).where(
                    RunArtifactRow.run_id == run_id, RunArtifactRow.path == target
                )
            ).scalar()
        if sha is None:
            raise NotFound(f"run {run_id} has no artifact file {target!r}")
        return self.blobs.get_bytes(sha)

    def download(
        self, run_id: str, path: str = "", dst: str | os.PathLike[str] | None = None
    ) -> Path:
        """Copy an artifact file, or a directory recursively, to ``dst``; returns the local path."""
        import tempfile

        base = normalize_artifact_path(path, allow_empty=True)
        rows = self._rows_all(run_id, base)
        if not rows:
            self.runs.get_info(run_id)
            raise NotFound(f"run {run_id} has no artifact {base!r}")
        dst_root = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="loopml-"))
        top = dst_root / Path(base).name if base else dst_root
        for row in rows:
            rel = row.path[len(base) :].lstrip("/") if base else row.path
            self.blobs.download(row.sha256, top / rel if rel else top)
        return top

    def delete(self, run_id: str, path: str, *, allow_ended: bool = False) -> int:
        """Forget an artifact file or directory; returns how many files were removed."""
        base = normalize_artifact_path(path, allow_empty=True)
        if not base:
            raise InvalidInput("give the artifact path to delete; the root cannot be deleted")
        with self.store.write() as conn:
            check_writable(conn, run_id, allow_ended=allow_ended)
            result = conn.execute(
                delete(RunArtifactRow).where(
                    RunArtifactRow.run_id == run_id,
                    (RunArtifactRow.path == base)
                    | RunArtifactRow.path.startswith(base + "/", autoescape=True),
                )
            )
        return int(result.rowcount)
