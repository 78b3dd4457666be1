"""detect_drift's verdicts: known shifts are found, noise is not, methods are chosen by rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.errors import InvalidInput
from loopml.monitoring import detect_drift

SHIFTED = ["x1", "x4", "skew", "c2"]


def _synthetic(rng: np.random.Generator, n: int, *, shifted: bool) -> pd.DataFrame:
    """8 normal columns, a skewed one and 3 categorical ones; ``shifted`` moves x1 by half a
    standard deviation, widens x4 by 60%, scales skew by 1.4 and reweights c2's categories."""
    data: dict[str, Any] = {}
    for i in range(8):
        x = rng.normal(5 * i, 1 + i, n)
        if shifted and i == 1:
            x = x + 0.5 * (1 + i)
        if shifted and i == 4:
            x = 5 * i + (x - 5 * i) * 1.6
        data[f"x{i}"] = x
    data["skew"] = rng.lognormal(0, 1, n) * (1.4 if shifted else 1.0)
    cats = np.array(list("abcdef"))
    for j in range(3):
        p = np.full(6, 1 / 6)
        if shifted and j == 2:
            p = np.array([0.35, 0.25, 0.15, 0.1, 0.1, 0.05])
        data[f"c{j}"] = rng.choice(cats, n, p=p)
    return pd.DataFrame(data)


