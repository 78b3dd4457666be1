"""What to serve, and loading it: targets and stored endpoints become route tables.

A *plan* is an endpoint before its URIs are resolved: route and shadow targets with their
weights, batching, limits, log sampling. Resolving a plan turns each ``models:/`` target
into the registered version it names now (a cheap read of the store); building it loads
the versions that changed and reuses the loaded ones that did not. Start-up and every hot
swap go through the same two steps (:class:`Loader`), in a thread: both block on the
store.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopml.config import Settings
from loopml.errors import InvalidInput, NotFound
from loopml.serving._batcher import BatchPolicy
from loopml.serving._endpoints import StoredEndpoint
from loopml.serving._loading import Backend, StoreSource, load_served_model
from loopml.serving._model import ServedModel
from loopml.serving._routing import ModelRoute, RouteTable, ShadowRoute, Sticky

__all__ = ["EndpointPlan", "Loader", "served_name"]

_ENDPOINT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_FIXED_VERSION = re.compile(r"^models:/[^/@]+/\d+$")


@dataclass(frozen=True)
class EndpointPlan:
    """An endpoint before its URIs are resolved (see the module docstring).

    Attributes:
        name: the endpoint's name.
        routes: ``(target, weight)`` pairs.
        shadows: ``(target, share)`` pairs.
        generation: the stored endpoint's generation; None for targets given directly.
    """

    name: str
    routes: tuple[tuple[str, float], ...]
    policy: BatchPolicy
    max_rows: int
    shadows: tuple[tuple[str, float], ...] = ()
    sticky: Sticky | None = None
    sample: float = 1.0
    max_body: int | None = None
    generation: int | None = None

    @property
    def stored(self) -> bool:
        """True for an endpoint read from the store (its generation is polled)."""
        return self.generation is not None

    @property
    def moves(self) -> bool:
        """True if what it serves can change while it runs: a stored endpoint, or a route
        by alias or stage (``models:/fraud@production``, ``models:/fraud/Production``)."""
        targets = [t for t, _ in self.routes] + [t for t, _ in self.shadows]
        return self.stored or any(_moves(t) for t in targets)


def _moves(target: str) -> bool:
    return target.startswith("models:/") and not _FIXED_VERSION.match(target)


def served_name(target: str) -> str:
    """The name a target is served under: the registered model's, else the run artifact's
    or the directory's (no store needed)."""
    if target.startswith("models:/"):
        return re.split(r"[/@]", target.removeprefix("models:/"), maxsplit=1)[0]
    if target.startswith("runs:/"):
        run_id, _, path = target.removeprefix("runs:/").strip("/").partition("/")
        return path.rstrip("/").rsplit("/", 1)[-1] or run_id
    return Path(target.removeprefix("file://")).resolve().name


def _is_endpoint_name(target: str) -> bool:
    return bool(_ENDPOINT_NAME.match(target)) and not Path(target).exists()


