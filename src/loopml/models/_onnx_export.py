"""ONNX export of scikit-learn models (skl2onnx), checked against the original before writing.

The agreement rule: a classifier's ONNX labels must equal the original's on every checked
row, and its probabilities may differ by at most ``PROBA_ATOL`` (float32 arithmetic); a
regressor's predictions must satisfy ``|onnx - original| <= REG_ATOL + REG_RTOL * |original|``.
The measured largest absolute difference is recorded in the manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.models._manifest import OnnxExport, requirements_for, sha256_file
from loopml.models._onnx import WEIGHTS, OnnxPredictor, new_session, predictor_for
from loopml.models._optional import import_optional

__all__ = ["PROBA_ATOL", "REG_ATOL", "REG_RTOL", "export_sklearn"]

PROBA_ATOL = 1e-4
REG_RTOL = 1e-4
REG_ATOL = 1e-5
_SINGLE_INPUT = "X"


def export_sklearn(model: Any, sample: pd.DataFrame | np.ndarray, directory: Path) -> OnnxExport:
    """Convert ``model`` with skl2onnx, check it agrees with ``model`` on ``sample``, and
    write ``directory/model.onnx``.

    Numeric inputs become one float32 tensor ``X``; a DataFrame with string columns becomes
    one input per column (named as the column), as skl2onnx's ColumnTransformer expects.

    Raises:
        InvalidInput: skl2onnx is missing or cannot convert the model, or the ONNX model
            disagrees with the original on ``sample``.
    """
    from sklearn.base import is_classifier

    skl2onnx = import_optional(
        "skl2onnx", extra="onnx", purpose="exporting a scikit-learn model to ONNX"
    )
    if len(sample) == 0:
        raise InvalidInput("the ONNX export is checked on sample rows; the sample is empty")
    classifier = is_classifier(model)
    proto = _convert(skl2onnx, model, sample, classifier)
    data = proto.SerializeToString()
    session = new_session(data)
    native = np.asarray(model.predict(sample))
    names = [o.name for o in session.get_outputs()]
    has_proba = classifier and callable(getattr(model, "predict_proba", None))
    options: dict[str, Any] = {
        "label": names[0],
        "probabilities": names[1] if has_proba and len(names) > 1 else None,
        "flatten": native.ndim == 1,
        # Per-column inputs are fed by column, in order: skl2onnx renames some columns.
        "columns": _columns(sample) if len(session.get_inputs()) > 1 else None,
    }
    diff = _agreement(model, predictor_for(session, options), sample, native, classifier)
    file = directory / WEIGHTS
    file.write_bytes(data)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    return OnnxExport(
        weights=file.name,
        sha256=sha256_file(file),
        max_abs_diff=diff,
        rows_checked=len(sample),
        opset=int(opset),
        requirements=requirements_for("onnx"),
        options=options,
    )


def _columns(sample: Any) -> list[str] | None:
    return [str(c) for c in sample.columns] if isinstance(sample, pd.DataFrame) else None


def _convert(skl2onnx: Any, model: Any, sample: Any, classifier: bool) -> Any:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    inputs = []
    if isinstance(sample, np.ndarray) or all(
        pd.api.types.is_numeric_dtype(t) for t in sample.dtypes
    ):
        inputs.append([(_SINGLE_INPUT, FloatTensorType([None, int(np.shape(sample)[1])]))])
    if isinstance(sample, pd.DataFrame):
        # One input per column: what a ColumnTransformer selecting columns by name needs.
        inputs.append(
            [
                (
                    str(name),
                    FloatTensorType([None, 1])
                    if pd.api.types.is_numeric_dtype(dtype)
                    else StringTensorType([None, 1]),
                )
                for name, dtype in sample.dtypes.items()
            ]
        )
    # zipmap off: probabilities come back as one float tensor, not a list of dicts. Some
    # classifiers (those without probabilities) refuse the option: then without it.
    options: list[dict[int, dict[str, bool]] | None] = [None]
    if classifier:
        options.insert(0, {id(model): {"zipmap": False}})
    first: Exception | None = None
    for initial_types in inputs:
        for option in options:
            try:
                return skl2onnx.convert_sklearn(model, initial_types=initial_types, options=option)
            except Exception as exc:  # skl2onnx raises many types (MissingShapeCalculator...)
                first = first or exc
    lines = str(first).strip().splitlines()
    reason = f"{type(first).__name__}: {lines[0] if lines else ''}"
    raise InvalidInput(
        f"skl2onnx cannot convert this {type(model).__name__} to ONNX ({reason}). Save it "
        f"without onnx=True, or with onnx='try' to skip the export with a warning",
        details={"model": type(model).__name__, "error": reason},
    )


def _agreement(
    model: Any,
    onnx_model: OnnxPredictor,
    sample: Any,
    native: np.ndarray,
    classifier: bool,
) -> float | None:
    """The largest absolute difference on ``sample``, or an error if outside the rule."""
    got = np.asarray(onnx_model.predict(sample))
    if got.shape != native.shape:
        raise _disagrees(model, f"predict returned shape {got.shape}, not {native.shape}")
    if classifier:
        wrong = int(np.sum(got != native))
        if wrong:
            raise _disagrees(model, f"{wrong} of {len(native)} predicted labels differ")
        proba = getattr(onnx_model, "predict_proba", None)
        if proba is None:
            return None  # no probabilities to compare: the labels were equal
        expected = np.asarray(model.predict_proba(sample), dtype=np.float64)
        diff = float(np.max(np.abs(np.asarray(proba(sample), dtype=np.float64) - expected)))
        if not diff <= PROBA_ATOL:  # "not <=" also catches NaN
            raise _disagrees(model, f"probabilities differ by up to {diff:.3g} (> {PROBA_ATOL})")
        return diff
    expected = native.astype(np.float64)
    values = got.astype(np.float64)
    diff = float(np.max(np.abs(values - expected))) if values.size else 0.0
    if not np.allclose(values, expected, rtol=REG_RTOL, atol=REG_ATOL):
        raise _disagrees(
            model,
            f"predictions differ by up to {diff:.3g} (rule: atol {REG_ATOL} + rtol {REG_RTOL})",
        )
    return diff


def _disagrees(model: Any, what: str) -> InvalidInput:
    return InvalidInput(
        f"the ONNX export of this {type(model).__name__} does not agree with the original "
        f"on the sample: {what}. Save it without onnx=True, or with onnx='try' to skip the "
        f"export with a warning",
        details={"model": type(model).__name__, "disagreement": what},
    )
