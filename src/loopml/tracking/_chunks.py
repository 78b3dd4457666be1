"""Columnar chunks of metric points: steps, timestamps and values as packed arrays."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from loopml.tracking._entities import Metric

__all__ = ["chunk_rows", "decode_chunks"]

_I8 = np.dtype("<i8")
_F8 = np.dtype("<f8")


def chunk_rows(
    run_id: str, metrics: Iterable[Metric]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One ``metric_chunks`` row per key, and one ``latest_metrics`` row per key.

    The latest point is the one with the highest step, then the latest timestamp, then the
    last logged (a stable sort keeps the logging order among equals).
    """
    groups: dict[str, list[Metric]] = {}
    for m in metrics:
        group = groups.get(m[0])
        if group is None:
            groups[m[0]] = [m]
        else:
            group.append(m)
    chunks: list[dict[str, Any]] = []
    latest: list[dict[str, Any]] = []
    for key, points in groups.items():
        _, values, timestamps, steps = zip(*points, strict=True)
        step_arr = np.array(steps, dtype=_I8)
        ts_arr = np.array(timestamps, dtype=_I8)
        value_arr = np.array(values, dtype=_F8)
        chunks.append(
            {
                "run_id": run_id,
                "key": key,
                "count": len(points),
                "step_min": int(step_arr.min()),
                "step_max": int(step_arr.max()),
                "data": step_arr.tobytes() + ts_arr.tobytes() + value_arr.tobytes(),
            }
        )
        last = int(np.lexsort((ts_arr, step_arr))[-1]) if len(points) > 1 else 0
        value = float(value_arr[last])
        nan = value != value
        latest.append(
            {
                "run_id": run_id,
                "key": key,
                "value": 0.0 if nan else value,
                "is_nan": nan,
                "step": int(step_arr[last]),
                "timestamp": int(ts_arr[last]),
            }
        )
    return chunks, latest


def decode_chunks(
    key: str, chunks: Sequence[tuple[int, bytes]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, timestamps and values of ``(count, data)`` chunks, ordered by step then time."""
    if not chunks:
        empty = np.empty(0, dtype=_I8)
        return empty, empty, np.empty(0, dtype=_F8)
    steps, stamps, values = [], [], []
    for count, data in chunks:
        buf = bytes(data)
        steps.append(np.frombuffer(buf, dtype=_I8, count=count, offset=0))
        stamps.append(np.frombuffer(buf, dtype=_I8, count=count, offset=8 * count))
        values.append(np.frombuffer(buf, dtype=_F8, count=count, offset=16 * count))
    step_arr = np.concatenate(steps)
    ts_arr = np.concatenate(stamps)
    value_arr = np.concatenate(values)
    order = np.lexsort((ts_arr, step_arr))  # stable: equal points keep their logging order
    return step_arr[order], ts_arr[order], value_arr[order]


def to_metrics(key: str, chunks: Sequence[tuple[int, bytes]]) -> list[Metric]:
    """The points of ``chunks`` as :class:`Metric` tuples, ordered by step then time."""
    steps, stamps, values = decode_chunks(key, chunks)
    return [
        Metric(key, v, t, s)
        for s, t, v in zip(steps.tolist(), stamps.tolist(), values.tolist(), strict=True)
    ]
