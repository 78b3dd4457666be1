"""Models from the fluent API: log a model to the active run, register it, load it back.

``loopml.models`` packages and loads models, ``loopml.registry`` keeps their versions and
aliases; this module joins them to the process's client, which knows the active run and
the store. With ``LOOPML_TRACKING_URI`` the registry is the server's, method for method.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from loopml.client._fluent import get_client
from loopml.client._logging import log_artifacts
from loopml.errors import AlreadyExists, InvalidInput, NotFound

if TYPE_CHECKING:
    from loopml.models import LoadedModel, ModelInfo
    from loopml.registry import ModelRegistry, ModelVersion

__all__ = ["load_model", "log_model", "model_registry", "register_model", "set_model_alias"]

_DATASET_SOURCE = "loopml-dataset:"


def log_model(
    model: Any,
    name: str = "model",
    *,
    signature: Any = None,
    input_example: Any = None,
    allow_pickle: bool = False,
    metadata: Mapping[str, Any] | None = None,
    registered_model_name: str | None = None,
    flavor: str | None = None,
    onnx: bool | Literal["try"] = False,
    onnx_sample: Any = None,
) -> ModelInfo:
    """Save ``model`` among the active run's artifacts under ``name``; with
    ``registered_model_name``, also register it as that model's next version.

    The flavor is detected (scikit-learn with skops, XGBoost, LightGBM, ONNX; any other
    object with ``predict`` is a pyfunc, pickled only with ``allow_pickle=True``) or named
    by ``flavor``. ``onnx=True`` also exports a scikit-learn model to ONNX, checked for
    agreement with the original on ``onnx_sample`` (else the input example); ``"try"``
    skips the export with a warning when it cannot be made. See
    :func:`loopml.models.save_model`.

    Example::

        with loopml.start_run() as run:
            loopml.log_model(clf, "model", input_example=X_test[:5],
                             registered_model_name="iris")
        model = loopml.load_model("models:/iris/1")
    """
    from loopml import models
    from loopml.client._fluent import active_run

    run = active_run()
    if registered_model_name is not None and run is None:
        # Checked first: a model logged to a run started here and then not registered
        # would leave the user with half of what they asked for.
        raise InvalidInput("log_model(registered_model_name=...) needs an active run")
    info = models.log_model(
        model,
        name,
        log_artifacts=log_artifacts,
        signature=signature,
        input_example=input_example,
        allow_pickle=allow_pickle,
        metadata=metadata,
        flavor=flavor,
        onnx=onnx,
        onnx_sample=onnx_sample,
    )
    if registered_model_name is not None and run is not None:
        get_client().flush()  # the version records the run's metrics: write them first
        register_model(f"runs:/{run.run_id}/{info.path}", registered_model_name)
    return info


def load_model(
    uri: str | os.PathLike[str],
    *,
    allow_pickle: bool = False,
    trusted_types: Sequence[str] = (),
    backend: Literal["native", "onnx", "auto"] = "native",
) -> LoadedModel:
    """Load a model: a directory (loopml's ``loopml-model.yaml`` or MLflow's ``MLmodel``),
    ``runs:/<run_id>/<path>``, or a registered version: ``models:/name/3``,
    ``models:/name@alias``, ``models:/name/Production``. Pickled weights load only with
    ``allow_pickle=True``, after their sha256 is checked; ``backend="onnx"`` runs the
    model's ONNX export with onnxruntime."""
    from loopml import models

    target = os.fspath(uri)
    if target.startswith("models:/"):
        target = model_registry().resolve(target).source
    if target.startswith("mlflow-artifacts:") or target.startswith("models:/m-"):
        # Versions that the MLflow client registered point at its artifact roots.
        scratch = Path(tempfile.mkdtemp(prefix="loopml-model-"))
        try:
            local = _download_source(target, scratch)
            return models.load_model(
                local, allow_pickle=allow_pickle, trusted_types=trusted_types, backend=backend
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return models.load_model(
        target,
        allow_pickle=allow_pickle,
        trusted_types=trusted_types,
        download=_download_run_model,
        backend=backend,
    )


def _download_run_model(run_id: str, path: str, dst: Path) -> Path:
    """A run's model files; for MLflow 3 runs, the logged model of that name it produced
    (the client logs a model's files there, not among the run's artifacts)."""
    client = get_client()
    try:
        return client.download_artifacts(run_id, path, dst)
    except NotFound:
        service = client.service
        for output in sorted(service.logged_models.outputs(run_id), key=lambda o: -o.step):
            with contextlib.suppress(NotFound):
                if service.logged_models.get(output.model_id).name == path:
                    return service.model_artifacts.download(output.model_id, "", dst / path)
        raise


def _download_source(source: str, dst: Path) -> Path:
    """The files of a registered ``mlflow-artifacts:/`` or ``models:/m-<id>`` source."""
    from loopml.registry import source_location

    client = get_client()
    where = source_location(source)
    if where.kind == "logged_model":
        return client.service.model_artifacts.download(where.owner, where.path, dst)
    return client.download_artifacts(where.owner, where.path, dst)


def register_model(
    model_uri: str,
    name: str,
    *,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    reason: str | None = None,
) -> ModelVersion:
    """Register the model at ``runs:/<run_id>/<path>`` as the next version of ``name``
    (created if new). The version records the run's metrics and the dataset versions the run
    used, for lineage and for promotion gates.

    Example::

        version = loopml.register_model(f"runs:/{run.run_id}/model", "iris")
        loopml.set_model_alias("iris", "champion", version.version)
        loopml.load_model("models:/iris@champion")
    """
    registry = model_registry()
    client = get_client()
    if not isinstance(model_uri, str) or not model_uri.startswith("runs:/"):
        raise InvalidInput(f"register a runs:/<run_id>/<path> URI, not {model_uri!r}")
    run = client.get_run(model_uri.removeprefix("runs:/").split("/", 1)[0])
    with contextlib.suppress(AlreadyExists):  # a new version of a known model
        registry.create_model(name, reason=reason)
    metrics = {k: v for k, v in run.data.metrics.items() if math.isfinite(v)}
    datasets = [
        i.source.removeprefix(_DATASET_SOURCE)
        for i in run.inputs
        if i.source.startswith(_DATASET_SOURCE)
    ]
    return registry.create_version(
        name,
        model_uri,
        run_id=run.info.run_id,
        description=description,
        tags=tags,
        metrics=metrics,
        datasets=datasets,
        reason=reason,
    )


def set_model_alias(name: str, alias: str, version: int | str, *, reason: str = "") -> None:
    """Point ``name@alias`` at ``version`` (moving it if it pointed elsewhere); audited."""
    model_registry().set_alias(name, alias, version, reason=reason or None)


def model_registry() -> ModelRegistry:
    """The registry of the process client's store, or of its server
    (``LOOPML_TRACKING_URI``): the same methods either way."""
    from loopml.client._registry import RemoteRegistry
    from loopml.client._remote import RemoteService
    from loopml.registry import ModelRegistry

    service = get_client().service
    if isinstance(service, RemoteService):
        return cast(ModelRegistry, RemoteRegistry(service))
    return ModelRegistry(service.store)
