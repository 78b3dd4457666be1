"""The metric functions behind model performance, each None with a reason when undefined.

scikit-learn computes every figure; this module decides beforehand whether a figure exists
(ROC AUC needs both classes among the labels, log loss needs probabilities, R² needs labels
that vary), so that an undefined figure says why instead of warning or raising.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

__all__ = [
    "CLASSIFICATION_METRICS",
    "LOWER_IS_BETTER",
    "REGRESSION_METRICS",
    "align_labels",
    "classification_metrics",
    "regression_metrics",
]

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
#: Errors and losses: a monitor bounds them with ``max``, not ``min``.
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})

Values = dict[str, float | None]
Reasons = dict[str, str]


def _numbers(series: pd.Series) -> np.ndarray | None:
    values = series.infer_objects()
    if values.dtype.kind in "biuf":
        return values.to_numpy(dtype=float)
    return None


def _text(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def align_labels(labels: pd.Series, predictions: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions as comparable arrays: numbers when both are numbers (whole
    numbers as integers: JSON's ``1.0`` is class ``1``), else text on both sides."""
    a, b = _numbers(labels), _numbers(predictions)
    if a is not None and b is not None:
        both = np.concatenate([a, b])
        if np.all(np.isfinite(both)) and np.all(both == np.round(both)):
            return a.astype(np.int64), b.astype(np.int64)
        return a, b
    return (
        np.array([_text(v) for v in labels], dtype=object),
        np.array([_text(v) for v in predictions], dtype=object),
    )


def _like(values: Sequence[Any], sample: np.ndarray) -> list[Any]:
    """User-given classes in the type of the aligned labels."""
    if sample.dtype.kind in "iu":
        return [int(v) for v in values]
    if sample.dtype.kind == "f":
        return [float(v) for v in values]
    return [_text(v) for v in values]


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: pd.Series | None,
    *,
    classes: Sequence[Any] | None,
    positive_label: Any,
    average: str,
    notes: list[str],
) -> tuple[Values, Reasons, tuple[Any, ...] | None]:
    """Accuracy, precision, recall, F1, ROC AUC and log loss; and the probability columns'
    classes when known."""
    values: Values = dict.fromkeys(CLASSIFICATION_METRICS)
    why: Reasons = {}
    given = _like(classes, y_true) if classes is not None else None
    seen = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    candidates = given if given is not None else seen
    binary = len(set(candidates) | set(seen)) <= 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values["accuracy"] = float(skm.accuracy_score(y_true, y_pred))
        pos = _positive(positive_label, candidates, y_true) if binary else None
        _precision_recall(values, why, y_true, y_pred, pos, average)
        cols = _probabilities(values, why, y_true, proba, given, seen, pos, average)
    notes.extend(str(w.message) for w in caught)
    return values, why, cols


def _positive(positive_label: Any, candidates: list[Any], sample: np.ndarray) -> Any:
    if positive_label is not None:
        return _like([positive_label], sample)[0]
    if sample.dtype.kind in "iuf" and set(candidates) <= {0, 1}:
        return 1
    return candidates[-1] if candidates else None


def _precision_recall(
    values: Values,
    why: Reasons,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    pos: Any,
    average: str,
) -> None:
    if pos is not None:
        p, r, f, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, labels=[pos], average=None, zero_division=np.nan
        )
        p, r, f = float(p[0]), float(r[0]), float(f[0])
        if not np.any(y_pred == pos):
            why["precision"] = f"no row was predicted as the positive class {pos!r}"
        if not np.any(y_true == pos):
            why["recall"] = f"no label is the positive class {pos!r}"
    else:
        p, r, f, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, average=average, zero_division=np.nan
        )
    values["precision"], values["recall"] = _finite(p), _finite(r)
    values["f1"] = _finite(f)
    if values["f1"] is None:
        why["f1"] = why.get("precision") or why.get("recall") or "undefined (zero division)"
    for name in ("precision", "recall"):
        if values[name] is None:
            why.setdefault(name, "undefined (zero division)")
        else:
            why.pop(name, None)


