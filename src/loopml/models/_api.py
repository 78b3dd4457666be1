"""save_model and log_model: writing loopml model directories (load_model is in _load)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from loopml.artifacts import normalize_artifact_path
from loopml.errors import AlreadyExists, InvalidInput
from loopml.models import _onnx
from loopml.models._flavors import detect_flavor, in_memory_predictor, write
from loopml.models._manifest import Manifest, OnnxExport, requirements_for
from loopml.models._manifest import sha256_file as _sha256
from loopml.models._serialize import PICKLE_OPT_IN
from loopml.models._signature import Signature, infer_signature, to_frame

__all__ = [
    "ArtifactDownloader",
    "ArtifactLogger",
    "ModelInfo",
    "OnnxOption",
    "log_model",
    "save_model",
]

# log_artifacts(local_dir, artifact_path): e.g. ``loopml.log_artifacts`` (the active run).
ArtifactLogger = Callable[[Path, str], object]
# download(run_id, artifact_path, dst_dir) -> local path: e.g. ``Client().download_artifacts``.
ArtifactDownloader = Callable[[str, str, Path], Path]
# save_model's ``onnx=``: False, True (export or fail) or "try" (export or warn and skip).
OnnxOption = bool | Literal["try"]


@dataclass(frozen=True)
class ModelInfo:
    """What :func:`save_model` / :func:`log_model` wrote.

    Attributes:
        path: the local directory (save_model) or the run artifact path (log_model).
        flavor: ``sklearn``, ``xgboost``, ``lightgbm``, ``onnx`` or ``pyfunc``.
        serialization: ``skops``, ``cloudpickle``, ``xgboost-ubj``, ``lightgbm-text`` or
            ``onnx``.
        sha256: the weights file's sha256.
        signature: the signature stored with the model, if any.
        requirements: ``name==version`` of the packages the flavor needs.
        metadata: the user metadata stored with the model.
        onnx: the ONNX export written with ``onnx=True`` (its file, sha256 and the
            measured ``max_abs_diff`` against the original), or None.
    """

    path: str
    flavor: str
    serialization: str
    sha256: str
    signature: Signature | None
    requirements: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    onnx: OnnxExport | None = None


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    flavor: str | None = None,
    signature: Signature | None = None,
    input_example: Any = None,
    allow_pickle: bool = False,
    metadata: Mapping[str, Any] | None = None,
    onnx: OnnxOption = False,
    onnx_sample: Any = None,
) -> ModelInfo:
    """Write ``model`` as a loopml model directory at ``path``.

    The flavor is detected: xgboost models (``XGBClassifier``, ``XGBRegressor``... and
    ``Booster``) are written in xgboost's UBJSON format, LightGBM models
    (``LGBMClassifier``, ``LGBMRegressor``, ``LGBMRanker``, ``Booster``) in LightGBM's
    text format, an ``onnx.ModelProto`` as ``model.onnx``, scikit-learn estimators with
    skops. None of these is a pickle. Any other object with ``predict`` is a ``pyfunc``
    model, written with cloudpickle, which needs ``allow_pickle=True``; so does an
    estimator holding types outside loopml's skops allowlist.

    With ``onnx=True`` a scikit-learn model is also converted with skl2onnx to
    ``model.onnx`` (float32 inputs), after checking that it agrees with the original on
    ``onnx_sample`` (or the input example): equal labels and probabilities within 1e-4
    for classifiers, ``|diff| <= 1e-5 + 1e-4 * |original|`` for regressors. The measured
    largest difference is recorded in the manifest (``ModelInfo.onnx.max_abs_diff``).
    Load it with ``load_model(path, backend="onnx")``.

    Args:
        model: a fitted scikit-learn, xgboost or LightGBM model, an ``onnx.ModelProto``,
            or any object with ``predict``; with ``flavor="onnx"``, also the bytes or the
            path of a ``.onnx`` file.
        path: a directory that must not exist yet (or be empty).
        flavor: force a flavor instead of detecting it: ``onnx`` for bytes or a path,
            ``pyfunc`` to pickle a model whatever it is (needs ``allow_pickle``).
        signature: the model's signature; inferred from ``input_example`` if omitted
            (then from ``onnx_sample``, and for ONNX models from the graph's inputs).
        input_example: a DataFrame, numpy array or dict of columns; the model predicts
            on it to infer the output type.
        allow_pickle: permit a cloudpickle file (it runs code when loaded).
        metadata: plain YAML-serialisable key/values stored with the model.
        onnx: ``True`` to also write the checked ONNX export of a scikit-learn model
            (any failure is an error), ``"try"`` to write it when it converts and agrees,
            and otherwise warn and save the model without it.
        onnx_sample: rows to check the export on, if not the input example (more rows
            check more of the model).

    Returns:
        A :class:`ModelInfo` describing what was written.

    Raises:
        InvalidInput: no ``predict``, pickle needed without ``allow_pickle``, a bad
            example, a model its flavor cannot save, or (``onnx=True``) an export that
            fails or disagrees, or nothing to check it on.
        AlreadyExists: ``path`` exists and is not an empty directory.
    """
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AlreadyExists(f"{target} already exists; give a new directory for the model")
    if onnx not in (False, True, "try"):
        raise InvalidInput(f"onnx must be True, False or 'try', not {onnx!r}")
    flavor = detect_flavor(model, flavor)
    if flavor == "onnx":
        model = _onnx.to_bytes(model)
    if flavor == "pyfunc" and not allow_pickle:
        raise InvalidInput(
            f"{type(model).__name__} is not a scikit-learn, xgboost, LightGBM or ONNX model, "
            f"so loopml would save it with cloudpickle, and {PICKLE_OPT_IN}: save it with "
            f"allow_pickle=True"
        )
    export = _wants_export(onnx, flavor)
    predictor = in_memory_predictor(flavor, model)
    if signature is None and input_example is not None:
        signature = _infer(predictor, input_example)
    elif signature is None and export and onnx_sample is not None:
        signature = _infer(predictor, onnx_sample)
    elif signature is None and flavor == "onnx":
        signature = _onnx.graph_signature(predictor.session)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target and rename at the end, so a crash never leaves a half model.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        written = write(flavor, model, staging, allow_pickle=allow_pickle)
        sample = onnx_sample if onnx_sample is not None else input_example
        onnx_export = _export(model, sample, staging, onnx) if export else None
        manifest = Manifest(
            flavor=flavor,
            serialization=written.serialization,
            weights=written.file.name,
            sha256=_sha256(written.file),
            signature=signature,
            requirements=requirements_for(flavor),
            metadata=dict(metadata or {}),
            loopml_version=_loopml_version(),
            flavor_options=written.options,
            onnx=onnx_export,
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
        serialization=manifest.serialization,
        sha256=manifest.sha256,
        signature=signature,
        requirements=manifest.requirements,
        metadata=manifest.metadata,
        onnx=onnx_export,
    )


def _wants_export(onnx: OnnxOption, flavor: str) -> bool:
    if not onnx or flavor == "onnx":
        return False  # an onnx model needs no export: load_model(backend="onnx") runs it
    if flavor == "sklearn":
        return True
    message = (
        f"onnx={onnx!r} exports scikit-learn models to ONNX; this is a {flavor} model "
        f"(convert it yourself, e.g. with onnxmltools, and save the result as an onnx model)"
    )
    if onnx == "try":
        warnings.warn(f"ONNX export skipped: {message}", UserWarning, stacklevel=3)
        return False
    raise InvalidInput(message, details={"flavor": flavor})


def _export(model: Any, sample: Any, directory: Path, onnx: OnnxOption) -> OnnxExport | None:
    from loopml.models._onnx_export import export_sklearn

    try:
        if sample is None:
            raise InvalidInput(
                "the ONNX export is checked against the original model on sample rows: "
                "give input_example= or onnx_sample="
            )
        return export_sklearn(model, to_frame(sample), directory)
    except InvalidInput as exc:
        if onnx != "try":
            raise
        warnings.warn(f"ONNX export skipped: {exc.message}", UserWarning, stacklevel=3)
        return None


def _infer(predictor: Any, example: Any) -> Signature:
    frame = to_frame(example)
    try:
        output = predictor.predict(frame)
    except Exception as exc:
        raise InvalidInput(
            f"calling predict on the input example failed ({type(exc).__name__}: {exc}); "
            f"give an example the model accepts, or a signature"
        ) from exc
    return infer_signature(frame, output)


def _loopml_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("loopml")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def log_model(
    model: Any,
    name: str = "model",
    *,
    log_artifacts: ArtifactLogger,
    flavor: str | None = None,
    signature: Signature | None = None,
    input_example: Any = None,
    allow_pickle: bool = False,
    metadata: Mapping[str, Any] | None = None,
    onnx: OnnxOption = False,
    onnx_sample: Any = None,
) -> ModelInfo:
    """Save ``model`` to a temporary directory and log it as run artifacts under ``name``.

    Args:
        model: as for :func:`save_model`.
        name: the artifact path of the model inside the run.
        log_artifacts: stores a local directory under an artifact path, e.g.
            ``loopml.log_artifacts`` for the active run.
        flavor, signature, input_example, allow_pickle, metadata, onnx, onnx_sample: as
            for :func:`save_model`.

    Returns:
        A :class:`ModelInfo` whose ``path`` is the artifact path; load it back with
        ``load_model(f"runs:/{run_id}/{name}", download=...)``.
    """
    artifact_path = normalize_artifact_path(name)
    with tempfile.TemporaryDirectory(prefix="loopml-model-") as tmp:
        info = save_model(
            model,
            Path(tmp) / "model",
            flavor=flavor,
            signature=signature,
            input_example=input_example,
            allow_pickle=allow_pickle,
            metadata=metadata,
            onnx=onnx,
            onnx_sample=onnx_sample,
        )
        log_artifacts(Path(tmp) / "model", artifact_path)
    return dataclasses.replace(info, path=artifact_path)
