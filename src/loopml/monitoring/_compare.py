"""One column's drift verdict from two summaries: method choice, threshold, notes, chart.

The automatic choice (Evidently's rule, keyed on the smaller sample rather than the
reference alone, so that a small window gets a test whatever the reference's size):

================================  =====================  ============================
column                            min(n_ref, n_cur)      method (drift when)
================================  =====================  ============================
numeric, > 5 distinct values      <= 1000                KS (p < alpha)
categorical, or numeric <= 5      <= 1000                chi-square (p < alpha)
numeric, > 5 distinct values      > 1000                 Wasserstein / std_ref (>= t)
categorical, or numeric <= 5      > 1000                 Jensen-Shannon (>= t)
================================  =====================  ============================

Distinct values are counted over both samples together, as Evidently does. ``alpha`` is
0.05. A distance's threshold is ``t = max(base, q)``: ``base`` is 0.1 for Wasserstein,
Jensen-Shannon and PSI (Evidently's defaults), and ``q`` the ``1 - alpha`` quantile of the
distance under random relabelling of the pooled samples (a permutation null, 500 seeded
replicates: :func:`~loopml.monitoring._stats.null_quantile`), so noise alone crosses ``t``
with probability at most ``alpha`` however small the window; for large samples ``q`` falls
far below ``base`` and the fixed thresholds apply, as in Evidently.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.monitoring._report import Chart, FeatureDrift
from loopml.monitoring._stats import (
    Dist,
    chisquare,
    jensenshannon,
    ks,
    null_quantile,
    psi,
    quantile_edges,
    wasserstein,
    wasserstein_null,
)
from loopml.monitoring._summary import CATEGORICAL, EMPTY, NUMERIC, ColumnSummary

__all__ = ["BASE_THRESHOLDS", "METHODS", "SMALL_SAMPLE", "Options", "compare"]

METHODS = ("ks", "chisquare", "psi", "wasserstein", "jensenshannon")
TESTS = ("ks", "chisquare")
NUMERIC_ONLY = ("ks", "wasserstein")
#: Thresholds of the distances; the tests use ``alpha``.
BASE_THRESHOLDS = {"psi": 0.1, "wasserstein": 0.1, "jensenshannon": 0.1}
#: At most this many values in the smaller sample: a test rather than a distance.
SMALL_SAMPLE = 1000
#: Numeric columns with at most this many distinct values (both samples) count as categorical.
DISCRETE_MAX = 5
_CHART_BINS = 20
_UNSEEN_LISTED = 10


@dataclass(frozen=True)
class Options:
    """Settings shared by every column of one report."""

    alpha: float = 0.05
    size_aware: bool = True
    bins: int = 10
    seed: int = 0


def compare(
    ref: ColumnSummary,
    cur: ColumnSummary,
    *,
    method: str | None,
    threshold: Callable[[str], float | None],
    options: Options,
    role: str = "feature",
) -> FeatureDrift:
    """The verdict on one column; ``method`` None chooses automatically, and
    ``threshold(method)`` gives the configured threshold of the method used (None: default).

    Raises:
        InvalidInput: if ``method`` does not apply to the column (KS or Wasserstein on a
            categorical column).
    """
    common: dict[str, Any] = {
        "feature": ref.name,
        "role": role,
        "n_reference": ref.count,
        "n_current": cur.count,
        "missing_reference": ref.missing / ref.rows if ref.rows else 0.0,
        "missing_current": cur.missing / cur.rows if cur.rows else 0.0,
    }
    notes = _notes(ref, cur, common)
    skipped = _untestable(ref, cur, common, notes)
    if skipped is not None:
        return skipped
    numeric = ref.kind == NUMERIC
    as_categorical = not numeric or _discrete(ref, cur)
    if method is None:
        small = min(ref.count, cur.count) <= SMALL_SAMPLE
        if as_categorical:
            method = "chisquare" if small else "jensenshannon"
        else:
            method = "ks" if small else "wasserstein"
    elif method in NUMERIC_ONLY and not numeric:
        raise InvalidInput(
            f"{method} compares numeric columns; {ref.name!r} is categorical (use chisquare, "
            "psi or jensenshannon)",
            details={"column": ref.name, "method": method},
        )
    limit = threshold(method)
    rng = np.random.default_rng([options.seed, zlib.crc32(ref.name.encode())])
    if not numeric:
        a, b = _category_bins(ref, cur, common, notes)[1:]
        verdict = _binned(method, a, b, limit, options, rng)
        chart = _category_chart(ref, cur)
        return FeatureDrift(method=method, kind=CATEGORICAL, chart=chart, notes=tuple(notes),
                            **verdict, **common)  # fmt: skip
    dref, dcur = Dist.of(ref), Dist.of(cur)
    below = dcur.cdf(np.array([dref.lo]), inclusive=False)[0]
    common["unseen"] = float(below + 1.0 - dcur.cdf(np.array([dref.hi]))[0])
    if method in NUMERIC_ONLY:
        verdict = _numeric(method, dref, dcur, ref, limit, options, rng, notes)
    else:
        if ref.small is not None and cur.small is not None:  # few values: a bin per value
            a, b = _value_bins(ref.small, cur.small)[1:]
        else:
            edges = quantile_edges(dref, options.bins)
            a, b = dref.counts(edges), dcur.counts(edges)
        verdict = _binned(method, a, b, limit, options, rng)
    if as_categorical:
        chart, kind = _bar_chart(*_value_bins(ref.small, cur.small)), CATEGORICAL
    else:
        chart, kind = _histogram(dref, dcur), NUMERIC
    return FeatureDrift(method=method, kind=kind, chart=chart, notes=tuple(notes), **verdict,
                        **common)  # fmt: skip


# ------------------------------------------------------------------------------- cases
def _notes(ref: ColumnSummary, cur: ColumnSummary, common: dict[str, Any]) -> list[str]:
    notes = []
    if ref.mixed or cur.mixed:
        notes.append("values of mixed types were compared as text")
    gap = common["missing_current"] - common["missing_reference"]
    if abs(gap) >= 0.05 and ref.count and cur.count:
        notes.append(
            f"missing values went from {common['missing_reference']:.1%} to "
            f"{common['missing_current']:.1%} (compared on the values present)"
        )
    return notes


def _untestable(
    ref: ColumnSummary, cur: ColumnSummary, common: dict[str, Any], notes: list[str]
) -> FeatureDrift | None:
    kinds = {ref.kind, cur.kind} - {EMPTY}
    row = {"score": None, "threshold": None, **common}
    if kinds - {NUMERIC, CATEGORICAL}:
        odd = ref if ref.kind not in (NUMERIC, CATEGORICAL, EMPTY) else cur
        notes.append(f"type {odd.dtype} is not compared")
        return FeatureDrift(kind="unsupported", method="none", drifted=False,
                            notes=tuple(notes), **row)  # fmt: skip
    if len(kinds) == 2:
        notes.append(f"type changed from {ref.dtype} ({ref.kind}) to {cur.dtype} ({cur.kind})")
        return FeatureDrift(kind=cur.kind, method="type", drifted=True,
                            notes=tuple(notes), **row)  # fmt: skip
    if ref.count and cur.count:
        return None
    if not ref.count and not cur.count:
        notes.append("no value in either sample")
        return FeatureDrift(kind=EMPTY, method="none", drifted=False, notes=tuple(notes), **row)
    side = "current window" if ref.count else "reference"
    notes.append(f"every value is missing in the {side}")
    return FeatureDrift(kind=(kinds or {EMPTY}).pop(), method="missing", drifted=True,
                        notes=tuple(notes), **row)  # fmt: skip


def _discrete(ref: ColumnSummary, cur: ColumnSummary) -> bool:
    if ref.small is None or cur.small is None:
        return False
    return len(ref.small.keys() | cur.small.keys()) <= DISCRETE_MAX


def _numeric(
    method: str,
    dref: Dist,
    dcur: Dist,
    ref: ColumnSummary,
    threshold: float | None,
    options: Options,
    rng: np.random.Generator,
    notes: list[str],
) -> dict[str, Any]:
    if method == "ks":
        d, p = ks(dref, dcur)
        limit = options.alpha if threshold is None else threshold
        return {"score": p, "statistic": d, "p_value": p, "threshold": limit,
                "base_threshold": limit, "drifted": p < limit}  # fmt: skip
    scale = ref.std
    if scale <= 0.0:
        # A constant reference has no spread to measure a shift in: use the pooled sample's
        # (it is positive, or the column would be discrete and compared as categories).
        pooled = np.concatenate([dref.values, dcur.values])
        scale = float(np.std(pooled)) or 1.0
        notes.append("the reference is constant: distances are in the pooled sample's std")
    score = wasserstein(dref, dcur, scale)
    pooled, null_score = wasserstein_null(dref, dcur, scale)
    return _distance(score, pooled, null_score, dref.n, method, threshold, options, rng)


def _binned(
    method: str,
    a: np.ndarray[Any, Any],
    b: np.ndarray[Any, Any],
    threshold: float | None,
    options: Options,
    rng: np.random.Generator,
) -> dict[str, Any]:
    if method == "chisquare":
        stat, p = chisquare(a, b)
        limit = options.alpha if threshold is None else threshold
        return {"score": p, "statistic": stat, "p_value": p, "threshold": limit,
                "base_threshold": limit, "drifted": p < limit}  # fmt: skip
    fn = psi if method == "psi" else jensenshannon
    return _distance(float(fn(a, b)), np.rint(a + b), fn, round(a.sum()), method, threshold,
                     options, rng)  # fmt: skip


def _distance(
    score: float,
    pooled: np.ndarray[Any, Any],
    null_score: Any,
    n: int,
    method: str,
    threshold: float | None,
    options: Options,
    rng: np.random.Generator,
) -> dict[str, Any]:
    base = BASE_THRESHOLDS[method] if threshold is None else threshold
    null = None
    if options.size_aware:
        null = null_quantile(null_score, pooled, n, level=1.0 - options.alpha, rng=rng,
                             below=base)  # fmt: skip
    limit = base if null is None else max(base, null)
    return {"score": score, "statistic": score, "threshold": limit, "base_threshold": base,
            "null_threshold": null, "drifted": score >= limit}  # fmt: skip


# -------------------------------------------------------------------------------- bins
def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:.6g}"


def _value_bins(
    ref: dict[float, int] | None, cur: dict[float, int] | None
) -> tuple[list[str], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    ref, cur = ref or {}, cur or {}
    values = sorted(ref.keys() | cur.keys())
    a = np.array([ref.get(v, 0) for v in values], dtype=np.float64)
    b = np.array([cur.get(v, 0) for v in values], dtype=np.float64)
    return [_label(v) for v in values], a, b


def _category_bins(
    ref: ColumnSummary, cur: ColumnSummary, common: dict[str, Any], notes: list[str]
) -> tuple[list[str], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Reference categories, then the current's unseen ones, then ``other`` if cut."""
    known = sorted(ref.counts, key=lambda k: (-ref.counts[k], k))
    new = sorted((k for k in cur.counts if k not in ref.counts), key=lambda k: (-cur.counts[k], k))
    a = [float(ref.counts[k]) for k in known]
    b = [float(cur.counts.get(k, 0)) for k in known]
    labels = list(known)
    if ref.cut or cur.cut:
        # Categories beyond the tracked ones may be rare reference values: no unseen verdict.
        notes.append("over 10,000 categories: the rarest were pooled as 'other'")
        other_ref = ref.count - sum(ref.counts.values())
        other_cur = cur.count - sum(b)
        return [*labels, "other"], np.array([*a, other_ref]), np.array([*b, other_cur])
    unseen = sum(cur.counts[k] for k in new)
    common["unseen"] = unseen / cur.count
    common["unseen_values"] = tuple(new[:_UNSEEN_LISTED])
    if new:
        notes.append(f"{len(new)} categor{'y' if len(new) == 1 else 'ies'} unseen in the reference")
    labels += new
    a += [0.0] * len(new)
    b += [float(cur.counts[k]) for k in new]
    return labels, np.array(a), np.array(b)


