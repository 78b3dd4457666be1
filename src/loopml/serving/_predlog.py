"""The prediction log and the feedback log: what was asked, what answered, what was true.

Recording never blocks a request: :meth:`PredictionLog.record` appends to an in-memory
buffer under a lock and returns; a background thread flushes the buffer every few seconds
(and on :meth:`close`, which SIGTERM reaches through the server's shutdown) as Parquet files
partitioned by endpoint, date and hour::

    <root>/predictions/endpoint=fraud/date=2026-12-05/hour=14/part-<ms>-<id>.parquet
    <root>/feedback/endpoint=fraud/date=2026-12-05/hour=15/part-<ms>-<id>.parquet

One prediction row per input row: request id, row index, time, endpoint, model, version,
status, latency, error, the input features as ``f.<column>`` and the output as
``prediction`` (plus ``proba`` where the model has it). The files are plain Parquet in the
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
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

__all__ = ["FeedbackLog", "PredictionLog", "log_root", "read_log"]

_log = logging.getLogger("loopml.serving")
PREDICTIONS, FEEDBACK = "predictions", "feedback"


def log_root(artifacts_url: str) -> str:
    """Where the logs of a store whose artifacts live at ``artifacts_url`` are kept."""
    return artifacts_url.rstrip("/") + "/logs"


class _PartitionedLog:
    """A buffer of rows flushed by a thread to hour partitions (see the module docstring)."""

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
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time: files are never torn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"loopml-{kind}-log", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Rows waiting to be written."""
        return len(self._rows)

    def _append(self, rows: Iterable[dict[str, Any]]) -> int:
        with self._lock:
            room = self.max_buffered - len(self._rows)
            batch = list(rows)
            if len(batch) > room:
                self.dropped += len(batch) - max(room, 0)
                batch = batch[: max(room, 0)]
            self._rows.extend(batch)
            return len(batch)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_every_s):
            self.flush()

    def flush(self) -> int:
        """Write what is buffered now; returns the number of rows written. A failed write
        keeps the rows for the next flush (up to the buffer's bound)."""
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                for path, part in self._partitions(rows):
                    self._write(path, part)
            except Exception:  # the store is down: keep the rows, say so, try again later
                self.failed_flushes += 1
                _log.exception("could not write the %s log; retrying at the next flush", self.kind)
                with self._lock:
                    self._rows[:0] = rows[: self.max_buffered]
                    overflow = len(self._rows) - self.max_buffered
                    if overflow > 0:
                        self.dropped += overflow
                        del self._rows[self.max_buffered :]
                return 0
            self.written += len(rows)
            return len(rows)

    def _partitions(self, rows: list[dict[str, Any]]) -> Iterable[tuple[str, pa.Table]]:
        frame = pd.DataFrame.from_records(rows)
        stamp = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
        keys = frame["endpoint"].astype(str) + "|" + stamp.dt.strftime("%Y-%m-%d|%H")
        for key, index in frame.groupby(keys, sort=False).groups.items():
            endpoint, date, hour = str(key).split("|")
            part = frame.loc[index].dropna(axis=1, how="all")
            name = f"part-{int(time.time() * 1000)}-{uuid.uuid4().hex[:8]}.parquet"
            directory = f"{self.root}/endpoint={endpoint}/date={date}/hour={hour}"
            table = pa.Table.from_pandas(part, preserve_index=False)
            yield f"{directory}/{name}", table

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
        inputs: pd.DataFrame | None,
        outputs: Sequence[Any] | None = None,
        proba: Any = None,
        error: str | None = None,
        timestamp_ms: int | None = None,
    ) -> int:
        """Buffer one request's rows; returns how many were kept (0 when the buffer is full).
        Never raises for the data it is given: a log must not fail a request."""
        now = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        base = {"request_id": request_id, "timestamp": now, "endpoint": endpoint,
                "model": model, "version": version, "status": status,
                "latency_ms": float(latency_ms), "error": error}  # fmt: skip
        try:
            if inputs is None or len(inputs) == 0:
                return self._append([{**base, "row": -1}])
            features = inputs.rename(columns=lambda c: f"f.{c}").to_dict("records")
            rows = []
            for i, feature_row in enumerate(features):
                row = {**base, "row": i, **feature_row}
                if outputs is not None and i < len(outputs):
                    row["prediction"] = _scalar(outputs[i])
                if proba is not None and i < len(proba):
                    row["proba"] = [float(p) for p in proba[i]]
                rows.append(row)
            return self._append(rows)
        except Exception:  # a shape the log cannot hold: the request is unaffected
            _log.exception("could not record request %s in the prediction log", request_id)
            return 0


class FeedbackLog(_PartitionedLog):
    """Ground truth for earlier requests, by request id (and row, default 0)."""

    def __init__(self, root: str, **kwargs: Any) -> None:
        super().__init__(root, FEEDBACK, **kwargs)

    def record(self, endpoint: str, items: Iterable[Mapping[str, Any]]) -> int:
        """Buffer labels: each item has ``request_id``, ``label`` and optionally ``row``."""
        now = int(time.time() * 1000)
        rows = [
            {"request_id": str(i["request_id"]), "row": int(i.get("row", 0)),
             "label": _scalar(i["label"]), "timestamp": now, "endpoint": endpoint}
            for i in items
        ]  # fmt: skip
        return self._append(rows)


def _scalar(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


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
