"""Shadow routes: a mirrored copy of answered requests, computed in the background.

The caller's answer is computed first; then, for each shadow route that takes this request
(its ``share``), a job goes on a bounded queue and the response leaves. A few tasks take
jobs off the queue and run them on the shadow version's own predict threads, recording the
outcome in the prediction log (``shadow`` true) and the metrics. A full queue drops the
job and counts it: a slow shadow never slows, or grows memory for, the traffic it copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from loopml.errors import LoopMLError
from loopml.serving._input import ModelInput
from loopml.serving._model import ServedModel
from loopml.serving._predlog import PredictionLog

__all__ = ["Parse", "ShadowJob", "ShadowRunner"]

_log = logging.getLogger("loopml.serving")

# Checks a request's body against a model's signature (each version may have its own).
Parse = Callable[[ServedModel], Awaitable[ModelInput]]


@dataclass(slots=True)
class ShadowJob:
    """One mirrored call. ``rows`` are the request's checked rows when the shadow checks
    values as the answering version did; else ``parse`` checks the body again for it."""

    endpoint: str
    model: ServedModel
    request_id: str
    outputs: tuple[str, ...]
    rows: ModelInput | None
    parse: Parse


class ShadowRunner:
    """The queue and tasks of a pool's shadow calls.

    Args:
        log: where outcomes are recorded (None: metrics only).
        capacity: jobs waiting at most; more are dropped.
        tasks: jobs running at once (each waits on its shadow's predict threads).
    """

    def __init__(self, *, log: PredictionLog | None, capacity: int = 1000, tasks: int = 4) -> None:
        self.log = log
        self.capacity = capacity
        self.tasks = tasks
        self.dropped = 0
        self.done = 0
        self._queue: asyncio.Queue[ShadowJob] | None = None
        self._workers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the tasks (in the serving event loop)."""
        self._queue = asyncio.Queue(self.capacity)
        self._workers = [asyncio.create_task(self._work()) for _ in range(self.tasks)]

    async def stop(self) -> None:
        """Stop the tasks; jobs still queued are dropped (the server is going away)."""
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []
        queue, self._queue = self._queue, None
        while queue is not None and not queue.empty():
            self._drop(queue.get_nowait())

    def submit(self, job: ShadowJob) -> bool:
        """Queue ``job`` (its model already acquired); False if it was dropped."""
        queue = self._queue
        if queue is None:
            self._drop(job)
            return False
        try:
            queue.put_nowait(job)
        except asyncio.QueueFull:
            self._drop(job)
            return False
        return True

    def _drop(self, job: ShadowJob) -> None:
        self.dropped += 1
        if job.model.metrics is not None:
            job.model.metrics.shadow("dropped")
        job.model.release()

    async def _work(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            job = await queue.get()
            try:
                await self._run(job)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in the log or metrics: the next job still runs
                _log.exception("shadow call to %s failed", job.model.label)

    async def _run(self, job: ShadowJob) -> None:
        model = job.model
        start = time.perf_counter()
        rows = job.rows
        results: dict[str, object] = {}
        status, error = 200, None
        try:
            if rows is None:
                rows = await job.parse(model)
            results = await model.predict(rows, _outputs(model, job.outputs))
        except LoopMLError as exc:
            status, error = exc.http_status, exc.message
        except Exception as exc:
            status, error = 500, f"{type(exc).__name__}: {str(exc)[:500]}"
        finally:
            model.release()
        self.done += 1
        if model.metrics is not None:
            model.metrics.shadow("ok" if status == 200 else "error")
        if self.log is not None:
            self.log.record(
                request_id=job.request_id,
                endpoint=job.endpoint,
                model=model.name,
                version=model.version,
                status=status,
                latency_ms=(time.perf_counter() - start) * 1000,
                inputs=rows,
                outputs=results.get("predict"),
                proba=results.get("predict_proba"),
                error=error,
                shadow=True,
            )


def _outputs(model: ServedModel, asked: Sequence[str]) -> list[str]:
    # The outputs the caller asked for that the shadow has too; predict at least.
    has = {o.name for o in model.outputs}
    return [o for o in asked if o in has] or ["predict"]