# ------------------------------------------------------------------------------- charts
def _shares(x: np.ndarray[Any, Any]) -> tuple[float, ...]:
    total = x.sum()
    return tuple(float(v) for v in (x / total if total else x))


def _bar_chart(labels: list[str], a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> Chart:
    if len(labels) > _CHART_BINS:  # the largest bins, then the rest as one
        order = np.argsort(-np.maximum(a / a.sum(), b / b.sum()), kind="stable")
        keep, rest = order[: _CHART_BINS - 1], order[_CHART_BINS - 1 :]
        labels = [*(labels[i] for i in keep), "other"]
        a = np.append(a[keep], a[rest].sum())
        b = np.append(b[keep], b[rest].sum())
    return Chart(tuple(labels), _shares(a), _shares(b))


def _category_chart(ref: ColumnSummary, cur: ColumnSummary) -> Chart:
    labels, a, b = _category_bins(ref, cur, {}, [])
    return _bar_chart(labels, a, b)


def _histogram(dref: Dist, dcur: Dist) -> Chart:
    """Equal-width bins over both samples' central 99%; the outer bins are open-ended."""
    tails = np.array([0.005, 0.995])
    lo = float(min(dref.quantile(tails)[0], dcur.quantile(tails)[0]))
    hi = float(max(dref.quantile(tails)[1], dcur.quantile(tails)[1]))
    if lo == hi:
        lo, hi = min(dref.lo, dcur.lo), max(dref.hi, dcur.hi)
    if lo == hi:
        return Chart((_label(lo),), (1.0,), (1.0,))
    edges = np.linspace(lo, hi, _CHART_BINS + 1)[1:-1]
    centres = np.linspace(lo, hi, 2 * _CHART_BINS + 1)[1::2]
    labels = tuple(f"{c:.3g}" for c in centres)
    return Chart(labels, _shares(dref.counts(edges)), _shares(dcur.counts(edges)))
