"""From a target (a model URI or a directory) to a :class:`ServedModel`, once, at start-up.

``models:/`` and ``runs:/`` URIs are resolved against the embedded store that the settings
name; the store is closed once the models are loaded, so no request ever touches it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loopml.artifacts import normalize_artifact_path
from loopml.config import Settings
from loopml.errors import InvalidInput, NotFound
from loopml.models import load_model
from loopml.serving._batcher import BatchPolicy
from loopml.serving._model import ServedModel
from loopml.serving._schema import NanPolicy
from loopml.tracking import TrackingService

__all__ = ["Backend", "Fetched", "StoreSource", "load_served_model"]

# What runs a model: its flavor's own library, or onnxruntime on its ONNX export.
Backend = Literal["native", "onnx"]


@dataclass(frozen=True)
class Fetched:
    """A target's model files on local disk, and the name and version to serve it under."""

    path: Path
    name: str
    version: str | None


class StoreSource:
    """Fetches ``models:/`` and ``runs:/`` targets from the embedded store of ``settings``
    (opened on first need); local directories need no store.

    Use as a context manager: leaving it closes the store.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._service: TrackingService | None = None

    def __enter__(self) -> StoreSource:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._service is not None:
            self._service.store.dispose()
            self._service = None

    def _tracking(self, target: str) -> TrackingService:
        if self.settings.is_remote:
            raise InvalidInput(
                f"cannot serve {target!r}: LOOPML_TRACKING_URI names a server, and serving "
                "resolves models:/ and runs:/ URIs against a store it opens itself "
                "(LOOPML_DB_URL / LOOPML_HOME); unset LOOPML_TRACKING_URI, or serve a "
                "model directory"
            )
        if self._service is None:
            self._service = TrackingService.from_settings(self.settings)
        return self._service

    def fetch(self, target: str, scratch: Path) -> Fetched:
        """Put the files of ``target`` under ``scratch`` (or find them on disk).

        Raises:
            NotFound: no such model, version, alias, run or directory.
            InvalidInput: a URI serving cannot load.
        """
        if target.startswith("models:/"):
            from loopml.registry import ModelRegistry

            version = ModelRegistry(self._tracking(target).store).resolve(target)
            path = self._source(version.source, scratch)
            return Fetched(path, version.name, str(version.version))
        if target.startswith("runs:/"):
            run_id, _, artifact = target.removeprefix("runs:/").lstrip("/").partition("/")
            artifact = normalize_artifact_path(artifact, allow_empty=True)
            path = self._run_files(target, run_id, artifact, scratch)
            return Fetched(path, artifact.rsplit("/", 1)[-1] or run_id, None)
        local = target.removeprefix("file://")
        if "://" in local or local.startswith(("s3:/", "http:/", "https:/")):
            raise InvalidInput(
                f"cannot serve {target!r}: give models:/name@alias, models:/name/3, "
                "runs:/<run_id>/<path> or a local model directory"
            )
        path = Path(local)
        if not path.is_dir():
            raise NotFound(f"cannot serve {target!r}: no such model directory")
        return Fetched(path, path.resolve().name, None)

    def _run_files(self, target: str, run_id: str, artifact: str, scratch: Path) -> Path:
        if not run_id:
            raise InvalidInput(f"cannot serve {target!r}: no run id")
        service = self._tracking(target)
        try:
            return service.artifacts.download(run_id, artifact, scratch)
        except NotFound:
            # MLflow 3 logs a model's files to a logged model that the run produced.
            outputs = sorted(service.logged_models.outputs(run_id), key=lambda o: -o.step)
            for output in outputs:
                with contextlib.suppress(NotFound):
                    if service.logged_models.get(output.model_id).name == artifact:
                        return service.model_artifacts.download(
                            output.model_id, "", scratch / (artifact or "model")
                        )
            raise

    def _source(self, source: str, scratch: Path) -> Path:
        """The files of a registered version's canonical source."""
        service = self._tracking(source)
        if source.startswith("runs:/"):
            run_id, _, artifact = source.removeprefix("runs:/").partition("/")
            artifact = normalize_artifact_path(artifact, allow_empty=True)
            return self._run_files(source, run_id, artifact, scratch)
        if source.startswith("models:/m-"):
            return service.model_artifacts.download(source.removeprefix("models:/"), "", scratch)
        rest = source.removeprefix("mlflow-artifacts:").lstrip("/")
        parts = normalize_artifact_path(rest).split("/")
        # <experiment>/models/<model id>/artifacts/<path> or <experiment>/<run>/artifacts/<path>
        if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
            return service.model_artifacts.download(parts[2], "/".join(parts[4:]), scratch)
        if len(parts) >= 3 and parts[2] == "artifacts":
            return service.artifacts.download(parts[1], "/".join(parts[3:]), scratch)
        raise InvalidInput(f"cannot serve version source {source!r}: not a run's artifacts")


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="loopml-serve-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)  # weights are in memory once loaded


def load_served_model(
    target: str | os.PathLike[str],
    *,
    source: StoreSource,
    name: str | None = None,
    allow_pickle: bool = False,
    trusted_types: Iterable[str] = (),
    backend: Backend = "native",
    policy: BatchPolicy | None = None,
    nan_policy: NanPolicy = "auto",
    allow_extra_columns: bool = False,
    max_rows: int = 100_000,
) -> ServedModel:
    """Load one target, ready to serve.

    Args:
        target: ``models:/name@alias``, ``models:/name/3``, ``models:/name/Production``,
            ``runs:/<run_id>/<path>`` or a local model directory.
        source: where URIs are fetched from (see :class:`StoreSource`).
        name: the name to serve it under; default the registered model's name, else the
            directory's (or the run artifact's) name.
        allow_pickle, trusted_types, backend: as for :func:`loopml.models.load_model`
            (``backend="onnx"`` runs a scikit-learn model's checked ONNX export).
        policy, nan_policy, allow_extra_columns, max_rows: as for :class:`ServedModel`.

    Raises:
        NotFound: no such model, version, alias, run or directory.
        InvalidInput: the target cannot be loaded (and why).
    """
    text = os.fspath(target)
    start = time.perf_counter()
    with _scratch() as scratch:
        fetched = source.fetch(text, scratch)
        loaded = load_model(
            fetched.path, allow_pickle=allow_pickle, trusted_types=trusted_types, backend=backend
        )
    return ServedModel(
        loaded,
        name=name or fetched.name,
        version=fetched.version,
        source=text,
        policy=policy,
        nan_policy=nan_policy,
        allow_extra_columns=allow_extra_columns,
        max_rows=max_rows,
        load_seconds=time.perf_counter() - start,
    )
