"""Mergeable summaries of one sample's columns, built chunk by chunk in bounded memory.

Drift statistics never look at rows: each side (reference, current) is reduced to one
:class:`ColumnSummary` per column, chunk by chunk, and the statistics are computed from two
summaries (see :mod:`loopml.monitoring._stats`). Summaries of chunks, Parquet row groups or
Dask partitions merge into the summary of their union.

Per column a summary keeps:

- numeric (integers, floats, decimals; datetimes as seconds since the epoch): the count of
  missing values (null, NaN and ±inf), exact moments of the finite values, a KLL quantile
  sketch (Apache DataSketches, ``k = KLL_K``) and, while the column has at most
  ``SMALL_DISTINCT`` distinct values, their exact counts;
- categorical (strings, dictionaries, booleans): missing count and the exact count of each
  value, up to ``MAX_CATEGORIES`` values (beyond, the rarest are cut and their mass is kept
  as "other").

A KLL sketch holds its first ``KLL_K`` values exactly, so samples up to that size give exact
statistics (equal to scipy's on the raw values) and are deterministic. Above it the sketch
compacts at random: ranks are then within about ``KLL_RANK_ERROR`` of the truth (99%
confidence), and scores may vary between runs at that level.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from datasketches import kll_doubles_sketch

from loopml.errors import InvalidInput

__all__ = [
    "CATEGORICAL",
    "EMPTY",
    "KLL_K",
    "KLL_RANK_ERROR",
    "MAX_CATEGORIES",
    "NUMERIC",
    "SMALL_DISTINCT",
    "UNSUPPORTED",
    "ColumnSummary",
    "TableSummary",
    "arrow_kind",
]

FloatArray = npt.NDArray[np.float64]

#: KLL accuracy parameter: exact up to this many values per column and side.
KLL_K = 4096
#: Single-sided normalised rank error of the sketch above ``KLL_K`` values (99% confidence).
KLL_RANK_ERROR = float(kll_doubles_sketch.get_normalized_rank_error(KLL_K, False))
#: Numeric columns with at most this many distinct values also keep exact value counts.
SMALL_DISTINCT = 16
#: Categorical columns keep exact counts for at most this many values.
MAX_CATEGORIES = 10_000

NUMERIC, CATEGORICAL, EMPTY, UNSUPPORTED = "numeric", "categorical", "empty", "unsupported"
_SECONDS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
# Distinct values counted in a chunk's head before paying for a full count of the chunk.
_HEAD = 2048


def arrow_kind(t: pa.DataType) -> str:
    """How a column of Arrow type ``t`` is compared: numeric, categorical, empty or unsupported."""
    if pa.types.is_null(t):
        return EMPTY
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return NUMERIC
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return NUMERIC
    if pa.types.is_dictionary(t):
        return arrow_kind(t.value_type)
    if pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        return CATEGORICAL
    if getattr(pa.types, "is_string_view", lambda _: False)(t):
        return CATEGORICAL
    return UNSUPPORTED


@dataclass
class ColumnSummary:
    """One column of one sample; see the module docstring for what is kept.

    Attributes:
        name: the column.
        kind: ``numeric``, ``categorical``, ``empty`` (only nulls seen so far) or
            ``unsupported`` (nested or binary types: counted, never compared).
        dtype: the Arrow type of the first chunk with values, as a string.
        rows: values seen, missing ones included. missing: null, NaN and ±inf values.
        mixed: some values were of mixed Python types and were compared as text.
    """

    name: str
    kind: str = EMPTY
    dtype: str = "null"
    rows: int = 0
    missing: int = 0
    mixed: bool = False
    mean: float = 0.0
    m2: float = 0.0
    kll: Any = field(default=None, repr=False)
    small: dict[float, int] | None = field(default_factory=dict, repr=False)
    counts: dict[str, int] = field(default_factory=dict, repr=False)
    cut: int = 0  # the largest count dropped when categories were cut to MAX_CATEGORIES

    @property
    def count(self) -> int:
        """Non-missing values."""
        return self.rows - self.missing

    @property
    def std(self) -> float:
        """Population standard deviation of the finite values (0 for fewer than two)."""
        return float(np.sqrt(self.m2 / self.count)) if self.count > 1 else 0.0

    # -- building ---------------------------------------------------------------------------
    def add(self, column: pa.Array | pa.ChunkedArray, *, mixed: bool = False) -> None:
        """Fold one chunk of the column in."""
        if pa.types.is_dictionary(column.type):  # pandas categoricals, Parquet dictionaries
            column = column.cast(column.type.value_type)
        kind = arrow_kind(column.type)
        self._adopt(kind, str(column.type))
        self.mixed = self.mixed or mixed
        if kind == NUMERIC:
            self._add_numeric(_as_float(column))
        elif kind == CATEGORICAL:
            self._add_categorical(column)
        else:
            self.rows += len(column)
            self.missing += len(column) if kind == EMPTY else column.null_count

    def _adopt(self, kind: str, dtype: str) -> None:
        if kind == EMPTY or kind == self.kind:
            return
        if self.kind != EMPTY:
            raise InvalidInput(
                f"column {self.name!r} is {self.kind} ({self.dtype}) in one chunk and {kind} "
                f"({dtype}) in another; cast it to one type",
                details={"column": self.name},
            )
        self.kind, self.dtype = kind, dtype

    def _add_numeric(self, values: FloatArray) -> None:
        ok = np.isfinite(values)
        finite = values if ok.all() else values[ok]
        self.rows += values.size
        self.missing += values.size - finite.size
        if finite.size == 0:
            return
        # Sums about the first value, in one temporary: centring on a data value keeps the
        # cancellation harmless. (Not np.dot: BLAS threads spin on a busy machine.)
        shifted = finite - finite[0]
        total = float(shifted.sum())
        mean = float(finite[0]) + total / finite.size
        m2 = max(0.0, float(np.square(shifted, out=shifted).sum()) - total * total / finite.size)
        self._merge_moments(finite.size, mean, m2)
        if self.kll is None:
            self.kll = kll_doubles_sketch(KLL_K)
        # The sketch's binding takes writable arrays only; Arrow's zero-copy views are not.
        self.kll.update(finite if finite.flags.writeable else finite.copy())
        if self.small is not None:
            self.small = _merge_small(self.small, _small_counts(finite))

    def _merge_moments(self, n: int, mean: float, m2: float) -> None:
        # Chan et al.'s parallel update; self.count already includes the new values' rows,
        # so the old count is what it was before this chunk.
        old = self.count - n
        total = old + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * old * n / total

    def _add_categorical(self, column: pa.Array | pa.ChunkedArray) -> None:
        self.rows += len(column)
        self.missing += column.null_count
        if getattr(pa.types, "is_string_view", lambda _: False)(column.type):
            column = column.cast(pa.large_string())
        counted = pc.value_counts(column)
        values = counted.field("values")
        keep = values.is_valid()
        counts = counted.field("counts").filter(keep).to_pylist()
        keys = values.filter(keep).to_pylist()
        if pa.types.is_boolean(column.type):
            keys = ["true" if k else "false" for k in keys]
        _add_counts(self, dict(zip(keys, counts, strict=True)))

    # -- merging ----------------------------------------------------------------------------
    def merge(self, other: ColumnSummary) -> None:
        """Fold another summary of the same column (another chunk or partition) in."""
        self._adopt(other.kind, other.dtype)
        self.mixed = self.mixed or other.mixed
        self.rows += other.rows
        self.missing += other.missing
        if other.kind == NUMERIC and other.kll is not None:
            if self.kll is None:
                self.kll = kll_doubles_sketch(KLL_K)
            self.kll.merge(other.kll)
            self._merge_moments(other.count, other.mean, other.m2)
        if self.small is not None:
            self.small = None if other.small is None else _merge_small(self.small, other.small)
        if other.counts or other.cut:
            self.cut = max(self.cut, other.cut)
            _add_counts(self, other.counts)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.kll is not None:
            state["kll"] = bytes(self.kll.serialize())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("kll") is not None:
            state["kll"] = kll_doubles_sketch.deserialize(state["kll"])
        self.__dict__.update(state)


@dataclass
class TableSummary:
    """Summaries of the columns of one sample (reference or current), with its row count."""

    rows: int = 0
    columns: dict[str, ColumnSummary] = field(default_factory=dict)

    def add(
        self, rows: int, columns: Iterable[tuple[str, pa.Array | pa.ChunkedArray, bool]]
    ) -> None:
        """Fold one chunk in: ``columns`` yields ``(name, values, mixed)``, possibly lazily
        (a pandas frame is converted one column at a time)."""
        self.rows += rows
        for name, values, mixed in columns:
            self.columns.setdefault(name, ColumnSummary(name)).add(values, mixed=mixed)

    def merge(self, other: TableSummary) -> TableSummary:
        """Fold another summary in (of other rows of the same table); returns ``self``."""
        self.rows += other.rows
        for name, column in other.columns.items():
            mine = self.columns.get(name)
            if mine is None:
                self.columns[name] = column
            else:
                mine.merge(column)
        return self


# ---------------------------------------------------------------------------- internals
def _as_float(column: pa.Array | pa.ChunkedArray) -> FloatArray:
    """The values as float64, NaN for nulls; datetimes as seconds since the epoch."""
    t = column.type
    if pa.types.is_timestamp(t) or pa.types.is_date64(t):
        unit = t.unit if pa.types.is_timestamp(t) else "ms"
        ints = pc.cast(column.cast(pa.int64()), pa.float64())
        return np.asarray(_to_numpy(ints), dtype=np.float64) / _SECONDS[unit]
    if pa.types.is_date32(t):
        days = pc.cast(column.cast(pa.int32()), pa.float64())
        return np.asarray(_to_numpy(days), dtype=np.float64) * 86400.0
    if not pa.types.is_float64(t):
        # safe=False: uint64 beyond 2**53 and decimals may round, which a distribution bears.
        column = pc.cast(column, pa.float64(), safe=False)
    return np.asarray(_to_numpy(column), dtype=np.float64)


def _to_numpy(column: pa.Array | pa.ChunkedArray) -> Any:
    if column.null_count:
        column = pc.fill_null(column, float("nan"))
    return column.to_numpy()


def _small_counts(finite: FloatArray) -> dict[float, int] | None:
    """Exact value counts if the chunk has at most SMALL_DISTINCT distinct values, else None."""
    head = finite[:_HEAD]
    # np.unique sorts: cheap on the head, and the whole chunk is only counted when the head
    # suggests a low-cardinality column.
    if np.unique(head).size > SMALL_DISTINCT:
        return None
    counted = pc.value_counts(pa.array(finite + 0.0))  # + 0.0: -0.0 and 0.0 are one value
    if len(counted) > SMALL_DISTINCT:
        return None
    values = counted.field("values").to_pylist()
    return dict(zip(values, counted.field("counts").to_pylist(), strict=True))


def _merge_small(a: dict[float, int], b: dict[float, int] | None) -> dict[float, int] | None:
    if b is None:
        return None
    merged = dict(a)
    for value, count in b.items():
        merged[value] = merged.get(value, 0) + count
    return merged if len(merged) <= SMALL_DISTINCT else None


def _add_counts(summary: ColumnSummary, counts: dict[str, int]) -> None:
    into = summary.counts
    for value, count in counts.items():
        into[value] = into.get(value, 0) + count
    if len(into) > 2 * MAX_CATEGORIES:  # cut rarely, so that adding stays amortised O(1)
        ranked = sorted(into.items(), key=lambda item: (-item[1], item[0]))
        summary.cut = max(summary.cut, ranked[MAX_CATEGORIES][1])
        summary.counts = dict(ranked[:MAX_CATEGORIES])