def _proba_matrix(proba: pd.Series) -> tuple[np.ndarray, np.ndarray] | str:
    """``(mask of rows with probabilities, matrix)`` or why there is none."""
    mask = proba.notna().to_numpy() & np.array(
        [not (isinstance(v, float) and math.isnan(v)) for v in proba], dtype=bool
    )
    if not mask.any():
        return "the prediction log has no probabilities (proba) for these rows"
    kept = [v for v, m in zip(proba, mask, strict=True) if m]
    if all(np.ndim(v) == 0 for v in kept):  # P(positive class) of a binary model
        p = np.asarray(kept, dtype=float)
        return mask, np.column_stack([1 - p, p])
    widths = {np.size(v) for v in kept}
    if len(widths) != 1 or any(np.ndim(v) != 1 for v in kept):
        return "the logged probabilities do not all have the same number of classes"
    return mask, np.vstack([np.asarray(v, dtype=float) for v in kept])


def _probability_classes(
    width: int, given: list[Any] | None, seen: list[Any], pos: Any
) -> list[Any] | str:
    if given is not None:
        if len(given) != width:
            return f"classes has {len(given)} entries but the probabilities have {width} columns"
        return given
    if len(seen) == width:
        return seen  # scikit-learn's order: classes_ are sorted
    if width == 2 and pos is not None and len(seen) == 1:
        other = [c for c in ((0, 1) if pos == 1 else seen) if c != pos]
        if other:
            return [other[0], pos]
    return (
        f"the probabilities have {width} columns but {len(seen)} classes were seen; "
        "give classes= (the model's classes, in order)"
    )


def _probabilities(
    values: Values,
    why: Reasons,
    y_true: np.ndarray,
    proba: pd.Series | None,
    given: list[Any] | None,
    seen: list[Any],
    pos: Any,
    average: str,
) -> tuple[Any, ...] | None:
    found = _proba_matrix(proba) if proba is not None else "the prediction log has no proba"
    if isinstance(found, str):
        why["roc_auc"] = why["log_loss"] = found
        return None
    mask, matrix = found
    cols = _probability_classes(matrix.shape[1], given, seen, pos)
    if isinstance(cols, str):
        why["roc_auc"] = why["log_loss"] = cols
        return None
    y = y_true[mask]
    try:
        values["log_loss"] = float(skm.log_loss(y, matrix, labels=cols))
    except ValueError as exc:
        why["log_loss"] = str(exc)
    if len(set(y.tolist())) < 2:
        why["roc_auc"] = "only one class among the labels: ROC AUC needs both"
    elif len(cols) == 2:
        positive = pos if pos in cols else cols[1]
        score = matrix[:, cols.index(positive)]
        values["roc_auc"] = float(skm.roc_auc_score(y == positive, score))
    else:
        try:
            values["roc_auc"] = float(
                skm.roc_auc_score(
                    y,
                    matrix,
                    multi_class="ovr",
                    labels=cols,
                    average=average if average in ("macro", "weighted") else "macro",
                )
            )
        except ValueError as exc:
            why["roc_auc"] = str(exc)
    return tuple(cols)


def regression_metrics(
    labels: pd.Series, predictions: pd.Series, notes: list[str]
) -> tuple[Values, Reasons, None]:
    """RMSE, MAE and R² over the rows where both are numbers."""
    y = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float)
    p = pd.to_numeric(predictions, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(y) & np.isfinite(p)
    if not ok.all():
        notes.append(
            f"{int((~ok).sum())} labelled rows without a numeric label or prediction were left out"
        )
    y, p = y[ok], p[ok]
    values: Values = dict.fromkeys(REGRESSION_METRICS)
    if len(y) == 0:
        return values, dict.fromkeys(REGRESSION_METRICS, "no numeric labels"), None
    why: Reasons = {}
    values["rmse"] = float(math.sqrt(skm.mean_squared_error(y, p)))
    values["mae"] = float(skm.mean_absolute_error(y, p))
    if len(y) < 2:
        why["r2"] = "R² needs at least 2 labelled rows"
    elif np.ptp(y) == 0:
        why["r2"] = "the labels are constant: R² is undefined"
    else:
        values["r2"] = float(skm.r2_score(y, p))
    return values, why, None
