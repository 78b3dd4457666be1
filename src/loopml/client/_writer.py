"""The background writer behind ``log_metric``: enqueue in microseconds, write in batches.

Guarantee: a point is durable once ``flush()`` returns, once its run ends, at interpreter
exit, or after SIGTERM. Between those, the writer wakes every ``interval`` seconds (0.1 s by
default) and writes whatever is queued in one transaction per run, so a process killed with
SIGKILL loses at most the points of the last interval. Errors found while writing (a run
finished by another process, a database that stays unreachable) are raised by the next
``flush()`` or run end, never lost.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from loopml.errors import LoopMLError, Unavailable
from loopml.tracking import Metric

__all__ = ["MetricWriter"]

Sink = Callable[[str, list[Metric]], None]
_CHUNK = 50_000
_RETRY_FOR = 120.0


@dataclass
class _Marker:
    done: threading.Event = field(default_factory=threading.Event)


class MetricWriter:
    """Queue of ``(run_id, Metric)`` drained by one daemon thread into ``sink``.

    Args:
        sink: writes one run's points durably (``TrackingService.runs.log_batch`` or HTTP).
        interval: seconds between writes while points keep arriving.
        wake_at: queue length that wakes the writer before the interval is over.
    """

    def __init__(self, sink: Sink, *, interval: float = 0.1, wake_at: int = 20_000) -> None:
        self._sink = sink
        self._interval = interval
        self._wake_at = wake_at
        self._queue: deque[tuple[str, str, float, int, int] | _Marker] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._errors: list[tuple[str, LoopMLError]] = []
        ref = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (m := ref()) and m())

    def _after_fork(self) -> None:
        # A forked child must not write its parent's queued points a second time.
        self._queue.clear()
        self._errors.clear()
        self._thread = None
        self._wake = threading.Event()
        self._lock = threading.Lock()

    def add(self, run_id: str, key: str, value: float, timestamp: int, step: int) -> None:
        """Enqueue one point (the hot path: an append and two comparisons)."""
        queue = self._queue
        # A flat tuple of str/float/int: the garbage collector stops tracking it, so a queue
        # of 100,000 points costs no collector time (a nested tuple would, about 3 us/point).
        queue.append((run_id, key, value, timestamp, step))
        if self._thread is None:
            self._start()
        elif len(queue) >= self._wake_at:
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="loopml-writer", daemon=True)
                self._thread.start()

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far is written; raise what failed meanwhile."""
        # Even with an empty queue the writer may hold points it popped and is still
        # writing: a marker behind them is the only way to know they are durable.
        if self._queue or self._thread is not None:
            marker = _Marker()
            self._queue.append(marker)
            self._start()
            self._wake.set()
            if not marker.done.wait(timeout):
                raise Unavailable(f"metrics were not written within {timeout} s; still queued")
        self.raise_errors()

    def raise_errors(self) -> None:
        """Raise (once) the first error the writer met, naming how many batches failed."""
        if not self._errors:
            return
        errors, self._errors = self._errors, []
        run_id, first = errors[0]
        more = f" ({len(errors) - 1} more batch(es) failed too)" if len(errors) > 1 else ""
        raise type(first)(
            f"logging metrics to run {run_id} failed: {first.message}{more}", details=first.details
        )

    @property
    def pending(self) -> int:
        """Points queued and not yet written."""
        return len(self._queue)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        batches: dict[str, list[Metric]] = {}
        queue = self._queue
        while queue:
            item = queue.popleft()
            if isinstance(item, _Marker):
                self._write(batches)
                batches = {}
                item.done.set()
                continue
            run_id = item[0]
            batch = batches.get(run_id)
            if batch is None:
                batches[run_id] = [item[1:]]
            else:
                batch.append(item[1:])
        self._write(batches)

    def _write(self, batches: dict[str, list[Metric]]) -> None:
        for run_id, metrics in batches.items():
            for start in range(0, len(metrics), _CHUNK):
                self._write_one(run_id, metrics[start : start + _CHUNK])

    def _write_one(self, run_id: str, metrics: list[Metric]) -> None:
        deadline = time.monotonic() + _RETRY_FOR
        delay = 0.05
        while True:
            try:
                self._sink(run_id, metrics)
                return
            except Unavailable as exc:
                if time.monotonic() + delay > deadline:
                    self._errors.append((run_id, exc))
                    return
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except LoopMLError as exc:
                self._errors.append((run_id, exc))
                return
            except Exception as exc:  # never let the writer thread die silently
                self._errors.append((run_id, LoopMLError(f"{type(exc).__name__}: {exc}")))
                return
