"""Per-column data profiles: the mergeable reference statistics that drift monitoring compares.

A profile holds, per column, counts, moments, quantiles and a histogram (numeric and datetime
columns) or the most frequent values (categorical and boolean columns), plus a distinct-count
estimate. Each is backed by a mergeable sketch (see :mod:`loopml.data._sketch`), so profiles
of chunks, partitions or days merge into the profile of their union without the rows, as in
whylogs. Every column of a chunk is profiled in one vectorised pass; nothing loops over rows.

Conventions, decided once here:

- **NaN is a null** in numeric columns (pandas' convention), so a pandas frame and the Arrow
  table it converts to profile alike. ``nulls`` counts both.
- **±inf** values are counted in ``count`` and in ``nonfinite`` but stay out of min, max,
  mean, std, quantiles and histogram, which are therefore computed over the finite values.
- **std** is the sample standard deviation (``ddof=1``, as pandas), ``None`` below 2 values.
- **datetime** columns (timestamps and dates) are profiled as float seconds since the Unix
  epoch (UTC), which keeps microsecond resolution.
- Values of ``top`` are strings (booleans as ``"true"``/``"false"``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from datasketches import kll_doubles_sketch

from loopml.data._sketch import (
    KLL_K,
    ColumnState,
    Moments,
    TopItems,
    hash_floats,
    hash_strings,
    hll_estimate,
    hll_registers,
    kll_histogram,
    small_set,
)
from loopml.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

__all__ = ["QUANTILES", "ColumnProfile", "TableProfile", "profile_batches", "profile_table"]

#: The quantiles every numeric profile reports.
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
_FORMAT_VERSION = 1
# Seconds per unit, to put every datetime column on one scale.
_SECONDS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}

# polars is optional at run time: it is only looked at if the caller has already imported it.
Data: TypeAlias = "pa.Table | pa.RecordBatch | pd.DataFrame | pl.DataFrame"


@dataclass(frozen=True)
class ColumnProfile:
    """Summary statistics of one column; see the module docstring for NaN/inf conventions.

    Attributes:
        name: column name.
        kind: ``"numeric"``, ``"categorical"``, ``"boolean"``, ``"datetime"`` or ``"other"``.
        dtype: the Arrow type, as a string.
        count: non-null values. nulls: nulls, NaN included. nonfinite: ±inf values.
        distinct: estimated number of distinct non-null values (HyperLogLog, ~1.6% standard
            error; exact up to 1024 distinct values); ``None`` for ``"other"``.
        min, max, mean, std: of the finite values (numeric and datetime), else ``None``.
        quantiles: ``{q: value}`` for :data:`QUANTILES`, from a KLL sketch (rank error ~1.3%).
        histogram: ``{"edges": [...], "counts": [...]}``, ``bins`` equal-width bins from min
            to max, estimated from the KLL sketch.
        top: the ``top_k`` most frequent ``[value, count]`` pairs (categorical, boolean).
        top_error: each count in ``top`` may be short of the truth by at most this much, and
            a value absent from ``top`` (beyond the sketch's capacity) occurs at most this
            often; 0 means exact.
    """

    name: str
    kind: str
    dtype: str
    count: int
    nulls: int
    nonfinite: int = 0
    distinct: int | None = None
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[float, float] | None = None
    histogram: dict[str, list[Any]] | None = None
    top: list[list[Any]] | None = None
    top_error: int | None = None
    _state: ColumnState | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (no NaN/inf), including the sketches needed to merge."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_state"}
        if self.quantiles is not None:
            d["quantiles"] = {repr(q): v for q, v in self.quantiles.items()}
        d["state"] = None if self._state is None else self._state.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnProfile:
        """Rebuild a profile written by :meth:`to_dict`; it can still be merged.

        Raises:
            InvalidInput: if ``d`` is not a column profile.
        """
        try:
            kwargs = {f.name: d[f.name] for f in fields(cls) if f.name != "_state"}
            if kwargs["quantiles"] is not None:
                kwargs["quantiles"] = {float(q): v for q, v in kwargs["quantiles"].items()}
            state = None if d["state"] is None else ColumnState.from_dict(d["state"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"not a column profile: {exc!r}") from exc
        return cls(**kwargs, _state=state)


@dataclass(frozen=True)
class TableProfile:
    """Profiles of every column of a table (or of a stream of chunks), in column order.

    Attributes:
        num_rows: rows profiled.
        columns: column name to :class:`ColumnProfile`.
    """

    num_rows: int
    columns: dict[str, ColumnProfile]

    def merge(self, other: TableProfile) -> TableProfile:
        """The profile of both tables' rows together; neither input is changed.

        Raises:
            InvalidInput: if the column sets differ, or a column's kinds cannot merge.
        """
        missing = [n for n in self.columns if n not in other.columns]
        extra = [n for n in other.columns if n not in self.columns]
        if missing or extra:
            raise InvalidInput(
                f"cannot merge profiles with different columns: missing {missing} on the "
                f"right, {extra} on the left",
                details={"column": (missing or extra)[0], "missing": missing, "extra": extra},
            )
        left = {n: _state_of(c) for n, c in self.columns.items()}
        right = {n: _state_of(c) for n, c in other.columns.items()}
        return _finish(self.num_rows + other.num_rows, _merge_states(left, right))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form: ``json.dumps`` works on it as is."""
        return {
            "version": _FORMAT_VERSION,
            "num_rows": self.num_rows,
            "columns": {n: c.to_dict() for n, c in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableProfile:
        """Rebuild a profile written by :meth:`to_dict` (also after a JSON round trip).

        Raises:
            InvalidInput: if ``d`` is not a table profile of a known format version.
        """
        if not isinstance(d, dict) or d.get("version") != _FORMAT_VERSION:
            raise InvalidInput(f"not a table profile of format version {_FORMAT_VERSION}")
        columns = {n: ColumnProfile.from_dict(c) for n, c in d["columns"].items()}
        return cls(num_rows=int(d["num_rows"]), columns=columns)


def profile_table(data: Data, *, top_k: int = 20, bins: int = 20) -> TableProfile:
    """Profile every column of a table in one vectorised pass per column.

    Args:
        data: a ``pyarrow.Table``, ``pyarrow.RecordBatch``, pandas or polars DataFrame.
        top_k: most frequent values reported for categorical and boolean columns.
        bins: histogram bins for numeric and datetime columns.

    Returns:
        The table's profile.

    Raises:
        InvalidInput: for an unsupported input type, duplicate column names, a pandas column
            Arrow cannot convert, or ``top_k < 0`` / ``bins < 1``.
    """
    _check_params(top_k, bins)
    return _finish(*_chunk_states(data, top_k, bins))


def profile_batches(batches: Iterable[Data], *, top_k: int = 20, bins: int = 20) -> TableProfile:
    """Profile a stream of chunks in bounded memory: profile each chunk, merge the sketches.

    Only one chunk's rows and a fixed-size state per column are held at a time. An empty
    stream gives an empty profile (no rows, no columns).

    Args:
        batches: chunks of any type :func:`profile_table` accepts, all with the same columns.
        top_k: most frequent values reported for categorical and boolean columns.
        bins: histogram bins for numeric and datetime columns.

    Returns:
        The profile of all chunks together.

    Raises:
        InvalidInput: as :func:`profile_table`, or if the chunks' columns differ.
    """
    _check_params(top_k, bins)
    num_rows, states = 0, dict[str, ColumnState]()
    for i, batch in enumerate(batches):
        rows, chunk = _chunk_states(batch, top_k, bins)
        if i and list(chunk) != list(states):
            raise InvalidInput(
                f"chunk {i} has columns {list(chunk)}, expected {list(states)}",
                details={"chunk": i},
            )
        num_rows, states = num_rows + rows, _merge_states(states, chunk) if i else chunk
    return _finish(num_rows, states)


# ---------------------------------------------------------------------------- internals
def _check_params(top_k: int, bins: int) -> None:
    if top_k < 0 or bins < 1:
        raise InvalidInput(f"need top_k >= 0 and bins >= 1, got top_k={top_k}, bins={bins}")


def _state_of(column: ColumnProfile) -> ColumnState:
    if column._state is None:
        raise InvalidInput(f"column {column.name!r} has no sketch state and cannot be merged")
    return column._state


def _merge_states(
    left: dict[str, ColumnState], right: dict[str, ColumnState]
) -> dict[str, ColumnState]:
    merged = {}
    for name, state in left.items():
        try:
            merged[name] = state.merge(right[name])
        except ValueError as exc:
            raise InvalidInput(f"column {name!r}: {exc}", details={"column": name}) from exc
    return merged


def _finish(num_rows: int, states: dict[str, ColumnState]) -> TableProfile:
    return TableProfile(num_rows, {n: _summarise(n, s) for n, s in states.items()})


def _chunk_states(data: Data, top_k: int, bins: int) -> tuple[int, dict[str, ColumnState]]:
    num_rows, columns = _arrow_columns(data)
    states: dict[str, ColumnState] = {}
    for name, column in columns:
        if name in states:
            raise InvalidInput(f"duplicate column name {name!r}", details={"column": name})
        states[name] = _column_state(column, top_k, bins)
    return num_rows, states


def _arrow_columns(data: Data) -> tuple[int, Iterator[tuple[str, pa.ChunkedArray]]]:
    """Row count and lazily converted columns, so a pandas frame is converted one at a time."""
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(data, polars.DataFrame):
        data = data.to_arrow()
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return data.num_rows, zip(data.column_names, data.columns, strict=True)
    if isinstance(data, pd.DataFrame):
        return len(data), _pandas_columns(data)
    raise InvalidInput(
        f"cannot profile {type(data).__name__}: expected a pyarrow Table or RecordBatch, "
        "or a pandas or polars DataFrame"
    )


def _pandas_columns(df: pd.DataFrame) -> Iterator[tuple[str, pa.ChunkedArray]]:
    for i, name in enumerate(df.columns):
        try:
            array = _pandas_array(df.iloc[:, i])
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise InvalidInput(
                f"column {name!r} cannot be converted to Arrow ({exc}); cast it to one type",
                details={"column": str(name)},
            ) from exc
        yield str(name), pa.chunked_array([array])


def _pandas_array(series: pd.Series) -> pa.Array:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        # pyarrow reads tz-aware columns through Series.values, which pandas 3 deprecates
        # (a warning, an error under our test settings); convert the naive UTC values instead.
        naive = pa.array(series.dt.tz_convert(None), from_pandas=True)
        return naive.cast(pa.timestamp(naive.type.unit, tz=str(series.dt.tz)))
    return pa.array(series, from_pandas=True)


def _kind(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return "categorical"
    if getattr(pa.types, "is_string_view", lambda _: False)(t):
        return "categorical"
    return "other"


def _column_state(column: pa.ChunkedArray, top_k: int, bins: int) -> ColumnState:
    kind = _kind(column.type)
    state = ColumnState(kind, str(column.type), top_k, bins)
    if kind in ("numeric", "datetime"):
        _numeric(state, _as_float(column))
    elif kind in ("categorical", "boolean"):
        _categorical(state, column, capacity=max(100, 5 * top_k))
    else:
        state.nulls = column.null_count
        state.count = len(column) - state.nulls
    return state


def _as_float(column: pa.ChunkedArray) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The column as float64 with NaN for nulls; datetimes as seconds since the epoch."""
    t = column.type
    if pa.types.is_timestamp(t) or pa.types.is_date64(t):
        unit = t.unit if pa.types.is_timestamp(t) else "ms"
        values = pc.cast(column.cast(pa.int64()), pa.float64()).to_numpy()
        return np.asarray(values / _SECONDS[unit], dtype=np.float64)
    if pa.types.is_date32(t):
        values = pc.cast(column.cast(pa.int32()), pa.float64()).to_numpy()
        return np.asarray(values * 86400.0, dtype=np.float64)
    # safe=False: uint64 beyond 2**53 and decimals may round, which a profile tolerates.
    return np.asarray(pc.cast(column, pa.float64(), safe=False).to_numpy(), dtype=np.float64)


def _numeric(state: ColumnState, values: np.ndarray[Any, np.dtype[np.float64]]) -> None:
    is_nan = np.isnan(values)
    nulls = int(is_nan.sum())
    finite = values[np.isfinite(values)]
    state.nulls, state.count = nulls, values.size - nulls
    state.nonfinite = state.count - finite.size
    state.moments = Moments.of(finite)
    if finite.size:
        state.kll = kll_doubles_sketch(KLL_K)
        state.kll.update(finite)
    hashes = hash_floats(values[~is_nan] if nulls else values)
    state.hll = hll_registers(hashes)
    state.small = small_set(hashes, state.hll)


def _categorical(state: ColumnState, column: pa.ChunkedArray, *, capacity: int) -> None:
    state.nulls = column.null_count
    state.count = len(column) - state.nulls
    if getattr(pa.types, "is_string_view", lambda _: False)(column.type):
        column = column.cast(pa.large_string())  # value_counts does not take views everywhere
    counted = pc.value_counts(column)
    values = counted.field("values")
    keep = values.is_valid()  # value_counts also counts the nulls
    values = pc.cast(values.filter(keep), pa.large_string())
    counts = counted.field("counts").filter(keep).to_numpy()
    # The distinct sketch sees every distinct value; the frequency table only the top ones.
    hashes = hash_strings(values.to_numpy(zero_copy_only=False))
    state.hll = hll_registers(hashes)
    state.small = small_set(hashes, state.hll)
    error = 0
    if counts.size > capacity:
        order = np.argpartition(-counts, capacity)
        error = int(counts[order[capacity:]].max())
        chosen = order[:capacity]
        values, counts = values.take(pa.array(chosen)), counts[chosen]
    items = dict(zip(values.to_pylist(), counts.tolist(), strict=True))
    state.top = TopItems(items, error, capacity)


def _summarise(name: str, s: ColumnState) -> ColumnProfile:
    distinct = None
    if s.small is not None:
        distinct = int(s.small.size)
    elif s.hll is not None:
        distinct = min(round(hll_estimate(s.hll)), s.count)
    common: dict[str, Any] = {
        "name": name,
        "kind": s.kind,
        "dtype": s.dtype,
        "count": s.count,
        "nulls": s.nulls,
        "nonfinite": s.nonfinite,
        "distinct": distinct,
        "_state": s,
    }
    if s.top is not None:
        return ColumnProfile(**common, top=s.top.top(s.top_k), top_error=s.top.error)
    m = s.moments
    if m is None or s.kll is None:
        return ColumnProfile(**common)
    std = math.sqrt(m.m2 / (m.n - 1)) if m.n > 1 else None
    return ColumnProfile(
        **common,
        min=m.min,
        max=m.max,
        mean=_finite(m.mean),
        std=None if std is None else _finite(std),
        quantiles=dict(zip(QUANTILES, s.kll.get_quantiles(list(QUANTILES)), strict=True)),
        histogram=kll_histogram(s.kll, m.min, m.max, s.bins, m.n),
    )


def _finite(x: float) -> float | None:
    """None for values that overflowed, which JSON cannot carry."""
    return x if math.isfinite(x) else None
