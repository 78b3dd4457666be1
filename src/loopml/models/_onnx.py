"""ONNX models run by onnxruntime: the ``onnx`` flavor, and the runner of sklearn exports."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput, NotFound
from loopml.models._optional import defined_in, import_optional
from loopml.models._signature import ColumnSpec, Signature, TensorSpec

__all__ = [
    "SERIALIZATION",
    "WEIGHTS",
    "OnnxClassifier",
    "OnnxPredictor",
    "graph_signature",
    "is_onnx",
    "load",
    "new_session",
    "predictor_for",
    "to_bytes",
]

SERIALIZATION = "onnx"
WEIGHTS = "model.onnx"
# One thread per session: a loaded model is usually one of several (serving workers,
# batch jobs) on a few shared cores, and for the small batches models mostly see, a
# thread pool costs more in wake-ups than it saves.
_THREADS = 1
# skl2onnx's names for the class probabilities: a tensor, or a list of {class: p} maps.
_PROBABILITY_OUTPUTS = ("probabilities", "output_probability")
_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint64)": "uint64",
    "tensor(uint32)": "uint32",
    "tensor(uint16)": "uint16",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


def is_onnx(model: Any) -> bool:
    """True for an ``onnx.ModelProto`` (recognised without importing onnx)."""
    return defined_in(model, "onnx") and type(model).__name__ == "ModelProto"


def to_bytes(model: Any) -> bytes:
    """The serialized model: from a ``ModelProto``, bytes, or the path of a ``.onnx`` file.

    Raises:
        NotFound: the path does not exist.
        InvalidInput: anything else.
    """
    if is_onnx(model):
        return bytes(model.SerializeToString())
    if isinstance(model, bytes | bytearray | memoryview):
        return bytes(model)
    if isinstance(model, str | os.PathLike):
        path = Path(model)
        if not path.is_file():
            raise NotFound(f"no ONNX file at {path}")
        return path.read_bytes()
    raise InvalidInput(
        f"an onnx model is an onnx.ModelProto, bytes, or the path of a .onnx file; "
        f"got {type(model).__name__}"
    )


def new_session(data: bytes) -> Any:
    """An onnxruntime CPU session for ``data`` (already hash-checked when read from disk).

    Raises:
        InvalidInput: onnxruntime is missing, or cannot run these bytes.
    """
    ort = import_optional("onnxruntime", extra="onnx", purpose="running an ONNX model")
    options = ort.SessionOptions()
    options.intra_op_num_threads = _THREADS
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its graph-optimisation notes are noise
    try:
        return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's errors all derive from Exception directly
        raise InvalidInput(f"onnxruntime cannot load this ONNX model: {exc}") from exc


class OnnxPredictor:
    """``predict`` through an onnxruntime session.

    A model with one input takes a DataFrame or an array, cast to the input's dtype
    (float64 to float32 included: that is what the graph computes in). A model with
    several inputs takes a DataFrame with one column per input, matched by name.
    """

    def __init__(
        self,
        session: Any,
        *,
        label: str | None = None,
        flatten: bool = False,
        columns: list[str] | None = None,
    ) -> None:
        self.session = session
        inputs = session.get_inputs()
        # The column feeding each input: its name, unless the converter had to rename
        # columns (skl2onnx turns "petal length (cm)" into "petal_length__cm_").
        names = columns if columns and len(columns) == len(inputs) else [i.name for i in inputs]
        self._inputs = [
            (i.name, column, np.dtype(_DTYPES.get(i.type, "object")), len(i.shape or ()))
            for i, column in zip(inputs, names, strict=True)
        ]
        self.label = label or session.get_outputs()[0].name
        self.flatten = flatten  # (n, 1) -> (n,), as the scikit-learn regressor answered

    def predict(self, data: Any) -> Any:
        out = np.asarray(self._run(self.label, data))
        if self.flatten and out.ndim == 2 and out.shape[1] == 1:
            return out.ravel()
        return out

    def _run(self, output: str, data: Any) -> Any:
        from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

        try:
            feed = self._feed(data)
        except (ValueError, TypeError) as exc:  # e.g. text in a column the graph reads as float
            raise InvalidInput(
                f"the input does not convert to the ONNX model's types: {exc}"
            ) from exc
        try:
            return self.session.run([output], feed)[0]
        except InvalidArgument as exc:  # a wrong shape or type: the caller's input
            raise InvalidInput(f"the ONNX model refused the input: {exc}") from exc

    def _feed(self, data: Any) -> dict[str, np.ndarray]:
        if len(self._inputs) == 1:
            name, _, dtype, rank = self._inputs[0]
            arr = data.to_numpy(dtype=dtype) if isinstance(data, pd.DataFrame) else data
            return {name: _shaped(np.asarray(arr).astype(dtype, copy=False), rank)}
        columns = [column for _, column, _, _ in self._inputs]
        if not isinstance(data, pd.DataFrame):
            raise InvalidInput(f"this ONNX model takes one column per input: {', '.join(columns)}")
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise InvalidInput(
                f"input is missing column(s) the ONNX model takes: {', '.join(map(repr, missing))}",
                details={"missing_columns": missing},
            )
        return {
            name: _shaped(data[column].to_numpy().astype(dtype, copy=False), rank)
            for name, column, dtype, rank in self._inputs
        }


class OnnxClassifier(OnnxPredictor):
    """An :class:`OnnxPredictor` whose model also outputs class probabilities."""

    def __init__(
        self, session: Any, *, label: str, probabilities: str, columns: list[str] | None = None
    ) -> None:
        super().__init__(session, label=label, columns=columns)
        self.probabilities = probabilities

    def predict_proba(self, data: Any) -> np.ndarray:
        out = self._run(self.probabilities, data)
        if isinstance(out, list):  # a ZipMap output: one {class: probability} per row
            keys = list(out[0]) if out else []
            return np.array([[row[k] for k in keys] for row in out], dtype=np.float32)
        return np.asarray(out)


def _shaped(arr: np.ndarray, rank: int) -> np.ndarray:
    if rank == 2 and arr.ndim == 1:
        return arr.reshape(-1, 1)
    if rank == 1 and arr.ndim == 2 and arr.shape[1] == 1:
        return arr.ravel()
    return arr


def predictor_for(session: Any, options: Mapping[str, Any] | None = None) -> OnnxPredictor:
    """The predictor for a session: a classifier when it has a probabilities output.

    ``options`` (an sklearn export's record) names the outputs and the column feeding each
    input; without it, skl2onnx's naming is assumed: the first output answers predict,
    ``probabilities`` (or ``output_probability``) answers predict_proba.
    """
    names = [o.name for o in session.get_outputs()]
    columns: list[str] | None = None
    if options is not None:
        label = str(options.get("label") or names[0])
        proba = options.get("probabilities")
        flatten = bool(options.get("flatten", False))
        raw_columns = options.get("columns")
        columns = [str(c) for c in raw_columns] if isinstance(raw_columns, list) else None
    else:
        proba = next((n for n in names if n in _PROBABILITY_OUTPUTS), None)
        label = next((n for n in names if n != proba), names[0])
        flatten = False
    if proba:
        return OnnxClassifier(session, label=label, probabilities=str(proba), columns=columns)
    return OnnxPredictor(session, label=label, flatten=flatten, columns=columns)


def graph_signature(session: Any) -> Signature | None:
    """The signature the graph declares: a tensor for one input, one column per input
    otherwise (None when an input is wider than a column)."""
    ins = session.get_inputs()
    inputs: TensorSpec | tuple[ColumnSpec, ...]
    if len(ins) == 1:
        inputs = TensorSpec(_DTYPES.get(ins[0].type, "object"), _dims(ins[0].shape))
    elif all(len(i.shape or ()) <= 1 or i.shape[1:] == [1] for i in ins):
        inputs = tuple(ColumnSpec(i.name, _DTYPES.get(i.type, "object")) for i in ins)
    else:
        return None
    first = session.get_outputs()[0]
    outputs = TensorSpec(_DTYPES[first.type], _dims(first.shape)) if first.type in _DTYPES else None
    return Signature(inputs, outputs)


def _dims(shape: Any) -> tuple[int, ...]:
    # Named or unknown dimensions (the batch axis, usually) are variable: -1.
    dims = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in shape or ())
    return dims or (-1,)


def load(data: bytes, options: Mapping[str, Any] | None = None) -> tuple[OnnxPredictor, Any]:
    """A predictor for ``data`` (already hash-checked); returns ``(predictor, session)``.

    Raises:
        InvalidInput: onnxruntime is missing or cannot run the model.
    """
    session = new_session(data)
    return predictor_for(session, options), session
