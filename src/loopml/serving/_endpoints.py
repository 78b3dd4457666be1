"""Stored endpoints: named serving configurations, every generation kept for rollback.

An endpoint says which model versions answer (routes with weights), which get a mirrored
copy (shadows), how requests are batched, sampled into the prediction log and limited. It
lives in the store, so every replica serving it reads the same configuration, and each
change is a new *generation*: serving processes poll the generation and swap when it moves.

Example::

    endpoints = EndpointStore(store)
    endpoints.create(EndpointSpec.model_validate({
        "name": "fraud",
        "routes": [{"model": "models:/fraud@champion", "weight": 90},
                   {"model": "models:/fraud@challenger", "weight": 10}],
    }))
    endpoints.rollback("fraud")   # back to the generation before the current one
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import delete, insert, select, update

from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.store import EndpointConfigRow, EndpointRow, Store

__all__ = ["EndpointSpec", "EndpointStore", "StoredEndpoint", "load_endpoint_spec"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Only URIs that every replica resolves the same way: a local path means another file on
# each machine, so it is refused here (``loopml serve PATH`` serves a directory directly).
_MODEL_URI = re.compile(r"^(models:/[^/@\s]+(@[^/@\s]+|/[^/@\s]+)|runs:/[0-9a-f]{32}/\S+)$")


def _check_model_uri(value: str) -> str:
    if not _MODEL_URI.match(value):
        raise ValueError(
            f"{value[:200]!r} is not models:/name@alias, models:/name/N or runs:/<run id>/<path>"
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RouteSpec(_Strict):
    """A model version that answers a share of the requests."""

    model: str
    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)

    _model = field_validator("model")(_check_model_uri)


class ShadowSpec(_Strict):
    """A model version that gets a mirrored copy of ``share`` of the requests; its answers
    are logged, never returned."""

    model: str
    share: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)

    _model = field_validator("model")(_check_model_uri)


class StickySpec(_Strict):
    """Where the key that pins a caller to one route is read: a header or an input field."""

    header: str | None = None
    field: str | None = None

    @model_validator(mode="after")
    def _one(self) -> StickySpec:
        if (self.header is None) == (self.field is None):
            raise ValueError("sticky needs exactly one of header or field")
        return self


class BatchingSpec(_Strict):
    """Adaptive batching: gather requests only while the model is busy."""

    enabled: bool = True
    max_batch_size: int = Field(default=64, ge=1, le=100_000)
    max_wait_ms: float = Field(default=5.0, ge=0, le=10_000, allow_inf_nan=False)


class LoggingSpec(_Strict):
    """The share of requests recorded in the prediction log."""

    sample: float = Field(default=1.0, ge=0, le=1, allow_inf_nan=False)


class LimitsSpec(_Strict):
    """Per-request limits (None: the server's settings)."""

    max_rows: int | None = Field(default=None, ge=1)
    max_body_mb: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class EndpointSpec(_Strict):
    """One generation of an endpoint's configuration (see the module docstring)."""

    name: str
    routes: list[RouteSpec] = Field(min_length=1)
    shadows: list[ShadowSpec] = Field(default_factory=list)
    sticky: StickySpec | None = None
    batching: BatchingSpec = Field(default_factory=BatchingSpec)
    logging: LoggingSpec = Field(default_factory=LoggingSpec)
    limits: LimitsSpec = Field(default_factory=LimitsSpec)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"{value[:80]!r} is not an endpoint name: 1-128 letters, digits, '.', '_' "
                "or '-', starting with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _weights(self) -> EndpointSpec:
        if sum(r.weight for r in self.routes) <= 0:
            raise ValueError("routes: at least one route needs a weight above 0")
        return self

    @classmethod
    def parse(cls, raw: Any) -> EndpointSpec:
        """A spec from a dict (YAML, JSON), with one clear error naming each bad field.

        Raises:
            InvalidInput: the fields and what is wrong with each.
        """
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise InvalidInput.from_validation(exc, "endpoint") from None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def load_endpoint_spec(path: str | os.PathLike[str], **overrides: Any) -> EndpointSpec:
    """An endpoint spec from a YAML (or JSON) file; ``overrides`` replace top-level keys.

    Raises:
        NotFound: no such file.  InvalidInput: not YAML, or an invalid spec.
    """
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"no endpoint file at {file}")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{file} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{file} must hold a mapping (name, routes, ...)")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return EndpointSpec.parse(raw)


@dataclass(frozen=True)
class StoredEndpoint:
    """An endpoint's configuration as stored: the spec and the generation it is."""

    spec: EndpointSpec
    generation: int
    timestamp: int
    user: str
    reason: str | None

    @property
    def name(self) -> str:
        return self.spec.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "generation": self.generation,
            "timestamp": self.timestamp,
            "user": self.user,
            "reason": self.reason,
            "spec": self.spec.to_dict(),
        }


def _now_ms() -> int:
    return int(time.time() * 1000)


def _user(user: str | None) -> str:
    from loopml.registry import check_user

    return check_user(user)


