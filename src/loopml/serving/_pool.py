"""The pool: the endpoints of a serving process and what runs beside them (metrics, the
prediction and feedback logs, shadow calls, the watcher that hot-swaps).

Example::

    pool = ModelPool.load(["fraud"], settings=load_settings())   # a stored endpoint
    await pool.start()                                           # in the event loop
    call = Call(pool, pool.endpoint("fraud"), protocol="v2")
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

from loopml.config import Settings
from loopml.errors import InvalidInput, NotFound
from loopml.serving._batcher import BatchPolicy
from loopml.serving._heap import HeapFreezer
from loopml.serving._loading import StoreSource
from loopml.serving._metrics import ServingMetrics
from loopml.serving._model import ServedModel
from loopml.serving._plans import Loader
from loopml.serving._predlog import FeedbackLog, PredictionLog, log_root
from loopml.serving._routing import Endpoint, ModelRoute, RouteTable
from loopml.serving._shadow import ShadowRunner
from loopml.serving._watcher import Watcher

__all__ = ["ModelPool"]


class ModelPool:
    """The endpoints of a serving process, by name, and their metrics and logs.

    Args:
        endpoints: the endpoints to serve; names must be unique.
        metrics: the metric families; new ones by default.
        log: where predictions are recorded (None: nowhere).
        feedback: where ``POST /feedback`` labels go (None: refused).
        shadow_queue: shadow calls waiting at most (more are dropped).
    """

    def __init__(
        self,
        endpoints: Iterable[Endpoint],
        *,
        metrics: ServingMetrics | None = None,
        log: PredictionLog | None = None,
        feedback: FeedbackLog | None = None,
        shadow_queue: int = 1000,
    ) -> None:
        self.metrics = metrics or ServingMetrics()
        self.log = log
        self.feedback = feedback
        self.shadows = ShadowRunner(log=log, capacity=shadow_queue)
        self.watcher: Watcher | None = None
        self._source: StoreSource | None = None
        self._endpoints: dict[str, Endpoint] = {}
        self._task: asyncio.Task[None] | None = None
        self.heap = HeapFreezer()
        for endpoint in endpoints:
            if endpoint.name in self._endpoints:
                raise InvalidInput(f"two endpoints are named {endpoint.name!r}")
            self._endpoints[endpoint.name] = endpoint
            self._bind(endpoint, endpoint.models)
        for kind, each in (("predictions", log), ("feedback", feedback)):
            if each is not None:
                each.on_flush = self._syncer(kind, each)
        self.closed = False

    def _syncer(self, kind: str, log: Any) -> Any:
        return lambda: self.metrics.sync_log(kind, log)

    def _bind(self, endpoint: Endpoint, models: Iterable[ServedModel]) -> None:
        for model in models:
            if model.metrics is None:
                model.metrics = self.metrics.bind(
                    model.name, model.version, load_seconds=model.load_seconds,
                    endpoint=endpoint.name,
                )  # fmt: skip

    @classmethod
    def from_models(cls, models: Iterable[ServedModel], **options: Any) -> ModelPool:
        """One endpoint per name; versions of the same name share it, the first one given
        answering requests that name no version (the others: by version only).

        Raises:
            InvalidInput: the same name and version twice.
        """
        by_name: dict[str, list[ModelRoute]] = {}
        for model in models:
            routes = by_name.setdefault(model.name, [])
            if any(r.model.version == model.version for r in routes):
                shown = f"{model.name} version {model.version}" if model.version else model.name
                raise InvalidInput(f"{shown} is given twice; serve each version once")
            routes.append(ModelRoute(model, 0.0 if routes else 1.0, model.source))
        return cls([Endpoint(n, r) for n, r in by_name.items()], **options)

    @classmethod
    def load(
        cls,
        targets: Sequence[str],
        *,
        settings: Settings,
        allow_pickle: bool | None = None,
        policy: BatchPolicy | None = None,
        logs: bool | None = None,
    ) -> ModelPool:
        """Load every target with the ``LOOPML_SERVE_*`` settings. A target is a model URI
        (``models:/fraud@production``, ``models:/fraud/3``, ``runs:/<run>/model``), a model
        directory, or the name of an endpoint stored with ``loopml endpoints create``.

        Endpoints that can move (stored ones, aliases, stages) are watched once the pool is
        started; ``logs`` (default ``LOOPML_SERVE_LOG``) records predictions under the
        artifact store's ``logs/``.

        Raises:
            InvalidInput: no targets, or one that cannot be loaded.
            NotFound: a target that does not exist.
        """
        if not targets:
            raise InvalidInput(
                "nothing to serve: give an endpoint name, a model URI or a directory "
                "(or LOOPML_SERVE_TARGETS)"
            )
        source = StoreSource(settings)
        loader = Loader(settings, source, allow_pickle=allow_pickle, policy=policy)
        built: list[Endpoint] = []
        try:
            plans = loader.plans(targets)
            for plan in plans:
                table = loader.build(plan, loader.resolve(plan), None)
                built.append(Endpoint.of(plan.name, table))
        except BaseException:
            for endpoint in built:
                for model in endpoint.models:
                    model.close()
            source.__exit__(None, None, None)
            raise
        log = feedback = None
        if settings.serve_log if logs is None else logs:
            from loopml.tracking import artifact_store_from_settings

            root = log_root(settings.resolved_artifacts())
            options = artifact_store_from_settings(settings).storage_options
            kwargs = {"storage_options": options, "flush_every_s": settings.serve_log_flush_s,
                      "max_buffered": settings.serve_log_max_rows}  # fmt: skip
            log, feedback = PredictionLog(root, **kwargs), FeedbackLog(root, **kwargs)
        pool = cls(built, log=log, feedback=feedback, shadow_queue=settings.serve_shadow_queue)
        moving = {p.name: p for p in plans if p.moves}
        if moving:
            pool.watcher = Watcher(pool, loader, moving, poll_s=settings.serve_poll_s)
            pool._source = source  # kept open: the watcher reads the store
        else:
            source.__exit__(None, None, None)
        return pool

    @property
    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, in the order given."""
        return list(self._endpoints.values())

    @property
    def ready(self) -> bool:
        """True while the pool serves (every model is loaded before the pool exists)."""
        return not self.closed

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint called ``name``.

        Raises:
            NotFound: naming what is served instead.
        """
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise NotFound(
                f"no model named {name!r} is served here; models: "
                f"{', '.join(self._endpoints) or 'none'}",
                details={"model": name},
            )
        return endpoint

    def get(self, name: str, version: str | None = None) -> ServedModel:
        """The model version that answers for ``name`` (and ``version``, if given).

        Raises:
            NotFound: naming what is served instead.
        """
        return self.endpoint(name).pick(version)

    def install(self, endpoint: Endpoint, table: RouteTable) -> None:
        """Serve ``table`` on ``endpoint`` from now on (on the event loop); the versions it
        drops are freed once the requests holding them end."""
        self._bind(endpoint, table.models)
        for model in endpoint.swap(table):
            model.retire()
        self.metrics.swaps.labels(endpoint.name, "ok").inc()
        self.heap.refreeze_soon()  # the retired versions' cycles are collected, the new frozen

    def status(self) -> list[dict[str, Any]]:
        """What each endpoint serves, its swaps and its last error (``GET /endpoints``)."""
        return [e.status() for e in self._endpoints.values()]

    def render_metrics(self) -> bytes:
        """``GET /metrics``: the log families brought up to date first."""
        for kind, log in (("predictions", self.log), ("feedback", self.feedback)):
            if log is not None:
                self.metrics.sync_log(kind, log)
        return self.metrics.render()

    async def start(self) -> None:
        """Start the shadow tasks and the watcher (in the serving event loop), and freeze the
        heap: everything loaded so far lives as long as the pool (see ``_heap``)."""
        self.heap.freeze()
        self.shadows.start()
        if self.watcher is not None and self._task is None:
            self._task = asyncio.create_task(self.watcher.run())

    async def stop(self) -> None:
        """Stop the watcher and the shadow tasks, flush the logs, free every model."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.shadows.stop()
        self.close()

    def close(self) -> None:
        """Free every model, flush and close the logs, close the store."""
        if self.closed:
            return
        self.closed = True
        self.heap.thaw()
        for endpoint in self._endpoints.values():
            for model in endpoint.models:
                model.close()
        for log in (self.log, self.feedback):
            if log is not None:
                log.close()
        if self._source is not None:
            self._source.__exit__(None, None, None)
            self._source = None
