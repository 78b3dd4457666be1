"""Log entries to Arrow tables, in the flusher thread: one columnar build per group of
requests that share an hour and an input shape, never a DataFrame per request.

A request is buffered as it was served (its checked :class:`ModelInput` and the model's
outputs); turning thousands of them into rows here costs a few ``numpy.concatenate`` calls
per column, where building rows one by one would hold the GIL long enough to slow serving.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from loopml.serving._input import ModelInput

__all__ = ["FeedbackEntry", "PredictionEntry", "feedback_tables", "prediction_tables", "scalar"]

_log = logging.getLogger("loopml.serving")
_HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class PredictionEntry:
    """One request (or one shadow call) as served; ``rows`` is at least 1."""

    timestamp: int
    request_id: str
    endpoint: str
    model: str
    version: str | None
    status: int
    latency_ms: float
    error: str | None
    shadow: bool
    inputs: ModelInput | pd.DataFrame | None
    outputs: Any
    proba: Any
    rows: int


@dataclass(frozen=True, slots=True)
class FeedbackEntry:
    """Labels given in one call, as columns."""

    timestamp: int
    endpoint: str
    request_ids: Sequence[str]
    rows: Sequence[int]
    labels: Sequence[Any]

    @property
    def size(self) -> int:
        return len(self.request_ids)


def partition(endpoint: str, timestamp_ms: int) -> tuple[str, str, str]:
    """``(endpoint, date, hour)`` of a row logged at ``timestamp_ms`` (UTC)."""
    moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return endpoint, moment.strftime("%Y-%m-%d"), moment.strftime("%H")


def _by_partition(entries: Iterable[Any]) -> dict[tuple[str, int], list[Any]]:
    groups: dict[tuple[str, int], list[Any]] = {}
    for entry in entries:
        groups.setdefault((entry.endpoint, entry.timestamp // _HOUR_MS), []).append(entry)
    return groups


Partitioned = Iterator[tuple[tuple[str, str, str], pa.Table]]


def _objects(values: Iterable[Any]) -> np.ndarray:
    """A 1-D object array of ``values``, even when they are lists (numpy would nest them)."""
    items = list(values)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def feedback_tables(entries: Sequence[FeedbackEntry]) -> Partitioned:
    """One table per (endpoint, date, hour): request_id, row, label, timestamp, endpoint."""
    for (endpoint, _), group in _by_partition(entries).items():
        counts = [e.size for e in group]
        labels = [v for e in group for v in e.labels]
        table = pa.table(
            {
                "request_id": pa.array([r for e in group for r in e.request_ids], pa.string()),
                "row": pa.array([r for e in group for r in e.rows], pa.int64()),
                "label": _arrow(_objects(labels)),
                "timestamp": pa.array(np.repeat([e.timestamp for e in group], counts), pa.int64()),
                "endpoint": pa.array([endpoint] * sum(counts), pa.string()),
            }
        )
        yield partition(endpoint, group[0].timestamp), table


def prediction_tables(entries: Sequence[PredictionEntry]) -> Partitioned:
    """One table per (endpoint, date, hour), one row per input row (see ``_predlog``)."""
    for (endpoint, _), group in _by_partition(entries).items():
        shapes: dict[Any, list[PredictionEntry]] = {}
        for entry in group:
            shapes.setdefault(_shape(entry.inputs), []).append(entry)
        tables = []
        for same in shapes.values():
            try:
                tables.append(_table(same))
            except Exception:  # an output the log cannot hold: keep what is certain
                _log.exception("prediction log: dropped the rows of %d requests", len(same))
                tables.append(_base(same))
        table = (
            tables[0]
            if len(tables) == 1
            else pa.concat_tables(tables, promote_options="permissive")
        )
        yield partition(endpoint, group[0].timestamp), table


def _shape(inputs: Any) -> Any:
    if isinstance(inputs, ModelInput):
        return ("input", inputs.key)
    if isinstance(inputs, pd.DataFrame):
        return ("frame", tuple(inputs.columns), tuple(map(str, inputs.dtypes)))
    return None


def _base(group: Sequence[PredictionEntry]) -> pa.Table:
    counts = np.fromiter((e.rows for e in group), dtype=np.int64, count=len(group))
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    has_rows = np.repeat([e.inputs is not None for e in group], counts)
    row = np.where(has_rows, np.arange(int(counts.sum())) - starts, -1)

    def repeat(values: list[Any], kind: pa.DataType) -> pa.Array:
        return pa.array(np.repeat(_objects(values), counts), kind)

    return pa.table(
        {
            "request_id": repeat([e.request_id for e in group], pa.string()),
            "row": pa.array(row, pa.int64()),
            "timestamp": pa.array(np.repeat([e.timestamp for e in group], counts), pa.int64()),
            "endpoint": repeat([e.endpoint for e in group], pa.string()),
            "model": repeat([e.model for e in group], pa.string()),
            "version": repeat([e.version for e in group], pa.string()),
            "status": pa.array(np.repeat([e.status for e in group], counts), pa.int64()),
            "latency_ms": pa.array(np.repeat([e.latency_ms for e in group], counts), pa.float64()),
            "error": repeat([e.error for e in group], pa.string()),
            "shadow": pa.array(np.repeat([e.shadow for e in group], counts), pa.bool_()),
        }
    )


def _table(group: Sequence[PredictionEntry]) -> pa.Table:
    table = _base(group)
    first = group[0].inputs
    if first is not None:
        for name, column in _features(group):
            table = table.append_column(f"f.{name}", column)
    counts = [e.rows for e in group]
    for name in ("prediction", "proba"):
        parts = [e.outputs if name == "prediction" else e.proba for e in group]
        if any(p is not None for p in parts):
            table = table.append_column(name, _outputs(parts, counts))
    return table


def _features(group: Sequence[PredictionEntry]) -> Iterator[tuple[str, pa.Array]]:
    first = group[0].inputs
    if isinstance(first, pd.DataFrame):
        frames: list[pd.DataFrame] = [e.inputs for e in group]
        for i, name in enumerate(first.columns):
            yield str(name), _arrow(np.concatenate([f.iloc[:, i].to_numpy() for f in frames]))
        return
    assert isinstance(first, ModelInput)
    inputs: list[ModelInput] = [e.inputs for e in group]  # type: ignore[misc]
    if first.names is None:  # a tensor: each row as a list
        yield "input", _nested(np.concatenate([i.arrays[0] for i in inputs]))
        return
    if first.block is not None:
        block = np.concatenate([i.block for i in inputs if i.block is not None])
        for j, name in enumerate(first.names):
            yield name, _arrow(block[:, j])
        return
    for j, name in enumerate(first.names):
        yield name, _arrow(np.concatenate([i.arrays[j] for i in inputs]))


def _outputs(parts: list[Any], counts: list[int]) -> pa.Array:
    arrays = [_as_array(p, n) for p, n in zip(parts, counts, strict=True)]
    if all(a is not None and a.ndim == 1 for a in arrays):
        kinds = {a.dtype.kind for a in arrays if a is not None}
        if len(kinds) == 1:
            return _arrow(np.concatenate(arrays))  # type: ignore[arg-type]
    if all(a is not None and a.ndim == 2 for a in arrays):
        widths = {a.shape[1] for a in arrays if a is not None}
        if len(widths) == 1:
            return _nested(np.concatenate(arrays))  # type: ignore[arg-type]
    values: list[Any] = []
    for array, count in zip(arrays, counts, strict=True):
        values.extend([None] * count if array is None else (scalar(v) for v in array))
    return _arrow(_objects(values))


def _as_array(value: Any, rows: int) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, pd.DataFrame | pd.Series):
        value = value.to_numpy()
    try:
        array = np.asarray(value)
    except ValueError:  # ragged
        array = _objects(value)
    if array.ndim == 0 or len(array) != rows:
        return None  # not one value per row: nothing to align with the inputs
    return array


def _nested(array: np.ndarray) -> pa.Array:
    """Rows of a 2-D (or deeper) array as a list per row."""
    flat = array.reshape(len(array), -1)
    if flat.dtype.kind in "biuf":
        # A plain list type, not a fixed-size one: files from other versions (another
        # width, or no value) must concatenate with these.
        offsets = pa.array(np.arange(len(flat) + 1, dtype=np.int32) * flat.shape[1])
        return pa.ListArray.from_arrays(offsets, pa.array(flat.reshape(-1)))
    return pa.array([[scalar(v) for v in row] for row in flat.tolist()])


def _arrow(values: np.ndarray) -> pa.Array:
    if values.dtype.kind not in "OUS":
        return pa.array(values)
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: text is always writable
        return pa.array([None if v is None else str(v) for v in values.tolist()], pa.string())


def scalar(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple | np.ndarray):
        return str(np.asarray(value).tolist())
    return str(value)
