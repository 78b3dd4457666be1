"""The prediction and feedback logs: buffered, flushed to hour partitions on a local
directory and on a real S3 server, bounded, retried after a failed write, read back."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from loopml.serving import FeedbackLog, PredictionLog, read_log

HOUR = 3_600_000
T0 = int(datetime(2026, 12, 5, 14, 30, tzinfo=UTC).timestamp() * 1000)


def _record(log: PredictionLog, request_id: str, ts: int, n: int = 2, **extra: Any) -> int:
    inputs = pd.DataFrame({"amount": np.arange(n, dtype=float), "country": ["FR"] * n})
    return log.record(request_id=request_id, endpoint="fraud", model="fraud", version="3",
                      status=200, latency_ms=1.5, inputs=inputs, outputs=list(range(n)),
                      proba=[[0.25, 0.75]] * n, timestamp_ms=ts, **extra)  # fmt: skip


def test_rows_land_in_hour_partitions_and_read_back(tmp_path: Path) -> None:
    log = PredictionLog(str(tmp_path / "logs"), flush_every_s=3600)
    assert _record(log, "a", T0) == 2
    assert _record(log, "b", T0 + HOUR) == 2
    failed = log.record(request_id="c", endpoint="fraud", model="fraud", version="3",
                        status=500, latency_ms=0.3, inputs=None, error="boom",
                        timestamp_ms=T0 + 1)  # fmt: skip
    assert failed == 1 and log.depth == 5
    assert log.flush() == 5 and log.depth == 0
    files = sorted(p.relative_to(tmp_path / "logs") for p in (tmp_path / "logs").rglob("*.parquet"))
    assert [f.parent.as_posix() for f in files] == [
        "predictions/endpoint=fraud/date=2026-12-05/hour=14",
        "predictions/endpoint=fraud/date=2026-12-05/hour=15",
    ]
    assert not list((tmp_path / "logs").rglob("*.tmp"))  # written under a temporary name
    # Plain Parquet: any reader opens a partition as it is.
    assert pq.read_table(tmp_path / "logs" / files[0]).num_rows == 3

    frame = read_log(str(tmp_path / "logs"), "predictions", "fraud")
    assert list(frame["request_id"]) == ["a", "a", "c", "b", "b"]
    assert list(frame["f.amount"].iloc[:2]) == [0.0, 1.0] and frame["f.country"].iloc[0] == "FR"
    assert list(frame["prediction"].iloc[:2]) == [0, 1]
    assert list(frame["proba"].iloc[0]) == [0.25, 0.75]
    assert frame.loc[frame["request_id"] == "c", "error"].item() == "boom"
    start = datetime(2026, 12, 5, 15, tzinfo=UTC)
    later = read_log(str(tmp_path / "logs"), "predictions", "fraud", start=start)
    assert list(later["request_id"]) == ["b", "b"]
    early = read_log(str(tmp_path / "logs"), "predictions", "fraud", end=start)
    assert set(early["request_id"]) == {"a", "c"}
    assert read_log(str(tmp_path / "logs"), "predictions", "other").empty
    log.close()


def test_the_buffer_is_bounded_and_a_failed_write_is_retried(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    root.mkdir()
    (root / "predictions").write_text("a file where a directory must go")  # writes fail
    log = PredictionLog(str(root), flush_every_s=3600, max_buffered=5)
    assert _record(log, "a", T0, n=4) == 4
    # A request's rows are kept or dropped together: dropped, not blocked.
    assert _record(log, "b", T0, n=4) == 0 and log.dropped == 4
    assert _record(log, "c", T0, n=1) == 1
    assert log.flush() == 0 and log.failed_flushes == 1
    assert log.depth == 5  # kept for the next flush
    (root / "predictions").unlink()
    assert log.flush() == 5
    assert list(read_log(str(root), "predictions", "fraud")["request_id"]) == ["a"] * 4 + ["c"]
    log.close()


def test_close_flushes_and_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    log = PredictionLog(str(tmp_path / "logs"), flush_every_s=0.05)

    def write(worker: int) -> None:
        for i in range(200):
            _record(log, f"{worker}-{i}", T0 + i, n=1)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    frame = read_log(str(tmp_path / "logs"), "predictions", "fraud")
    assert len(frame) == 800 and frame["request_id"].is_unique
    assert log.written == 800 and log.dropped == 0


def test_feedback_on_s3(seaweed_s3: Any) -> None:
    bucket = seaweed_s3.new_bucket(f"logs-{uuid.uuid4().hex[:10]}")
    options = seaweed_s3.storage_options
    predictions = PredictionLog(f"{bucket}/loopml/logs", storage_options=options)
    feedback = FeedbackLog(f"{bucket}/loopml/logs", storage_options=options)
    now = int(datetime.now(UTC).timestamp() * 1000)
    _record(predictions, "r1", now)
    labels = [
        {"request_id": "r1", "label": 1},
        {"request_id": "r1", "row": 1, "label": np.int64(0)},
    ]
    assert feedback.record("fraud", labels) == 2
    predictions.close()
    feedback.close()
    root = f"{bucket}/loopml/logs"
    rows = read_log(root, "predictions", "fraud", storage_options=options)
    truth = read_log(root, "feedback", "fraud", storage_options=options,
                     start=datetime.now(UTC) - timedelta(hours=1))  # fmt: skip
    joined = rows.merge(truth[["request_id", "row", "label"]], on=["request_id", "row"])
    assert list(joined["label"]) == [1, 0] and list(joined["prediction"]) == [0, 1]
