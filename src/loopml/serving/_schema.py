"""InputSchema: the checks a request's values pass before they reach the model.

The rules, the same for every protocol:

- every column of the signature must be given, and no other (unless the model is served
  with ``allow_extra_columns``, which drops them, as MLflow does);
- numbers stay numbers: integers widen to a float column; a float column of another width
  takes the rounded value; an integer column takes integers that fit its range; floats
  into an integer column, numeric strings, and true/false into a number are refused;
- NaN (``null`` in JSON, an empty CSV field) is refused, or allowed, by the model's NaN
  policy; an integer or boolean column never holds one;
- columns whose signature type is not numeric or boolean (strings, categories, dates)
  are passed on as they came: the model judges them.

Every refusal is an :class:`InvalidInput` naming the column and the problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from loopml.errors import InvalidInput
from loopml.models import Signature, TensorSpec
from loopml.serving._input import ModelInput
from loopml.serving._tensors import has_bool

__all__ = ["InputSchema", "NanPolicy"]

NanPolicy = Literal["auto", "allow", "reject"]
_MISSING = object()


def _checked_dtype(name: str) -> np.dtype[Any] | None:
    """The dtype to check a column against, or None for a type passed on unchecked."""
    try:
        dtype = np.dtype(name)
    except TypeError:
        return None
    return dtype if dtype.kind in "biuf" else None


def _describe(values: np.ndarray) -> str:
    kind = values.dtype.kind
    if kind == "b":
        return "true/false values"
    if kind in "US":
        return "strings (numeric strings are refused: send numbers)"
    if kind == "f":
        if not np.isfinite(values).all():
            return "null/NaN values"
        if (values == np.floor(values)).all():
            return "numbers written as floats (1.0) or out of the integer range"
        return "non-integer numbers"
    if kind == "O":
        if any(v is None for v in values.flat):
            return "null values"
        if any(isinstance(v, bool) for v in values.flat):
            return "true/false values"
        odd = next((v for v in values.flat if not isinstance(v, int | float)), None)
        if odd is None:
            return "integers out of range"
        return f"a {type(odd).__name__} value ({odd!r:.40})"
    return f"{values.dtype} values"


def _check_range(values: np.ndarray, out: np.ndarray, names: tuple[str, ...]) -> None:
    """Refuse numbers that became infinite in a narrower float column (1e300 as float32)."""
    if out.dtype.kind != "f" or out.dtype.itemsize >= 8 or values.dtype.kind not in "fiu":
        return
    overflow = np.isinf(out) & np.isfinite(values)
    if overflow.any():
        where = np.argwhere(overflow)[0]
        name = names[int(where[1])] if out.ndim == 2 else names[0]
        raise InvalidInput(
            f"column {name!r} holds {values[tuple(where)]!r} (row {int(where[0])}), beyond "
            f"the {out.dtype} range",
            details={"column": name, "row": int(where[0])},
        )


class InputSchema:
    """Checks and converts request values for one model.

    Args:
        signature: the model's signature; None checks nothing and passes values on.
        allow_nan: let NaN through to float columns (else refused with a 400).
        allow_extra_columns: drop columns the signature does not name (else refused).
    """

    def __init__(
        self,
        signature: Signature | None,
        *,
        allow_nan: bool = False,
        allow_extra_columns: bool = False,
    ) -> None:
        self.signature = signature
        self.allow_nan = allow_nan
        self.allow_extra_columns = allow_extra_columns
        self.tensor: TensorSpec | None = None
        self.names: tuple[str, ...] | None = None
        self.dtypes: tuple[np.dtype[Any] | None, ...] = ()
        self.uniform: np.dtype[Any] | None = None
        inputs = signature.inputs if signature is not None else None
        if isinstance(inputs, TensorSpec):
            self.tensor = inputs
        elif inputs is not None:
            self.names = tuple(c.name for c in inputs)
            self.dtypes = tuple(_checked_dtype(c.dtype) for c in inputs)
            kinds = set(self.dtypes)
            if len(kinds) == 1 and None not in kinds and self.names:
                self.uniform = self.dtypes[0]  # e.g. all float64: rows become one block

    @property
    def key(self) -> tuple[Any, ...]:
        """Schemas with the same key check values alike: rows one passed, the other takes."""
        return (self.signature, self.allow_nan, self.allow_extra_columns)

    # --- entry points, one per shape a protocol gives values in ---

    def from_columns(self, values: Mapping[str, Any]) -> ModelInput:
        """Named columns (lists or 1-D arrays; a one-column 2-D array is accepted)."""
        if self.tensor is not None:
            if len(values) != 1:
                raise InvalidInput(
                    f"the model takes one tensor; got {len(values)} inputs "
                    f"({', '.join(map(repr, values))})"
                )
            return self.from_rows(next(iter(values.values())))
        names = self.names if self.names is not None else tuple(values)
        if self.names is not None:
            self._check_names(values)
        arrays = []
        for i, name in enumerate(names):
            column = values[name]
            array = column if isinstance(column, np.ndarray) else self._array(column, name)
            if array.ndim == 2 and array.shape[1] == 1:
                array = array[:, 0]
            if array.ndim != 1:
                raise InvalidInput(
                    f"column {name!r} must be one value per row; got shape {list(array.shape)}",
                    details={"column": name},
                )
            dtype = self.dtypes[i] if self.dtypes else None
            arrays.append(self._coerce(array, name, dtype))
        return self._columns(names, arrays)

    def from_tensors(self, tensors: Mapping[str, np.ndarray]) -> ModelInput:
        """Named tensors (Open Inference Protocol inputs): one per column, or a single
        ``[n, columns]`` tensor holding the columns in the signature's order."""
        if not tensors:
            raise InvalidInput("the request has no inputs")
        if self.tensor is not None:
            return self.from_columns(tensors)  # which checks there is exactly one
        if self.names is None:
            if len(tensors) == 1:
                return self._tensor_input(next(iter(tensors.values())))
            return self.from_columns(tensors)
        if len(tensors) == 1:
            ((name, only),) = tensors.items()
            if only.ndim == 2 and (
                name not in self.names or (len(self.names) == 1 and only.shape[1] == 1)
            ):
                return self.from_rows(only)  # which names the width it wants
        return self.from_columns(tensors)

    def from_records(self, records: Sequence[Any]) -> ModelInput:
        """Rows as ``{column: value}`` objects; a key a row leaves out is null there."""
        if not all(isinstance(r, Mapping) for r in records):
            raise InvalidInput("every record must be a JSON object of column: value")
        if self.names is not None:
            seen: set[str] = set()
            for record in records:
                seen.update(record)
            self._check_names(seen)
            wanted = self.names
        else:
            wanted = tuple(dict.fromkeys(k for r in records for k in r))
        columns = {n: [r.get(n) for r in records] for n in wanted}
        return self.from_columns(columns)

    def from_rows(self, rows: Any) -> ModelInput:
        """Rows as a list of lists or a 2-D array, columns in the signature's order; or,
        for a tensor model (or one without signature), the tensor itself."""
        if self.names is None:
            return self._tensor_input(rows)
        width = len(self.names)
        if isinstance(rows, np.ndarray) or self.uniform is not None:
            block = rows if isinstance(rows, np.ndarray) else self._array(rows, "rows")
            if block.ndim != 2 or block.shape[1] != width:
                raise InvalidInput(
                    f"rows must have {width} values each ({', '.join(self.names)}); got an "
                    f"array of shape {list(block.shape)}",
                    details={"expected_columns": list(self.names)},
                )
            uniform = self.uniform
            if uniform is not None and (
                block.size == 0 or self._fits(block, block.dtype.kind, uniform)
            ):
                return ModelInput(self.names, (), len(block), self._finish_block(block))
            if isinstance(rows, np.ndarray):
                return self.from_columns(dict(zip(self.names, block.T, strict=True)))
            # A list whose values numpy could not stack as numbers (say a string among
            # floats turned every value into a string): check it column by column, so the
            # refusal names the right column.
        if not isinstance(rows, list) or not all(
            isinstance(r, list) and len(r) == width for r in rows
        ):
            raise InvalidInput(
                f"rows must be lists of {width} values each ({', '.join(self.names)})",
                details={"expected_columns": list(self.names)},
            )
        # Mixed column types: transpose in Python so each column keeps its own type.
        transposed = list(zip(*rows, strict=True)) if rows else [() for _ in self.names]
        return self.from_columns({n: list(c) for n, c in zip(self.names, transposed, strict=True)})

    # --- the checks ---

    def _check_names(self, given: Any) -> None:
        assert self.names is not None
        missing = [n for n in self.names if n not in given]
        extra = [] if self.allow_extra_columns else [n for n in given if n not in self.names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"unexpected column(s) {', '.join(map(repr, extra))}")
            raise InvalidInput(
                f"input has {' and '.join(parts)}; the model takes {', '.join(self.names)}",
                details={"missing_columns": missing, "unexpected_columns": extra},
            )

    @staticmethod
    def _array(values: Any, name: str) -> np.ndarray:
        if not isinstance(values, list | tuple):
            values = [values]  # a scalar is one row
        try:
            array = np.asarray(values)
        except ValueError:
            raise InvalidInput(
                f"{'column ' + repr(name) if name != 'rows' else 'rows'}: ragged nested lists",
                details={"column": name},
            ) from None
        if array.dtype.kind in "iuf" and has_bool(values):
            # numpy turns true/false among numbers into 1/0: refuse them as a type error
            return np.asarray(values, dtype=object)
        return array

    def _columns(self, names: tuple[str, ...], arrays: list[np.ndarray]) -> ModelInput:
        rows = len(arrays[0]) if arrays else 0
        for name, array in zip(names, arrays, strict=True):
            if len(array) != rows:
                raise InvalidInput(
                    f"column {name!r} has {len(array)} values; column {names[0]!r} has {rows}",
                    details={"column": name},
                )
        if self.uniform is not None and arrays:
            return ModelInput(names, (), rows, np.column_stack(arrays))
        return ModelInput(names, tuple(arrays), rows)

    def _coerce(self, values: np.ndarray, name: str, dtype: np.dtype[Any] | None) -> np.ndarray:
        if dtype is None:
            # Unchecked types go on as objects, as a training DataFrame held them.
            return values.astype(object) if values.dtype.kind in "US" else values
        kind = values.dtype.kind
        if values.size and not self._fits(values, kind, dtype):
            raise InvalidInput(
                f"column {name!r} expects {dtype} but got {_describe(values)}",
                details={"column": name, "expected": str(dtype)},
            )
        if kind == "O":
            values = np.array(values.tolist(), dtype=np.float64)  # None -> NaN
        with np.errstate(over="ignore"):  # overflow is refused just below, by name
            out = values.astype(dtype, copy=False)
        _check_range(values, out, (name,))
        if dtype.kind == "f" and not self.allow_nan and np.isnan(out).any():
            row = int(np.argmax(np.isnan(out)))
            raise InvalidInput(
                f"column {name!r} has a null/NaN value (row {row}); the model does not "
                "accept missing values",
                details={"column": name, "row": row},
            )
        return out

    @staticmethod
    def _fits(values: np.ndarray, kind: str, dtype: np.dtype[Any]) -> bool:
        if dtype.kind == "b":
            return kind == "b"
        if dtype.kind in "iu":
            if kind not in "iu":
                return False
            info = np.iinfo(dtype)
            return bool(values.min() >= info.min and values.max() <= info.max)
        if kind in "fiu":  # a float column
            return True
        return kind == "O" and all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool))
            for v in values.flat
        )

    def _finish_block(self, block: np.ndarray) -> np.ndarray:
        """A block whose values fit the uniform dtype, converted, and checked for NaN."""
        assert self.names is not None and self.uniform is not None
        if block.dtype.kind == "O":
            block = np.array(block.tolist(), dtype=np.float64)  # None -> NaN
        with np.errstate(over="ignore"):  # overflow is refused just below, by name
            out = block.astype(self.uniform, copy=False)
        _check_range(block, out, self.names)
        if self.uniform.kind == "f" and not self.allow_nan:
            nan = np.isnan(out)
            if nan.any():
                row, col = (int(i) for i in np.argwhere(nan)[0])
                raise InvalidInput(
                    f"column {self.names[col]!r} has a null/NaN value (row {row}); the model "
                    "does not accept missing values",
                    details={"column": self.names[col], "row": row},
                )
        return out

    def _tensor_input(self, rows: Any) -> ModelInput:
        array = rows if isinstance(rows, np.ndarray) else self._array(rows, "rows")
        if array.ndim == 0:
            array = array.reshape(1)
        spec = self.tensor
        if spec is not None:
            want = spec.shape[1:]
            got = array.shape[1:]
            fits = len(want) == len(got) and all(
                w in (-1, g) for w, g in zip(want, got, strict=True)
            )
            if not fits:
                raise InvalidInput(
                    f"input has shape {list(array.shape)}; the model takes "
                    f"[n, {', '.join(map(str, want))}]",
                    details={"expected_shape": list(spec.shape)},
                )
            dtype = _checked_dtype(spec.dtype)
            if dtype is not None:
                flat = self._coerce(array.reshape(-1), "input", dtype)
                array = flat.reshape(array.shape)
        return ModelInput(None, (array,), len(array))
