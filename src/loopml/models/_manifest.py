"""``loopml-model.yaml``: what a model directory holds, written and read as plain YAML."""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import yaml

from loopml.artifacts import normalize_artifact_path
from loopml.errors import ArtifactCorrupted, InvalidInput, NotFound
from loopml.models._signature import Signature

__all__ = [
    "MANIFEST",
    "Manifest",
    "OnnxExport",
    "requirements_for",
    "resolve_inside",
    "sha256_file",
    "verify_sha256",
]

MANIFEST = "loopml-model.yaml"
FORMAT_VERSION = 1

# The distributions each flavor needs at load time, pinned to what saved the model. A tuple
# names alternatives that install the same import package: the one installed is recorded
# (xgboost-cpu users get ``xgboost-cpu==...``, which is what they can reinstall).
_FLAVOR_PACKAGES: dict[str, list[str | tuple[str, ...]]] = {
    "sklearn": ["scikit-learn", "skops", "scipy", "numpy", "pandas"],
    "pyfunc": ["cloudpickle", "numpy", "pandas"],
    "xgboost": [("xgboost", "xgboost-cpu"), "scikit-learn", "numpy", "pandas"],
    "lightgbm": ["lightgbm", "numpy", "pandas"],
    "onnx": ["onnxruntime", "numpy", "pandas"],
}


@dataclass(frozen=True)
class OnnxExport:
    """The ONNX copy of a scikit-learn model, written by ``save_model(..., onnx=True)``.

    Attributes:
        weights: the ``.onnx`` file, relative to the model directory.
        sha256: its sha256, checked before onnxruntime reads it.
        max_abs_diff: the largest absolute difference between the ONNX model and the
            original on the checked rows: on ``predict_proba`` for classifiers that have
            it, on ``predict`` for regressors; None for classifiers without probabilities
            (their labels were compared exactly).
        rows_checked: how many rows the agreement check ran on.
        opset: the ONNX opset of the default domain.
        requirements: ``name==version`` of what loading it needs (onnxruntime, numpy,
            pandas).
        options: how to read it back (which outputs are the labels and probabilities...).
    """

    weights: str
    sha256: str
    max_abs_diff: float | None
    rows_checked: int
    opset: int
    requirements: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only, for ``yaml.safe_dump``."""
        return {
            "weights": self.weights,
            "sha256": self.sha256,
            "max_abs_diff": self.max_abs_diff,
            "rows_checked": self.rows_checked,
            "opset": self.opset,
            "requirements": list(self.requirements),
            "options": dict(self.options),
        }

    @classmethod
    def from_dict(cls, raw: Any) -> OnnxExport:
        """Rebuild from :meth:`to_dict`; a malformed mapping is an :class:`InvalidInput`."""
        try:
            diff = raw.get("max_abs_diff")
            options = raw.get("options") or {}
            return cls(
                weights=str(raw["weights"]),
                sha256=str(raw["sha256"]),
                max_abs_diff=None if diff is None else float(diff),
                rows_checked=int(raw.get("rows_checked", 0)),
                opset=int(raw.get("opset", 0)),
                requirements=[str(r) for r in raw.get("requirements") or []],
                options=dict(options) if isinstance(options, dict) else {},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"malformed onnx export record in {MANIFEST}: {raw!r}") from exc


@dataclass
class Manifest:
    """The content of ``loopml-model.yaml``.

    Attributes:
        flavor: ``sklearn``, ``xgboost``, ``lightgbm``, ``onnx`` or ``pyfunc``.
        serialization: how ``weights`` is encoded: ``skops``, ``cloudpickle``,
            ``xgboost-ubj``, ``lightgbm-text`` or ``onnx``.
        weights: the weights file, relative to the model directory.
        sha256: the weights file's sha256, checked before it is deserialized.
        signature: inputs and outputs, if known.
        requirements: ``name==version`` of the packages the flavor needs.
        metadata: free-form user metadata.
        flavor_options: what the flavor needs besides the weights to rebuild the model
            (its class, classes, objective...); plain YAML types.
        onnx: the ONNX export of a scikit-learn model, if one was written.
    """

    flavor: str
    serialization: str
    weights: str
    sha256: str
    signature: Signature | None = None
    requirements: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    loopml_version: str = ""
    python_version: str = field(default_factory=platform.python_version)
    flavor_options: dict[str, Any] = field(default_factory=dict)
    onnx: OnnxExport | None = None

    def write(self, directory: Path) -> Path:
        """Write ``loopml-model.yaml`` into ``directory``; returns its path."""
        body = {
            "format_version": FORMAT_VERSION,
            "flavor": self.flavor,
            "serialization": self.serialization,
            "weights": self.weights,
            "sha256": self.sha256,
            "signature": self.signature.to_dict() if self.signature else None,
            "requirements": self.requirements,
            "metadata": self.metadata,
            "loopml_version": self.loopml_version,
            "python_version": self.python_version,
        }
        # Written only when present, so sklearn and pyfunc manifests keep their old shape.
        if self.flavor_options:
            body["flavor_options"] = self.flavor_options
        if self.onnx is not None:
            body["onnx"] = self.onnx.to_dict()
        target = directory / MANIFEST
        try:
            text = yaml.safe_dump(body, sort_keys=False)
        except yaml.YAMLError as exc:
            raise InvalidInput(
                f"model metadata must be plain YAML types (str, int, float, bool, list, dict): "
                f"{exc}"
            ) from exc
        target.write_text(text, encoding="utf-8")
        return target

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Read and check ``directory/loopml-model.yaml``.

        Raises:
            InvalidInput: the file is not valid YAML, misses a field, or its weights path
                leaves the directory.
        """
        path = directory / MANIFEST
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise InvalidInput(f"{path} must hold a mapping")
        missing = [k for k in ("flavor", "serialization", "weights", "sha256") if k not in raw]
        if missing:
            raise InvalidInput(f"{path} misses {', '.join(missing)}", details={"path": str(path)})
        sig = raw.get("signature")
        meta = raw.get("metadata") or {}
        options = raw.get("flavor_options") or {}
        if not isinstance(options, dict):
            raise InvalidInput(f"{path}: flavor_options must be a mapping")
        export = raw.get("onnx")
        return cls(
            flavor=str(raw["flavor"]),
            serialization=str(raw["serialization"]),
            weights=str(raw["weights"]),
            sha256=str(raw["sha256"]),
            signature=Signature.from_dict(sig) if sig else None,
            requirements=[str(r) for r in raw.get("requirements") or []],
            metadata=dict(meta) if isinstance(meta, dict) else {},
            loopml_version=str(raw.get("loopml_version", "")),
            python_version=str(raw.get("python_version", "")),
            flavor_options=options,
            onnx=OnnxExport.from_dict(export) if export else None,
        )


