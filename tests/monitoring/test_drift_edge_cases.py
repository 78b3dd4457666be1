"""Unseen categories, missing values, constant columns, empty samples, missing features,
mixed and changed types: handled and reported, never a crash."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from loopml.errors import InvalidInput
from loopml.monitoring import detect_drift


def test_unseen_categories_are_counted_listed_and_drive_drift() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"plan": rng.choice(["basic", "pro"], 2_000)})
    cur = pd.DataFrame({"plan": rng.choice(["basic", "pro", "max", "ultra"], 2_000,
                                           p=[0.3, 0.3, 0.3, 0.1])})  # fmt: skip
    row = detect_drift(ref, cur)["plan"]
    assert row.drifted and row.unseen == pytest.approx(((cur.plan == "max") | (cur.plan == "ultra"))
                                                       .mean())  # fmt: skip
    assert row.unseen_values == ("max", "ultra")
    assert any("2 categories unseen" in note for note in row.notes)
    for method in ("psi", "chisquare", "jensenshannon"):
        assert detect_drift(ref, cur, methods=method)["plan"].drifted


def test_numeric_values_outside_the_reference_range_are_reported() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.uniform(0, 1, 3_000)})
    cur = pd.DataFrame({"x": rng.uniform(0.5, 1.5, 3_000)})
    row = detect_drift(ref, cur)["x"]
    assert row.drifted and row.unseen == pytest.approx((cur.x > ref.x.max()).mean())


def test_missing_values_are_reported_and_left_out_of_the_comparison() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=3_000)
    ref = pd.DataFrame({"x": values, "c": rng.choice(["a", "b"], 3_000)})
    cur = ref.copy()
    cur.loc[:999, "x"] = np.nan
    cur.loc[1000:1009, "x"] = np.inf
    cur.loc[:1499, "c"] = None
    report = detect_drift(ref, cur)
    x, c = report["x"], report["c"]
    assert x.missing_reference == 0 and x.missing_current == pytest.approx(1010 / 3000)
    assert x.n_current == 1990 and not x.drifted  # the values present did not move
    assert c.missing_current == pytest.approx(0.5) and c.n_current == 1500
    assert any("missing values went from 0.0% to 33.7%" in n for n in x.notes)


def test_a_column_missing_entirely_on_one_side_is_reported_as_drift() -> None:
    ref = pd.DataFrame({"x": np.arange(500.0), "y": np.arange(500.0)})
    cur = pd.DataFrame({"x": np.full(300, np.nan), "y": np.arange(300.0)})
    row = detect_drift(ref, cur)["x"]
    assert (row.method, row.drifted, row.score) == ("missing", True, None)
    assert row.notes[-1] == "every value is missing in the current window"
    both = detect_drift(cur[["x"]], cur[["x"]])["x"]
    assert (both.method, both.drifted, both.tested) == ("none", False, False)
    assert detect_drift(cur, cur).num_tested == 1  # the untestable column has no vote


def test_constant_columns_do_not_divide_by_zero() -> None:
    ref = pd.DataFrame({"k": np.full(2_000, 7.0), "s": ["same"] * 2_000})
    same = detect_drift(ref, ref.iloc[:500])
    assert not same["k"].drifted and same["k"].kind == "categorical"  # one value: categories
    assert not same["s"].drifted
    moved = detect_drift(ref, pd.DataFrame({"k": np.full(500, 8.0), "s": ["other"] * 500}))
    assert moved["k"].drifted and moved["s"].drifted
    rng = np.random.default_rng(3)
    spread = pd.DataFrame({"k": rng.normal(7, 1, 2_000), "s": ["same"] * 2_000})
    row = detect_drift(ref, spread, methods={"k": "wasserstein"})["k"]
    assert row.drifted and np.isfinite(row.score)
    assert "the reference is constant" in row.notes[0]


def test_an_empty_current_window_is_a_clear_error() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(InvalidInput, match="the current window has no rows"):
        detect_drift(ref, ref.iloc[:0])
    with pytest.raises(InvalidInput, match="the reference sample has no rows"):
        detect_drift(ref.iloc[:0], ref)
    with pytest.raises(InvalidInput, match="the current sample is an empty stream"):
        detect_drift(ref, iter([]))


def test_a_missing_feature_is_a_clear_error_naming_it() -> None:
    ref = pd.DataFrame({"age": [1.0, 2.0], "income": [3.0, 4.0]})
    with pytest.raises(InvalidInput, match="column 'income' is not in the current window") as e:
        detect_drift(ref, ref[["age"]])
    assert e.value.details == {"column": "income", "missing_in": "current"}
    with pytest.raises(InvalidInput, match="column 'bonus' is not in the reference"):
        detect_drift(ref, ref, features=["age", "bonus"])
    with pytest.raises(InvalidInput, match="column 'score' is not in the reference"):
        detect_drift(ref, ref, prediction="score")
    extra = ref.assign(new=1.0)
    assert [r.feature for r in detect_drift(ref, extra).features] == ["age", "income"]


def test_mixed_types_are_compared_as_text_and_changed_types_are_drift() -> None:
    mixed = pd.DataFrame({"v": pd.Series([1, "a", 2.5, None] * 100, dtype=object)})
    row = detect_drift(mixed, mixed)["v"]
    assert row.kind == "categorical" and not row.drifted and row.n_current == 300
    assert row.notes == ("values of mixed types were compared as text",)
    numbers = pd.DataFrame({"v": np.arange(400.0)})
    words = pd.DataFrame({"v": [str(i) for i in range(400)]})
    changed = detect_drift(numbers, words)["v"]
    assert (changed.method, changed.drifted) == ("type", True)
    assert "type changed from double (numeric) to" in changed.notes[0]


def test_unsupported_types_are_skipped_and_reported() -> None:
    table = pa.table({"tags": pa.array([[1, 2], [3]] * 50), "x": np.arange(100.0)})
    report = detect_drift(table, table)
    assert (report["tags"].method, report["tags"].kind) == ("none", "unsupported")
    assert report["tags"].notes == ("type list<item: int64> is not compared",)
    assert report.num_tested == 1


def test_datetimes_booleans_and_categoricals_are_compared() -> None:
    rng = np.random.default_rng(4)
    start = pd.Timestamp("2026-01-01", tz="UTC")
    ref = pd.DataFrame({
        "when": start + pd.to_timedelta(rng.integers(0, 86_400 * 30, 3_000), "s"),
        "flag": rng.random(3_000) < 0.3,
        "tier": pd.Categorical(rng.choice(["gold", "silver"], 3_000)),
    })  # fmt: skip
    cur = ref.assign(when=ref["when"] + pd.Timedelta(days=20), flag=rng.random(3_000) < 0.6)
    report = detect_drift(ref, cur)
    assert report["when"].kind == "numeric" and report["when"].drifted
    assert report["flag"].kind == "categorical" and report["flag"].drifted
    assert report["tier"].kind == "categorical" and not report["tier"].drifted


def test_chunks_of_one_column_with_two_types_are_an_error() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0]})
    chunks = [pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": ["a", "b"]})]
    with pytest.raises(InvalidInput, match=r"column 'x' is numeric .* in one chunk and categ"):
        detect_drift(ref, chunks)


def test_unsupported_inputs_are_clear_errors() -> None:
    ref = pd.DataFrame({"x": [1.0]})
    with pytest.raises(InvalidInput, match="the current sample is a int"):
        detect_drift(ref, 42)
    with pytest.raises(InvalidInput, match="neither a Parquet file"):
        detect_drift(ref, "data.csv")


def test_non_string_column_labels_and_overlapping_roles() -> None:
    frame = pd.DataFrame({0: np.arange(300.0), 1: ["a", "b", "c"] * 100})
    report = detect_drift(frame, frame)
    assert [r.feature for r in report.features] == ["0", "1"] and not report.dataset_drift
    with pytest.raises(InvalidInput, match=r"\['0'\] listed both as features and as prediction"):
        detect_drift(frame, frame, features=["0", "1"], prediction="0")
