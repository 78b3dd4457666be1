"""The background metric writer: ordering, retries, and errors that surface at flush."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import loopml
from loopml.client import Client, MetricWriter
from loopml.config import Settings
from loopml.errors import Conflict, InvalidInput, Unavailable
from loopml.tracking import RunBatch, RunStatus, TrackingService


def test_flush_waits_for_points_already_taken_off_the_queue() -> None:
    written: list[tuple[str, int]] = []
    release = threading.Event()

    def slow_sink(run_id: str, batch: RunBatch) -> None:
        release.wait(5)
        written.extend((run_id, p[3]) for p in batch.metrics)

    writer = MetricWriter(slow_sink, interval=0.01)
    for step in range(100):
        writer.add("r", "m", float(step), 0, step)
    while writer.pending:  # the writer has taken everything and is blocked in the sink
        threading.Event().wait(0.01)
    threading.Timer(0.2, release.set).start()
    writer.flush(timeout=10)
    assert written == [("r", s) for s in range(100)]


def test_transient_errors_are_retried_until_written() -> None:
    calls = {"n": 0}
    written: list[int] = []

    def flaky_sink(run_id: str, batch: RunBatch) -> None:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise Unavailable("database is locked")
        written.extend(p[3] for p in batch.metrics)

    writer = MetricWriter(flaky_sink, interval=0.01)
    for step in range(10):
        writer.add("r", "m", 1.0, 0, step)
    writer.flush(timeout=30)
    assert written == list(range(10)) and calls["n"] == 3


def test_errors_name_the_run_and_count_batches() -> None:
    def rejecting_sink(run_id: str, batch: RunBatch) -> None:
        raise InvalidInput(f"bad batch for {run_id}")

    writer = MetricWriter(rejecting_sink, interval=0.01)
    writer.add("r1", "m", 1.0, 0, 0)
    writer.add("r2", "m", 1.0, 0, 0)
    with pytest.raises(InvalidInput, match=r"run r1 failed: bad batch for r1 \(1 more"):
        writer.flush(timeout=10)
    writer.flush(timeout=10)  # reported once, then cleared


def test_a_run_finished_elsewhere_is_reported_not_lost_silently(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", flush_interval=30)
    client = Client(settings)
    run = client.create_run()
    client.flush()  # the run is in the store
    client.log_metric(run.info.run_id, "m", 1.0)  # queued; the writer sleeps 30 s
    TrackingService.from_settings(settings).runs.update(run.info.run_id, status=RunStatus.FINISHED)
    with pytest.raises(Conflict, match=rf"run {run.info.run_id}.*FINISHED"):
        client.flush()
    loopml.client.set_client(None)
