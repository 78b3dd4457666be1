"""Endpoints and the pool: which loaded model version answers a request for a name.

An :class:`Endpoint` is a name and a list of routes, each a served model version. Today an
endpoint answers with its first route (or the version asked for); weighted A/B routes,
shadows and hot swaps plug in here, behind :meth:`Endpoint.pick`, without touching the
protocol adapters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from loopml.config import Settings
from loopml.errors import InvalidInput, NotFound
from loopml.serving._batcher import BatchPolicy
from loopml.serving._loading import StoreSource, load_served_model
from loopml.serving._metrics import ServingMetrics
from loopml.serving._model import ServedModel

__all__ = ["Endpoint", "ModelPool", "ModelRoute"]


@dataclass(frozen=True)
class ModelRoute:
    """One model version behind an endpoint, with its share of the traffic.

    Attributes:
        model: the served model version.
        weight: its share of requests that name no version (used by later routing).
    """

    model: ServedModel
    weight: float = 1.0


class Endpoint:
    """A name clients call and the model versions behind it.

    Args:
        name: the name in ``/v2/models/{name}``.
        routes: at least one; the first answers requests that name no version.
    """

    def __init__(self, name: str, routes: Sequence[ModelRoute]) -> None:
        if not routes:
            raise InvalidInput(f"endpoint {name!r} needs at least one model")
        self.name = name
        self.routes = tuple(routes)

    @property
    def models(self) -> list[ServedModel]:
        """Every model version behind the endpoint."""
        return [r.model for r in self.routes]

    @property
    def versions(self) -> list[str]:
        """The registered versions served (a directory model has none)."""
        return [r.model.version for r in self.routes if r.model.version is not None]

    def pick(self, version: str | None = None) -> ServedModel:
        """The model version that answers a request.

        Raises:
            NotFound: ``version`` is not served here.
        """
        if version is None:
            return self.routes[0].model
        for route in self.routes:
            if route.model.version == version:
                return route.model
        served = ", ".join(self.versions) or "none (it was loaded from a directory)"
        raise NotFound(
            f"model {self.name!r} has no version {version!r} here; versions served: {served}",
            details={"model": self.name, "version": version},
        )


class ModelPool:
    """The endpoints of a serving process, by name, and their metrics.

    Args:
        endpoints: the endpoints to serve; names must be unique.
        metrics: the metric families; new ones by default.
    """

    def __init__(
        self, endpoints: Iterable[Endpoint], *, metrics: ServingMetrics | None = None
    ) -> None:
        self.metrics = metrics or ServingMetrics()
        self._endpoints: dict[str, Endpoint] = {}
        for endpoint in endpoints:
            if endpoint.name in self._endpoints:
                raise InvalidInput(f"two endpoints are named {endpoint.name!r}")
            self._endpoints[endpoint.name] = endpoint
            for model in endpoint.models:
                model.metrics = self.metrics.bind(
                    model.name, model.version, load_seconds=model.load_seconds
                )
        self.closed = False

    @classmethod
    def from_models(
        cls, models: Iterable[ServedModel], *, metrics: ServingMetrics | None = None
    ) -> ModelPool:
        """One endpoint per name; versions of the same name share it, the first one given
        answering requests that name no version.

        Raises:
            InvalidInput: the same name and version twice.
        """
        by_name: dict[str, list[ModelRoute]] = {}
        for model in models:
            routes = by_name.setdefault(model.name, [])
            if any(r.model.version == model.version for r in routes):
                shown = f"{model.name} version {model.version}" if model.version else model.name
                raise InvalidInput(f"{shown} is given twice; serve each version once")
            routes.append(ModelRoute(model))
        return cls([Endpoint(n, r) for n, r in by_name.items()], metrics=metrics)

    @classmethod
    def load(
        cls,
        targets: Sequence[str],
        *,
        settings: Settings,
        allow_pickle: bool | None = None,
        policy: BatchPolicy | None = None,
    ) -> ModelPool:
        """Load every target (see :func:`load_served_model`) with the ``LOOPML_SERVE_*``
        settings: batching, row limit, pickle permission, backend.

        Raises:
            InvalidInput: no targets, or one that cannot be loaded.
            NotFound: a target that does not exist.
        """
        if not targets:
            raise InvalidInput(
                "nothing to serve: give a model URI or directory (or LOOPML_SERVE_TARGETS)"
            )
        pickle = settings.serve_allow_pickle if allow_pickle is None else allow_pickle
        policy = policy or BatchPolicy.from_settings(settings)
        models: list[ServedModel] = []
        try:
            with StoreSource(settings) as source:
                for target in targets:
                    models.append(
                        load_served_model(
                            target,
                            source=source,
                            allow_pickle=pickle,
                            backend=settings.serve_backend,
                            policy=policy,
                            max_rows=settings.serve_max_rows,
                        )
                    )
            return cls.from_models(models)
        except BaseException:
            for model in models:
                model.close()
            raise

    @property
    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, in the order given."""
        return list(self._endpoints.values())

    @property
    def ready(self) -> bool:
        """True while the pool serves (every model is loaded before the pool exists)."""
        return not self.closed

    def get(self, name: str, version: str | None = None) -> ServedModel:
        """The model version that answers for ``name`` (and ``version``, if given).

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
        return endpoint.pick(version)

    def close(self) -> None:
        """Stop every model's predict threads."""
        self.closed = True
        for endpoint in self._endpoints.values():
            for model in endpoint.models:
                model.close()
