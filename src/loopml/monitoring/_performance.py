"""Model performance from late labels: feedback joined to the prediction log by request id.

Labels arrive after the predictions they judge, so a window is the time of the prediction,
not of the label. The join is on ``(request_id, row)``; when one row was labelled more than
once, the latest label (by feedback time, then by order) wins. Only served rows count:
shadow answers, refused requests (row -1) and error rows carry no prediction to judge, and a
label for them is reported as unmatched, like a label for an unknown request id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.monitoring._durations import from_ms, parse_duration
from loopml.monitoring._metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    align_labels,
    classification_metrics,
    regression_metrics,
)
from loopml.monitoring._windows import PerformanceReport, WindowPerformance, cut_windows

__all__ = ["infer_task", "latest_labels", "model_performance", "served_rows", "unmatched"]

Task = Literal["classification", "regression"]
_KEY = ["request_id", "row"]
_MAX_CLASSES = 20


def served_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """The rows a caller was answered with: no shadow calls, no refused or failed rows."""
    frame = predictions
    if frame.empty:
        return frame
    keep = np.ones(len(frame), dtype=bool)
    if "shadow" in frame.columns:
        keep &= ~frame["shadow"].fillna(False).astype(bool).to_numpy()
    if "status" in frame.columns:
        keep &= frame["status"].fillna(0).to_numpy() < 400
    if "row" in frame.columns:
        keep &= frame["row"].fillna(-1).to_numpy() >= 0
    return frame[keep]


def infer_task(predictions: pd.Series, proba: pd.Series | None = None) -> Task | None:
    """``classification`` when probabilities were logged or the predictions are integers,
    booleans or text (or floats that are all whole numbers, of at most 20 distinct values);
    ``regression`` for other floats; None when there is none. A monitor's spec can say."""
    if proba is not None and proba.notna().any():
        return "classification"
    values = predictions.dropna()
    if values.empty:
        return None
    values = values.infer_objects()
    if values.dtype.kind != "f":
        return "classification"
    # Integer classes come back as floats when a null (a failed request) shares their file.
    whole = bool(np.all(values.to_numpy() == np.round(values.to_numpy())))
    return "classification" if whole and values.nunique() <= _MAX_CLASSES else "regression"


