"""Drift statistics between two summarised samples, and their null distribution by resampling.

Everything here works on summaries, never on rows: a numeric sample is a :class:`Dist`
(sorted distinct values with weights, from the column's KLL sketch, exact up to ``KLL_K``
values), a categorical or binned sample a vector of counts over shared bins. The binned
statistics (PSI, Jensen-Shannon, chi-square) and the resampled nulls are vectorised over a
leading axis of replicates.

Formulas (``e`` reference shares, ``a`` current shares over the same bins):

- **KS**: D = sup |F_ref - F_cur|; exact samples go to ``scipy.stats.ks_2samp`` (exact
  p-values for small samples), sketched ones give D over the union of retained values and
  the asymptotic p-value ``kstwo.sf(D, round(n*m / (n + m)))``, as scipy's ``asymp`` mode.
- **Wasserstein**: W1 = ∫|F_ref - F_cur| dx on the weighted values (equal to
  ``scipy.stats.wasserstein_distance``), divided by the reference's standard deviation.
- **PSI**: Σ (a - e)*ln(a / e), both shares clipped at ``PSI_EPS`` alike (one-sided filling
  inflates PSI, Evidently #334).
- **Jensen-Shannon distance**: ``scipy.spatial.distance.jensenshannon`` in base 2, so it lies
  in [0, 1] (Evidently uses the natural log: its values are ≈ 0.83x ours).
- **chi-square**: ``scipy.stats.chi2_contingency`` on the 2 x K table of counts (a test of
  homogeneity, so a category the reference lacks is fine), after pooling categories with
  fewer than 5 values in both samples together, without Yates' correction.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats
from scipy.spatial.distance import jensenshannon as _jensenshannon

from loopml.monitoring._summary import ColumnSummary

__all__ = [
    "NULL_GRID",
    "NULL_REPS",
    "PSI_EPS",
    "Dist",
    "chisquare",
    "jensenshannon",
    "ks",
    "null_quantile",
    "psi",
    "quantile_edges",
    "wasserstein",
    "wasserstein_null",
]

FloatArray = npt.NDArray[np.float64]

#: Shares below this are raised to it on both sides before PSI takes logarithms.
PSI_EPS = 1e-4
#: Replicates drawn for a null distribution.
NULL_REPS = 500
_PILOT_REPS = 100
#: Support points of the reference used when resampling Wasserstein's null.
NULL_GRID = 1024
# Categories with fewer pooled values than this are merged before the chi-square test, whose
# approximation needs expected counts of about 5.
_CHI2_MIN = 5
# Permutation nulls: exact draws up to this many pooled values, or up to this many bins, or
# when a bin expects fewer than this many values; else a normal approximation.
_EXACT_SPLIT = 20_000
_FEW_BINS = 64
_GAUSS_MIN = 20


@dataclass(frozen=True)
class Dist:
    """A numeric sample as sorted distinct values with weights (counts, or sketch weights).

    Attributes:
        values: sorted distinct values. weights: their weights, summing to ``n``.
        n: values summarised. exact: the weights are the true counts (no compaction).
        lo, hi: the sample's exact minimum and maximum (a sketch may not retain them).
    """

    values: FloatArray
    weights: FloatArray
    n: int
    exact: bool
    lo: float = float("nan")
    hi: float = float("nan")

    @classmethod
    def of(cls, summary: ColumnSummary) -> Dist:
        """The sample a numeric column summary holds (empty if it has no finite value)."""
        sketch = summary.kll
        if sketch is None:
            return cls(np.empty(0), np.empty(0), 0, True)
        flat = itertools.chain.from_iterable(sketch)  # (value, weight) pairs, unsorted
        pairs = np.fromiter(flat, np.float64, count=2 * sketch.num_retained).reshape(-1, 2)
        order = np.argsort(pairs[:, 0], kind="stable")
        values, weights = pairs[order, 0], pairs[order, 1]
        distinct, first = np.unique(values, return_index=True)
        return cls(distinct, np.add.reduceat(weights, first), int(sketch.n),
                   not sketch.is_estimation_mode(), float(sketch.get_min_value()),
                   float(sketch.get_max_value()))  # fmt: skip

    def cdf(self, x: FloatArray, *, inclusive: bool = True) -> FloatArray:
        """Share of the sample ``<= x`` (``< x`` if not ``inclusive``) at each point of ``x``."""
        cum = np.concatenate([[0.0], np.cumsum(self.weights)])
        side: Any = "right" if inclusive else "left"
        return np.asarray(cum[np.searchsorted(self.values, x, side=side)] / cum[-1])

    def quantile(self, probs: FloatArray) -> FloatArray:
        """Inverse of the CDF: the smallest value whose share ``<= value`` reaches each prob."""
        cum = np.cumsum(self.weights) / self.weights.sum()
        index = np.searchsorted(cum, np.asarray(probs) - 1e-12, side="left")
        return np.asarray(self.values[np.minimum(index, self.values.size - 1)])

    def counts(self, edges: FloatArray) -> FloatArray:
        """Weights in the bins ``(-inf, e1], (e1, e2], ..., (e_last, inf)``."""
        cum = np.concatenate([[0.0], self.cdf(edges), [1.0]])
        return np.diff(cum) * self.n

    def sample(self) -> FloatArray:
        """The raw values of an exact sample (each value repeated by its count)."""
        return np.repeat(self.values, self.weights.astype(np.int64))


# ------------------------------------------------------------------------------ numeric
def ks(ref: Dist, cur: Dist) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov: ``(D, two-sided p-value)``."""
    if ref.exact and cur.exact:
        result = stats.ks_2samp(ref.sample(), cur.sample())
        return float(result.statistic), float(result.pvalue)
    points = np.union1d(ref.values, cur.values)
    d = float(np.max(np.abs(ref.cdf(points) - cur.cdf(points))))
    en = ref.n * cur.n / (ref.n + cur.n)
    return d, float(np.clip(stats.kstwo.sf(d, max(1, round(en))), 0.0, 1.0))


