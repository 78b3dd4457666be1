"""Each drift statistic against scipy (or the textbook formula) on small data, and the
documented error bound of the sketched ones on large data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from loopml.monitoring import detect_drift
from loopml.monitoring._stats import Dist, null_quantile, psi
from loopml.monitoring._summary import KLL_RANK_ERROR, ColumnSummary


def _one(ref: np.ndarray, cur: np.ndarray, method: str, **kw: object):  # type: ignore[no-untyped-def]
    report = detect_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), methods=method,
                          **kw)  # fmt: skip
    return report["x"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ks_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = rng.normal(0, 1, 900), rng.normal(0.15, 1.1, 250)
    row = _one(ref, cur, "ks")
    expected = stats.ks_2samp(ref, cur)
    assert row.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert row.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert row.score == row.p_value and row.threshold == 0.05
    assert row.drifted == (expected.pvalue < 0.05)


def test_ks_with_ties_equals_scipy() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.integers(0, 12, 700).astype(float), rng.integers(1, 13, 300).astype(float)
    row = _one(ref, cur, "ks")
    expected = stats.ks_2samp(ref, cur)
    assert row.statistic == pytest.approx(expected.statistic)
    assert row.p_value == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_wasserstein_equals_scipy_over_reference_std(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = rng.lognormal(0, 1, 1500), rng.lognormal(0.1, 1, 700)
    row = _one(ref, cur, "wasserstein")
    assert row.score == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-9)
    assert row.statistic == row.score


def test_jensenshannon_on_categories_equals_scipy_base_2() -> None:
    rng = np.random.default_rng(4)
    ref = rng.choice(["a", "b", "c", "d"], 3000, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(["a", "b", "c", "e"], 2000, p=[0.3, 0.3, 0.3, 0.1])
    report = detect_drift(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}),
                          methods="jensenshannon")  # fmt: skip
    labels = ["a", "b", "c", "d", "e"]
    p = np.array([(ref == k).sum() for k in labels], dtype=float)
    q = np.array([(cur == k).sum() for k in labels], dtype=float)
    assert report["c"].score == pytest.approx(jensenshannon(p, q, base=2), rel=1e-12)
    assert report["c"].unseen == pytest.approx((cur == "e").mean())
    assert report["c"].unseen_values == ("e",)


def test_chisquare_equals_scipy_contingency() -> None:
    rng = np.random.default_rng(5)
    ref = rng.choice(["a", "b", "c"], 600, p=[0.5, 0.3, 0.2])
    cur = rng.choice(["a", "b", "c"], 300, p=[0.45, 0.3, 0.25])
    row = detect_drift(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}))["c"]
    assert row.method == "chisquare"  # categorical, smaller sample <= 1000
    table = [[(s == k).sum() for k in "abc"] for s in (ref, cur)]
    expected = stats.chi2_contingency(table, correction=False)
    assert row.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert row.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_chisquare_pools_rare_categories_before_testing() -> None:
    ref = np.array(["a"] * 300 + ["b"] * 200 + ["r1"] * 2 + ["r2"] * 1)
    cur = np.array(["a"] * 140 + ["b"] * 100 + ["r3"] * 2)
    row = detect_drift(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}))["c"]
    # r1, r2, r3 (fewer than 5 values pooled each) are tested as one category.
    table = [[300, 200, 3], [140, 100, 2]]
    assert row.statistic == pytest.approx(stats.chi2_contingency(table, correction=False)[0])


def test_psi_by_hand_with_reference_quantile_bins() -> None:
    rng = np.random.default_rng(6)
    ref, cur = rng.normal(0, 1, 2000), rng.normal(0.5, 1, 1000)  # PSI about 0.25
    row = _one(ref, cur, "psi")
    edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10, method="inverted_cdf"))
    e = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=10) / ref.size
    a = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=10) / cur.size
    e, a = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    assert row.score == pytest.approx(float(((a - e) * np.log(a / e)).sum()), rel=1e-9)
    assert row.drifted


def test_psi_clips_empty_bins_alike_on_both_sides() -> None:
    assert psi(np.array([10.0, 0.0]), np.array([10.0, 0.0])) == 0.0
    assert psi(np.array([5.0, 5.0, 0.0]), np.array([5.0, 5.0, 0.0])) == 0.0


def test_numeric_column_with_few_values_is_binned_by_value() -> None:
    rng = np.random.default_rng(7)
    ref, cur = rng.integers(1, 4, 3000).astype(float), rng.integers(1, 5, 3000).astype(float)
    row = _one(ref, cur, "jensenshannon")
    p = np.array([(ref == v).sum() for v in (1, 2, 3, 4)], dtype=float)
    q = np.array([(cur == v).sum() for v in (1, 2, 3, 4)], dtype=float)
    assert row.score == pytest.approx(jensenshannon(p, q, base=2))
    assert row.kind == "categorical" and row.chart is not None
    assert row.chart.labels == ("1", "2", "3", "4")


def test_sketched_ks_and_wasserstein_stay_within_the_documented_error() -> None:
    rng = np.random.default_rng(8)
    ref, cur = rng.normal(0, 1, 120_000), rng.normal(0.01, 1, 60_000)
    ks, w = _one(ref, cur, "ks"), _one(ref, cur, "wasserstein")
    # Both samples exceed the sketch's exact size: D is off by at most both rank errors.
    assert abs(ks.statistic - stats.ks_2samp(ref, cur).statistic) <= 2 * KLL_RANK_ERROR
    exact_w = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert w.score == pytest.approx(exact_w, abs=0.003)


def test_dist_of_a_summary_is_the_exact_sample_while_small() -> None:
    summary = ColumnSummary("x")
    import pyarrow as pa

    summary.add(pa.array([3.0, 1.0, 2.0, 2.0, None, float("inf"), float("nan")]))
    dist = Dist.of(summary)
    assert dist.exact and dist.n == 4 and summary.missing == 3
    assert dist.values.tolist() == [1.0, 2.0, 3.0] and dist.weights.tolist() == [1, 2, 1]
    assert dist.cdf(np.array([2.0])).tolist() == [0.75]
    assert dist.quantile(np.array([0.5])).tolist() == [2.0]
    assert summary.mean == pytest.approx(2.0) and summary.std == pytest.approx(np.std([3, 1, 2, 2]))


def test_permutation_null_quantile_is_seeded_and_grows_for_small_windows() -> None:
    pooled = np.array([300.0, 200.0, 100.0])

    def quantile(n: int, seed: int) -> float:
        rng = np.random.default_rng(seed)
        return null_quantile(psi, pooled * n / 600, round(n * 500 / 600), level=0.95, rng=rng)

    assert quantile(600, 1) == quantile(600, 1)
    assert quantile(60, 1) > quantile(600, 1) > quantile(60_000, 1)
