"""Open Inference Protocol tensors: datatypes, and tensors from JSON data or raw bytes.

A tensor is checked against the datatype it declares here; whether that datatype suits the
model is :mod:`loopml.serving._schema`'s question.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from loopml.errors import InvalidInput

__all__ = [
    "DATATYPES",
    "datatype_of",
    "encode_bytes",
    "has_bool",
    "numpy_dtype",
    "tensor_from_bytes",
    "tensor_from_json",
]

DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_BY_NUMPY = {dtype: name for name, dtype in DATATYPES.items() if name != "BYTES"}
_LENGTH = struct.Struct("<I")


def numpy_dtype(datatype: Any, *, name: str) -> np.dtype[Any]:
    """The numpy dtype of a V2 datatype.

    Raises:
        InvalidInput: naming the tensor, for an unknown datatype (BF16 included).
    """
    dtype = DATATYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise InvalidInput(
            f"tensor {name!r} has datatype {datatype!r}; use one of {', '.join(DATATYPES)}",
            details={"tensor": name, "datatype": str(datatype)},
        )
    return dtype


def datatype_of(dtype: Any) -> str:
    """The V2 datatype for a numpy (or pandas) dtype; strings and anything else are BYTES."""
    try:
        return _BY_NUMPY.get(np.dtype(dtype), "BYTES")
    except TypeError:  # a pandas-only dtype (category, string...)
        return "BYTES"


def _shape(shape: Any, name: str) -> tuple[int, ...]:
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise InvalidInput(
            f"tensor {name!r}: shape must be a list of non-negative integers, got {shape!r}",
            details={"tensor": name},
        )
    return tuple(shape)


def _count(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _refuse(name: str, datatype: str, got: str) -> InvalidInput:
    return InvalidInput(
        f"tensor {name!r} is declared {datatype} but its data holds {got}",
        details={"tensor": name, "datatype": datatype},
    )


def has_bool(data: Any) -> bool:
    """Whether (nested) lists hold a true/false, which numpy would have turned into 1/0."""
    types = set(map(type, data))
    if bool in types:
        return True
    return list in types and any(has_bool(item) for item in data if isinstance(item, list))


def tensor_from_json(name: str, datatype: Any, shape: Any, data: Any) -> np.ndarray:
    """A tensor from the JSON ``data`` of a V2 input (nested or flat, row-major).

    Numbers are checked against the declared datatype: integers fit their range, no
    floats in an integer tensor, no strings in a numeric one, only true/false for BOOL.
    ``null`` stands for NaN in a floating-point tensor.

    Raises:
        InvalidInput: naming the tensor and what is wrong.
    """
    dtype = numpy_dtype(datatype, name=name)
    dims = _shape(shape, name)
    if not isinstance(data, list):
        raise InvalidInput(f"tensor {name!r}: data must be a JSON array", details={"tensor": name})
    try:
        raw = np.asarray(data)
    except ValueError:
        raise InvalidInput(
            f"tensor {name!r}: data is ragged (nested lists of different lengths)",
            details={"tensor": name},
        ) from None
    if raw.size != _count(dims):
        raise InvalidInput(
            f"tensor {name!r} has {raw.size} values but shape {list(dims)} needs {_count(dims)}",
            details={"tensor": name, "shape": list(dims), "values": int(raw.size)},
        )
    if raw.size == 0:
        return np.empty(dims, dtype=dtype)
    if raw.dtype.kind in "iuf" and dtype.kind != "b" and has_bool(data):
        raise _refuse(name, datatype, "true/false values")
    if dtype.kind in "iu" and raw.dtype.kind in "fO":
        # Integers past int64 (uint64's upper half) reach numpy as float64 or objects: take
        # the Python values themselves, exactly, when they are all integers.
        values = list(_flat(data))
        if all(type(v) is int for v in values):
            raw = np.array(values, dtype=object).reshape(raw.shape)
            info = np.iinfo(dtype)
            if all(info.min <= v <= info.max for v in values):
                return raw.astype(dtype).reshape(dims)
            raise _refuse(name, datatype, f"integers out of the {datatype} range")
    return _typed(raw, dtype, datatype, name).reshape(dims)


def _flat(data: Any) -> Any:
    for item in data:
        if isinstance(item, list):
            yield from _flat(item)
        else:
            yield item


def _typed(raw: np.ndarray, dtype: np.dtype[Any], datatype: str, name: str) -> np.ndarray:
    kind = raw.dtype.kind
    if datatype == "BYTES":
        if kind == "U" or (kind == "O" and all(isinstance(v, str) for v in raw.flat)):
            return raw.astype(object)
        raise _refuse(name, datatype, "non-string values")
    if dtype.kind == "b":
        if kind != "b":
            raise _refuse(name, datatype, "values other than true/false")
        return raw
    if kind == "b":
        raise _refuse(name, datatype, "true/false values")
    if kind in "US":
        raise _refuse(name, datatype, "strings (numeric strings are refused: send numbers)")
    if dtype.kind in "iu":
        if kind == "O" and any(v is None for v in raw.flat):
            raise _refuse(name, datatype, "null values")
        if kind not in "iu":
            raise _refuse(name, datatype, "non-integer numbers")
        info = np.iinfo(dtype)
        low, high = raw.min(), raw.max()
        if low < info.min or high > info.max:
            bad = low if low < info.min else high
            raise _refuse(name, datatype, f"{bad}, out of the {datatype} range")
        return raw.astype(dtype)
    # floating point
    if kind == "O":
        if not all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in raw.flat
        ):
            raise _refuse(name, datatype, "values that are not numbers")
        raw = np.array(raw.tolist(), dtype=np.float64)  # None -> NaN
    with np.errstate(over="ignore"):  # refused just below
        out = raw.astype(dtype)
    if dtype.itemsize < 8 and (np.isinf(out) & np.isfinite(raw)).any():
        raise _refuse(name, datatype, f"numbers beyond the {datatype} range")
    return out


def tensor_from_bytes(name: str, datatype: Any, shape: Any, raw: bytes | memoryview) -> np.ndarray:
    """A tensor from the binary-data extension: little-endian values, row-major; BYTES
    elements are each a 4-byte little-endian length and that many bytes.

    Raises:
        InvalidInput: the byte count does not match the shape and datatype.
    """
    dtype = numpy_dtype(datatype, name=name)
    dims = _shape(shape, name)
    count = _count(dims)
    if datatype == "BYTES":
        return _bytes_elements(name, raw, count).reshape(dims)
    if len(raw) != count * dtype.itemsize:
        raise InvalidInput(
            f"tensor {name!r}: {len(raw)} bytes of binary data, but shape {list(dims)} of "
            f"{datatype} needs {count * dtype.itemsize}",
            details={"tensor": name},
        )
    arr = np.frombuffer(raw, dtype=dtype.newbyteorder("<"))
    return arr.astype(dtype, copy=False).reshape(dims)


def _bytes_elements(name: str, raw: bytes | memoryview, count: int) -> np.ndarray:
    view = memoryview(raw)
    out = np.empty(count, dtype=object)
    offset = 0
    for i in range(count):
        if offset + 4 > len(view):
            raise InvalidInput(
                f"tensor {name!r}: binary BYTES data ends after {i} of {count} elements",
                details={"tensor": name},
            )
        (size,) = _LENGTH.unpack_from(view, offset)
        offset += 4
        if offset + size > len(view):
            raise InvalidInput(
                f"tensor {name!r}: binary BYTES element {i} is cut short",
                details={"tensor": name},
            )
        chunk = bytes(view[offset : offset + size])
        offset += size
        try:
            out[i] = chunk.decode("utf-8")
        except UnicodeDecodeError:
            out[i] = chunk  # not text: the model gets the bytes as they came
    if offset != len(view):
        raise InvalidInput(
            f"tensor {name!r}: {len(view) - offset} bytes of binary data left over after "
            f"{count} BYTES elements",
            details={"tensor": name},
        )
    return out


def encode_bytes(values: np.ndarray) -> bytes:
    """BYTES elements in the binary-data layout: each a 4-byte length and its UTF-8 bytes."""
    parts = []
    for value in values.ravel():
        data = value if isinstance(value, bytes) else str(value).encode("utf-8")
        parts.append(_LENGTH.pack(len(data)))
        parts.append(data)
    return b"".join(parts)
