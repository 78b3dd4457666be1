"""The prediction log and the feedback log: what was asked, what answered, what was true.

Recording never blocks a request: :meth:`PredictionLog.record` appends the request, as it
was served, to an in-memory buffer and returns; a background thread turns the buffer into
tables and flushes it every few seconds
(and on :meth:`close`, which SIGTERM reaches through the server's shutdown) as Parquet files
partitioned by endpoint, date and hour::

    <root>/predictions/endpoint=fraud/date=2026-12-05/hour=14/part-<ms>-<id>.parquet
    <root>/feedback/endpoint=fraud/date=2026-12-05/hour=15/part-<ms>-<id>.parquet

One prediction row per input row: request id, row index (-1 for a request refused before
its rows were read), time (``timestamp``, ms), endpoint, model, version, status,
``latency_ms``, error, ``shadow`` (the answer of a shadow route, never returned), the input
features as ``f.<column>`` (a tensor input as ``f.input``, a list per row) and the output as
``prediction`` (plus ``proba`` where it was computed). The files are plain Parquet in the
artifact store (a local directory or S3), so DuckDB, Spark or Dask read them as they are;
:func:`read_log` reads them back for monitoring. When the buffer is full (the store is down
for long), new rows are dropped and counted rather than let memory grow without bound.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from loopml.serving._input import ModelInput
from loopml.serving._logrows import (
    FeedbackEntry,
    PredictionEntry,
    feedback_tables,
    prediction_tables,
    scalar,
)

__all__ = ["FeedbackLog", "PredictionLog", "log_root", "read_log"]

_log = logging.getLogger("loopml.serving")
PREDICTIONS, FEEDBACK = "predictions", "feedback"


def log_root(artifacts_url: str) -> str:
    """Where the logs of a store whose artifacts live at ``artifacts_url`` are kept."""
    return artifacts_url.rstrip("/") + "/logs"


class _PartitionedLog:
    """A buffer of entries flushed by a thread to hour partitions (see the module docstring).

    Buffered entries hold a request as it was served; the flusher turns them into tables
    (:mod:`._logrows`), so that recording costs a request one append.
    """

    def __init__(
        self,
        root: str,
        kind: str,
        *,
        flush_every_s: float = 2.0,
        max_buffered: int = 200_000,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(root, **dict(storage_options or {}))
        self.root = self.root.rstrip("/") + "/" + kind
        self.kind = kind
        self.flush_every_s = flush_every_s
        self.max_buffered = max_buffered
        self.dropped = 0
        self.written = 0
        self.failed_flushes = 0
        # Called by the flusher after each round (the pool brings its metrics up to date).
        self.on_flush: Callable[[], None] | None = None
        self._entries: list[Any] = []
        self._depth = 0  # rows buffered
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time: files are never torn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"loopml-{kind}-log", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Rows waiting to be written."""
        return self._depth

    def _append(self, entry: Any, rows: int) -> int:
        # A request's rows are kept or dropped together: half a request is no record.
        with self._lock:
            if self._depth + rows > self.max_buffered:
                self.dropped += rows
                return 0
            self._entries.append(entry)
            self._depth += rows
            return rows

    def _run(self) -> None:
        while not self._stop.wait(self.flush_every_s):
            self.flush()
            if self.on_flush is not None:
                try:
                    self.on_flush()
                except Exception:  # metrics must not stop the flusher
                    _log.exception("the %s log's flush hook failed", self.kind)

    def flush(self) -> int:
        """Write what is buffered now; returns the number of rows written. A failed write
        keeps the entries for the next flush (up to the buffer's bound)."""
        with self._flush_lock:
            with self._lock:
                entries, self._entries = self._entries, []
                rows, self._depth = self._depth, 0
            if not entries:
                return 0
            try:
                for (endpoint, date, hour), table in self._tables(entries):
                    name = f"part-{int(time.time() * 1000)}-{uuid.uuid4().hex[:8]}.parquet"
                    directory = f"{self.root}/endpoint={endpoint}/date={date}/hour={hour}"
                    self._write(f"{directory}/{name}", table)
            except Exception:  # the store is down: keep the entries, say so, try again later
                self.failed_flushes += 1
                _log.exception("could not write the %s log; retrying at the next flush", self.kind)
                self._requeue(entries)
                return 0
            self.written += rows
            return rows

    def _requeue(self, entries: list[Any]) -> None:
        with self._lock:
            kept: list[Any] = []
            for entry in entries:  # the oldest first, as long as they fit
                rows = self._rows_of(entry)
                if self._depth + rows > self.max_buffered:
                    self.dropped += rows
                    continue
                kept.append(entry)
                self._depth += rows
            self._entries[:0] = kept

    def _rows_of(self, entry: Any) -> int:
        raise NotImplementedError

    def _tables(self, entries: list[Any]) -> Iterable[tuple[tuple[str, str, str], pa.Table]]:
        raise NotImplementedError

    def _write(self, path: str, table: pa.Table) -> None:
        directory = path.rsplit("/", 1)[0]
        with contextlib.suppress(FileExistsError):
            self.fs.makedirs(directory, exist_ok=True)
        # Readers list *.parquet: write under another name, then rename (one S3 PUT is
        # atomic already, and a rename there would copy, so S3 writes the final name).
        if isinstance(self.fs, LocalFileSystem):
            tmp = f"{directory}/.{path.rsplit('/', 1)[1]}.tmp"
            with self.fs.open(tmp, "wb") as fh:
                pq.write_table(table, fh)
            self.fs.mv(tmp, path)
        else:
            with self.fs.open(path, "wb") as fh:
                pq.write_table(table, fh)

    def close(self) -> None:
        """Stop the flusher and write what is left."""
        self._stop.set()
        self._thread.join(timeout=30)
        self.flush()