def wasserstein(ref: Dist, cur: Dist, scale: float) -> float:
    """Wasserstein-1 distance divided by ``scale`` (the reference's standard deviation).

    W1 = ∫ |F_ref - F_cur| dx, summed over the gaps between the samples' pooled values, as
    ``scipy.stats.wasserstein_distance`` computes it (whose BLAS call spins on a busy host).
    """
    points = np.union1d(ref.values, cur.values)
    gaps = np.abs(ref.cdf(points[:-1]) - cur.cdf(points[:-1]))
    return float((gaps * np.diff(points)).sum() / scale)


def quantile_edges(ref: Dist, bins: int) -> FloatArray:
    """Inner bin edges at the reference's quantiles ``1/bins, ..., (bins-1)/bins``, distinct."""
    return np.unique(ref.quantile(np.arange(1, bins) / bins))


def wasserstein_null(ref: Dist, cur: Dist, scale: float) -> tuple[FloatArray, Any]:
    """Pooled counts over support points, and a vectorised W1 / ``scale`` of two count
    vectors on those points, for the permutation null of :func:`wasserstein`.

    The pooled sample is put on at most ``NULL_GRID`` points: its own distinct values when
    it has that few (then the null is the exact permutation distribution), else ``NULL_GRID``
    cells of equal pooled mass, each at the weighted mean of its values.
    """
    values = np.concatenate([ref.values, cur.values])
    weights = np.concatenate([ref.weights, cur.weights])
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    if values.size > NULL_GRID:
        middle = np.cumsum(weights) - weights / 2
        cell = np.minimum((middle / weights.sum() * NULL_GRID).astype(np.int64), NULL_GRID - 1)
        mass = np.bincount(cell, weights=weights, minlength=NULL_GRID)
        sums = np.bincount(cell, weights=weights * values, minlength=NULL_GRID)
        used = mass > 0
        values, weights = sums[used] / mass[used], mass[used]
    pooled = np.rint(weights)
    widths = np.diff(values) / scale
    n, total = ref.n, pooled.sum()
    below = np.cumsum(pooled)[:-1]

    def score(a: FloatArray, _b: FloatArray) -> FloatArray:
        # The current window's counts are the pooled ones minus the reference's, so one
        # cumulative sum gives both CDFs: F_cur = (below - A) / m.
        cum = np.cumsum(a, axis=-1)[:, :-1]
        gap = np.abs(cum * (1.0 / n + 1.0 / (total - n)) - below / (total - n))
        return np.asarray((gap * widths).sum(axis=-1))

    return pooled, score


