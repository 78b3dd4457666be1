"""load_model: a loopml or MLflow model directory, from a path or a run, as a LoadedModel."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from loopml.artifacts import normalize_artifact_path
from loopml.errors import InvalidInput, NotFound
from loopml.models import _onnx
from loopml.models._api import ArtifactDownloader
from loopml.models._flavors import read
from loopml.models._manifest import MANIFEST, Manifest, resolve_inside, verify_sha256
from loopml.models._mlflow import MLMODEL, load_mlflow_dir
from loopml.models._predictor import LoadedModel

__all__ = ["Backend", "load_model"]

# What runs a loaded model: its flavor's own library, or onnxruntime on its ONNX export.
Backend = Literal["native", "onnx", "auto"]
_BACKENDS = ("native", "onnx", "auto")


def load_model(
    uri_or_path: str | os.PathLike[str],
    *,
    allow_pickle: bool = False,
    trusted_types: Iterable[str] = (),
    download: ArtifactDownloader | None = None,
    backend: Backend = "native",
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
        backend: ``native`` (the flavor's own library) or ``onnx``: onnxruntime on the
            ONNX export written by ``save_model(..., onnx=True)`` (an ``onnx`` flavor
            model runs on onnxruntime either way); ``auto``: the ONNX export when the
            model has one (checked for agreement when it was written), else native.

    Returns:
        A :class:`LoadedModel`.

    Raises:
        NotFound: no such path.
        InvalidInput: not a model directory, an unsupported URI, pickle without
            ``allow_pickle``, untrusted skops types, a path leaving the model directory,
            ``backend="onnx"`` for a model without an ONNX export, or a flavor whose
            package is not installed (the message names the ``pip install`` to run).
        ArtifactCorrupted: the weights do not match the sha256 recorded at save time.
    """
    if backend not in _BACKENDS:
        raise InvalidInput(f"backend must be one of {', '.join(_BACKENDS)}, not {backend!r}")
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
            return _load_dir(Path(local), allow_pickle, trusted_types, backend, source=text)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif "://" in text or text.startswith(("s3:/", "http:/", "https:/")):
        raise InvalidInput(f"cannot load {text!r}: give a local path or a runs:/ URI")
    return _load_dir(Path(text), allow_pickle, trusted_types, backend, source=text)


def _load_dir(
    directory: Path,
    allow_pickle: bool,
    trusted_types: Iterable[str],
    backend: Backend,
    *,
    source: str,
) -> LoadedModel:
    if not directory.exists():
        raise NotFound(f"no model at {directory}: the path does not exist")
    if not directory.is_dir():
        raise InvalidInput(f"{directory} is a file; a model is a directory")
    if (directory / MANIFEST).is_file():
        manifest = Manifest.read(directory)
        if backend == "auto":  # the checked export when the model has one: what serving wants
            backend = "onnx" if manifest.onnx is not None else "native"
        if backend == "onnx" and manifest.flavor != "onnx":
            return _load_onnx_export(directory, manifest, source=source)
        model, raw = read(
            manifest, directory, allow_pickle=allow_pickle, trusted_types=trusted_types
        )
        return LoadedModel(
            model,
            flavor=manifest.flavor,
            signature=manifest.signature,
            metadata=manifest.metadata,
            source=source,
            backend="onnx" if manifest.flavor == "onnx" else "native",
            raw=raw,
        )
    if (directory / MLMODEL).is_file():
        if backend == "onnx":
            raise InvalidInput(
                f"{directory} is an MLflow model, which has no loopml ONNX export; load it "
                f"with backend='native'"
            )
        return load_mlflow_dir(
            directory, allow_pickle=allow_pickle, trusted_types=trusted_types, source=source
        )
    raise InvalidInput(
        f"{directory} is not a model directory: it has neither {MANIFEST} nor {MLMODEL}",
        details={"path": str(directory)},
    )


def _load_onnx_export(directory: Path, manifest: Manifest, *, source: str) -> LoadedModel:
    export = manifest.onnx
    if export is None:
        raise InvalidInput(
            f"the {manifest.flavor} model at {directory} has no ONNX export; save it with "
            f"onnx=True to have one, or load it with backend='native'",
            details={"flavor": manifest.flavor},
        )
    file = resolve_inside(directory, export.weights)
    data = file.read_bytes()  # one read: the bytes checked are the bytes onnxruntime reads
    verify_sha256(file.name, data, export.sha256)
    predictor, session = _onnx.load(data, export.options)
    return LoadedModel(
        predictor,
        flavor=manifest.flavor,
        signature=manifest.signature,
        metadata=manifest.metadata,
        source=source,
        backend="onnx",
        raw=session,
    )
