"""From a target (a model URI or a directory) to a :class:`ServedModel`.

``models:/`` and ``runs:/`` URIs are resolved against the embedded store that the settings
name (the metadata database and the artifact store, shared by every replica). No request
ever touches the store: models are loaded at start-up and on a hot swap, in a thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loopml.config import Settings
from loopml.errors import InvalidInput, NotFound
from loopml.models import load_model
from loopml.registry import ModelRegistry, source_location
from loopml.serving._batcher import BatchPolicy
from loopml.serving._endpoints import EndpointStore
from loopml.serving._model import ServedModel
from loopml.serving._schema import NanPolicy
from loopml.tracking import TrackingService

__all__ = ["Backend", "Fetched", "StoreSource", "load_served_model"]

_log = logging.getLogger("loopml.serving")

# What runs a model: its flavor's own library, or onnxruntime on its ONNX export.
Backend = Literal["native", "onnx", "auto"]


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

    def registry(self, target: str) -> ModelRegistry:
        """The registry of the store (opened on first need).

        Raises:
            InvalidInput: the settings name a tracking server, not a store.
        """
        return ModelRegistry(self._tracking(target).store)

    def endpoints(self, target: str) -> EndpointStore:
        """The stored endpoints of the store (opened on first need).

        Raises:
            InvalidInput: the settings name a tracking server, not a store.
        """
        return EndpointStore(self._tracking(target).store)

    def fetch(self, target: str, scratch: Path) -> Fetched:
        """Put the files of ``target`` under ``scratch`` (or find them on disk).

        Raises:
            NotFound: no such model, version, alias, run or directory.
            InvalidInput: a URI serving cannot load.
        """
        if target.startswith("models:/"):
            version = self.registry(target).resolve(target)
            path = self._files(version.source, scratch)
            return Fetched(path, version.name, str(version.version))
        if target.startswith("runs:/"):
            where = source_location(target)
            path = self._files(target, scratch)
            return Fetched(path, where.path.rsplit("/", 1)[-1] or where.owner, None)
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

    def _files(self, source: str, scratch: Path) -> Path:
        """The files of a registered version's source (or of a runs:/ URI)."""
        service = self._tracking(source)
        try:
            where = source_location(source)
        except InvalidInput as exc:
            raise InvalidInput(f"cannot serve {source!r}: {exc.message}") from None
        if where.kind == "logged_model":
            return service.model_artifacts.download(where.owner, where.path, scratch)
        try:
            return service.artifacts.download(where.owner, where.path, scratch)
        except NotFound:
            # MLflow 3 logs a model's files to a logged model that the run produced.
            outputs = sorted(service.logged_models.outputs(where.owner), key=lambda o: -o.step)
            for output in outputs:
                with contextlib.suppress(NotFound):
                    if service.logged_models.get(output.model_id).name == where.path:
                        return service.model_artifacts.download(
                            output.model_id, "", scratch / (where.path or "model")
                        )
            raise


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

    The model is warmed up (:meth:`ServedModel.warm_up`) before it is returned, so that
    no request pays for its first call.

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
    served = ServedModel(
        loaded,
        name=name or fetched.name,
        version=fetched.version,
        source=text,
        policy=policy,
        nan_policy=nan_policy,
        allow_extra_columns=allow_extra_columns,
        max_rows=max_rows,
    )
    problem = served.warm_up()
    if problem is not None:
        _log.warning("%s: not warmed up (%s)", served.label, problem)
    served.load_seconds = time.perf_counter() - start
    return served
