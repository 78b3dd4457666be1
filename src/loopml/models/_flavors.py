"""Flavors: which library a model comes from, and how each one is written and read back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInput
from loopml.models import _lightgbm, _onnx, _xgboost
from loopml.models._manifest import MANIFEST, Manifest, resolve_inside, verify_sha256
from loopml.models._serialize import (
    PICKLE_OPT_IN,
    dump_cloudpickle,
    dump_skops,
    is_sklearn,
    load_cloudpickle,
    load_skops,
    untrusted_skops_types,
)

__all__ = ["FLAVORS", "Written", "detect_flavor", "in_memory_predictor", "read", "write"]

FLAVORS = ("sklearn", "xgboost", "lightgbm", "onnx", "pyfunc")
_DETECTED = {"xgboost": _xgboost.is_xgboost, "lightgbm": _lightgbm.is_lightgbm}


@dataclass(frozen=True)
class Written:
    """What :func:`write` put in the model directory."""

    serialization: str
    file: Path
    options: dict[str, Any] = field(default_factory=dict)


def detect_flavor(model: Any, flavor: str | None = None) -> str:
    """The flavor of ``model``, or a check of the one the caller named.

    xgboost and LightGBM come first: their scikit-learn wrappers are also scikit-learn
    estimators, but skops would not trust them and their own formats are safe. Anything
    else with ``predict`` is ``pyfunc``.

    Raises:
        InvalidInput: an unknown flavor, one that does not fit ``model``, or a model
            without ``predict``.
    """
    if flavor is not None and flavor not in FLAVORS:
        raise InvalidInput(
            f"unknown flavor {flavor!r}; choose one of {', '.join(FLAVORS)}",
            details={"flavor": flavor},
        )
    if flavor == "onnx":
        return flavor  # a ModelProto, bytes or a path: _onnx.to_bytes judges it
    found = next((name for name, test in _DETECTED.items() if test(model)), None)
    if found is None and _onnx.is_onnx(model):
        found = "onnx"
    if found is None and is_sklearn(model):
        found = "sklearn"
    if flavor == "pyfunc" or (found is None and flavor is None):
        if not callable(getattr(model, "predict", None)):
            raise InvalidInput(
                f"a model needs a predict method; {type(model).__name__} has none (an ONNX "
                f"file or bytes needs flavor='onnx')"
            )
        return "pyfunc"
    if flavor is not None and flavor != found:
        raise InvalidInput(
            f"flavor={flavor!r} does not fit a {type(model).__name__} (it is {found or 'pyfunc'})",
            details={"flavor": flavor, "detected": found or "pyfunc"},
        )
    assert found is not None
    return found


def in_memory_predictor(flavor: str, model: Any) -> Any:
    """What answers ``predict`` for a model before it is saved (to infer its signature).

    ``model`` is the serialized bytes for the onnx flavor.
    """
    if flavor == "xgboost":
        return _xgboost.predictor(model)
    if flavor == "lightgbm":
        return _lightgbm.predictor(model)
    if flavor == "onnx":
        return _onnx.load(model)[0]
    return model


def write(flavor: str, model: Any, directory: Path, *, allow_pickle: bool) -> Written:
    """Write ``model``'s weights into ``directory`` in its flavor's format.

    Raises:
        InvalidInput: the model cannot be written safely and ``allow_pickle`` is False,
            or its flavor refuses it (an unfitted or subclassed model...).
    """
    if flavor == "xgboost":
        return Written(_xgboost.SERIALIZATION, *_xgboost.save(model, directory))
    if flavor == "lightgbm":
        return Written(_lightgbm.SERIALIZATION, *_lightgbm.save(model, directory))
    if flavor == "onnx":
        file = directory / _onnx.WEIGHTS
        file.write_bytes(model)
        return Written(_onnx.SERIALIZATION, file)
    if flavor == "sklearn":
        skops_file = _write_skops(model, directory, allow_pickle)
        if skops_file is not None:
            return Written("skops", skops_file)
    pickle_file = directory / "model.pkl"
    dump_cloudpickle(model, pickle_file)
    return Written("cloudpickle", pickle_file)


def _write_skops(model: Any, directory: Path, allow_pickle: bool) -> Path | None:
    """``model.skops``, or None when skops cannot hold it safely and pickle is allowed."""
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
        return file
    file.unlink(missing_ok=True)
    if not allow_pickle:
        raise InvalidInput(
            f"this {type(model).__name__} cannot be saved in the safe skops format: "
            f"{problem}. To save it with cloudpickle instead ({PICKLE_OPT_IN}), pass "
            f"allow_pickle=True",
            details=details,
        )
    return None


# The serialization each flavor may be stored in: a manifest pairing them otherwise is
# refused rather than handed to a loader that does not expect it.
_SERIALIZATIONS = {
    "sklearn": ("skops", "cloudpickle"),
    "pyfunc": ("cloudpickle",),
    "xgboost": (_xgboost.SERIALIZATION,),
    "lightgbm": (_lightgbm.SERIALIZATION,),
    "onnx": (_onnx.SERIALIZATION,),
}


def read(
    manifest: Manifest, directory: Path, *, allow_pickle: bool, trusted_types: Iterable[str]
) -> tuple[Any, Any]:
    """Load the weights ``manifest`` describes; returns ``(predictor, raw model)``.

    Every file's sha256 is checked on the very bytes that are then deserialized.

    Raises:
        InvalidInput: an unknown flavor or serialization, pickle without ``allow_pickle``,
            untrusted skops types, a missing optional package.
        ArtifactCorrupted: the weights do not match their recorded sha256.
    """
    allowed = _SERIALIZATIONS.get(manifest.flavor)
    if allowed is None or manifest.serialization not in allowed:
        raise InvalidInput(
            f"{directory / MANIFEST}: flavor {manifest.flavor!r} stored as "
            f"{manifest.serialization!r} is not something this version of loopml loads",
            details={"flavor": manifest.flavor, "serialization": manifest.serialization},
        )
    file = resolve_inside(directory, manifest.weights)
    if manifest.serialization == "skops":
        model = load_skops(file, sha256=manifest.sha256, extra_trusted=trusted_types)
        return model, model
    if manifest.serialization == "cloudpickle":
        model = load_cloudpickle(file, sha256=manifest.sha256, allow_pickle=allow_pickle)
        return model, model
    data = file.read_bytes()  # one read: the bytes checked are the bytes loaded
    verify_sha256(file.name, data, manifest.sha256)
    if manifest.flavor == "xgboost":
        return _xgboost.load(data, manifest.flavor_options)
    if manifest.flavor == "lightgbm":
        return _lightgbm.load(data, manifest.flavor_options)
    return _onnx.load(data)
