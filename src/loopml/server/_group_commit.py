"""Group commit for the server's log requests.

Every log request (log-metric, log-batch, set-tag, loopml's ``runs.write``...) is one
transaction, and on SQLite with ``synchronous=FULL`` each commit waits for an fsync. When
requests arrive together (many training jobs logging to one server), the ones that queue up
while a commit is in progress are written together in the next transaction, each in its own
savepoint: one fsync for all of them, and one request's bad param fails that request only.
A lone client pays nothing extra beyond a hop to the commit thread, and the event loop keeps
answering reads while the disk syncs.

A write is acknowledged (its request answered) only after its transaction committed.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from loopml.errors import LoopMLError
from loopml.tracking import RunBatch
from loopml.tracking._runs import Runs

__all__ = ["GroupCommit"]

_Pending = tuple[str, RunBatch, bool, "asyncio.Future[Any]"]


class GroupCommit:
    """Coalesces concurrent ``runs.write`` calls into shared transactions.

    Args:
        runs: the tracking service's runs.
    """

    def __init__(self, runs: Runs) -> None:
        self._runs = runs
        self._pending: list[_Pending] = []
        self._flushing = False
        self._task: asyncio.Task[None] | None = None  # referenced: a bare task may be GC'd
        # One thread: transactions of this server process never contend with each other.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loopml-commit")

    async def write(self, run_id: str, batch: RunBatch, *, allow_ended: bool = False) -> Any:
        """``runs.write``, committed with whatever else is waiting; raises its own error."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._pending.append((run_id, batch, allow_ended, done))
        if not self._flushing:
            self._flushing = True
            self._task = loop.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                group, self._pending = self._pending, []
                items = [(run_id, batch, ended) for run_id, batch, ended, _ in group]
                results: list[Any]
                try:
                    results = await loop.run_in_executor(self._thread, self._runs.write_many, items)
                except Exception as exc:  # the transaction itself failed: all of it did
                    results = [_copy(exc) for _ in group]
                for (*_, done), result in zip(group, results, strict=True):
                    if done.done():  # the request was cancelled (its client went away)
                        continue
                    if isinstance(result, BaseException):
                        done.set_exception(result)
                    else:
                        done.set_result(result)
        finally:
            self._flushing = False

    def close(self) -> None:
        """Stop the commit thread (after the writes in progress)."""
        self._thread.shutdown(wait=True)


def _copy(exc: Exception) -> Exception:
    # Each waiting request raises its own exception object (tracebacks are per raise).
    if isinstance(exc, LoopMLError):
        return type(exc)(exc.message, details=exc.details)
    return exc
