"""Endpoints and their routes: which loaded model version answers a request.

An :class:`Endpoint` holds one immutable :class:`RouteTable` (routes with weights, shadow
routes, the sticky key, the log sampling share). A request reads the table once and picks
from it; a hot swap replaces the table with one reference assignment, so a request sees
the old table or the new one, never a mix.

Picking, for a request that names no version: the only route with a weight above 0; else,
with a sticky key, the route that a hash of the endpoint's name and the key lands on (the
same on every replica and across restarts); else a weighted random choice.
"""

from __future__ import annotations

import hashlib
import random
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import accumulate
from typing import Any

from loopml.errors import InvalidInput, NotFound
from loopml.serving._model import ServedModel

__all__ = ["Endpoint", "ModelRoute", "RouteTable", "ShadowRoute", "Sticky"]

_SPAN = float(2**64)


@dataclass(frozen=True)
class ModelRoute:
    """One model version behind an endpoint, with its share of the traffic.

    Attributes:
        model: the served model version.
        weight: its share of requests that name no version, relative to the other routes'
            (0: reachable only by naming its version).
        target: the URI (or directory) the route was configured with.
    """

    model: ServedModel
    weight: float = 1.0
    target: str = ""


@dataclass(frozen=True)
class ShadowRoute:
    """A model version that gets a mirrored copy of ``share`` of the answered requests;
    its answers are logged, never returned."""

    model: ServedModel
    share: float = 1.0
    target: str = ""


@dataclass(frozen=True)
class Sticky:
    """Where the key that pins a caller to one route is read: a header or an input column."""

    header: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class RouteTable:
    """What an endpoint serves, as one immutable value (see the module docstring).

    Attributes:
        routes: at least one, at least one of them with a weight above 0.
        shadows: mirrored routes.
        sticky: where a caller's key is read, or None for random assignment.
        sample: the share of requests recorded in the prediction log.
        max_body: the largest request body in bytes (None: the server's limit).
        generation: the stored endpoint's generation it was built from (None otherwise).
        keys: what each route and shadow resolved to, in order (for change detection).
    """

    routes: tuple[ModelRoute, ...]
    shadows: tuple[ShadowRoute, ...] = ()
    sticky: Sticky | None = None
    sample: float = 1.0
    max_body: int | None = None
    generation: int | None = None
    keys: tuple[Any, ...] = ()
    _bounds: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _live: tuple[ModelRoute, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.routes:
            raise InvalidInput("an endpoint needs at least one model")
        live = tuple(r for r in self.routes if r.weight > 0)
        if not live:
            raise InvalidInput("at least one route needs a weight above 0")
        total = sum(r.weight for r in live)
        bounds = tuple(b / total for b in accumulate(r.weight for r in live))
        object.__setattr__(self, "_live", live)
        object.__setattr__(self, "_bounds", bounds)

    @property
    def models(self) -> list[ServedModel]:
        """Every model version of the table: routes, then shadows (each once)."""
        seen: dict[int, ServedModel] = {}
        for model in [r.model for r in self.routes] + [s.model for s in self.shadows]:
            seen.setdefault(id(model), model)
        return list(seen.values())

    def pick(
        self,
        name: str,
        version: str | None,
        key: str | None,
        random_: Callable[[], float],
    ) -> ServedModel:
        """The route's model for one request (see the module docstring).

        Raises:
            NotFound: ``version`` is not one of the routes'.
        """
        if version is not None:
            for route in self.routes:
                if route.model.version == version:
                    return route.model
            served = ", ".join(v for r in self.routes if (v := r.model.version)) or (
                "none (it was loaded from a directory)"
            )
            raise NotFound(
                f"model {name!r} has no version {version!r} here; versions served: {served}",
                details={"model": name, "version": version},
            )
        live = self._live
        if len(live) == 1:
            return live[0].model
        point = _unit(name, key) if key is not None else random_()
        return live[min(bisect_right(self._bounds, point), len(live) - 1)].model


def _unit(name: str, key: str) -> float:
    """A point in [0, 1) that depends only on the endpoint and the key: not Python's
    hash(), which is salted per process and would send a caller elsewhere on each replica."""
    digest = hashlib.blake2b(f"{name}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SPAN


class Endpoint:
    """A name clients call and the model versions behind it.

    Args:
        name: the name in ``/v2/models/{name}``.
        routes: at least one; with the default weights, the first answers every request
            that names no version.
        shadows, sticky, sample, max_body, generation, keys: as for :class:`RouteTable`.
        rng: the random source of weighted choices, shadow shares and log sampling (a
            seeded ``random.Random`` makes them repeatable in tests).
    """

    def __init__(
        self,
        name: str,
        routes: Sequence[ModelRoute],
        *,
        shadows: Sequence[ShadowRoute] = (),
        sticky: Sticky | None = None,
        sample: float = 1.0,
        max_body: int | None = None,
        generation: int | None = None,
        keys: tuple[Any, ...] = (),
        rng: random.Random | None = None,
    ) -> None:
        if not routes:
            raise InvalidInput(f"endpoint {name!r} needs at least one model")
        self.name = name
        self.table = RouteTable(
            tuple(routes), tuple(shadows), sticky, sample, max_body, generation, keys
        )
        self.random = (rng or random.Random()).random
        self.swaps = 0
        self.last_swap_ms: int | None = None
        self.last_error: dict[str, Any] | None = None

    @classmethod
    def of(cls, name: str, table: RouteTable, *, rng: random.Random | None = None) -> Endpoint:
        """An endpoint serving ``table``."""
        endpoint = cls(name, table.routes, rng=rng)
        endpoint.table = table
        return endpoint

    @property
    def routes(self) -> tuple[ModelRoute, ...]:
        """The routes being served now."""
        return self.table.routes

    @property
    def models(self) -> list[ServedModel]:
        """Every model version behind the endpoint now (routes and shadows)."""
        return self.table.models

    @property
    def versions(self) -> list[str]:
        """The registered versions the routes serve (a directory model has none)."""
        return [r.model.version for r in self.table.routes if r.model.version is not None]

    def pick(self, version: str | None = None, *, key: str | None = None) -> ServedModel:
        """The model version that answers a request (see the module docstring).

        Raises:
            NotFound: ``version`` is not served here.
        """
        return self.table.pick(self.name, version, key, self.random)

    def swap(self, table: RouteTable) -> list[ServedModel]:
        """Serve ``table`` from now on; returns the versions it no longer holds (for the
        caller to retire once their requests end)."""
        old = self.table
        self.table = table  # the one assignment requests can observe
        self.swaps += 1
        self.last_swap_ms = int(time.time() * 1000)
        self.last_error = None
        kept = {id(m) for m in table.models}
        return [m for m in old.models if id(m) not in kept]

    def status(self) -> dict[str, Any]:
        """What the endpoint serves, for ``GET /endpoints``."""
        table = self.table
        total = sum(r.weight for r in table.routes) or 1.0
        return {
            "name": self.name,
            "generation": table.generation,
            "routes": [
                {
                    "target": r.target,
                    "model": r.model.name,
                    "version": r.model.version,
                    "weight": r.weight,
                    "share": r.weight / total,
                }
                for r in table.routes
            ],
            "shadows": [
                {
                    "target": s.target,
                    "model": s.model.name,
                    "version": s.model.version,
                    "share": s.share,
                }
                for s in table.shadows
            ],
            "sticky": None if table.sticky is None else asdict(table.sticky),
            "log_sample": table.sample,
            "swaps": self.swaps,
            "last_swap_ms": self.last_swap_ms,
            "last_error": self.last_error,
        }
