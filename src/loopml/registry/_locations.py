"""Where a model version's files are: the one parser of registered sources.

A version's ``source`` is stored in one of the canonical forms :mod:`._sources` accepts.
Reading its files back needs only two facts, whichever spelling the source uses: whose
artifacts hold them (a run, or an MLflow 3 logged model) and the path inside them::

    runs:/<run>/<path>                                       -> run <run>, <path>
    mlflow-artifacts:/<experiment>/<run>/artifacts/<path>    -> run <run>, <path>
    mlflow-artifacts:/<experiment>/models/<m-id>/artifacts/<path> -> logged model, <path>
    models:/m-<id>                                           -> logged model m-<id>, ""
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from loopml.artifacts import normalize_artifact_path
from loopml.errors import InvalidInput

__all__ = ["SourceLocation", "source_location"]


@dataclass(frozen=True)
class SourceLocation:
    """The files of a model version (or of a ``runs:/`` URI).

    Attributes:
        kind: ``run`` (a run's artifacts) or ``logged_model`` (an MLflow 3 logged model's).
        owner: the run id or the logged model id.
        path: the path inside the owner's artifacts; ``""`` for all of them.
    """

    kind: Literal["run", "logged_model"]
    owner: str
    path: str


def source_location(source: str) -> SourceLocation:
    """Parse a version's source (or a ``runs:/`` URI) into whose artifacts and which path.

    Raises:
        InvalidInput: not a run's or a logged model's artifacts (a local path, another
            scheme, a path with ``..``).
    """
    if source.startswith("runs:/"):
        run_id, _, path = source.removeprefix("runs:/").lstrip("/").partition("/")
        if not run_id:
            raise InvalidInput(f"{source!r} names no run: use runs:/<run_id>/<path>")
        return SourceLocation("run", run_id, normalize_artifact_path(path, allow_empty=True))
    if source.startswith("models:/m-"):
        model_id = source.removeprefix("models:/").strip("/")
        if "/" in model_id:
            raise InvalidInput(f"{source!r} is not models:/m-<id>")
        return SourceLocation("logged_model", model_id, "")
    if source.startswith("mlflow-artifacts:"):
        rest = source.removeprefix("mlflow-artifacts:").lstrip("/")
        parts = normalize_artifact_path(rest).split("/")
        if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
            return SourceLocation("logged_model", parts[2], "/".join(parts[4:]))
        if len(parts) >= 3 and parts[2] == "artifacts":
            return SourceLocation("run", parts[1], "/".join(parts[3:]))
    raise InvalidInput(
        f"{source[:200]!r} is not a run's or a logged model's artifacts (runs:/<run>/<path>, "
        "models:/m-<id> or mlflow-artifacts:/<experiment>/<run>/artifacts/<path>)",
        details={"source": source[:300]},
    )
