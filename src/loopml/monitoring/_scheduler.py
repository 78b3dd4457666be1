"""Running monitors on their schedule: a loop that polls the store for due monitors.

Every ``poll_s`` seconds the scheduler runs the monitors whose ``next_run_at`` has come
(each runs every ``every``, starting when it is created). Any number of schedulers may poll
one store (``loopml server`` workers, replicas, ``loopml monitors serve``): a due monitor is
claimed with a conditional UPDATE, so exactly one of them runs it, and a run never overlaps
another run of the same monitor (see :mod:`loopml.monitoring._leases`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from loopml.monitoring._entities import MonitorRun
from loopml.monitoring._service import MonitorService

__all__ = ["MonitorScheduler"]

_log = logging.getLogger("loopml.monitoring")


class MonitorScheduler:
    """Runs due monitors in a loop (in the calling thread, or a background one).

    Example::

        scheduler = MonitorScheduler(MonitorService.from_settings(settings), poll_s=15)
        scheduler.start()     # a daemon thread; scheduler.stop() at shutdown

    Args:
        service: the monitor service to run monitors with.
        poll_s: seconds between looks at the store.
        on_run: called with each run made (from the scheduler's thread).
    """

    def __init__(
        self,
        service: MonitorService,
        *,
        poll_s: float = 15.0,
        on_run: Callable[[MonitorRun], None] | None = None,
    ) -> None:
        self.service = service
        self.poll_s = poll_s
        self.on_run = on_run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_due(self, now: datetime | None = None) -> list[MonitorRun]:
        """Run every monitor due at ``now`` once (what one tick of the loop does)."""
        runs = self.service.run_due(now)
        for run in runs:
            if self.on_run is not None:
                try:
                    self.on_run(run)
                except Exception:
                    _log.exception("the scheduler's on_run callback failed")
        return runs

    def serve_forever(self) -> None:
        """Poll and run until :meth:`stop` (a store that is down is retried next poll)."""
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:
                _log.exception("the monitor scheduler could not read the store; retrying")
            self._stop.wait(self.poll_s)

    def start(self) -> None:
        """Serve in a daemon thread."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self.serve_forever, name="loopml-monitors", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the run in progress (if any), waiting up to ``timeout`` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        """Whether the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()
