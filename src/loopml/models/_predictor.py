"""The one interface every loaded model answers to, whatever its flavor or format."""

from __future__ import annotations

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
        flavor: ``sklearn`` or ``pyfunc``.
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
    ) -> None:
        self._model = model
        self.flavor = flavor
        self.signature = signature
        self.metadata = metadata
        self.source = source

    @property
    def raw_model(self) -> Any:
        """The underlying object (a scikit-learn estimator, the pyfunc object, ...)."""
        return self._model

    def __repr__(self) -> str:
        return f"LoadedModel(flavor={self.flavor!r}, source={self.source!r})"

    def predict(self, data: Any) -> Any:
        """Predictions for ``data`` (a DataFrame, a dict of columns, or an array).

        Raises:
            InvalidInput: ``data`` does not match the signature.
        """
        return self._model.predict(self._prepare(data))

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, for models that have ``predict_proba``.

        Raises:
            InvalidInput: the model has no ``predict_proba``, or ``data`` does not match
                the signature.
        """
        fn = getattr(self._model, "predict_proba", None)
        if fn is None:
            raise InvalidInput(
                f"this {self.flavor} model ({type(self._model).__name__}) has no "
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
        out = frame[names].copy()
        for spec in sig.inputs if not isinstance(sig.inputs, TensorSpec) else ():
            out[spec.name] = _cast_column(out[spec.name], spec.name, spec.dtype)
        return out


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
