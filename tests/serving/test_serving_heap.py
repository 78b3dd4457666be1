"""A serving pool keeps the collector off its long-lived heap, and still frees what a swap
retires: the frozen objects are thawed and collected once the swap settled."""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

from loopml.models import load_model
from loopml.serving import Endpoint, ModelPool, ModelRoute, RouteTable, ServedModel


class _Cycle:
    """Garbage that only the cyclic collector can free."""

    def __init__(self) -> None:
        self.me = self


def test_the_pool_freezes_its_heap_and_a_swap_frees_what_it_retired(
    model_dirs: dict[str, Path],
) -> None:
    loaded = load_model(model_dirs["iris"])
    old, new = (ServedModel(loaded, name="iris", version=v) for v in ("1", "2"))
    endpoint = Endpoint("iris", [ModelRoute(old)])
    pool = ModelPool([endpoint])
    pool.heap.settle_s = 0.05
    held = [_Cycle()]  # alive when the pool starts: frozen with the rest
    probe = weakref.ref(held[0])

    async def serve() -> None:
        await pool.start()
        assert pool.heap.active and gc.get_freeze_count() > 0
        held.clear()  # now a cycle among frozen objects
        gc.collect()
        assert probe() is not None  # frozen: a collection does not walk it
        pool.install(endpoint, RouteTable((ModelRoute(new),)))
        assert old.closed  # no request held it
        await asyncio.sleep(0.5)  # the swap settles: thaw, collect, freeze again
        assert probe() is None
        assert pool.heap.active and gc.get_freeze_count() > 0
        await pool.stop()

    try:
        asyncio.run(serve())
    finally:
        pool.close()
    assert not pool.heap.active and gc.get_freeze_count() == 0  # stopped: all thawed


def test_a_pool_never_started_does_not_freeze(model_dirs: dict[str, Path]) -> None:
    loaded = load_model(model_dirs["iris"])
    old, new = (ServedModel(loaded, name="iris", version=v) for v in ("1", "2"))
    endpoint = Endpoint("iris", [ModelRoute(old)])
    pool = ModelPool([endpoint])
    pool.install(endpoint, RouteTable((ModelRoute(new),)))  # outside any event loop
    assert not pool.heap.active and gc.get_freeze_count() == 0
    pool.close()