class Loader:
    """Resolves and loads plans with the ``LOOPML_SERVE_*`` settings; blocking calls (the
    serving app runs them in a thread).

    Args:
        settings: the store, batching and limit settings.
        source: where URIs and endpoints are read; kept open for the watcher's polls.
        allow_pickle, backend, policy: as for :func:`load_served_model` (defaults from
            the settings).
    """

    def __init__(
        self,
        settings: Settings,
        source: StoreSource,
        *,
        allow_pickle: bool | None = None,
        backend: Backend | None = None,
        policy: BatchPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.source = source
        self.allow_pickle = settings.serve_allow_pickle if allow_pickle is None else allow_pickle
        self.backend: Backend = backend or settings.serve_backend
        self.policy = policy or BatchPolicy.from_settings(settings)

    def plans(self, targets: Sequence[str]) -> list[EndpointPlan]:
        """One plan per stored endpoint named, and one per served name of the other targets
        (versions of one model given together share it, the first answering requests that
        name no version).

        Raises:
            NotFound: a bare name that is neither a stored endpoint nor a directory.
        """
        plans: dict[str, EndpointPlan] = {}
        direct: dict[str, list[str]] = {}
        for target in targets:
            if _is_endpoint_name(target):
                if target in plans:
                    raise InvalidInput(f"endpoint {target!r} is given twice")
                try:
                    stored = self.source.endpoints(target).get(target)
                except NotFound:
                    raise NotFound(
                        f"cannot serve {target!r}: no endpoint of that name in the store "
                        "(loopml endpoints list) and no model directory at that path",
                        details={"target": target},
                    ) from None
                plans[target] = self.stored_plan(stored)
            else:
                direct.setdefault(served_name(target), []).append(target)
        for name, given in direct.items():
            if name in plans:
                raise InvalidInput(f"two endpoints are named {name!r}")
            weights = [1.0] + [0.0] * (len(given) - 1)
            plans[name] = EndpointPlan(
                name, tuple(zip(given, weights, strict=True)), self.policy,
                self.settings.serve_max_rows, sample=self.settings.serve_log_sample,
            )  # fmt: skip
        return list(plans.values())

    def stored_plan(self, stored: StoredEndpoint) -> EndpointPlan:
        """The plan of one generation of a stored endpoint."""
        spec = stored.spec
        b = spec.batching
        policy = BatchPolicy(
            enabled=b.enabled, max_batch_size=b.max_batch_size, max_wait_ms=b.max_wait_ms,
            threads=self.settings.serve_threads,
        )  # fmt: skip
        sticky = None
        if spec.sticky is not None:
            header = spec.sticky.header.lower() if spec.sticky.header else None
            sticky = Sticky(header=header, field=spec.sticky.field)
        max_mb = spec.limits.max_body_mb
        return EndpointPlan(
            name=spec.name,
            routes=tuple((r.model, r.weight) for r in spec.routes),
            shadows=tuple((s.model, s.share) for s in spec.shadows),
            policy=policy,
            max_rows=spec.limits.max_rows or self.settings.serve_max_rows,
            sticky=sticky,
            sample=spec.logging.sample,
            max_body=None if max_mb is None else int(max_mb * 1024 * 1024),
            generation=stored.generation,
        )

    def refresh(self, plan: EndpointPlan) -> EndpointPlan:
        """The stored endpoint's current plan (``plan`` itself if its generation has not
        moved, or for targets given directly).

        Raises:
            NotFound: the endpoint was deleted.
        """
        if not plan.stored:
            return plan
        endpoints = self.source.endpoints(plan.name)
        if endpoints.generation(plan.name) == plan.generation:
            return plan
        return self.stored_plan(endpoints.get(plan.name))

    def resolve(self, plan: EndpointPlan) -> tuple[Any, ...]:
        """What each route and shadow names now: ``(model, version)`` for a ``models:/``
        URI by alias or stage, the target itself otherwise.

        Raises:
            NotFound: an alias, stage or model that does not exist (any more).
        """
        keys: list[Any] = []
        for target, _ in (*plan.routes, *plan.shadows):
            if _moves(target):
                version = self.source.registry(target).resolve(target)
                keys.append((version.name, str(version.version)))
            else:
                keys.append(target)
        return tuple(keys)

    def build(
        self, plan: EndpointPlan, keys: tuple[Any, ...], current: RouteTable | None = None
    ) -> RouteTable:
        """Load and warm up what ``keys`` name and ``current`` does not already hold.

        Raises:
            LoopMLError: a version that cannot be loaded (and why); nothing is kept.
        """
        held: dict[Any, ServedModel] = {}
        if current is not None:
            models = [r.model for r in current.routes] + [s.model for s in current.shadows]
            for key, model in zip(current.keys, models, strict=True):
                if model.policy == plan.policy and model.max_rows == plan.max_rows:
                    held[key] = model
        loaded: list[ServedModel] = []
        try:
            models = []
            for (target, _), key in zip((*plan.routes, *plan.shadows), keys, strict=True):
                found = held.get(key)
                if found is None:
                    found = held[key] = self._load(target, key, plan)
                    loaded.append(found)
                models.append(found)
            if not plan.stored:
                _refuse_repeats(models)
        except BaseException:
            for model in loaded:
                model.close()
            raise
        n = len(plan.routes)
        return RouteTable(
            routes=tuple(
                ModelRoute(m, w, t) for m, (t, w) in zip(models[:n], plan.routes, strict=True)
            ),
            shadows=tuple(
                ShadowRoute(m, s, t) for m, (t, s) in zip(models[n:], plan.shadows, strict=True)
            ),
            sticky=plan.sticky,
            sample=plan.sample,
            max_body=plan.max_body,
            generation=plan.generation,
            keys=keys,
        )

    def _load(self, target: str, key: Any, plan: EndpointPlan) -> ServedModel:
        # A moving target is loaded by the version it resolved to: the alias may move again
        # while the files download, and the key must name what was loaded.
        uri = f"models:/{key[0]}/{key[1]}" if isinstance(key, tuple) else target
        model = load_served_model(
            uri,
            source=self.source,
            allow_pickle=self.allow_pickle,
            backend=self.backend,
            policy=plan.policy,
            max_rows=plan.max_rows,
        )
        model.source = target
        return model


def _refuse_repeats(models: list[ServedModel]) -> None:
    # Targets given directly are told apart by version only (``/versions/N``): each once.
    seen: set[tuple[str, str | None]] = set()
    for model in models:
        key = (model.name, model.version)
        if key in seen:
            shown = f"{model.name} version {model.version}" if model.version else model.name
            raise InvalidInput(f"{shown} is given twice; serve each version once")
        seen.add(key)
