"""A model's signature: the input columns (or tensor) it takes and the output it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput

__all__ = ["ColumnSpec", "Signature", "TensorSpec", "infer_signature", "to_frame"]


@dataclass(frozen=True)
class ColumnSpec:
    """One named input column and its numpy/pandas dtype name (``float64``, ``object``...)."""

    name: str
    dtype: str


@dataclass(frozen=True)
class TensorSpec:
    """An unnamed array: dtype name and shape, ``-1`` for the (variable) batch axis."""

    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Signature:
    """What a model takes and returns.

    Attributes:
        inputs: the named columns, in order, or a :class:`TensorSpec` for array inputs.
        outputs: what ``predict`` returned on the input example, if it was called.
    """

    inputs: tuple[ColumnSpec, ...] | TensorSpec
    outputs: TensorSpec | None = None

    @property
    def column_names(self) -> list[str]:
        """The input column names (empty for a tensor input)."""
        return [] if isinstance(self.inputs, TensorSpec) else [c.name for c in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        """Plain types only, for ``yaml.safe_dump``."""
        inputs: Any = (
            _tensor_dict(self.inputs)
            if isinstance(self.inputs, TensorSpec)
            else [{"name": c.name, "dtype": c.dtype} for c in self.inputs]
        )
        outputs = _tensor_dict(self.outputs) if self.outputs is not None else None
        return {"inputs": inputs, "outputs": outputs}

    @classmethod
    def from_dict(cls, raw: Any) -> Signature:
        """Rebuild from :meth:`to_dict`; a malformed mapping is an :class:`InvalidInput`."""
        try:
            ins = raw["inputs"]
            inputs: tuple[ColumnSpec, ...] | TensorSpec = (
                _tensor_from(ins)
                if isinstance(ins, Mapping)
                else tuple(ColumnSpec(str(c["name"]), str(c["dtype"])) for c in ins)
            )
            outs = raw.get("outputs")
            return cls(inputs, _tensor_from(outs) if outs is not None else None)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"malformed model signature: {raw!r}") from exc


def _tensor_dict(spec: TensorSpec) -> dict[str, Any]:
    return {"dtype": spec.dtype, "shape": list(spec.shape)}


def _tensor_from(raw: Mapping[str, Any]) -> TensorSpec:
    return TensorSpec(str(raw["dtype"]), tuple(int(d) for d in raw["shape"]))


def _tensor_of(value: Any) -> TensorSpec:
    arr = np.asarray(value)
    return TensorSpec(str(arr.dtype), (-1, *arr.shape[1:]))


def to_frame(example: Any) -> pd.DataFrame | np.ndarray:
    """A DataFrame for tabular examples (dicts of columns become one), arrays left as arrays."""
    if isinstance(example, pd.DataFrame | np.ndarray):
        return example
    if isinstance(example, Mapping):
        # A dict of scalars is one row; a dict of sequences is columns.
        is_row = all(np.ndim(v) == 0 for v in example.values())
        return pd.DataFrame([dict(example)] if is_row else dict(example))
    raise InvalidInput(
        f"input example must be a pandas DataFrame, a numpy array or a dict of columns, "
        f"got {type(example).__name__}"
    )


def infer_signature(example: Any, output: Any = None) -> Signature:
    """Infer a signature from an input example and, if given, the model's output on it.

    Args:
        example: a DataFrame, a numpy array or a dict of columns.
        output: what ``predict(example)`` returned.

    Returns:
        A :class:`Signature`: named columns for tabular examples, a tensor for arrays.

    Raises:
        InvalidInput: the example is of another type.
    """
    frame = to_frame(example)
    inputs: tuple[ColumnSpec, ...] | TensorSpec
    if isinstance(frame, pd.DataFrame):
        inputs = tuple(ColumnSpec(str(n), str(t)) for n, t in frame.dtypes.items())
    else:
        inputs = _tensor_of(frame)
    return Signature(inputs, _tensor_of(output) if output is not None else None)
