"""Cutting a log into time windows, and the per-window results of performance and operations.

Windows are half-open ``[start, end)``. Without an explicit ``start`` they are aligned to
the epoch (a ``1h`` window starts on the hour, UTC), so that the same rows fall in the same
windows whoever asks; with ``start`` they are aligned to it, and ``end`` cuts the last one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.monitoring._durations import from_ms, parse_duration, to_ms

__all__ = [
    "MAX_WINDOWS",
    "OperationalReport",
    "PerformanceReport",
    "WindowOperations",
    "WindowPerformance",
    "Windows",
    "cut_windows",
]

#: More windows than this in one call is a mistake (a 1s window over a month of logs).
MAX_WINDOWS = 100_000


@dataclass(frozen=True)
class Windows:
    """Window bounds (ms) and, for each row, the index of its window (-1: outside)."""

    starts: np.ndarray
    ends: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)


def cut_windows(
    timestamps_ms: np.ndarray,
    window: str | timedelta,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Windows:
    """Assign each timestamp to its window (see the module docstring).

    Raises:
        InvalidInput: a bad window, ``end`` before ``start``, or too many windows.
    """
    size = int(parse_duration(window, what="window").total_seconds() * 1000)
    if size < 1:
        raise InvalidInput(f"window {window!r} is shorter than a millisecond")
    ts = np.asarray(timestamps_ms, dtype=np.int64)
    if start is not None:
        origin = to_ms(start)
    elif len(ts):
        origin = int(ts.min()) // size * size
    else:
        origin = 0
    if end is not None:
        stop = to_ms(end)
    elif len(ts):
        stop = int(ts.max()) + 1
    else:
        stop = origin
    if stop < origin:
        raise InvalidInput(f"end ({from_ms(stop)}) is before start ({from_ms(origin)})")
    count = math.ceil((stop - origin) / size)
    if count > MAX_WINDOWS:
        raise InvalidInput(
            f"{count:,} windows of {window} between {from_ms(origin)} and {from_ms(stop)}; "
            f"use a longer window (at most {MAX_WINDOWS:,})"
        )
    starts = origin + np.arange(count, dtype=np.int64) * size
    ends = np.minimum(starts + size, stop)
    index = np.full(len(ts), -1, dtype=np.int64)
    inside = (ts >= origin) & (ts < stop)
    index[inside] = (ts[inside] - origin) // size
    return Windows(starts, ends, index)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _as_dict(obj: Any) -> dict[str, Any]:
    return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}


@dataclass(frozen=True)
class WindowPerformance:
    """Model performance over one window, from the labelled predictions made in it.

    Attributes:
        start, end: the window, ``[start, end)``, by prediction time (UTC).
        n_predictions: served prediction rows in the window.
        n_labelled: of them, those with a label: the count behind every figure.
        metrics: each metric's value; None when undefined (see ``undefined``).
        undefined: for each None metric, why (no labels, one class, no probabilities...).
    """

    start: datetime
    end: datetime
    n_predictions: int
    n_labelled: int
    metrics: dict[str, float | None]
    undefined: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601)."""
        return _as_dict(self)


@dataclass(frozen=True)
class PerformanceReport:
    """Windowed performance (see :func:`~loopml.monitoring.model_performance`).

    Attributes:
        task: ``classification`` or ``regression`` (None: nothing to infer it from).
        window: the window length.
        windows: one row per window, oldest first, empty windows included.
        overall: the same figures over every window together.
        unmatched_labels: labels whose ``(request_id, row)`` matches no served prediction
            given (an unknown id, a refused request, or a prediction outside the frame).
        unmatched_ids: up to 10 of their request ids.
        duplicate_labels: labels replaced by a later one for the same row (the latest wins).
        classes: the classes the probability columns stand for, when known.
        notes: anything else worth knowing (warnings of the metric functions, ...).
    """

    task: str | None
    window: timedelta
    windows: tuple[WindowPerformance, ...]
    overall: WindowPerformance
    unmatched_labels: int = 0
    unmatched_ids: tuple[str, ...] = ()
    duplicate_labels: int = 0
    classes: tuple[Any, ...] | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out = _as_dict(self)
        out["window"] = self.window.total_seconds()
        out["windows"] = [w.to_dict() for w in self.windows]
        out["overall"] = self.overall.to_dict()
        return out

    def to_frame(self) -> Any:
        """One row per window: start, end, n_predictions, n_labelled and each metric."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "start": w.start,
                    "end": w.end,
                    "n_predictions": w.n_predictions,
                    "n_labelled": w.n_labelled,
                    **w.metrics,
                }
                for w in self.windows
            ]
        )


@dataclass(frozen=True)
class WindowOperations:
    """What the endpoint did in one window, from the prediction log.

    Attributes:
        start, end: the window, ``[start, end)`` (UTC).
        requests: requests answered (served rows, not shadow calls).
        rows: input rows in them.
        errors: requests answered with a status of 400 or more.
        throughput_rps: requests per second over the window's length.
        error_rate: ``errors / requests`` (None without requests).
        latency_p50_ms, latency_p95_ms, latency_p99_ms: request latency quantiles (None
            without requests).
    """

    start: datetime
    end: datetime
    requests: int
    rows: int
    errors: int
    throughput_rps: float
    error_rate: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601)."""
        return _as_dict(self)


@dataclass(frozen=True)
class OperationalReport:
    """Windowed operational metrics (see :func:`~loopml.monitoring.operational_metrics`).

    Attributes:
        window: the window length.
        windows: one row per window, oldest first, empty windows included.
        overall: the same figures over the whole span.
    """

    window: timedelta
    windows: tuple[WindowOperations, ...]
    overall: WindowOperations

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "window": self.window.total_seconds(),
            "windows": [w.to_dict() for w in self.windows],
            "overall": self.overall.to_dict(),
        }

    def to_frame(self) -> Any:
        """One row per window."""
        import pandas as pd

        return pd.DataFrame([w.to_dict() for w in self.windows])
