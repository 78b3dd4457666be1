"""save_model, load_model and log_model: the public verbs of loopml.models."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml.artifacts import normalize_artifact_path
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.models._manifest import MANIFEST, Manifest, requirements_for, resolve_inside
from loopml.models._manifest import sha256_file as _sha256
from loopml.models._mlflow import MLMODEL, load_mlflow_dir
from loopml.models._predictor import LoadedModel
from loopml.models._serialize import (
    PICKLE_OPT_IN,
    dump_cloudpickle,
    dump_skops,
    is_sklearn,
    load_cloudpickle,
    load_skops,
    untrusted_skops_types,
)
from loopml.models._signature import Signature, infer_signature, to_frame

__all__ = [
    "ArtifactDownloader",
    "ArtifactLogger",
    "ModelInfo",
    "load_model",
    "log_model",
    "save_model",
]

# log_artifacts(local_dir, artifact_path): e.g. ``loopml.log_artifacts`` (the active run).
ArtifactLogger = Callable[[Path, str], object]
# download(run_id, artifact_path, dst_dir) -> local path: e.g. ``Client().download_artifacts``.
ArtifactDownloader = Callable[[str, str, Path], Path]


@dataclass(frozen=True)
class ModelInfo:
    """What :func:`save_model` / :func:`log_model` wrote.

    Attributes:
        path: the local directory (save_model) or the run artifact path (log_model).
        flavor: ``sklearn`` or ``pyfunc``.
        serialization: ``skops`` or ``cloudpickle``.
        sha256: the weights file's sha256.
        signature: the signature stored with the model, if any.
        requirements: ``name==version`` of the packages the flavor needs.
        metadata: the user metadata stored with the model.
    """

    path: str
    flavor: str
    serialization: str
    sha256: str
    signature: Signature | None
    requirements: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    signature: Signature | None = None,
    input_example: Any = None,
    allow_pickle: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> ModelInfo:
    """Write ``model`` as a loopml model directory at ``path``.

    scikit-learn estimators are written with skops. Any other object with ``predict`` is
    a ``pyfunc`` model, written with cloudpickle, which needs ``allow_pickle=True``; so
    does an estimator holding types outside loopml's skops allowlist.

    Args:
        model: a fitted scikit-learn estimator, or any object with ``predict``.
        path: a directory that must not exist yet (or be empty).
        signature: the model's signature; inferred from ``input_example`` if omitted.
        input_example: a DataFrame, numpy array or dict of columns; ``predict`` is called
            on it to infer the output type.
        allow_pickle: permit a cloudpickle file (it runs code when loaded).
        metadata: plain YAML-serialisable key/values stored with the model.

    Returns:
        A :class:`ModelInfo` describing what was written.

    Raises:
        InvalidInput: no ``predict``, pickle needed without ``allow_pickle``, or a bad
            example.
        AlreadyExists: ``path`` exists and is not an empty directory.
    """
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AlreadyExists(f"{target} already exists; give a new directory for the model")
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(f"a model needs a predict method; {type(model).__name__} has none")
    sklearn_flavor = is_sklearn(model)
    if not sklearn_flavor and not allow_pickle:
        raise InvalidInput(
            f"{type(model).__name__} is not a scikit-learn estimator, so loopml would save "
            f"it with cloudpickle, and {PICKLE_OPT_IN}: save it with allow_pickle=True"
        )
    if signature is None and input_example is not None:
        signature = _infer(model, input_example)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target and rename at the end, so a crash never leaves a half model.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        flavor = "sklearn" if sklearn_flavor else "pyfunc"
        serialization, weights = _write_weights(model, staging, sklearn_flavor, allow_pickle)
        manifest = Manifest(
            flavor=flavor,
            serialization=serialization,
            weights=weights.name,
            sha256=_sha256(weights),
            signature=signature,
            requirements=requirements_for(flavor),
            metadata=dict(metadata or {}),
            loopml_version=_loopml_version(),
        )
        manifest.write(staging)
        if target.exists():
            target.rmdir()  # empty, checked above
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ModelInfo(
        path=str(target),
        flavor=flavor,
        serialization=serialization,
        sha256=manifest.sha256,
        signature=signature,
        requirements=manifest.requirements,
        metadata=manifest.metadata,
    )


def _infer(model: Any, example: Any) -> Signature:
    frame = to_frame(example)
    try:
        output = model.predict(frame)
    except Exception as exc:
        raise InvalidInput(
            f"calling predict on the input example failed ({type(exc).__name__}: {exc}); "
            f"give an example the model accepts, or a signature"
        ) from exc
    return infer_signature(frame, output)


def _write_weights(
    model: Any, directory: Path, sklearn_flavor: bool, allow_pickle: bool
) -> tuple[str, Path]:
    if sklearn_flavor:
        file = directory / "model.skops"
        try:
            dump_skops(model, file)
            bad = untrusted_skops_types(file.read_bytes())
            problem = f"it holds types outside loopml's skops allowlist: {', '.join(bad)}"
            details: dict[str, Any] = {"untrusted_types": bad}
        except Exception as exc:  # skops cannot represent every object (e.g. lambdas)
            problem = f"skops cannot write it ({type(exc).__name__}: {exc})"
            bad, details = ["<unwritable>"], {"error": str(exc)}
        if not bad:
            return "skops", file
        file.unlink(missing_ok=True)
        if not allow_pickle:
            raise InvalidInput(
                f"this {type(model).__name__} cannot be saved in the safe skops format: "
                f"{problem}. To save it with cloudpickle instead ({PICKLE_OPT_IN}), pass "
                f"allow_pickle=True",
                details=details,
            )
    file = directory / "model.pkl"
    dump_cloudpickle(model, file)
    return "cloudpickle", file


def _loopml_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("loopml")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def load_model(
    uri_or_path: str | os.PathLike[str],
    *,
    allow_pickle: bool = False,
    trusted_types: Iterable[str] = (),
    download: ArtifactDownloader | None = None,
) -> LoadedModel:
    """Load a loopml or MLflow model directory, from a path or a ``runs:/`` URI.

    Args:
        uri_or_path: a local directory, ``file://...``, or ``runs:/<run_id>/<path>``.
        allow_pickle: permit loading pickle/cloudpickle weights (they run code).
        trusted_types: extra skops types this caller trusts, beyond loopml's allowlist.
            Never read from the model's own directory.
        download: fetches a run's artifacts for ``runs:/`` URIs, called as
            ``download(run_id, artifact_path, dst_dir)``; e.g. a Client's
            ``download_artifacts``.

    Returns:
        A :class:`LoadedModel`.

    Raises:
        NotFound: no such path.
        InvalidInput: not a model directory, an unsupported URI, pickle without
            ``allow_pickle``, untrusted skops types, a path leaving the model directory.
        ArtifactCorrupted: the weights do not match the sha256 recorded at save time.
    """
    text = os.fspath(uri_or_path)
    if text.startswith("models:/"):
        raise InvalidInput(
            f"cannot load {text!r}: models:/ URIs need the model registry, which this "
            f"version of loopml does not have yet; load a runs:/ URI or a path",
            details={"uri": text},
        )
    if text.startswith("runs:/"):
        run_id, _, artifact_path = text[len("runs:/") :].lstrip("/").partition("/")
        if not run_id or download is None:
            raise InvalidInput(
                f"cannot load {text!r}: "
                + ("no run id" if not run_id else "runs:/ URIs need a download function")
            )
        scratch = Path(tempfile.mkdtemp(prefix="loopml-model-"))
        try:
            local = download(
                run_id, normalize_artifact_path(artifact_path, allow_empty=True), scratch
            )
            # Weights are fully read into memory, so the download can go once loaded.
            return _load_dir(Path(local), allow_pickle, trusted_types, source=text)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif "://" in text or text.startswith(("s3:/", "http:/", "https:/")):
        raise InvalidInput(f"cannot load {text!r}: give a local path or a runs:/ URI")
    return _load_dir(Path(text), allow_pickle, trusted_types, source=text)


def _load_dir(
    directory: Path, allow_pickle: bool, trusted_types: Iterable[str], *, source: str
) -> LoadedModel:
    if not directory.exists():
        raise NotFound(f"no model at {directory}: the path does not exist")
    if not directory.is_dir():
        raise InvalidInput(f"{directory} is a file; a model is a directory")
    if (directory / MANIFEST).is_file():
        manifest = Manifest.read(directory)
        file = resolve_inside(directory, manifest.weights)
        if manifest.serialization == "skops":
            model = load_skops(file, sha256=manifest.sha256, extra_trusted=trusted_types)
        elif manifest.serialization == "cloudpickle":
            model = load_cloudpickle(file, sha256=manifest.sha256, allow_pickle=allow_pickle)
        else:
            raise InvalidInput(
                f"{directory / MANIFEST}: unknown serialization {manifest.serialization!r}"
            )
        return LoadedModel(
            model,
            flavor=manifest.flavor,
            signature=manifest.signature,
            metadata=manifest.metadata,
            source=source,
        )
    if (directory / MLMODEL).is_file():
        return load_mlflow_dir(
            directory, allow_pickle=allow_pickle, trusted_types=trusted_types, source=source
        )
    raise InvalidInput(
        f"{directory} is not a model directory: it has neither {MANIFEST} nor {MLMODEL}",
        details={"path": str(directory)},
    )


def log_model(
    model: Any,
    name: str = "model",
    *,
    log_artifacts: ArtifactLogger,
    signature: Signature | None = None,
    input_example: Any = None,
    allow_pickle: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> ModelInfo:
    """Save ``model`` to a temporary directory and log it as run artifacts under ``name``.

    Args:
        model: as for :func:`save_model`.
        name: the artifact path of the model inside the run.
        log_artifacts: stores a local directory under an artifact path, e.g.
            ``loopml.log_artifacts`` for the active run.
        signature, input_example, allow_pickle, metadata: as for :func:`save_model`.

    Returns:
        A :class:`ModelInfo` whose ``path`` is the artifact path; load it back with
        ``load_model(f"runs:/{run_id}/{name}", download=...)``.
    """
    artifact_path = normalize_artifact_path(name)
    with tempfile.TemporaryDirectory(prefix="loopml-model-") as tmp:
        info = save_model(
            model,
            Path(tmp) / "model",
            signature=signature,
            input_example=input_example,
            allow_pickle=allow_pickle,
            metadata=metadata,
        )
        log_artifacts(Path(tmp) / "model", artifact_path)
    return ModelInfo(
        path=artifact_path,
        flavor=info.flavor,
        serialization=info.serialization,
        sha256=info.sha256,
        signature=info.signature,
        requirements=info.requirements,
        metadata=info.metadata,
    )
