"""Mergeable per-column sketch state behind data profiles: moments, KLL, HyperLogLog, top items.

Everything here is a *state*: built from one chunk with vectorised numpy / pyarrow code,
merged with another state of the same column without going back to the rows, and turned into
JSON-safe plain data and back. The readable summaries (mean, quantiles, histogram, ...) are
derived from these states by :mod:`loopml.data._profile`.
"""

from __future__ import annotations

import base64
import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from datasketches import kll_doubles_sketch

__all__ = [
    "HLL_P",
    "KLL_K",
    "SMALL_LIMIT",
    "ColumnState",
    "Moments",
    "TopItems",
    "hash_floats",
    "hash_strings",
    "hll_estimate",
    "hll_registers",
    "kll_histogram",
    "small_set",
]

FloatArray = npt.NDArray[np.float64]

#: KLL accuracy parameter; k=200 gives a normalised rank error of about 1.3% (whylogs: 256).
KLL_K = 200
#: Distinct counts up to this many are exact (the set of 64-bit hashes is kept).
SMALL_LIMIT = 1024
#: HyperLogLog precision: 2**12 registers, a relative standard error of 1.04/64 ~ 1.6%.
HLL_P = 12
# Bits of the 64-bit hash left after the register index; a register holds at most _HLL_Q + 1.
_HLL_Q = 64 - HLL_P
# pandas' default siphash key, pinned here so that persisted registers stay comparable even if
# pandas ever changes its default.
_HASH_KEY = "0123456789123456"


# ---------------------------------------------------------------------------------- moments
@dataclass(frozen=True)
class Moments:
    """Count, mean, sum of squared deviations (M2), min and max of the finite values."""

    n: int
    mean: float
    m2: float
    min: float
    max: float

    @classmethod
    def of(cls, finite: FloatArray) -> Moments | None:
        """Exact moments of a non-empty array of finite values (two-pass, so M2 is stable)."""
        if finite.size == 0:
            return None
        # Sums of huge finite values may overflow to inf; that surfaces as None, not a warning.
        with np.errstate(over="ignore", invalid="ignore"):
            mean = float(finite.mean())
            m2 = float(np.square(finite - mean).sum())
        return cls(int(finite.size), mean, m2, float(finite.min()), float(finite.max()))

    def merge(self, other: Moments) -> Moments:
        """Chan et al.'s parallel formula: exact up to float rounding, in any merge order."""
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        return Moments(n, mean, m2, min(self.min, other.min), max(self.max, other.max))


# ----------------------------------------------------------------------------- HyperLogLog
def hash_floats(values: FloatArray) -> npt.NDArray[np.uint64]:
    """64-bit hashes of non-NaN floats; ints are hashed as floats so int and float chunks agree."""
    # + 0.0 turns -0.0 into 0.0, which compare equal but differ in bits.
    return pd.util.hash_array(values + 0.0, hash_key=_HASH_KEY)


def hash_strings(values: npt.NDArray[np.object_]) -> npt.NDArray[np.uint64]:
    """64-bit siphash of Python strings (UTF-8), deterministic across processes."""
    return pd.util.hash_array(values, hash_key=_HASH_KEY, categorize=False)


