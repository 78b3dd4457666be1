"""Step outputs as deterministic bytes: frames as Parquet, arrays as .npy, the rest as JSON.

The same value gives the same bytes and the same content hash in any process, so a step's
output hash (part of its children's cache keys) does not depend on where it ran.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from loopml.errors import InvalidInput

__all__ = ["EncodedOutput", "decode_output", "encode_output"]


@dataclass(frozen=True, slots=True)
class EncodedOutput:
    """A step output ready to store.

    Attributes:
        kind: ``pandas`` | ``polars`` | ``arrow`` (Parquet), ``numpy`` (.npy) or ``json``.
        data: the serialised bytes (stored as one content-addressed blob).
        content_hash: sha256 of the canonical content (for tables: of the Arrow data, see
            :func:`loopml.data._sources.content_hash`; otherwise of ``data``).
    """

    kind: str
    data: bytes
    content_hash: str


def encode_output(value: Any, *, step: str) -> EncodedOutput:
    """Serialise a step's return value.

    Raises:
        InvalidInput: the type has no deterministic serialisation (the message names the
            step and the type).
    """
    from loopml.data._sources import content_hash

    kind, table = _as_table(value)
    if table is not None:
        buf = io.BytesIO()
        # Fixed writer options: the Parquet bytes depend on the data only.
        pq.write_table(table, buf, compression="zstd", store_schema=True)
        return EncodedOutput(kind, buf.getvalue(), content_hash(table))
    if _is_ndarray(value):
        import numpy as np

        if value.dtype.hasobject:
            raise _unsupported(step, value, "numpy arrays of Python objects need pickle")
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(value), allow_pickle=False)
        data = buf.getvalue()
        return EncodedOutput("numpy", data, hashlib.sha256(data).hexdigest())
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise _unsupported(step, value, str(exc)) from None
    data = text.encode()
    return EncodedOutput("json", data, hashlib.sha256(data).hexdigest())


def decode_output(kind: str, data: bytes) -> Any:
    """The value that :func:`encode_output` stored as ``kind``."""
    if kind in ("pandas", "polars", "arrow"):
        table = pq.read_table(io.BytesIO(data))
        if kind == "pandas":
            return table.to_pandas()
        if kind == "polars":
            import polars as pl

            return pl.from_arrow(table)
        return table
    if kind == "numpy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if kind == "json":
        return json.loads(data)
    raise InvalidInput(f"unknown step output kind {kind!r} in the pipeline cache")


def _as_table(value: Any) -> tuple[str, pa.Table | None]:
    if isinstance(value, pa.Table):
        return "arrow", value
    module = type(value).__module__.split(".")[0]
    # Checked by module name first so that pandas / polars are imported only when used.
    if module == "pandas":
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return "pandas", pa.Table.from_pandas(value)
    if module == "polars":
        import polars as pl

        if isinstance(value, pl.DataFrame):
            return "polars", value.to_arrow()
    return "", None


def _is_ndarray(value: Any) -> bool:
    if type(value).__module__.split(".")[0] != "numpy":
        return False
    import numpy as np

    return isinstance(value, np.ndarray)


def _unsupported(step: str, value: Any, why: str) -> InvalidInput:
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    return InvalidInput(
        f"step {step!r} returned a {kind}, which loopml cannot store ({why}); return a "
        "pandas/polars DataFrame, a pyarrow Table, a numpy array or a JSON-able value "
        "(dict, list, str, int, float, bool, None)",
        details={"step": step, "type": kind},
    )
