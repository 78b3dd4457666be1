"""Keep Python's cyclic garbage collector off the serving path.

A serving process holds about a million long-lived objects (scikit-learn, pandas, pyarrow,
onnxruntime, the models) and makes many short-lived ones per request. Every full collection
walks all of them: measured on `loopml serve` with a random forest, a collection took
~140 ms, found nothing to free, and came about once a second under load, so every request
in flight waited it out (at 64 connections, 1-2% of requests took 100-250 ms inside the
server).

While the pool serves, the objects alive when it started (or last swapped) are *frozen*:
moved out of the collector's generations, so collections walk only what was made since.
Frozen objects are still freed by reference counting; only cycles among them wait, which is
why a swap thaws, collects once (freeing the retired version's cycles) and freezes again,
and why stopping the pool thaws for good.
"""

from __future__ import annotations

import asyncio
import gc

__all__ = ["HeapFreezer"]


class HeapFreezer:
    """Freezes the heap while a pool serves (see the module docstring).

    Args:
        settle_s: after a swap, how long to wait for requests still holding the retired
            version before collecting it.
    """

    def __init__(self, settle_s: float = 5.0) -> None:
        self.settle_s = settle_s
        self.active = False
        self._pending: asyncio.TimerHandle | None = None

    def freeze(self) -> None:
        """Freeze every object tracked now. Cheap: no collection first, since the few cycles
        that start-up leaves (tens of objects, measured) are not worth a walk of the whole
        heap; the first swap collects them."""
        gc.freeze()
        self.active = True

    def refreeze_soon(self) -> None:
        """After a swap: thaw, collect and freeze again once ``settle_s`` has passed (on the
        running loop; several swaps in that time make one collection)."""
        if not self.active or self._pending is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop here: the next swap (or the stop) takes care of it
            return
        self._pending = loop.call_later(self.settle_s, self._refreeze)

    def thaw(self) -> None:
        """Give every frozen object back to the collector (the pool stopped)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self.active:
            self.active = False
            gc.unfreeze()

    def _refreeze(self) -> None:
        self._pending = None
        if self.active:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