def hll_registers(hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    """HyperLogLog registers of a hash array, vectorised (datasketches' HLL updates one by one).

    The top ``HLL_P`` bits pick a register; the register keeps the maximum over its hashes of
    the position of the first 1-bit in the remaining ``64 - HLL_P`` bits. Registers of two
    states merge by element-wise maximum.
    """
    registers = np.zeros(1 << HLL_P, dtype=np.uint8)
    if hashes.size == 0:
        return registers
    index = (hashes >> np.uint64(_HLL_Q)).astype(np.intp)
    rest = hashes & np.uint64((1 << _HLL_Q) - 1)
    # rest < 2**52 is exact in a float64, and frexp's exponent e is floor(log2(rest)) + 1, so
    # the leading-zero count plus one is Q + 1 - e (and Q + 1 for rest == 0, where e == 0).
    exponent = np.frexp(rest.astype(np.float64))[1]
    rank = (_HLL_Q + 1 - exponent).astype(np.uint8)
    np.maximum.at(registers, index, rank)
    return registers


def small_set(
    hashes: npt.NDArray[np.uint64], registers: npt.NDArray[np.uint8]
) -> npt.NDArray[np.uint64] | None:
    """Sorted distinct hashes if there are at most ``SMALL_LIMIT``, else ``None``.

    Distinct hashes are at least the non-zero registers, so the registers rule out large sets
    first and the O(n) ``pandas.unique`` only runs on low-cardinality columns.
    """
    if np.count_nonzero(registers) > SMALL_LIMIT:
        return None
    distinct = np.sort(pd.unique(hashes))
    return distinct if distinct.size <= SMALL_LIMIT else None


def hll_estimate(registers: npt.NDArray[np.uint8]) -> float:
    """Distinct-count estimate with Ertl's improved estimator (arXiv:1702.01284, algorithm 6).

    Unlike classic HLL it needs neither linear counting for small cardinalities nor empirical
    bias tables in the mid range, yet stays unbiased across the whole range.
    """
    m = registers.size
    hist = np.bincount(registers, minlength=_HLL_Q + 2).astype(np.float64)
    z = m * _tau(1.0 - hist[_HLL_Q + 1] / m)
    for k in range(_HLL_Q, 0, -1):
        z = 0.5 * (z + hist[k])
    z += m * _sigma(hist[0] / m)
    return float(m * m / (2.0 * math.log(2.0)) / z) if z != math.inf else 0.0


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        z_old, z = z, z + x * y
        y += y
        if z == z_old:
            return z


def _tau(x: float) -> float:
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        z_old = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == z_old:
            return z / 3.0


# ------------------------------------------------------------------------------- top items
@dataclass(frozen=True)
class TopItems:
    """The ``capacity`` most frequent values with their counts, mergeable approximately.

    Each chunk keeps its exact counts (from ``pyarrow.compute.value_counts``) for its top
    ``capacity`` values; merging sums counts and truncates again. ``error`` bounds what that
    loses: every kept count ``c`` satisfies ``c <= true count <= c + error``, and any value not
    kept occurred at most ``error`` times. ``error`` is 0 while nothing was ever dropped, in
    which case ``items`` is the exact and complete frequency table.
    """

    items: dict[str, int]
    error: int
    capacity: int

    def merge(self, other: TopItems) -> TopItems:
        """Sum counts over the union and truncate; bound = both bounds + largest count dropped."""
        summed = dict(self.items)
        for value, count in other.items.items():
            summed[value] = summed.get(value, 0) + count
        capacity = max(self.capacity, other.capacity)
        ranked = _ranked(summed)
        dropped = ranked[capacity][1] if len(ranked) > capacity else 0
        return TopItems(dict(ranked[:capacity]), self.error + other.error + dropped, capacity)

    def top(self, k: int) -> list[list[Any]]:
        """The ``k`` most frequent ``[value, count]`` pairs; ties broken by value for stability."""
        return [[value, count] for value, count in _ranked(self.items)[:k]]


def _ranked(items: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(items.items(), key=lambda item: (-item[1], item[0]))


# ------------------------------------------------------------------------------------- KLL
def kll_histogram(
    sketch: kll_doubles_sketch, lo: float, hi: float, bins: int, n: int
) -> dict[str, list[Any]]:
    """Equal-width histogram from min to max, estimated from the sketch's PMF.

    Bins are half-open ``[e_i, e_{i+1})`` except the last, which includes max, as in
    ``numpy.histogram``; counts are rounded so that they sum to ``n`` exactly. A column with a
    single value (min == max) gets one bin ``[min, max]``.
    """
    if lo == hi:
        return {"edges": [lo, hi], "counts": [n]}
    if math.isfinite(hi - lo):
        edges = np.linspace(lo, hi, bins + 1)
    else:  # the range overflows a float64; halving is exact, so the ends stay min and max
        edges = 2.0 * np.linspace(lo / 2.0, hi / 2.0, bins + 1)
    pmf = np.asarray(sketch.get_pmf(edges[1:-1].tolist()), dtype=np.float64) * n
    counts = np.floor(pmf).astype(np.int64)
    # Largest-remainder rounding keeps the total equal to n.
    short = n - int(counts.sum())
    if short > 0:
        counts[np.argsort(counts - pmf, kind="stable")[:short]] += 1
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def _kll_merge(a: kll_doubles_sketch | None, b: kll_doubles_sketch | None) -> Any:
    if a is None or b is None:
        return _kll_copy(a if b is None else b)
    merged = kll_doubles_sketch(KLL_K)
    merged.merge(a)
    merged.merge(b)
    return merged


def _kll_copy(sketch: kll_doubles_sketch | None) -> Any:
    return None if sketch is None else kll_doubles_sketch.deserialize(sketch.serialize())


# ----------------------------------------------------------------------------- column state
@dataclass
class ColumnState:
    """Everything needed to merge one column's profile; summaries are derived from it.

    ``small`` is the exact set of distinct value hashes while there are at most
    :data:`SMALL_LIMIT` of them (``None`` once exceeded), so that low-cardinality columns get
    an exact distinct count where HyperLogLog would be off by a few.

    ``count`` excludes nulls (and NaN, which counts as null); ``nonfinite`` counts the ±inf
    values among ``count``, which stay out of ``moments`` and ``kll``.
    """

    kind: str
    dtype: str
    top_k: int
    bins: int
    count: int = 0
    nulls: int = 0
    nonfinite: int = 0
    moments: Moments | None = None
    kll: Any = field(default=None, repr=False)
    hll: npt.NDArray[np.uint8] | None = field(default=None, repr=False)
    small: npt.NDArray[np.uint64] | None = field(default=None, repr=False)
    top: TopItems | None = None

    def merge(self, other: ColumnState) -> ColumnState:
        """A new state for the union of both states' rows; neither input is changed.

        Kinds must agree, except that a side without any value (an all-null chunk, which
        Arrow may type as ``null``) takes the other side's kind.
        """
        if self.count == 0 and other.count > 0:
            kind, dtype = other.kind, other.dtype
        else:
            kind, dtype = self.kind, self.dtype
        if self.count and other.count and self.kind != other.kind:
            raise ValueError(f"kind {self.kind!r} cannot merge with {other.kind!r}")
        return ColumnState(
            kind=kind,
            dtype=dtype,
            top_k=self.top_k,
            bins=self.bins,
            count=self.count + other.count,
            nulls=self.nulls + other.nulls,
            nonfinite=self.nonfinite + other.nonfinite,
            moments=_merge_optional(self.moments, other.moments),
            kll=_kll_merge(self.kll, other.kll),
            hll=_merge_optional_hll(self.hll, other.hll),
            small=_merge_small(self.small, other.small),
            top=_merge_optional(self.top, other.top),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: KLL bytes and zlib-compressed HLL registers as base64."""
        m, t = self.moments, self.top
        return {
            "kind": self.kind,
            "dtype": self.dtype,
            "top_k": self.top_k,
            "bins": self.bins,
            "count": self.count,
            "nulls": self.nulls,
            "nonfinite": self.nonfinite,
            # Overflowed moments are kept as "inf"/"nan" strings: JSON has no such numbers.
            "moments": None if m is None else [m.n, *map(_jfloat, (m.mean, m.m2, m.min, m.max))],
            "kll": None if self.kll is None else _b64(self.kll.serialize()),
            "hll": None if self.hll is None else _b64(zlib.compress(self.hll.tobytes())),
            "small": None if self.small is None else _b64(self.small.tobytes()),
            "top": None if t is None else {"items": list(t.items.items()), **_top_meta(t)},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnState:
        """Inverse of :meth:`to_dict`."""
        m, t = d["moments"], d["top"]
        return cls(
            kind=d["kind"],
            dtype=d["dtype"],
            top_k=d["top_k"],
            bins=d["bins"],
            count=d["count"],
            nulls=d["nulls"],
            nonfinite=d["nonfinite"],
            moments=None if m is None else Moments(int(m[0]), *map(float, m[1:])),
            kll=None if d["kll"] is None else kll_doubles_sketch.deserialize(_unb64(d["kll"])),
            hll=None
            if d["hll"] is None
            else np.frombuffer(zlib.decompress(_unb64(d["hll"])), dtype=np.uint8).copy(),
            small=None
            if d["small"] is None
            else np.frombuffer(_unb64(d["small"]), dtype=np.uint64).copy(),
            top=None
            if t is None
            else TopItems({v: int(c) for v, c in t["items"]}, t["error"], t["capacity"]),
        )


def _merge_optional(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return a if b is None else b
    return a.merge(b)


def _merge_small(
    a: npt.NDArray[np.uint64] | None, b: npt.NDArray[np.uint64] | None
) -> npt.NDArray[np.uint64] | None:
    if a is None or b is None:
        return None
    union = np.union1d(a, b)
    return union if union.size <= SMALL_LIMIT else None


def _merge_optional_hll(
    a: npt.NDArray[np.uint8] | None, b: npt.NDArray[np.uint8] | None
) -> npt.NDArray[np.uint8] | None:
    if a is None or b is None:
        return a if b is None else b
    return np.maximum(a, b)


def _jfloat(x: float) -> float | str:
    return x if math.isfinite(x) else repr(x)


def _top_meta(t: TopItems) -> dict[str, int]:
    return {"error": t.error, "capacity": t.capacity}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))
