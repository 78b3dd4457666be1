"""Summarising a sample chunk by chunk, or partition by partition on a Dask cluster.

Memory stays bounded by one chunk (plus the one being read ahead) and a fixed-size summary
per column, however many rows stream through: the summary of a column is a KLL sketch of at
most a few tens of thousands of values, moments, and category counts.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterator
from typing import Any, TypeVar

from loopml.monitoring._inputs import Source, chunk_columns
from loopml.monitoring._summary import ColumnSummary, TableSummary

__all__ = ["CHUNK_ROWS", "summarise"]

#: Rows read from a Parquet source at a time: 25 numeric columns of it are about 26 MB.
CHUNK_ROWS = 131_072
# Dask partition summaries merged per task: a tree, so the client never holds them all.
_FAN_IN = 8

T = TypeVar("T")


def summarise(source: Source, names: list[str]) -> TableSummary:
    """The summary of the ``names`` columns of ``source``."""
    if source.dask is not None:
        summary = _dask_summary(source.dask, names)
    else:
        assert source.chunks is not None
        summary = TableSummary()
        for rows, columns in _read_ahead(source.chunks(names)):
            summary.add(rows, columns)
    for name in names:  # a sample without rows still has (empty) columns
        summary.columns.setdefault(name, ColumnSummary(name))
    return summary


def _read_ahead(chunks: Iterator[T]) -> Iterator[T]:
    """Yield ``chunks`` while a thread reads the next one: Parquet decoding releases the GIL,
    so reading overlaps summarising on a second core. At most one chunk waits."""
    with cf.ThreadPoolExecutor(1, thread_name_prefix="loopml-drift-reader") as pool:
        pending = pool.submit(next, chunks, None)
        while True:
            chunk = pending.result()
            if chunk is None:
                return
            pending = pool.submit(next, chunks, None)
            yield chunk


def _partition_summary(frame: Any, names: list[str]) -> TableSummary:
    summary = TableSummary()
    rows, columns = chunk_columns(frame, names)
    summary.add(rows, columns)
    return summary


def _merge(parts: list[TableSummary]) -> TableSummary:
    total = parts[0]
    for part in parts[1:]:
        total.merge(part)
    return total


def _dask_summary(frame: Any, names: list[str]) -> TableSummary:
    """Summaries of each partition on the workers, merged in a tree of ``_FAN_IN``-way tasks;
    runs on the active ``dask.distributed`` client if there is one."""
    import dask

    parts = [dask.delayed(_partition_summary)(p, names) for p in frame[names].to_delayed()]
    if not parts:
        return TableSummary()
    while len(parts) > 1:
        parts = [
            dask.delayed(_merge)(parts[i : i + _FAN_IN]) for i in range(0, len(parts), _FAN_IN)
        ]
    (summary,) = dask.compute(parts[0])
    return summary