class EndpointStore:
    """Endpoints in the metadata store (SQLite or PostgreSQL).

    Args:
        store: the migrated metadata store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self, spec: EndpointSpec | dict[str, Any], *, user: str | None = None,
        reason: str | None = None,
    ) -> StoredEndpoint:  # fmt: skip
        """Store a new endpoint as generation 1.

        Raises:
            AlreadyExists: the name is taken.  InvalidInput: a bad spec.
        """
        spec = spec if isinstance(spec, EndpointSpec) else EndpointSpec.parse(spec)
        now, who = _now_ms(), _user(user)
        with self.store.write() as conn:
            if conn.execute(select(EndpointRow.name).where(EndpointRow.name == spec.name)).first():
                raise AlreadyExists(f"endpoint {spec.name!r} already exists; update it instead")
            conn.execute(insert(EndpointRow).values(
                name=spec.name, generation=1, creation_timestamp=now, last_updated_timestamp=now
            ))  # fmt: skip
            self._write_config(conn, spec, 1, who, now, reason)
        return StoredEndpoint(spec, 1, now, who, reason)

    def update(
        self, spec: EndpointSpec | dict[str, Any], *, user: str | None = None,
        reason: str | None = None,
    ) -> StoredEndpoint:  # fmt: skip
        """Store ``spec`` as the endpoint's next generation (serving processes swap to it).

        Raises:
            NotFound: no such endpoint.  InvalidInput: a bad spec.
        """
        spec = spec if isinstance(spec, EndpointSpec) else EndpointSpec.parse(spec)
        return self._advance(spec.name, lambda _: spec, _user(user), reason)

    def rollback(
        self, name: str, *, to: int | None = None, user: str | None = None,
        reason: str | None = None,
    ) -> StoredEndpoint:  # fmt: skip
        """Make the configuration of generation ``to`` (default: the one before the current
        one) current again, as a new generation: history only grows.

        Raises:
            NotFound: no such endpoint or generation.  InvalidInput: nothing to roll back to.
        """

        def earlier(current: int) -> EndpointSpec:
            if to is None and current == 1:
                raise InvalidInput(f"endpoint {name!r} has one generation: nothing to roll back to")
            target = current - 1 if to is None else to
            if not 1 <= target < current:
                raise InvalidInput(
                    f"endpoint {name!r} is at generation {current}; roll back to one of "
                    f"1 to {current - 1}, not {target}"
                )
            return self.get(name, generation=target).spec

        return self._advance(name, earlier, _user(user), reason or "rollback")

    def _advance(self, name: str, make: Any, who: str, reason: str | None) -> StoredEndpoint:
        now = _now_ms()
        with self.store.write() as conn:
            current = conn.execute(
                select(EndpointRow.generation).where(EndpointRow.name == name).with_for_update()
            ).scalar()
            if current is None:
                raise NotFound(f"endpoint {name!r} does not exist", details={"endpoint": name})
            spec: EndpointSpec = make(current)
            generation = current + 1
            conn.execute(
                update(EndpointRow).where(EndpointRow.name == name)
                .values(generation=generation, last_updated_timestamp=now)
            )  # fmt: skip
            self._write_config(conn, spec, generation, who, now, reason)
        return StoredEndpoint(spec, generation, now, who, reason)

    @staticmethod
    def _write_config(
        conn: Any, spec: EndpointSpec, generation: int, who: str, now: int, reason: str | None
    ) -> None:
        conn.execute(insert(EndpointConfigRow).values(
            name=spec.name, generation=generation, spec_json=orjson.dumps(spec.to_dict()).decode(),
            user_id=who, timestamp=now, reason=reason,
        ))  # fmt: skip

    def get(self, name: str, *, generation: int | None = None) -> StoredEndpoint:
        """The endpoint's current configuration (or generation ``generation``).

        Raises:
            NotFound: no such endpoint or generation.
        """
        with self.store.read() as conn:
            if generation is None:
                generation = conn.execute(
                    select(EndpointRow.generation).where(EndpointRow.name == name)
                ).scalar()
                if generation is None:
                    raise NotFound(f"endpoint {name!r} does not exist", details={"endpoint": name})
            row = conn.execute(
                select(EndpointConfigRow).where(
                    EndpointConfigRow.name == name, EndpointConfigRow.generation == generation
                )
            ).one_or_none()
        if row is None:
            raise NotFound(f"endpoint {name!r} has no generation {generation}")
        return _stored(row)

    def generation(self, name: str) -> int:
        """The current generation: what a serving process polls (one indexed read).

        Raises:
            NotFound: the endpoint was deleted.
        """
        with self.store.read() as conn:
            found = conn.execute(
                select(EndpointRow.generation).where(EndpointRow.name == name)
            ).scalar()
        if found is None:
            raise NotFound(f"endpoint {name!r} does not exist", details={"endpoint": name})
        return int(found)

    def history(self, name: str) -> list[StoredEndpoint]:
        """Every generation, newest first.

        Raises:
            NotFound: no such endpoint.
        """
        self.generation(name)
        with self.store.read() as conn:
            rows = conn.execute(
                select(EndpointConfigRow)
                .where(EndpointConfigRow.name == name)
                .order_by(EndpointConfigRow.generation.desc())
            )
            return [_stored(r) for r in rows]

    def list(self) -> list[StoredEndpoint]:
        """Every endpoint's current configuration, by name."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(EndpointConfigRow)
                .join(
                    EndpointRow,
                    (EndpointRow.name == EndpointConfigRow.name)
                    & (EndpointRow.generation == EndpointConfigRow.generation),
                )
                .order_by(EndpointConfigRow.name)
            )
            return [_stored(r) for r in rows]

    def delete(self, name: str) -> None:
        """Forget an endpoint and its history.

        Raises:
            NotFound: no such endpoint.
        """
        with self.store.write() as conn:
            gone = conn.execute(delete(EndpointRow).where(EndpointRow.name == name)).rowcount
            conn.execute(delete(EndpointConfigRow).where(EndpointConfigRow.name == name))
        if not gone:
            raise NotFound(f"endpoint {name!r} does not exist", details={"endpoint": name})


def _stored(row: Any) -> StoredEndpoint:  # a row of endpoint_configs
    spec = EndpointSpec.parse(orjson.loads(row.spec_json))
    return StoredEndpoint(spec, row.generation, row.timestamp, row.user_id, row.reason)
