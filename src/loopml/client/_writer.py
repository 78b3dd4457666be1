"""The background writer behind ``log_metric``: enqueue in microseconds, write in batches.

Guarantee: a point is durable once ``flush()`` returns, once its run ends, at interpreter
exit, or after SIGTERM. Between those, the writer wakes every ``interval`` seconds (0.1 s by
default) and writes whatever is queued in one transaction per run, so a process killed with
SIGKILL loses at most the points of the last interval. Errors found while writing (a run
finished by another process, a database that stays unreachable) are raised by the next
``flush()`` or run end, never lost.

``flush()`` does the writing in the calling thread, under the same lock the background
thread writes under: no hand-off between threads, and no point can be "taken but not yet
written" when it returns.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from loopml.errors import InvalidInput, LoopMLError, Unavailable
from loopml.tracking import NewRun, RunBatch

__all__ = ["MetricWriter", "Point"]

Point = tuple[str, float, int, int]  # key, value, timestamp (ms), step: Metric's field order
Sink = Callable[[str, RunBatch], None]
_RETRY_FOR = 120.0


class MetricWriter:
    """Queue of points drained by one daemon thread (or by ``flush``) into ``sink``.

    Args:
        sink: writes one run's points durably (``TrackingService.runs.log_batch`` or HTTP).
        interval: seconds between background writes while points keep arriving.
        wake_at: queue length that wakes the writer before the interval is over.
    """

    def __init__(self, sink: Sink, *, interval: float = 0.1, wake_at: int = 20_000) -> None:
        self._sink = sink
        self._interval = interval
        self._wake_at = wake_at
        # Points are (run_id, key, value, timestamp, step); other operations are
        # (run_id, kind, payload) with kind "create", "params" or "tags".
        self._queue: deque[tuple[Any, ...]] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # Re-entrant: a SIGTERM handler runs in the thread it interrupts, maybe mid-write.
        self._write_lock = threading.RLock()
        self._drain_owner: int | None = None
        self._after_drain: list[Callable[[], None]] = []
        self._errors: list[tuple[str, LoopMLError]] = []
        ref = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (m := ref()) and m())

    def _after_fork(self) -> None:
        # A forked child must not write its parent's queued points a second time.
        self._queue.clear()
        self._errors.clear()
        self._thread = None
        self._wake = threading.Event()
        self._start_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._drain_owner = None

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

    def add_op(self, run_id: str, kind: str, payload: NewRun | dict[str, str]) -> None:
        """Enqueue the creation of a run, or params or tags for it."""
        self._queue.append((run_id, kind, payload))
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="loopml-writer", daemon=True)
                self._thread.start()

    def flush(
        self,
        *,
        timeout: float | None = None,
        finish: Mapping[str, Callable[[RunBatch], None]] | None = None,
    ) -> None:
        """Write everything queued so far, in this thread; then raise what failed meanwhile.

        Args:
            timeout: seconds to wait for a background write in progress.
            finish: per run id, a callback that receives that run's pending batch (maybe
                empty) instead of the sink, so a run's last data and its end are written in
                one transaction. Its errors propagate directly.
        """
        if not self._write_lock.acquire(timeout=-1 if timeout is None else timeout):
            raise Unavailable(f"metrics were not written within {timeout} s; still queued")
        try:
            self._drain(finish or {})
        finally:
            self._write_lock.release()
        self.raise_errors()

    def draining_in_this_thread(self) -> bool:
        """True while the current thread is inside a write (a signal handler asks this)."""
        return self._drain_owner == threading.get_ident()

    def call_after_drain(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` as soon as the write in progress in this thread is complete."""
        self._after_drain.append(fn)

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
        """Points queued and not yet taken for writing."""
        return len(self._queue)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._queue:
                with self._write_lock:
                    self._drain({})

    def _drain(self, finish: Mapping[str, Callable[[RunBatch], None]]) -> None:
        outer = self._drain_owner is None
        self._drain_owner = threading.get_ident()
        try:
            batches: dict[str, RunBatch] = {run_id: RunBatch() for run_id in finish}
            queue = self._queue
            while queue:
                item = queue.popleft()
                batch = batches.get(item[0])
                if batch is None:
                    batch = batches[item[0]] = RunBatch()
                if len(item) == 5:
                    batch.metrics.append(item[1:])
                elif item[1] == "create":
                    batch.create = item[2]
                elif item[1] == "params":
                    batch.params.update(item[2])
                else:
                    batch.tags.update(item[2])
            # Other runs first: an error in a finishing run must not cost their data.
            for run_id, batch in batches.items():
                if run_id not in finish:
                    self._write_one(run_id, batch)
            for run_id, callback in finish.items():
                callback(batches[run_id])
        finally:
            if outer:
                self._drain_owner = None
                callbacks, self._after_drain = self._after_drain, []
                for fn in callbacks:
                    fn()

    def _write_one(self, run_id: str, batch: RunBatch) -> None:
        deadline = time.monotonic() + _RETRY_FOR
        delay = 0.05
        while True:
            try:
                self._sink(run_id, batch)
                return
            except Unavailable as exc:
                if time.monotonic() + delay > deadline:
                    self._errors.append((run_id, exc))
                    return
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except InvalidInput as exc:
                self._errors.append((run_id, exc))
                if not batch.params:
                    return
                # A param clashed with one logged elsewhere: keep the rest of the batch.
                batch = batch.without_params()
            except LoopMLError as exc:
                self._errors.append((run_id, exc))
                return
            except Exception as exc:  # never let the writer thread die silently
                self._errors.append((run_id, LoopMLError(f"{type(exc).__name__}: {exc}")))
                return
