"""Tests for loopml.data._profile: values against numpy/pandas, merging, JSON, edge cases."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from loopml.data._profile import QUANTILES, TableProfile, profile_batches, profile_table
from loopml.errors import InvalidInput

# KLL with k=200 has a normalised rank error of ~1.3% (99% confidence); allow a little more.
RANK_TOL = 0.02


def _rank(values: np.ndarray, x: float) -> float:
    """Normalised rank of x among values (midpoint between < and <=)."""
    s = np.sort(values)
    return float((np.searchsorted(s, x, "left") + np.searchsorted(s, x, "right")) / 2 / s.size)


def _roundtrip(p: TableProfile) -> TableProfile:
    return TableProfile.from_dict(json.loads(json.dumps(p.to_dict(), allow_nan=False)))


@pytest.fixture(scope="module")
def mixed() -> pa.Table:
    rng = np.random.default_rng(42)
    n = 100_000
    return pa.table(
        {
            "x": rng.normal(10.0, 3.0, n),
            "i": rng.integers(-1000, 1000, n),
            "c": pa.array(rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])),
            "b": rng.random(n) < 0.3,
        }
    )


# ---------------------------------------------------------------------------- numeric values
def test_numeric_moments_and_quantiles_match_numpy(mixed: pa.Table) -> None:
    x = mixed["x"].to_numpy()
    col = profile_table(mixed).columns["x"]
    assert (col.kind, col.dtype, col.count, col.nulls, col.nonfinite) == (
        "numeric",
        "double",
        x.size,
        0,
        0,
    )
    assert col.min == x.min() and col.max == x.max()
    assert col.mean == pytest.approx(x.mean(), rel=1e-12)
    assert col.std == pytest.approx(x.std(ddof=1), rel=1e-12)
    assert col.quantiles is not None and list(col.quantiles) == list(QUANTILES)
    for q, v in col.quantiles.items():
        assert abs(_rank(x, v) - q) <= RANK_TOL, q


def test_histogram_equals_numpy_in_exact_mode() -> None:
    # Below k=200 values the KLL sketch keeps every value, so the histogram is exact.
    x = np.random.default_rng(1).exponential(2.0, 150)
    col = profile_table(pa.table({"x": x}), bins=7).columns["x"]
    assert col.histogram is not None
    counts, edges = np.histogram(x, bins=7)
    assert col.histogram["counts"] == counts.tolist()
    np.testing.assert_allclose(col.histogram["edges"], edges, rtol=1e-12)


def test_histogram_of_large_column_is_close_and_sums_to_count(mixed: pa.Table) -> None:
    x = mixed["x"].to_numpy()
    col = profile_table(mixed, bins=10).columns["x"]
    assert col.histogram is not None and len(col.histogram["edges"]) == 11
    assert sum(col.histogram["counts"]) == x.size
    expected, _ = np.histogram(x, bins=10)
    assert np.abs(np.array(col.histogram["counts"]) - expected).max() <= RANK_TOL * x.size


def test_int_columns_are_numeric_and_exact() -> None:
    col = profile_table(pa.table({"i": pa.array([3, 1, None, 2, 2], pa.int32())})).columns["i"]
    assert (col.kind, col.dtype, col.count, col.nulls, col.distinct) == (
        "numeric",
        "int32",
        4,
        1,
        3,
    )
    assert (col.min, col.max, col.mean) == (1.0, 3.0, 2.0)
    assert col.std == pytest.approx(np.std([3, 1, 2, 2], ddof=1))
    big = profile_table(pa.table({"u": pa.array([2**64 - 1], pa.uint64())})).columns["u"]
    assert (big.kind, big.max, big.std) == ("numeric", 2.0**64, None)  # std needs two values


def test_nan_is_null_and_inf_is_nonfinite() -> None:
    x = pa.array([1.0, float("nan"), None, float("inf"), -float("inf"), 3.0])
    col = profile_table(pa.table({"x": x})).columns["x"]
    assert (col.count, col.nulls, col.nonfinite) == (4, 2, 2)
    assert (col.min, col.max, col.mean) == (1.0, 3.0, 2.0)
    assert col.histogram is not None and sum(col.histogram["counts"]) == 2
    assert col.distinct == 4  # 1, 3, inf and -inf
    json.dumps(profile_table(pa.table({"x": x})).to_dict(), allow_nan=False)


def test_only_infinite_values_give_no_moments() -> None:
    col = profile_table(pa.table({"x": [float("inf"), -float("inf")]})).columns["x"]
    assert (col.count, col.nonfinite, col.mean, col.histogram, col.quantiles) == (
        2,
        2,
        None,
        None,
        None,
    )


def test_single_distinct_value_gives_one_bin() -> None:
    col = profile_table(pa.table({"x": [7.5] * 50})).columns["x"]
    assert (col.min, col.max, col.std, col.distinct) == (7.5, 7.5, 0.0, 1)
    assert col.histogram == {"edges": [7.5, 7.5], "counts": [50]}
    assert col.quantiles == dict.fromkeys(QUANTILES, 7.5)


def test_huge_range_does_not_overflow() -> None:
    col = profile_table(pa.table({"x": [-1.7e308, 1.7e308]})).columns["x"]
    assert col.histogram is not None and col.histogram["edges"][-1] == 1.7e308
    assert col.mean == 0.0 and col.std is None  # M2 overflows: reported as unknown
    json.dumps(profile_table(pa.table({"x": [-1.7e308, 1.7e308]})).to_dict(), allow_nan=False)


def test_datetime_columns_profile_as_epoch_seconds() -> None:
    stamps = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-03", None])).dt.tz_localize("UTC")
    t = pa.table(
        {
            "ts": pa.array(stamps.dt.tz_convert(None)).cast(pa.timestamp("us", tz="UTC")),
            "d": pa.array([dt.date(1970, 1, 2), dt.date(1970, 1, 4), None]),
        }
    )
    p = profile_table(t)
    ts, d = p.columns["ts"], p.columns["d"]
    assert ts.kind == d.kind == "datetime"
    assert ts.dtype.startswith("timestamp") and (ts.count, ts.nulls) == (2, 1)
    assert ts.min == dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()
    assert ts.max == dt.datetime(2024, 1, 3, tzinfo=dt.UTC).timestamp()
    assert (d.min, d.max, d.mean) == (86400.0, 3 * 86400.0, 2 * 86400.0)
    from_pandas = profile_table(pd.DataFrame({"ts": stamps.dt.tz_convert("Europe/Paris")}))
    assert from_pandas.columns["ts"].dtype == "timestamp[us, tz=Europe/Paris]"
    assert (from_pandas.columns["ts"].min, from_pandas.columns["ts"].max) == (ts.min, ts.max)


# ------------------------------------------------------------------------ categorical values
def test_top_k_exact_on_small_data(mixed: pa.Table) -> None:
    col = profile_table(mixed, top_k=3).columns["c"]
    expected = pd.Series(mixed["c"].to_pylist()).value_counts()
    assert (col.kind, col.distinct, col.top_error) == ("categorical", 4, 0)
    assert col.top == [[v, int(c)] for v, c in expected.head(3).items()]


def test_bool_columns(mixed: pa.Table) -> None:
    b = mixed["b"].to_numpy()
    col = profile_table(mixed).columns["b"]
    assert (col.kind, col.distinct, col.count) == ("boolean", 2, b.size)
    assert col.top == [["false", int((~b).sum())], ["true", int(b.sum())]]


def test_unicode_and_dictionary_categories() -> None:
    values = ["日本", "naïve", "日本", "🙂", None, "日本"]
    arrow = profile_table(pa.table({"s": values})).columns["s"]
    cat = profile_table(pd.DataFrame({"s": pd.Categorical(values)})).columns["s"]
    for col in (arrow, cat):
        assert (col.count, col.nulls, col.distinct) == (5, 1, 3)
        assert col.top == [["日本", 3], ["naïve", 1], ["🙂", 1]]
    assert cat.dtype.startswith("dictionary")


def test_many_distinct_categories_are_bounded_and_estimated() -> None:
    n = 200_000
    values = np.array([f"user-{i}" for i in range(n)] + ["popular"] * 500, dtype=object)
    col = profile_table(pa.table({"s": pa.array(values)}), top_k=5).columns["s"]
    assert col.top is not None and len(col.top) == 5
    assert col.top[0] == ["popular", 500]
    assert col.top_error == 1  # each dropped value occurred once
    assert col.distinct is not None and abs(col.distinct - (n + 1)) / (n + 1) < 0.03
    assert col._state is not None and col._state.top is not None
    assert len(col._state.top.items) == 100  # capacity max(100, 5 * top_k)


def test_distinct_estimate_within_three_percent() -> None:
    x = np.arange(100_000, dtype=np.float64).repeat(2)
    col = profile_table(pa.table({"x": x})).columns["x"]
    assert col.distinct is not None and abs(col.distinct - 100_000) / 100_000 < 0.03
    small = profile_table(pa.table({"x": [1.0, 2.0, 2.0, -0.0, 0.0]})).columns["x"]
    assert small.distinct == 3  # -0.0 == 0.0


# ----------------------------------------------------------------------------- edge cases
def test_empty_table() -> None:
    t = pa.table({"x": pa.array([], pa.float64()), "s": pa.array([], pa.string())})
    p = profile_table(t)
    assert p.num_rows == 0
    x, s = p.columns["x"], p.columns["s"]
    assert (x.count, x.nulls, x.distinct, x.mean, x.histogram) == (0, 0, 0, None, None)
    assert (s.count, s.top, s.distinct) == (0, [], 0)
    assert _roundtrip(p) == p
    assert profile_table(pa.table({})).columns == {}


def test_all_null_columns() -> None:
    t = pa.table(
        {
            "f": pa.array([None, None], pa.float64()),
            "s": pa.array([None, None], pa.string()),
            "n": pa.array([None, None]),
        }
    )
    p = profile_table(t)
    assert [(c.kind, c.count, c.nulls) for c in p.columns.values()] == [
        ("numeric", 0, 2),
        ("categorical", 0, 2),
        ("other", 0, 2),
    ]
    assert p.columns["f"].mean is None and p.columns["s"].top == []
    json.dumps(p.to_dict(), allow_nan=False)


def test_all_null_chunk_merges_with_typed_chunk() -> None:
    # pandas/Arrow type an all-None chunk as `null`; it must not poison the stream.
    chunks = [pa.table({"s": pa.array([None, None])}), pa.table({"s": ["a", "b", "a"]})]
    col = profile_batches(chunks).columns["s"]
    assert (col.kind, col.dtype, col.count, col.nulls, col.top) == (
        "categorical",
        "string",
        3,
        2,
        [["a", 2], ["b", 1]],
    )


def test_other_kind_counts_only() -> None:
    col = profile_table(pa.table({"l": pa.array([[1], None, [2, 3]])})).columns["l"]
    assert (col.kind, col.count, col.nulls, col.distinct, col.top) == ("other", 2, 1, None, None)


# ------------------------------------------------------------------------ inputs and errors
def test_pandas_polars_and_record_batch_inputs_agree(mixed: pa.Table) -> None:
    small = mixed.slice(0, 1000)
    reference = profile_table(small).to_dict()
    others = [small.to_pandas(), pl.from_arrow(small), small.to_batches()[0]]
    for data in others:
        got = profile_table(data).to_dict()
        for name, col in reference["columns"].items():
            for key in ("kind", "count", "nulls", "distinct", "min", "max", "mean", "top"):
                assert got["columns"][name][key] == col[key], (type(data), name, key)


def test_pandas_nan_is_null() -> None:
    col = profile_table(pd.DataFrame({"x": [1.0, np.nan, 3.0]})).columns["x"]
    assert (col.count, col.nulls, col.mean) == (2, 1, 2.0)


def test_invalid_inputs() -> None:
    with pytest.raises(InvalidInput, match="cannot profile list"):
        profile_table([1, 2, 3])
    with pytest.raises(InvalidInput, match="duplicate column name 'a'"):
        profile_table(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"]))
    with pytest.raises(InvalidInput, match="column 'm'"):
        profile_table(pd.DataFrame({"m": [1, "x", 2.5]}))
    with pytest.raises(InvalidInput, match="bins"):
        profile_table(pa.table({"x": [1.0]}), bins=0)
    with pytest.raises(InvalidInput, match="version"):
        TableProfile.from_dict({"num_rows": 1})


def test_merge_rejects_different_columns_and_kinds() -> None:
    a = profile_table(pa.table({"x": [1.0], "y": [2.0]}))
    with pytest.raises(InvalidInput, match="'y'") as info:
        a.merge(profile_table(pa.table({"x": [1.0]})))
    assert info.value.details["column"] == "y"
    with pytest.raises(InvalidInput, match="column 'y'"):
        a.merge(profile_table(pa.table({"x": [1.0], "y": ["s"]})))
    with pytest.raises(InvalidInput, match="chunk 1"):
        profile_batches([pa.table({"x": [1.0]}), pa.table({"z": [1.0]})])


# ----------------------------------------------------------------- merging and serialisation
def test_merge_of_halves_matches_whole(mixed: pa.Table) -> None:
    half = mixed.num_rows // 2
    whole = profile_table(mixed)
    merged = profile_table(mixed.slice(0, half)).merge(profile_table(mixed.slice(half)))
    assert merged.num_rows == whole.num_rows
    for name, w in whole.columns.items():
        m = merged.columns[name]
        assert (m.kind, m.count, m.nulls, m.nonfinite, m.min, m.max, m.top) == (
            w.kind,
            w.count,
            w.nulls,
            w.nonfinite,
            w.min,
            w.max,
            w.top,
        )
        if w.kind == "numeric":
            assert m.mean == pytest.approx(w.mean, rel=1e-9, abs=1e-9)
            assert m.std == pytest.approx(w.std, rel=1e-9)
            assert m.distinct is not None and w.distinct is not None
            assert abs(m.distinct - w.distinct) <= 0.001 * w.distinct  # same HLL registers
            values = mixed[name].to_numpy()
            assert m.quantiles is not None
            for q, v in m.quantiles.items():
                assert abs(_rank(values, v) - q) <= RANK_TOL


def test_json_round_trip_is_exact_and_still_merges(mixed: pa.Table) -> None:
    with_edges = mixed.append_column("e", pa.array([math.inf] + [1.0] * (mixed.num_rows - 1)))
    p = profile_table(with_edges)
    back = _roundtrip(p)
    assert back == p
    assert back.to_dict() == p.to_dict()
    assert back.columns["x"].quantiles == p.columns["x"].quantiles  # float keys again
    merged, direct = back.merge(back), p.merge(p)
    for name, col in direct.columns.items():
        assert merged.columns[name].count == col.count == 2 * p.columns[name].count
        assert merged.columns[name].mean == col.mean
        assert merged.columns[name].top == col.top
        assert merged.columns[name].distinct == col.distinct


def test_profile_batches_equals_profile_table(mixed: pa.Table) -> None:
    whole = profile_table(mixed)
    streamed = profile_batches(mixed.to_batches(max_chunksize=7_000))
    assert streamed.num_rows == whole.num_rows
    for name, w in whole.columns.items():
        s = streamed.columns[name]
        assert (s.count, s.nulls, s.top, s.min, s.max) == (w.count, w.nulls, w.top, w.min, w.max)
        if w.mean is not None:
            assert s.mean == pytest.approx(w.mean, rel=1e-9, abs=1e-9)
    assert profile_batches([]) == TableProfile(num_rows=0, columns={})


def test_profile_batches_accepts_a_generator_of_pandas_chunks() -> None:
    chunks = (pd.DataFrame({"x": np.arange(i, i + 10, dtype=float)}) for i in range(0, 100, 10))
    col = profile_batches(chunks).columns["x"]
    assert (col.count, col.mean, col.min, col.max, col.distinct) == (100, 49.5, 0.0, 99.0, 100)
