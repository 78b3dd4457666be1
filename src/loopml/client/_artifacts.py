"""The artifact half of :class:`~loopml.client.Client`: log, list, read and download."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.tracking import ArtifactInfo

if TYPE_CHECKING:
    from loopml.client._remote import RemoteService
    from loopml.tracking import TrackingService

__all__ = ["ArtifactMethods"]


class ArtifactMethods:
    """Mixed into :class:`Client`; every call flushes first, as the run may still be queued."""

    @property
    def service(self) -> TrackingService | RemoteService:  # pragma: no cover - provided by Client
        raise NotImplementedError

    def flush(self) -> None:  # pragma: no cover - provided by Client
        raise NotImplementedError

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> ArtifactInfo:
        """Store a file under ``artifact_path`` (a directory inside the run)."""
        self.flush()  # the run may still be on its way to the store
        return self.service.artifacts.log_file(run_id, local_path, artifact_path)

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[ArtifactInfo]:
        """Store a directory tree under ``artifact_path``."""
        self.flush()  # the run may still be on its way to the store
        return self.service.artifacts.log_dir(run_id, local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> ArtifactInfo:
        """Store ``text`` (UTF-8) as the artifact file ``artifact_file``."""
        self.flush()  # the run may still be on its way to the store
        return self.service.artifacts.log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(
        self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str
    ) -> ArtifactInfo:
        """Store a dict as JSON, or YAML when ``artifact_file`` ends in .yaml/.yml."""
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dict(dictionary), sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2, default=str)
        return self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> ArtifactInfo:
        """Store a matplotlib figure rendered in the format of ``artifact_file``'s extension."""
        import io

        try:
            from matplotlib.figure import Figure
        except ImportError as exc:  # pragma: no cover - matplotlib is optional
            raise InvalidInput("log_figure needs matplotlib: pip install matplotlib") from exc
        if not isinstance(figure, Figure):
            raise InvalidInput(f"log_figure takes a matplotlib Figure, got {type(figure).__name__}")
        fmt = Path(artifact_file).suffix.lstrip(".").lower() or "png"
        buf = io.BytesIO()
        figure.savefig(buf, format=fmt)
        self.flush()  # the run may still be on its way to the store
        return self.service.artifacts.log_bytes(run_id, buf.getvalue(), artifact_file)

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactInfo]:
        """Files and directories directly under ``path``."""
        self.flush()  # the run may still be on its way to the store
        return self.service.artifacts.list(run_id, path)

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | os.PathLike[str] | None = None
    ) -> Path:
        """Copy artifacts to a local directory (verified); returns the local path."""
        self.flush()  # the run may still be on its way to the store
        return self.service.artifacts.download(run_id, path, dst_path)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """One artifact file's bytes (verified)."""
        self.flush()  # the run may still be on its way to the store
        return self.service.artifacts.read_bytes(run_id, path)