# ------------------------------------------------------------------------------- binned
def psi(ref: FloatArray, cur: FloatArray) -> FloatArray:
    """Population stability index of count vectors over the same bins (last axis)."""
    e = np.maximum(ref / ref.sum(axis=-1, keepdims=True), PSI_EPS)
    a = np.maximum(cur / cur.sum(axis=-1, keepdims=True), PSI_EPS)
    return np.asarray(((a - e) * np.log(a / e)).sum(axis=-1))


def jensenshannon(ref: FloatArray, cur: FloatArray) -> FloatArray:
    """Jensen-Shannon distance (base 2) of count vectors over the same bins (last axis)."""
    return np.asarray(_jensenshannon(ref, cur, base=2, axis=-1))


def chisquare(ref: FloatArray, cur: FloatArray) -> tuple[float, float]:
    """Chi-square test of homogeneity of two count vectors: ``(statistic, p-value)``."""
    table = np.vstack([ref, cur])
    pooled = table.sum(axis=0)
    rare = pooled < _CHI2_MIN
    if rare.any():
        merged = table[:, rare].sum(axis=1, keepdims=True)
        table = np.hstack([table[:, ~rare], merged]) if merged.sum() else table[:, ~rare]
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:  # one category on both sides: nothing can differ
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


# --------------------------------------------------------------------------------- null
def null_quantile(
    score: Callable[[FloatArray, FloatArray], FloatArray],
    pooled: FloatArray,
    n: int,
    *,
    level: float,
    rng: np.random.Generator,
    below: float | None = None,
    reps: int = NULL_REPS,
) -> float:
    """The ``level`` quantile of ``score`` under random relabelling of the pooled samples.

    ``pooled`` counts both samples' values per bin (or support point); each replicate deals
    ``n`` of them to the reference and the rest to the current window at random, as a
    permutation test does, and scores the two. Under no drift the two samples are
    exchangeable, so the observed score exceeds this quantile with probability at most
    ``1 - level`` whatever the sample sizes. With ``below`` (the base threshold), a first
    ``_PILOT_REPS`` replicates that put the quantile under half of it are enough: the
    threshold is ``below`` either way, and large samples stop there.
    """
    pilot = _scores(score, pooled, n, _PILOT_REPS, rng)
    quantile = float(np.quantile(pilot, level))
    if below is not None and quantile < below / 2:
        return quantile
    rest = _scores(score, pooled, n, reps - _PILOT_REPS, rng)
    return float(np.quantile(np.concatenate([pilot, rest]), level))


def _scores(score: Any, pooled: FloatArray, n: int, reps: int, rng: np.random.Generator) -> Any:
    ref = _split(rng, pooled, n, reps)
    return score(ref, pooled - ref)


def _split(rng: np.random.Generator, pooled: FloatArray, n: int, reps: int) -> FloatArray:
    """``reps`` draws of how many of ``n`` values dealt from ``pooled`` land in each bin.

    Exact (multivariate hypergeometric) for up to ``_EXACT_SPLIT`` pooled values, or few or
    sparse bins; else the normal approximation with the hypergeometric's exact covariance
    ``n (N - n) / (N - 1) * (diag(p) - p p^T)``, which costs the same for any ``N``.
    """
    counts = pooled.astype(np.int64)
    total = int(counts.sum())
    if total <= _EXACT_SPLIT:
        return rng.multivariate_hypergeometric(counts, n, size=reps, method="count").astype(
            np.float64)  # fmt: skip
    p = counts / total
    thinnest = p[p > 0].min() * min(n, total - n)
    if counts.size <= _FEW_BINS or thinnest < _GAUSS_MIN:
        return rng.multivariate_hypergeometric(counts, n, size=reps, method="marginals").astype(
            np.float64)  # fmt: skip
    y = np.sqrt(p) * rng.standard_normal((reps, p.size))
    noise = y - p * y.sum(axis=1, keepdims=True)
    spread = np.sqrt(n * (total - n) / (total - 1))
    return np.asarray(np.clip(n * p + spread * noise, 0.0, counts))