def latest_labels(feedback: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The latest label of each ``(request_id, row)``, and how many were superseded."""
    if feedback.empty:
        return pd.DataFrame({"request_id": [], "row": [], "label": []}), 0
    missing = [c for c in ("request_id", "label") if c not in feedback.columns]
    if missing:
        raise InvalidInput(f"the feedback has no {missing} column (it needs request_id, label)")
    frame = feedback.assign(
        row=feedback["row"].fillna(0).astype("int64") if "row" in feedback else 0,
        request_id=feedback["request_id"].astype(str),
    )
    frame = frame[frame["label"].notna()]
    if "timestamp" in frame.columns:  # stable: equal times keep their order, the last wins
        frame = frame.sort_values("timestamp", kind="stable")
    latest = frame.drop_duplicates(_KEY, keep="last")
    return latest[[*_KEY, "label"]], len(frame) - len(latest)


def unmatched(labels: pd.DataFrame, served: pd.DataFrame) -> pd.DataFrame:
    """The labels whose ``(request_id, row)`` is not among the ``served`` rows' keys."""
    if served.empty:
        return labels
    known = pd.MultiIndex.from_arrays(
        [served["request_id"].astype(str), served["row"].astype("int64")]
    )
    return labels[~pd.MultiIndex.from_frame(labels[_KEY]).isin(known)]


def model_performance(
    predictions: pd.DataFrame,
    feedback: pd.DataFrame,
    *,
    task: Task | None = None,
    window: str | timedelta = "1h",
    start: datetime | None = None,
    end: datetime | None = None,
    classes: Sequence[Any] | None = None,
    positive_label: Any = None,
    average: Literal["macro", "weighted", "micro"] = "macro",
) -> PerformanceReport:
    """Windowed model performance: labels joined to predictions by ``(request_id, row)``.

    Classifiers get accuracy, precision, recall, F1 (binary for two classes, else
    ``average``), ROC AUC and log loss (both from the logged ``proba``); regressors RMSE,
    MAE and R². Each window says how many labelled rows stand behind its figures, and each
    figure that is undefined is None with the reason (no labels, one class for ROC AUC, no
    probabilities, constant labels for R²...).

    Example::

        from loopml.serving import read_log
        preds = read_log(root, "predictions", "fraud", start=since)
        labels = read_log(root, "feedback", "fraud", start=since)
        report = model_performance(preds, labels, window="1h")
        report.windows[-1].metrics["f1"], report.windows[-1].n_labelled

    Args:
        predictions: prediction-log rows (as :func:`loopml.serving.read_log` returns them):
            ``request_id``, ``row``, ``timestamp`` (ms), ``prediction``, optionally
            ``proba``, ``status``, ``shadow``.
        feedback: feedback-log rows: ``request_id``, ``label``, optionally ``row`` (default
            0) and ``timestamp`` (which orders duplicate labels: the latest wins).
        task: ``classification`` or ``regression``; None infers it (see :func:`infer_task`).
        window: window length (``"1h"``, ``"15m"``, a timedelta).
        start, end: the span to cut into windows (default: the predictions' own span, with
            windows aligned to the epoch).
        classes: the classes that the ``proba`` columns stand for, in order (default: the
            sorted classes seen, when their number matches).
        positive_label: the positive class of a binary task (default 1, True, or the last
            class in sorted order).
        average: how precision, recall, F1 and ROC AUC average over more than two classes.

    Returns:
        The :class:`PerformanceReport`.

    Raises:
        InvalidInput: a frame without the columns it needs, a bad window or task.
    """
    if task not in (None, "classification", "regression"):
        raise InvalidInput(f"task is classification or regression, not {task!r}")
    size = parse_duration(window, what="window")
    needed = [
        c for c in ("request_id", "row", "timestamp", "prediction") if c not in predictions.columns
    ]
    if needed and not predictions.empty:
        raise InvalidInput(f"the predictions have no {needed} column (see loopml.serving.read_log)")
    served = served_rows(predictions)
    if not served.empty:
        served = served[served["prediction"].notna()].assign(
            request_id=served["request_id"].astype(str), row=served["row"].astype("int64")
        )
    labels, duplicates = latest_labels(feedback)
    proba = served["proba"] if "proba" in served.columns else None
    task = task or (infer_task(served["prediction"], proba) if not served.empty else None)
    strays = unmatched(labels, served)
    if served.empty:
        joined = pd.DataFrame({"timestamp": pd.Series([], dtype="int64")})
    else:
        joined = served.merge(labels, on=_KEY, how="left")
    cuts = cut_windows(joined["timestamp"].to_numpy(), size, start=start, end=end)
    options = {"classes": classes, "positive_label": positive_label, "average": average}
    notes: list[str] = []
    found: dict[str, Any] = {}  # the probability columns' classes, once known
    rows = []
    for i in range(len(cuts)):
        part = joined[cuts.index == i]
        rows.append(_window(task, part, cuts.starts[i], cuts.ends[i], options, notes, found))
    inside = joined[cuts.index >= 0]
    first = int(cuts.starts[0]) if len(cuts) else 0
    last = int(cuts.ends[-1]) if len(cuts) else 0
    overall = _window(task, inside, first, last, options, notes, found)
    return PerformanceReport(
        task=task,
        window=size,
        windows=tuple(rows),
        overall=overall,
        unmatched_labels=len(strays),
        unmatched_ids=tuple(dict.fromkeys(strays["request_id"].astype(str)))[:10],
        duplicate_labels=duplicates,
        classes=found.get("classes"),
        notes=tuple(dict.fromkeys(notes)),
    )


def _window(
    task: str | None,
    part: pd.DataFrame,
    start: int,
    end: int,
    options: dict[str, Any],
    notes: list[str],
    found: dict[str, Any],
) -> WindowPerformance:
    names = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    labelled = part[part["label"].notna()] if "label" in part.columns else part.iloc[:0]
    bounds = (from_ms(start), from_ms(end), len(part), len(labelled))
    if labelled.empty or task is None:
        why = "no labelled predictions in this window" if task else "no predictions to judge"
        return WindowPerformance(*bounds, dict.fromkeys(names), dict.fromkeys(names, why))
    if task == "regression":
        values, undefined, _ = regression_metrics(labelled["label"], labelled["prediction"], notes)
    else:
        y_true, y_pred = align_labels(labelled["label"], labelled["prediction"])
        proba = labelled["proba"] if "proba" in labelled.columns else None
        values, undefined, cols = classification_metrics(
            y_true, y_pred, proba, notes=notes, **options
        )
        if cols is not None:
            found["classes"] = cols
    return WindowPerformance(*bounds, values, undefined)