class PredictionLog(_PartitionedLog):
    """Prediction rows of a serving process (see the module docstring)."""

    def __init__(self, root: str, **kwargs: Any) -> None:
        super().__init__(root, PREDICTIONS, **kwargs)

    def record(
        self,
        *,
        request_id: str,
        endpoint: str,
        model: str,
        version: str | None,
        status: int,
        latency_ms: float,
        inputs: ModelInput | pd.DataFrame | None,
        outputs: Any = None,
        proba: Any = None,
        error: str | None = None,
        timestamp_ms: int | None = None,
        shadow: bool = False,
    ) -> int:
        """Buffer one request; returns how many rows were kept (0 when the buffer is full).

        ``inputs`` are the request's checked rows (kept as they are: the flusher converts
        them), ``outputs`` and ``proba`` one value (or row of probabilities) per input row.
        ``shadow`` marks the answer of a shadow route, which the caller never saw. Never
        raises for the data it is given: a log must not fail a request.
        """
        if inputs is None:
            rows = 1
        else:
            rows = len(inputs) if isinstance(inputs, pd.DataFrame) else inputs.rows
        if rows == 0:
            inputs, rows = None, 1
        now = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        entry = PredictionEntry(
            now, request_id, endpoint, model, version, status, float(latency_ms), error,
            shadow, inputs, outputs, proba, rows,
        )  # fmt: skip
        return self._append(entry, rows)

    def _rows_of(self, entry: Any) -> int:
        return int(entry.rows)

    def _tables(self, entries: list[Any]) -> Iterable[tuple[tuple[str, str, str], pa.Table]]:
        return prediction_tables(entries)


class FeedbackLog(_PartitionedLog):
    """Ground truth for earlier requests, by request id (and row, default 0)."""

    def __init__(self, root: str, **kwargs: Any) -> None:
        super().__init__(root, FEEDBACK, **kwargs)

    def record(self, endpoint: str, items: Iterable[Mapping[str, Any]]) -> int:
        """Buffer labels: each item has ``request_id``, ``label`` and optionally ``row``."""
        ids, rows, labels = [], [], []
        for item in items:
            ids.append(str(item["request_id"]))
            rows.append(int(item.get("row", 0)))
            labels.append(scalar(item["label"]))
        return self.record_columns(endpoint, ids, labels, rows)

    def record_columns(
        self,
        endpoint: str,
        request_ids: Sequence[str],
        labels: Sequence[Any],
        rows: Sequence[int] | None = None,
    ) -> int:
        """Buffer labels given as columns (a file's chunk); ``rows`` default to 0."""
        now = int(time.time() * 1000)
        rows = rows if rows is not None else [0] * len(request_ids)
        entry = FeedbackEntry(now, endpoint, list(request_ids), list(rows), list(labels))
        return self._append(entry, max(entry.size, 1)) if entry.size else 0

    def _rows_of(self, entry: Any) -> int:
        return max(int(entry.size), 1)

    def _tables(self, entries: list[Any]) -> Iterable[tuple[tuple[str, str, str], pa.Table]]:
        return feedback_tables(entries)


def read_log(
    root: str,
    kind: str,
    endpoint: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The rows of one endpoint's prediction or feedback log between ``start`` and ``end``
    (UTC; hours outside are not read). Files written by different model versions may
    have different columns: the union is returned, missing values as NaN."""
    fs, base = fsspec.core.url_to_fs(root, **dict(storage_options or {}))
    directory = f"{base.rstrip('/')}/{kind}/endpoint={endpoint}"
    if not fs.exists(directory):
        return pd.DataFrame()
    paths = sorted(p for p in fs.find(directory) if p.endswith(".parquet")
                   and not p.rsplit("/", 1)[1].startswith("."))  # fmt: skip
    if start is not None or end is not None:
        paths = [p for p in paths if _in_window(p, start, end)]
    tables = []
    for path in paths:
        with fs.open(path, "rb") as fh:
            tables.append(pq.read_table(fh))
    if not tables:
        return pd.DataFrame()
    frame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    if start is not None:
        frame = frame[frame["timestamp"] >= int(start.timestamp() * 1000)]
    if end is not None:
        frame = frame[frame["timestamp"] < int(end.timestamp() * 1000)]
    return frame.sort_values(["timestamp", "request_id"], kind="stable").reset_index(drop=True)


def _in_window(path: str, start: datetime | None, end: datetime | None) -> bool:
    parts = dict(p.split("=", 1) for p in path.split("/") if "=" in p)
    try:
        hour = datetime.strptime(f"{parts['date']} {parts['hour']}", "%Y-%m-%d %H")
    except (KeyError, ValueError):
        return False
    hour = hour.replace(tzinfo=UTC)
    if start is not None and hour.timestamp() + 3600 <= start.timestamp():
        return False
    return not (end is not None and hour.timestamp() >= end.timestamp())
