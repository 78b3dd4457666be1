"""``detect_drift``: compare a current window with a reference, column by column."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.monitoring._compare import METHODS, Options, compare
from loopml.monitoring._inputs import Source, open_source
from loopml.monitoring._report import DriftReport, FeatureDrift
from loopml.monitoring._stream import CHUNK_ROWS, summarise
from loopml.monitoring._summary import ColumnSummary

if TYPE_CHECKING:
    from loopml.data import DataService

__all__ = ["detect_drift"]

_KINDS = ("numeric", "categorical")


def detect_drift(
    reference: Any,
    current: Any,
    *,
    features: Sequence[str] | None = None,
    methods: str | Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    prediction: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    drift_share: float = 0.5,
    size_aware: bool = True,
    bins: int = 10,
    seed: int = 0,
    chunk_rows: int = CHUNK_ROWS,
    service: DataService | None = None,
) -> DriftReport:
    """Whether ``current`` drifted from ``reference``, per column and as a whole.

    Each sample streams through once and is reduced to per-column summaries (KLL sketches,
    moments, category counts), from which every statistic is computed; memory is bounded by
    one chunk however long the sample. The default method depends on the column's type and
    the sample sizes (see :mod:`loopml.monitoring`), and a distance's threshold is raised to
    what noise reaches at these sizes, so a small window does not alarm on noise.

    Example::

        report = detect_drift("train@3", "logs/2026-05-01.parquet", prediction="score")
        report.dataset_drift, report.drifted_features, report["age"].score
        report.to_html("drift.html")

    Args:
        reference, current: a pandas or polars DataFrame, an Arrow table, a Parquet file or
            directory (path or fsspec URL, read in chunks), a dataset version
            (:class:`~loopml.data.DatasetVersion` or ``"name@version"``), a
            ``dask.dataframe`` (reduced partition-wise on its scheduler) or an iterable of
            DataFrames / Arrow tables (a stream of chunks).
        features: columns to compare; default every reference column but ``prediction``.
        methods: ``ks``, ``chisquare``, ``psi``, ``wasserstein`` or ``jensenshannon`` (or
            ``auto``) for every feature, or a mapping from a feature name, or from a kind
            (``numeric`` / ``categorical``), to one.
        thresholds: a mapping from a method name, or from a feature name, to its threshold
            (the p-value level for the tests, the base distance for the others).
        prediction: model-output column(s): judged like features, reported apart, and kept
            out of the dataset verdict.
        alpha: significance level: the tests' p-value threshold, and the false-alarm rate
            size-aware distance thresholds allow.
        drift_share: the dataset drifted when at least this share of features did.
        size_aware: raise distance thresholds to the permutation null quantile (``False``
            applies the fixed thresholds alone, as Evidently does).
        bins: reference-quantile bins of a numeric column for PSI, Jensen-Shannon and
            chi-square.
        seed: seed of the resampled nulls (the report is deterministic for samples of up to
            4,096 values per column; above, sketches add rank noise of about 0.07%).
        chunk_rows: rows read at a time from Parquet sources.
        service: the data service that resolves ``"name@version"`` and reads the version's
            Parquet in chunks (default: ``loopml.data``'s, which reads the version whole).

    Returns:
        The :class:`DriftReport`.

    Raises:
        InvalidInput: for an empty sample, a feature missing from either sample, an unknown
            method or threshold key, a method that does not fit a column, or bad options.
        NotFound: for a missing file or dataset version.
    """
    _check_options(alpha, drift_share, bins, chunk_rows)
    ref = open_source(reference, what="reference", chunk_rows=chunk_rows, service=service)
    cur = open_source(current, what="current", chunk_rows=chunk_rows, service=service)
    outputs = [prediction] if isinstance(prediction, str) else list(prediction or [])
    names = _features(features, outputs, ref, cur)
    method_of = _methods(methods, names + outputs)
    threshold_of = _thresholds(thresholds, names + outputs)
    ref_summary = summarise(ref, names + outputs)
    if ref_summary.rows == 0:
        raise InvalidInput("the reference sample has no rows: nothing to compare against")
    cur_summary = summarise(cur, names + outputs)
    if cur_summary.rows == 0:
        raise InvalidInput("the current window has no rows: nothing to compare")
    options = Options(alpha=alpha, size_aware=size_aware, bins=bins, seed=seed)

    def judge(name: str, role: str) -> FeatureDrift:
        a, b = ref_summary.columns[name], cur_summary.columns[name]
        return compare(a, b, method=method_of(name, a, b), options=options, role=role,
                       threshold=lambda method: threshold_of(name, method))  # fmt: skip

    rows = tuple(judge(n, "feature") for n in names)
    tested = [r for r in rows if r.tested]
    drifted = sum(r.drifted for r in tested)
    share = drifted / len(tested) if tested else 0.0
    return DriftReport(
        features=rows,
        predictions=tuple(judge(n, "prediction") for n in outputs),
        dataset_drift=bool(tested) and share >= drift_share,
        share_drifted=share,
        num_drifted=drifted,
        num_tested=len(tested),
        drift_share=drift_share,
        rows_reference=ref_summary.rows,
        rows_current=cur_summary.rows,
        alpha=alpha,
        size_aware=size_aware,
        seed=seed,
    )


def _check_options(alpha: float, drift_share: float, bins: int, chunk_rows: int) -> None:
    if not 0.0 < alpha < 1.0:
        raise InvalidInput(f"alpha is a significance level in (0, 1), not {alpha!r}")
    if not 0.0 < drift_share <= 1.0:
        raise InvalidInput(f"drift_share is a share in (0, 1], not {drift_share!r}")
    if bins < 2 or chunk_rows < 1:
        raise InvalidInput(f"need bins >= 2 and chunk_rows >= 1, got {bins} and {chunk_rows}")


def _features(
    features: Sequence[str] | None, outputs: list[str], ref: Source, cur: Source
) -> list[str]:
    if isinstance(features, str):
        features = [features]
    names = [c for c in ref.columns if c not in outputs] if features is None else list(features)
    both = sorted(set(names) & set(outputs))
    if both:
        raise InvalidInput(f"{both} listed both as features and as prediction columns")
    if len(set(names)) != len(names):
        raise InvalidInput(
            f"features listed twice: {sorted({n for n in names if names.count(n) > 1})}"
        )
    for name in [*names, *outputs]:
        for side in (ref, cur):
            if name not in side.columns:
                label = "reference" if side is ref else "current window"
                raise InvalidInput(
                    f"column {name!r} is not in the {label} (its columns: "
                    f"{_listing(side.columns)})",
                    details={"column": name, "missing_in": side.what},
                )
    if not names and not outputs:
        raise InvalidInput("no feature to compare")
    return names


def _listing(columns: list[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:20])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > 20 else "")


def _check_method(method: str, where: str) -> str | None:
    if method == "auto":
        return None
    if method not in METHODS:
        raise InvalidInput(
            f"unknown drift method {method!r} for {where}: use auto or one of {', '.join(METHODS)}",
            details={"method": method},
        )
    return method


def _methods(methods: str | Mapping[str, str] | None, names: list[str]) -> Any:
    """A function (name, ref summary, cur summary) -> method or None (automatic)."""
    if methods is None or isinstance(methods, str):
        chosen = None if methods is None else _check_method(methods, "every feature")
        return lambda _name, _a, _b: chosen
    for key, value in methods.items():
        if key not in names and key not in _KINDS:
            raise InvalidInput(
                f"methods has key {key!r}, which is neither a compared column nor a kind "
                f"({', '.join(_KINDS)})",
                details={"column": key},
            )
        _check_method(value, repr(key))

    def pick(name: str, a: ColumnSummary, b: ColumnSummary) -> str | None:
        kind = a.kind if a.kind in _KINDS else b.kind
        value = methods.get(name, methods.get(kind, "auto"))
        return _check_method(value, repr(name))

    return pick


def _thresholds(thresholds: Mapping[str, float] | None, names: list[str]) -> Any:
    """A function (name, method) -> threshold or None (the default)."""
    given = dict(thresholds or {})
    for key, value in given.items():
        if key not in names and key not in METHODS:
            raise InvalidInput(
                f"thresholds has key {key!r}, which is neither a compared column nor a method "
                f"({', '.join(METHODS)})",
                details={"column": key},
            )
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise InvalidInput(f"threshold {key!r} must be a positive number, not {value!r}")

    def pick(name: str, method: str) -> float | None:
        if name in given:
            return float(given[name])
        return float(given[method]) if method in given else None

    return pick