def requirements_for(flavor: str) -> list[str]:
    """``name==version`` of each installed package that ``flavor`` needs.

    Where several distributions provide the same package (``xgboost`` and
    ``xgboost-cpu``), the installed one is recorded.
    """
    out = []
    for entry in _FLAVOR_PACKAGES.get(flavor, []):
        for name in (entry,) if isinstance(entry, str) else entry:
            try:
                out.append(f"{name}=={importlib_metadata.version(name)}")
                break
            except importlib_metadata.PackageNotFoundError:
                continue  # an optional extra; the model may still load without it
    return out


def resolve_inside(directory: Path, relative: str) -> Path:
    """``directory/relative``, refusing any path that leaves ``directory``.

    The path comes from a file inside the model directory, i.e. from whoever made the
    model, so it gets the same traversal checks as any user-given artifact path, and the
    resolved path (symlinks followed) must still be inside the directory.

    Raises:
        InvalidInput: the path is absolute, has ``..`` or resolves outside ``directory``.
        NotFound: the file does not exist.
    """
    try:
        clean = normalize_artifact_path(relative)
    except InvalidInput as exc:
        raise InvalidInput(
            f"model file path {relative!r} in {directory} is refused: {exc.message}",
            details={"path": relative},
        ) from exc
    root = directory.resolve()
    target = (root / clean).resolve()
    if not target.is_relative_to(root):
        raise InvalidInput(
            f"model file {relative!r} resolves outside the model directory {directory}",
            details={"path": relative},
        )
    if not target.is_file():
        raise NotFound(f"model file {relative!r} is missing from {directory}")
    return target


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(name: str, data: bytes, expected: str) -> None:
    """Raise :class:`ArtifactCorrupted` unless ``data`` (the file ``name``) hashes to
    ``expected``.

    The caller hashes the very bytes it will deserialize, so the file cannot be swapped
    between the check and the load.
    """
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected.lower():
        raise ArtifactCorrupted(
            f"model file {name} does not match the sha256 recorded in {MANIFEST} "
            f"(expected {expected}, got {actual}); it was changed after saving - refusing "
            f"to load it",
            details={"file": name, "expected": expected, "actual": actual},
        )
