"""The drift report: one row per feature (and per model output), and the dataset's verdict."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from loopml.errors import NotFound

__all__ = ["Chart", "DriftReport", "FeatureDrift"]


@dataclass(frozen=True)
class Chart:
    """What a feature's chart draws: the share of each sample in each bin.

    Attributes:
        labels: one label per bin (a value range, a category, or ``other``).
        reference, current: shares of each sample's non-missing values per bin.
    """

    labels: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, JSON-ready."""
        return {
            "labels": list(self.labels),
            "reference": list(self.reference),
            "current": list(self.current),
        }


@dataclass(frozen=True)
class FeatureDrift:
    """The drift verdict on one column.

    For the tests (``ks``, ``chisquare``) ``score`` is the p-value and the column drifted when
    ``score < threshold``; for the distances (``psi``, ``wasserstein``, ``jensenshannon``)
    ``score`` is the distance and it drifted when ``score >= threshold``. ``method`` is
    ``missing`` when one sample has no value at all, ``type`` when the column's type changed
    (both count as drifted), and ``none`` when nothing could be compared.

    Attributes:
        feature: the column. role: ``feature``, or ``prediction`` for a model output.
        kind: ``numeric`` or ``categorical`` as compared (a numeric column with at most 5
            distinct values in both samples together is compared as categorical), or
            ``empty`` / ``unsupported``.
        method, score, threshold, drifted: see above.
        statistic: the test statistic (KS D, chi-square) or the distance.
        p_value: for the tests. base_threshold: the configured threshold.
        null_threshold: for distances with size-aware thresholds, the score that noise alone
            reaches with probability ``alpha`` at these sample sizes (the ``1 - alpha``
            quantile under random relabelling of the pooled samples); ``threshold`` is the
            larger of it and ``base_threshold``.
        n_reference, n_current: non-missing values compared.
        missing_reference, missing_current: share of missing values (null, NaN, ±inf).
        unseen: categorical: share of the current values in categories the reference lacks;
            numeric: share of the current values outside the reference's [min, max].
        unseen_values: up to 10 such categories, most frequent first.
        notes: anything else worth knowing (constant column, mixed types, ...).
        chart: the binned shares drawn in the HTML report.
    """

    feature: str
    kind: str
    method: str
    score: float | None
    threshold: float | None
    drifted: bool
    role: str = "feature"
    statistic: float | None = None
    p_value: float | None = None
    base_threshold: float | None = None
    null_threshold: float | None = None
    n_reference: int = 0
    n_current: int = 0
    missing_reference: float = 0.0
    missing_current: float = 0.0
    unseen: float | None = None
    unseen_values: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    chart: Chart | None = field(default=None, repr=False)

    @property
    def tested(self) -> bool:
        """Whether a verdict was reached (``method`` is not ``none``)."""
        return self.method != "none"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN and ±inf become None)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Chart):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, float) and not math.isfinite(value):
                value = None
            out[f.name] = value
        return out


@dataclass(frozen=True)
class DriftReport:
    """Per-column verdicts and the dataset-level one.

    Attributes:
        features: one row per input feature, in column order.
        predictions: one row per model-output column (``prediction=``), judged alike but
            kept out of the dataset verdict.
        dataset_drift: ``share_drifted >= drift_share``.
        share_drifted: drifted features / features with a verdict.
        num_drifted, num_tested: the counts behind it.
        drift_share: the dataset rule's share (0.5 by default, as Evidently).
        rows_reference, rows_current: rows of each sample.
        alpha: the significance level (p-value threshold of the tests, and the false-alarm
            rate size-aware distance thresholds are set for).
        size_aware: whether distance thresholds were raised to the resampled null quantile.
        seed: seed of the resampling.
    """

    features: tuple[FeatureDrift, ...]
    predictions: tuple[FeatureDrift, ...]
    dataset_drift: bool
    share_drifted: float
    num_drifted: int
    num_tested: int
    drift_share: float
    rows_reference: int
    rows_current: int
    alpha: float
    size_aware: bool
    seed: int

    def __getitem__(self, name: str) -> FeatureDrift:
        for row in (*self.features, *self.predictions):
            if row.feature == name:
                return row
        raise NotFound(f"no column {name!r} in this drift report")

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features that drifted, in column order."""
        return [row.feature for row in self.features if row.drifted]

    @property
    def prediction_drift(self) -> bool | None:
        """Whether any model-output column drifted; None when none was given."""
        return any(row.drifted for row in self.predictions) if self.predictions else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``json.dumps(report.to_dict())`` works as is."""
        out: dict[str, Any] = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("features", "predictions")
        }
        out["prediction_drift"] = self.prediction_drift
        out["drifted_features"] = self.drifted_features
        out["features"] = [row.to_dict() for row in self.features]
        out["predictions"] = [row.to_dict() for row in self.predictions]
        return out

    def to_html(self, path: str | os.PathLike[str], *, title: str = "Drift report") -> Path:
        """Write a self-contained HTML page (inline SVG charts, no script, no data rows).

        Returns:
            The path written.
        """
        from loopml.monitoring._html import render_html

        target = Path(path)
        target.write_text(render_html(self, title=title), encoding="utf-8")
        return target
