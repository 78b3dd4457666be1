"""Operational metrics from the prediction log: throughput, error rate, latency quantiles.

A request is counted once however many rows it held (its rows share one status and one
latency); shadow calls are left out, since no caller waited for them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.monitoring._durations import from_ms, parse_duration
from loopml.monitoring._windows import OperationalReport, WindowOperations, cut_windows

__all__ = ["operational_metrics"]


def _requests(predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per request: timestamp, rows, status, latency_ms."""
    frame = predictions
    if frame.empty:
        return pd.DataFrame(
            {"timestamp": pd.Series([], dtype="int64"), "rows": [], "status": [], "latency_ms": []}
        )
    missing = [
        c for c in ("request_id", "timestamp", "status", "latency_ms") if c not in frame.columns
    ]
    if missing:
        raise InvalidInput(
            f"the predictions have no {missing} column (see loopml.serving.read_log)"
        )
    if "shadow" in frame.columns:
        frame = frame[~frame["shadow"].fillna(False).astype(bool)]
    grouped = frame.groupby(frame["request_id"].astype(str), sort=False)
    out = grouped.agg(
        timestamp=("timestamp", "min"), status=("status", "max"), latency_ms=("latency_ms", "max")
    )
    out["rows"] = grouped["row"].apply(lambda r: int((r >= 0).sum())) if "row" in frame else 1
    return out.reset_index(drop=True)


def _figures(part: pd.DataFrame, start: int, end: int) -> WindowOperations:
    requests = len(part)
    errors = int((part["status"].to_numpy() >= 400).sum()) if requests else 0
    latency = part["latency_ms"].dropna().to_numpy(dtype=float) if requests else np.array([])
    q = np.quantile(latency, [0.5, 0.95, 0.99]) if len(latency) else [None, None, None]
    seconds = max((end - start) / 1000, 1e-3)
    return WindowOperations(
        start=from_ms(start),
        end=from_ms(end),
        requests=requests,
        rows=int(part["rows"].sum()) if requests else 0,
        errors=errors,
        throughput_rps=requests / seconds,
        error_rate=errors / requests if requests else None,
        latency_p50_ms=None if q[0] is None else float(q[0]),
        latency_p95_ms=None if q[1] is None else float(q[1]),
        latency_p99_ms=None if q[2] is None else float(q[2]),
    )


def operational_metrics(
    predictions: pd.DataFrame,
    *,
    window: str | timedelta = "1h",
    start: datetime | None = None,
    end: datetime | None = None,
) -> OperationalReport:
    """Per window: requests, rows, errors, throughput, error rate, latency p50 / p95 / p99.

    Example::

        report = operational_metrics(read_log(root, "predictions", "fraud"), window="5m")
        report.windows[-1].latency_p95_ms, report.overall.error_rate

    Args:
        predictions: prediction-log rows (``request_id``, ``timestamp`` in ms, ``status``,
            ``latency_ms``, optionally ``row`` and ``shadow``).
        window: window length (``"5m"``, ``"1h"``, a timedelta).
        start, end: the span to cut (default: the rows' own span, windows aligned to the
            epoch). Throughput divides by each window's length, so empty windows count.

    Returns:
        The :class:`OperationalReport`.

    Raises:
        InvalidInput: a frame without the columns it needs, or a bad window.
    """
    size = parse_duration(window, what="window")
    requests = _requests(predictions)
    cuts = cut_windows(requests["timestamp"].to_numpy(), size, start=start, end=end)
    rows = tuple(
        _figures(requests[cuts.index == i], int(cuts.starts[i]), int(cuts.ends[i]))
        for i in range(len(cuts))
    )
    first = int(cuts.starts[0]) if len(cuts) else 0
    last = int(cuts.ends[-1]) if len(cuts) else 0
    overall = _figures(requests[cuts.index >= 0], first, last)
    return OperationalReport(window=size, windows=rows, overall=overall)