def _mixed(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Seven columns of different shapes, all drawn from fixed distributions."""
    return pd.DataFrame({
        "normal": rng.normal(10, 2, n),
        "lognormal": rng.lognormal(0, 1, n),
        "uniform": rng.uniform(-1, 1, n),
        "counts": rng.poisson(4, n).astype(float),
        "plan": rng.choice(["basic", "pro", "team", "enterprise"], n, p=[0.5, 0.3, 0.15, 0.05]),
        "country": rng.choice([f"c{i}" for i in range(12)], n),
        "flag": rng.random(n) < 0.2,
    })  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_known_shift_flags_exactly_the_shifted_features(seed: int) -> None:
    rng = np.random.default_rng(seed)
    report = detect_drift(
        _synthetic(rng, 20_000, shifted=False), _synthetic(rng, 5_000, shifted=True)
    )
    assert report.drifted_features == SHIFTED
    assert {r.method for r in report.features} == {"wasserstein", "jensenshannon"}
    assert report.num_drifted == 4 and report.num_tested == 12
    assert report.share_drifted == pytest.approx(4 / 12) and not report.dataset_drift


@pytest.mark.parametrize("seed", range(5))
def test_small_windows_flag_every_shifted_feature(seed: int) -> None:
    rng = np.random.default_rng(seed)
    report = detect_drift(_synthetic(rng, 1_000, shifted=False), _synthetic(rng, 200, shifted=True))
    assert set(SHIFTED) <= set(report.drifted_features)
    assert {r.method for r in report.features} == {"ks", "chisquare"}


def _alarm_rate(seeds: int, **options: Any) -> tuple[float, int]:
    """Share of (seed, column) pairs flagged, and reports with dataset drift, when reference
    (1,000 rows) and window (200 rows) come from one distribution."""
    flags, datasets = [], 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        report = detect_drift(_mixed(rng, 1_000), _mixed(rng, 200), **options)
        flags += [r.drifted for r in report.features]
        datasets += report.dataset_drift
    return float(np.mean(flags)), datasets


# Binomial noise of a rate near 0.05 over 200 seeds x 7 columns is about 0.006.
TOLERANCE = 0.02


@pytest.mark.slow
def test_false_alarm_rate_of_the_default_methods_is_at_most_alpha() -> None:
    rate, datasets = _alarm_rate(200)
    assert rate <= 0.05 + TOLERANCE and datasets == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "methods",
    ["psi", {"numeric": "wasserstein", "categorical": "jensenshannon"}],
    ids=["psi", "wasserstein+jensenshannon"],
)
def test_size_aware_distances_keep_the_false_alarm_rate_and_fixed_ones_do_not(
    methods: Any,
) -> None:
    rate, datasets = _alarm_rate(200, methods=methods)
    assert rate <= 0.05 + TOLERANCE and datasets == 0
    fixed, _ = _alarm_rate(100, methods=methods, size_aware=False)
    assert fixed > rate  # Evidently's fixed thresholds alarm more on 200-row windows


def test_fixed_wasserstein_and_jensenshannon_thresholds_alarm_on_noise_in_small_windows() -> None:
    wj = {"numeric": "wasserstein", "categorical": "jensenshannon"}
    fixed, datasets = _alarm_rate(40, methods=wj, size_aware=False)
    aware, _ = _alarm_rate(40, methods=wj)
    assert fixed > 0.15 and fixed > 3 * aware  # about 0.28 against 0.04 over 200 seeds
    assert datasets > 0  # and sometimes declare the whole dataset drifted


def test_methods_are_chosen_by_type_and_the_smaller_sample() -> None:
    rng = np.random.default_rng(0)
    big, small = _mixed(rng, 3_000), _mixed(rng, 400)
    methods = {r.feature: r.method for r in detect_drift(big, small).features}
    assert methods["normal"] == "ks" and methods["plan"] == "chisquare"
    assert methods["flag"] == "chisquare"  # booleans are categories
    methods = {r.feature: r.method for r in detect_drift(big, _mixed(rng, 3_000)).features}
    assert methods["normal"] == "wasserstein" and methods["country"] == "jensenshannon"
    assert methods["counts"] == "wasserstein"  # more than 5 distinct values: numeric
    few = pd.DataFrame({"grade": rng.integers(1, 4, 3_000).astype(float)})
    row = detect_drift(few, few.sample(frac=1.0, random_state=1))["grade"]
    assert (row.method, row.kind) == ("jensenshannon", "categorical")  # <= 5 distinct values


def test_method_and_threshold_overrides() -> None:
    rng = np.random.default_rng(1)
    ref, cur = _mixed(rng, 3_000), _mixed(rng, 3_000)
    report = detect_drift(ref, cur, methods={"numeric": "psi", "plan": "chisquare"},
                          thresholds={"psi": 0.2, "normal": 0.3, "chisquare": 0.01})  # fmt: skip
    assert report["uniform"].method == "psi" and report["uniform"].base_threshold == 0.2
    assert report["normal"].base_threshold == 0.3
    assert report["plan"].method == "chisquare" and report["plan"].threshold == 0.01
    assert report["country"].method == "jensenshannon"  # not overridden: automatic
    auto = detect_drift(ref, cur, thresholds={"wasserstein": 0.25})
    assert auto["normal"].method == "wasserstein" and auto["normal"].threshold == 0.25


def test_size_aware_threshold_is_the_larger_of_base_and_null_quantile() -> None:
    rng = np.random.default_rng(2)
    ref, cur = _mixed(rng, 1_000), _mixed(rng, 100)
    row = detect_drift(ref, cur, methods="jensenshannon")["country"]
    assert row.null_threshold is not None and row.null_threshold > row.base_threshold == 0.1
    assert row.threshold == row.null_threshold
    fixed = detect_drift(ref, cur, methods="jensenshannon", size_aware=False)["country"]
    assert fixed.threshold == 0.1 and fixed.null_threshold is None
    again = detect_drift(ref, cur, methods="jensenshannon")["country"]
    assert again.threshold == row.threshold  # seeded


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"methods": "kolmogorov"}, "unknown drift method 'kolmogorov'"),
        ({"methods": {"plan": "ks"}}, "ks compares numeric columns; 'plan' is categorical"),
        ({"methods": {"nope": "ks"}}, "methods has key 'nope'"),
        ({"thresholds": {"nope": 0.1}}, "thresholds has key 'nope'"),
        ({"thresholds": {"psi": -1}}, "must be a positive number"),
        ({"alpha": 1.5}, "alpha is a significance level"),
        ({"drift_share": 0}, "drift_share is a share"),
        ({"bins": 1}, "need bins >= 2"),
    ],
)
def test_bad_options_are_clear_errors(kwargs: dict[str, Any], message: str) -> None:
    rng = np.random.default_rng(3)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        detect_drift(_mixed(rng, 300), _mixed(rng, 300), **kwargs)


def test_prediction_drift_is_judged_apart_from_the_features() -> None:
    rng = np.random.default_rng(4)
    ref, cur = _synthetic(rng, 5_000, shifted=False), _synthetic(rng, 5_000, shifted=True)
    for frame in (ref, cur):  # a model's output: a score driven by the shifted x1
        frame["score"] = 1 / (1 + np.exp(-(frame["x1"] - 5) / 2))
        frame["label"] = np.where(frame["score"] > 0.6, "churn", "stay")
    report = detect_drift(ref, cur, prediction=["score", "label"])
    assert [r.feature for r in report.predictions] == ["score", "label"]
    assert all(r.role == "prediction" and r.drifted for r in report.predictions)
    assert report.prediction_drift is True
    assert "score" not in [r.feature for r in report.features] and report.num_tested == 12
    stable = detect_drift(ref, ref.sample(frac=0.5, random_state=0), prediction="score")
    assert stable.prediction_drift is False
    assert detect_drift(ref, cur).prediction_drift is None


def test_dataset_drift_follows_the_share_rule() -> None:
    rng = np.random.default_rng(5)
    ref, cur = _synthetic(rng, 5_000, shifted=False), _synthetic(rng, 5_000, shifted=True)
    assert not detect_drift(ref, cur).dataset_drift  # 4 of 12
    assert detect_drift(ref, cur, drift_share=0.3).dataset_drift
    only = detect_drift(ref, cur, features=[*SHIFTED, "x0"])
    assert only.share_drifted == pytest.approx(0.8) and only.dataset_drift
