"""Columnar chunks of metric points: steps, timestamps and values as packed arrays."""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from loopml.tracking._entities import Metric

__all__ = ["chunk_rows", "decode_chunks"]

_BIG_ENDIAN = sys.byteorder == "big"
_ONE = struct.Struct("<qqd")  # one point: step, timestamp, value
_I8 = np.dtype("<i8")
_F8 = np.dtype("<f8")


def chunk_rows(
    run_id: str, metrics: Iterable[Metric]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One ``metric_chunks`` row per key, and one ``latest_metrics`` row per key.

    The latest point is the one with the highest step, then the latest timestamp, then the
    last logged.
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
        if len(points) == 1:  # the common case of log_metrics(): one point per key
            _, value, timestamp, step = points[0]
            nan = value != value
            chunks.append(
                {
                    "run_id": run_id,
                    "key": key,
                    "count": 1,
                    "step_min": step,
                    "step_max": step,
                    "data": _ONE.pack(step, timestamp, value),
                }
            )
            latest.append(
                {
                    "run_id": run_id,
                    "key": key,
                    "value": 0.0 if nan else value,
                    "is_nan": nan,
                    "step": step,
                    "timestamp": timestamp,
                }
            )
            continue
        values = [p[1] for p in points]
        timestamps = [p[2] for p in points]
        steps = [p[3] for p in points]
        # array.array packs small and large lists alike at C speed, without numpy's
        # per-call overhead (a run usually logs a handful of points per key per batch).
        step_arr = array("q", steps)
        if _BIG_ENDIAN:
            raise NotImplementedError("metric chunks are little-endian")  # pragma: no cover
        data = step_arr.tobytes() + array("q", timestamps).tobytes() + array("d", values).tobytes()
        chunks.append(
            {
                "run_id": run_id,
                "key": key,
                "count": len(points),
                "step_min": min(steps),
                "step_max": max(steps),
                "data": data,
            }
        )
        # max() keeps the first maximum: scan in reverse so that among equal (step, time)
        # the last logged point wins.
        if len(points) > 256:
            order = np.lexsort((np.asarray(timestamps), np.asarray(steps)))  # stable
            last = int(order[-1])
        else:
            last = max(range(len(points) - 1, -1, -1), key=lambda i: (steps[i], timestamps[i]))
        value = values[last]
        nan = value != value
        latest.append(
            {
                "run_id": run_id,
                "key": key,
                "value": 0.0 if nan else value,
                "is_nan": nan,
                "step": steps[last],
                "timestamp": timestamps[last],
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
