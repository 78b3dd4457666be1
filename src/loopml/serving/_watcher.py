"""Hot swaps: poll the store, load what moved, switch atomically, free what is left.

Every ``LOOPML_SERVE_POLL_S`` the watcher reads, for each endpoint that can move, the
stored endpoint's generation and what each ``models:/`` alias or stage resolves to (a few
indexed reads; no request ever waits for them). When something moved it loads and warms
the new versions in a thread while the old ones keep answering, then swaps the endpoint's
route table in one assignment; requests that hold an old version finish on it, and the
old version is freed after the last one. A version that fails to load is not swapped in:
the old routes keep serving, the error is logged, counted and shown by ``GET /endpoints``,
and the same change is not retried until something moves again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from loopml.errors import LoopMLError
from loopml.serving._plans import EndpointPlan, Loader
from loopml.serving._routing import Endpoint, RouteTable

if TYPE_CHECKING:
    from loopml.serving._pool import ModelPool

__all__ = ["Watcher"]

_log = logging.getLogger("loopml.serving")


class Watcher:
    """Polls the store for one pool's moving endpoints (see the module docstring).

    Args:
        pool: the pool whose endpoints are swapped.
        loader: resolves and loads (its store stays open while the watcher runs).
        plans: the plan each endpoint was built from, by endpoint name.
        poll_s: seconds between polls.
    """

    def __init__(
        self, pool: ModelPool, loader: Loader, plans: dict[str, EndpointPlan], *, poll_s: float
    ) -> None:
        self.pool = pool
        self.loader = loader
        self.plans = dict(plans)
        self.poll_s = poll_s
        self._broken: dict[str, tuple[Any, ...]] = {}

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not end hot swaps for the life of the server
                _log.exception("the endpoint watcher failed; it polls again")

    async def check(self) -> int:
        """Poll every moving endpoint once and swap those that moved; returns the swaps."""
        swaps = 0
        for name, plan in list(self.plans.items()):
            endpoint = self.pool.endpoint(name)
            try:
                found = await asyncio.to_thread(self._poll, plan, endpoint.table)
            except Exception as exc:
                self._report(endpoint, "poll", exc)
                continue
            if found is None:
                # The store names what is served (again): an earlier error is past.
                endpoint.last_error = None
                self._broken.pop(name, None)
                continue
            new, keys = found
            mark = (new.generation, keys)
            if self._broken.get(name) == mark:
                continue  # this exact change failed already: wait for another
            start = time.perf_counter()
            try:
                table = await asyncio.to_thread(self.loader.build, new, keys, endpoint.table)
            except Exception as exc:
                self._broken[name] = mark
                self._report(endpoint, "load", exc)
                self.pool.metrics.swaps.labels(name, "failed").inc()
                continue
            self._broken.pop(name, None)
            self.plans[name] = new
            self.pool.install(endpoint, table)
            swaps += 1
            _log.info(
                "endpoint %s now serves %s (generation %s, loaded in %.2f s)",
                name,
                ", ".join(f"{r.model.label} ({r.weight:g})" for r in table.routes),
                table.generation,
                time.perf_counter() - start,
            )
        return swaps

    def _poll(self, plan: EndpointPlan, table: RouteTable) -> tuple[EndpointPlan, Any] | None:
        new = self.loader.refresh(plan)
        keys = self.loader.resolve(new)
        if new is plan and keys == table.keys:
            return None
        return new, keys

    def _report(self, endpoint: Endpoint, stage: str, exc: Exception) -> None:
        message = exc.message if isinstance(exc, LoopMLError) else f"{type(exc).__name__}: {exc}"
        previous = endpoint.last_error
        endpoint.last_error = {
            "stage": stage,
            "message": message,
            "time_ms": int(time.time() * 1000),
        }
        if previous is None or previous.get("message") != message:  # once, not every poll
            what = "could not check" if stage == "poll" else "kept its routes: could not load"
            _log.error("endpoint %s %s the change (%s)", endpoint.name, what, message)
