"""Adaptive batching: concurrent requests to one model share a predict call.

The policy, per model (:class:`BatchPolicy`):

- an idle model (no predict call running) takes a request at once, so batching never adds
  latency at low load;
- while every predict thread is busy, requests queue; when a thread frees, it takes
  everything queued, up to ``max_batch_size`` rows, as one call;
- with more than one thread, a request that arrives while some (not all) threads are busy
  waits up to ``max_wait_ms`` for companions (or until no call is running) before it takes
  a free thread: the one place a request is held back for batching's sake, and bounded.

Predict calls run on the model's own thread pool, never on the event loop. A request
whose client went away before its turn is dropped from the queue.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.serving._input import ModelInput

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = ["BatchPolicy", "BatchRunner", "Batcher"]

# Runs in a predict thread: one result (outputs by name) or one error per request, in order.
BatchRunner = Callable[[list[tuple[ModelInput, frozenset[str]]]], list[Any]]


@dataclass(frozen=True)
class BatchPolicy:
    """How one model's concurrent requests are coalesced.

    Attributes:
        enabled: coalesce at all; off, each request is its own predict call (still on the
            predict threads, never on the event loop).
        max_batch_size: the most rows one predict call takes (a bigger request still runs,
            alone).
        max_wait_ms: with ``threads`` > 1, how long a request may wait for companions while
            another call runs.
        threads: predict calls that may run at once for this model.
    """

    enabled: bool = True
    max_batch_size: int = 256
    max_wait_ms: float = 2.0
    threads: int = 1

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.threads < 1 or self.max_wait_ms < 0:
            raise InvalidInput(
                "batching needs max_batch_size >= 1, threads >= 1 and max_wait_ms >= 0; got "
                f"{self.max_batch_size}, {self.threads} and {self.max_wait_ms}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> BatchPolicy:
        """The policy that the ``LOOPML_SERVE_*`` settings describe."""
        return cls(
            enabled=settings.serve_batching,
            max_batch_size=settings.serve_max_batch_size,
            max_wait_ms=settings.serve_max_wait_ms,
            threads=settings.serve_threads,
        )


class _Waiting:
    __slots__ = ("future", "input", "key", "outputs", "since")

    def __init__(
        self, data: ModelInput, outputs: frozenset[str], future: asyncio.Future[Any], now: float
    ) -> None:
        self.input = data
        self.outputs = outputs
        self.future = future
        self.since = now
        self.key = data.key


class Batcher:
    """The queue and predict threads of one model.

    Args:
        run: computes a batch, in a predict thread.
        policy: the model's :class:`BatchPolicy`.
        name: names the threads (visible in py-spy, faulthandler dumps...).
    """

    def __init__(self, run: BatchRunner, policy: BatchPolicy, *, name: str) -> None:
        self.policy = policy
        self._run = run
        self._executor = ThreadPoolExecutor(
            max_workers=policy.threads, thread_name_prefix=f"loopml-predict-{name}"
        )
        self._queue: deque[_Waiting] = deque()
        self._rows = 0
        self._in_flight = 0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def in_flight(self) -> int:
        """Predict calls running now."""
        return self._in_flight

    async def submit(self, data: ModelInput, outputs: frozenset[str]) -> Any:
        """Queue ``data`` for the model; returns its own share of the batch's results.

        Raises:
            LoopMLError: what the model's run said about these rows.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(_Waiting(data, outputs, future, loop.time()))
        self._rows += data.rows
        self._pump(loop)
        return await future

    def close(self) -> None:
        """Stop the predict threads once the calls running now end; queued calls are dropped."""
        if self._timer is not None:
            self._timer.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _pump(self, loop: asyncio.AbstractEventLoop) -> None:
        policy = self.policy
        while self._queue and self._in_flight < policy.threads:
            if policy.enabled and self._in_flight and self._rows < policy.max_batch_size:
                due = self._queue[0].since + policy.max_wait_ms / 1000
                if due > loop.time():
                    if self._timer is None:
                        self._timer = loop.call_at(due, self._on_timer, loop)
                    return
            batch = self._take()
            if not batch:
                continue
            self._in_flight += 1
            work = loop.run_in_executor(
                self._executor, self._run, [(w.input, w.outputs) for w in batch]
            )
            work.add_done_callback(partial(self._finished, batch, loop))

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        self._pump(loop)

    def _take(self) -> list[_Waiting]:
        limit = self.policy.max_batch_size if self.policy.enabled else 1
        batch: list[_Waiting] = []
        rows = 0
        while self._queue:
            head = self._queue[0]
            if head.future.done():  # its client went away: nobody waits for it
                self._queue.popleft()
                self._rows -= head.input.rows
                continue
            if batch and (rows + head.input.rows > limit or head.key != batch[0].key):
                break
            self._queue.popleft()
            self._rows -= head.input.rows
            rows += head.input.rows
            batch.append(head)
            if not self.policy.enabled:
                break
        return batch

    def _finished(
        self, batch: list[_Waiting], loop: asyncio.AbstractEventLoop, work: asyncio.Future[Any]
    ) -> None:
        self._in_flight -= 1
        try:
            results = work.result()
        except BaseException as exc:  # the pool was shut down, or the runner itself broke
            results = [exc] * len(batch)
        for waiting, result in zip(batch, results, strict=True):
            if waiting.future.done():
                continue
            if isinstance(result, BaseException):
                waiting.future.set_exception(result)
            else:
                waiting.future.set_result(result)
        self._pump(loop)
