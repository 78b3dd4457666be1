"""Models from the fluent API: log a model to the active run, register it, load it back.

``loopml.models`` packages and loads models, ``loopml.registry`` keeps their versions and
aliases; this module joins them to the process's client, which knows the active run and
the store. The registry is embedded-only for now: through a server it answers a clear
error rather than writing to a local store behind the user's back.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

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
) -> ModelInfo:
    """Save ``model`` (scikit-learn with skops, or any object with ``predict`` as pyfunc
    with ``allow_pickle=True``) among the active run's artifacts under ``name``.

    Example::

        with loopml.start_run() as run:
            loopml.log_model(clf, "model", input_example=X_test[:5])
        model = loopml.load_model(f"runs:/{run.run_id}/model")
    """
    from loopml import models

    return models.log_model(
        model,
        name,
        log_artifacts=log_artifacts,
        signature=signature,
        input_example=input_example,
        allow_pickle=allow_pickle,
        metadata=metadata,
    )


def load_model(
    uri: str | os.PathLike[str], *, allow_pickle: bool = False, trusted_types: Sequence[str] = ()
) -> LoadedModel:
    """Load a model: a directory (loopml's ``loopml-model.yaml`` or MLflow's ``MLmodel``),
    ``runs:/<run_id>/<path>``, or a registered version: ``models:/name/3``,
    ``models:/name@alias``, ``models:/name/Production``. Pickled weights load only with
    ``allow_pickle=True``, after their sha256 is checked."""
    from loopml import models

    target = os.fspath(uri)
    if target.startswith("models:/"):
        target = model_registry().resolve(target).source
    return models.load_model(
        target,
        allow_pickle=allow_pickle,
        trusted_types=trusted_types,
        download=get_client().download_artifacts,
    )


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
    """The registry on the process client's store (embedded only, for now)."""
    from loopml.registry import ModelRegistry

    service = get_client().service
    store = getattr(service, "store", None)
    if store is None:
        raise NotFound(
            "the model registry is not served over HTTP yet: register and resolve models "
            "with the embedded store (LOOPML_DB_URL / LOOPML_HOME, without LOOPML_TRACKING_URI)"
        )
    return ModelRegistry(store)
