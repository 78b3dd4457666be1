"""Alert events and their delivery: to the log at once, to webhooks from background threads.

A webhook gets the event as a JSON POST. A timeout, a connection error, a 429 or a 5xx is
retried with exponential backoff (``backoff_s``, doubled each time, ``retries`` times); any
other 4xx is final. Deliveries wait in a bounded queue worked by a few daemon threads, so a
webhook that hangs or fails never holds up a monitor run; when the queue is full the
delivery is recorded as ``dropped``. Each final outcome (``delivered``, ``failed``,
``dropped``) is handed to ``on_result``, which the monitor service stores with the event.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from loopml.ids import now_ms
from loopml.monitoring._spec import AlertSinkSpec

__all__ = ["AlertDispatcher", "AlertEvent", "Delivery"]

alert_log = logging.getLogger("loopml.monitoring.alerts")
_log = logging.getLogger("loopml.monitoring")
#: A delivery's record: status, attempts, error, http_status, updated (ms).
Delivery = dict[str, Any]
OnResult = Callable[[str, str, Delivery], None]


@dataclass(frozen=True)
class AlertEvent:
    """An alert a monitor run raised.

    Attributes:
        alert_id: 32 hex characters. monitor, run_id: where it comes from.
        kind: ``drift``, ``performance``, ``operational`` or ``retrain``.
        message: one line for people. figures: the numbers behind it (JSON-ready).
        timestamp: when it was raised (ms).
        deliveries: per sink (``log``, ``webhook:<url>``): ``status`` (``pending``,
            ``delivered``, ``failed``, ``dropped``), ``attempts``, ``error``,
            ``http_status``, ``updated``.
    """

    alert_id: str
    monitor: str
    run_id: str | None
    kind: str
    message: str
    figures: dict[str, Any]
    timestamp: int
    deliveries: dict[str, Delivery] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "alert_id": self.alert_id,
            "monitor": self.monitor,
            "run_id": self.run_id,
            "kind": self.kind,
            "message": self.message,
            "figures": self.figures,
            "timestamp": self.timestamp,
            "deliveries": self.deliveries,
        }


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    alert_id: str = field(compare=False)
    sink: AlertSinkSpec = field(compare=False)
    body: bytes = field(compare=False)
    attempts: int = field(default=0, compare=False)
    error: str | None = field(default=None, compare=False)


def _record(
    status: str, attempts: int, error: str | None = None, http_status: int | None = None
) -> Delivery:
    return {
        "status": status,
        "attempts": attempts,
        "error": error,
        "http_status": http_status,
        "updated": now_ms(),
    }


class AlertDispatcher:
    """Delivers alert events to their sinks (see the module docstring).

    Args:
        on_result: called with ``(alert_id, sink label, delivery)`` for each final outcome
            of a webhook delivery (from a worker thread).
        capacity: webhook deliveries that may wait at once; more are dropped.
        workers: threads posting webhooks (a hanging webhook holds one for its timeout).
    """

    def __init__(
        self, *, on_result: OnResult | None = None, capacity: int = 1000, workers: int = 2
    ) -> None:
        self.on_result = on_result
        self.capacity = capacity
        self.workers = workers
        self._heap: list[_Job] = []
        self._active = 0
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._client: Any = None

    def deliver(
        self, event: AlertEvent, sinks: Sequence[AlertSinkSpec], payload: dict[str, Any]
    ) -> dict[str, Delivery]:
        """Send ``payload`` (the webhook body) for ``event`` to each sink; returns each sink's
        first record: ``delivered`` for the log, ``pending`` (or ``dropped``) for webhooks."""
        out: dict[str, Delivery] = {}
        body = orjson.dumps(payload, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
        for sink in sinks:
            if sink.kind == "log":
                alert_log.warning("[%s] monitor %s: %s", event.kind, event.monitor, event.message)
                out[sink.label] = _record("delivered", 1)
                continue
            with self._cond:
                if self._stopping or len(self._heap) >= self.capacity:
                    why = "the dispatcher is closed" if self._stopping else "the queue is full"
                    out[sink.label] = _record("dropped", 0, why)
                    continue
                self._start()
                job = _Job(time.monotonic(), next(self._seq), event.alert_id, sink, body)
                heapq.heappush(self._heap, job)
                self._cond.notify()
            out[sink.label] = _record("pending", 0)
        return out

    def _start(self) -> None:  # under self._cond
        if self._threads:
            return
        import httpx  # only processes that post webhooks need it

        self._client = httpx.Client(follow_redirects=False)
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"loopml-alerts-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    if wait is not None and wait <= 0:
                        job = heapq.heappop(self._heap)
                        self._active += 1
                        break
                    self._cond.wait(wait)
            try:
                self._attempt(job)
            finally:
                with self._cond:
                    self._active -= 1
                    self._cond.notify_all()

    def _attempt(self, job: _Job) -> None:
        import httpx

        job.attempts += 1
        sink = job.sink
        headers = {
            "content-type": "application/json",
            "user-agent": "loopml-monitor",
            **sink.headers,
        }
        status: int | None = None
        try:
            response = self._client.post(
                sink.url, content=job.body, headers=headers, timeout=sink.timeout_s
            )
            status = response.status_code
            if status < 300:
                self._finish(job, _record("delivered", job.attempts, None, status))
                return
            error = f"HTTP {status}"
            retry = status >= 500 or status == 429
        except httpx.TimeoutException:
            error, retry = f"timed out after {sink.timeout_s:g}s", True
        except httpx.HTTPError as exc:  # connection refused, reset...
            error, retry = f"{type(exc).__name__}: {exc}", True
        except Exception as exc:  # an invalid URL, a bad header: trying again will not help
            error, retry = f"{type(exc).__name__}: {exc}", False
        if retry and job.attempts <= sink.retries:
            job.error = error
            job.due = time.monotonic() + sink.backoff_s * 2 ** (job.attempts - 1)
            with self._cond:
                heapq.heappush(self._heap, job)
                self._cond.notify()
            return
        _log.warning(
            "alert %s: webhook %s failed after %d attempts: %s",
            job.alert_id,
            sink.label,
            job.attempts,
            error,
        )
        self._finish(job, _record("failed", job.attempts, error, status))

    def _finish(self, job: _Job, delivery: Delivery) -> None:
        if self.on_result is None:
            return
        try:
            self.on_result(job.alert_id, job.sink.label, delivery)
        except Exception:  # recording must not kill the worker
            _log.exception("could not record the delivery of alert %s", job.alert_id)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no delivery is queued or in flight; False if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._heap or self._active:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Let queued deliveries finish for up to ``timeout`` seconds, then stop; those still
        waiting are recorded as failed."""
        self.wait_idle(timeout)
        with self._cond:
            self._stopping = True
            left, self._heap = self._heap, []
            self._cond.notify_all()
        for job in left:
            self._finish(
                job,
                _record("failed", job.attempts, f"abandoned at shutdown (last error: {job.error})"),
            )
        for thread in self._threads:
            thread.join(timeout=max(timeout, 1.0))
        if self._client is not None:
            self._client.close()
