"""The one interface every loaded model answers to, whatever its flavor or format."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.models._signature import Signature, TensorSpec, to_frame

__all__ = ["LoadedModel"]


class LoadedModel:
    """A model loaded by :func:`loopml.models.load_model`.

    Inputs are checked against the signature (when there is one) before the model sees
    them: missing columns are named, columns are put in the signature's order, and a
    lossless dtype widening (int to float) is applied.

    Attributes:
        flavor: ``sklearn``, ``xgboost``, ``lightgbm``, ``onnx`` or ``pyfunc``.
        backend: what runs the predictions: ``native`` (the flavor's own library) or
            ``onnx`` (onnxruntime on the model's ONNX export, or an ``onnx`` flavor model).
        signature: the model's :class:`Signature`, or None.
        metadata: the user metadata saved with the model.
        source: where it was loaded from (a path or URI).
    """

    def __init__(
        self,
        model: Any,
        *,
        flavor: str,
        signature: Signature | None,
        metadata: dict[str, Any],
        source: str,
        backend: str = "native",
        raw: Any = None,
    ) -> None:
        # ``model`` is what answers predict / predict_proba: the library's own object, or
        # loopml's thin adapter around it (a LightGBM or xgboost Booster, an onnxruntime
        # session), in which case ``raw`` is the library's object.
        self._model = model
        self._raw = model if raw is None else raw
        self.flavor = flavor
        self.backend = backend
        self.signature = signature
        self.metadata = metadata
        self.source = source

    @property
    def raw_model(self) -> Any:
        """The underlying object: a scikit-learn estimator, an xgboost model or Booster, a
        LightGBM Booster, an onnxruntime ``InferenceSession``, the pyfunc object..."""
        return self._raw

    def __repr__(self) -> str:
        return (
            f"LoadedModel(flavor={self.flavor!r}, backend={self.backend!r}, source={self.source!r})"
        )

    def predict(self, data: Any) -> Any:
        """Predictions for ``data`` (a DataFrame, a dict of columns, or an array).

        Raises:
            InvalidInput: ``data`` does not match the signature.
        """
        return self._model.predict(self._prepare(data))

    @property
    def has_predict_proba(self) -> bool:
        """True if :meth:`predict_proba` is available (ask this, not ``raw_model``: an
        adapted model, e.g. a LightGBM classifier or an ONNX export, answers it although
        its raw Booster or session has no such method)."""
        return callable(getattr(self._model, "predict_proba", None))

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, for models that have ``predict_proba``.

        Raises:
            InvalidInput: the model has no ``predict_proba``, or ``data`` does not match
                the signature.
        """
        fn = getattr(self._model, "predict_proba", None)
        if fn is None:
            raise InvalidInput(
                f"this {self.flavor} model ({type(self._raw).__name__}) has no "
                f"predict_proba; use predict"
            )
        return fn(self._prepare(data))

    def _prepare(self, data: Any) -> Any:
        frame = to_frame(np.asarray(data) if isinstance(data, list | tuple) else data)
        sig = self.signature
        if sig is None:
            return frame
        if isinstance(sig.inputs, TensorSpec):
            return _check_tensor(frame, sig.inputs)
        names = sig.column_names
        if isinstance(frame, np.ndarray):
            if frame.ndim != 2 or frame.shape[1] != len(names):
                raise InvalidInput(
                    f"the model takes {len(names)} columns ({', '.join(names)}); got an "
                    f"array of shape {frame.shape}"
                )
            frame = pd.DataFrame(frame, columns=names)
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise InvalidInput(
                f"input is missing column(s) the model's signature requires: "
                f"{', '.join(map(repr, missing))}",
                details={"missing_columns": missing},
            )
        # Only columns whose dtype differs from the signature's are looked at, and only
        # widened ones replaced: touching every column costs more than a small model's
        # prediction on one row (serving).
        out = frame if list(frame.columns) == names else frame[names]
        widened = {}
        for spec, actual in zip(sig.inputs, out.dtypes.tolist(), strict=True):
            expected = _numpy_dtype(spec.dtype)
            if expected is None or actual == expected:
                continue  # a pandas-only dtype (the model judges it), or already right
            col = out[spec.name]
            cast = _cast_column(col, spec.name, spec.dtype)
            if cast is not col:
                widened[spec.name] = cast
        return out.assign(**widened) if widened else out


@functools.lru_cache(maxsize=256)
def _numpy_dtype(name: str) -> np.dtype[Any] | None:
    # Cached: np.dtype(str) is slow next to predicting one row.
    try:
        return np.dtype(name)
    except TypeError:
        return None


def _cast_column(col: pd.Series, name: str, dtype: str) -> pd.Series:
    try:
        expected = np.dtype(dtype)
    except TypeError:
        return col  # a pandas-only dtype (category, string): the model will judge it
    actual = col.dtype
    if actual == expected or expected.kind not in "biuf":
        return col  # only numeric columns are checked; strings, dates... go to the model
    widens = isinstance(actual, np.dtype) and np.can_cast(actual, expected, "safe")
    if widens:
        return col.astype(expected)  # a lossless widening, e.g. int64 -> float64
    raise InvalidInput(
        f"column {name!r} has dtype {actual}; the model's signature expects {expected}",
        details={"column": name, "expected": str(expected), "actual": str(actual)},
    )


def _check_tensor(frame: pd.DataFrame | np.ndarray, spec: TensorSpec) -> np.ndarray:
    arr = frame.to_numpy() if isinstance(frame, pd.DataFrame) else frame
    want = spec.shape[1:]
    if arr.shape[1:] != want and not any(d == -1 for d in want):
        raise InvalidInput(
            f"input has shape {arr.shape}; the model's signature expects (n, "
            f"{', '.join(map(str, want))})"
        )
    return arr
