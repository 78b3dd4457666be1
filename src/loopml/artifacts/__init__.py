"""Content-addressed artifact storage (sha256, deduplicated, verified on read) over fsspec."""

from loopml.artifacts._paths import normalize_artifact_path
from loopml.artifacts._store import ArtifactStore, Blob

__all__ = ["ArtifactStore", "Blob", "normalize_artifact_path"]
