"""The serving logs as monitors read them: whole windows, and the keys of a longer span.

The prediction and feedback logs are Parquet files partitioned by endpoint, date and hour
(:mod:`loopml.serving._predlog`); a window is read with :func:`loopml.serving.read_log`.
To tell a label for an unknown request from a label for an older one, a run also reads the
request keys of the span before its window, and only those columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from loopml.serving import read_log

__all__ = ["LogReader"]

_KEY_COLUMNS = ("request_id", "row", "timestamp", "status", "shadow")


def _hour(path: str) -> float | None:
    parts = dict(p.split("=", 1) for p in path.split("/") if "=" in p)
    try:
        moment = datetime.strptime(f"{parts['date']} {parts['hour']}", "%Y-%m-%d %H")
    except (KeyError, ValueError):
        return None
    return moment.replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class LogReader:
    """The prediction and feedback logs under one root (``<artifacts>/logs``, a directory
    or an fsspec URL with its ``storage_options``)."""

    root: str
    storage_options: Mapping[str, Any] = field(default_factory=dict)

    def read(self, kind: str, endpoint: str, start: datetime, end: datetime | None) -> pd.DataFrame:
        """Every column of ``kind`` (predictions / feedback) logged in ``[start, end)``."""
        return read_log(
            self.root, kind, endpoint, start=start, end=end, storage_options=self.storage_options
        )

    def exists(self, endpoint: str) -> bool:
        """Whether the endpoint has a prediction log at all."""
        fs, base = fsspec.core.url_to_fs(self.root, **dict(self.storage_options))
        return bool(fs.exists(f"{base.rstrip('/')}/predictions/endpoint={endpoint}"))

    def keys(self, endpoint: str, start: datetime, end: datetime) -> pd.DataFrame:
        """``request_id`` and ``row`` of the prediction rows logged in ``[start, end)`` (with
        ``status`` and ``shadow`` where logged), read column-wise."""
        fs, base = fsspec.core.url_to_fs(self.root, **dict(self.storage_options))
        directory = f"{base.rstrip('/')}/predictions/endpoint={endpoint}"
        if not fs.exists(directory):
            return pd.DataFrame({"request_id": [], "row": [], "timestamp": []})
        lo, hi = start.timestamp(), end.timestamp()
        tables = []
        for path in sorted(fs.find(directory)):
            hour = _hour(path)
            name = path.rsplit("/", 1)[1]
            if not name.endswith(".parquet") or name.startswith(".") or hour is None:
                continue
            if hour + 3600 <= lo or hour >= hi:
                continue
            with fs.open(path, "rb") as fh:
                file = pq.ParquetFile(fh)
                wanted = [c for c in _KEY_COLUMNS if c in file.schema_arrow.names]
                tables.append(file.read(columns=wanted))
        if not tables:
            return pd.DataFrame({"request_id": [], "row": [], "timestamp": []})
        frame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
        ts = frame["timestamp"]
        return frame[(ts >= int(lo * 1000)) & (ts < int(hi * 1000))]
