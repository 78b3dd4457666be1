"""Fixtures for the registry suite: a migrated store (SQLite, and a real PostgreSQL), the
tracking service over it for runs, and the registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.artifacts import ArtifactStore
from loopml.registry import ModelRegistry
from loopml.store import Store, upgrade
from loopml.tracking import Run, TrackingService


def _store(url: str) -> Iterator[Store]:
    store = Store(url)
    upgrade(store)
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on SQLite or PostgreSQL."""
    url = (
        f"sqlite:///{tmp_path / 'registry.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    yield from _store(url)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """SQLite only: for checks that never reach a query plan (validation)."""
    yield from _store(f"sqlite:///{tmp_path / 'registry.db'}")


@pytest.fixture
def tracking(store: Store, tmp_path: Path) -> TrackingService:
    return TrackingService(store, ArtifactStore(str(tmp_path / "artifacts")))


@pytest.fixture
def registry(store: Store) -> ModelRegistry:
    return ModelRegistry(store, user="alice")


@pytest.fixture
def run(tracking: TrackingService) -> Run:
    """A run whose artifacts a model version can point at."""
    return tracking.runs.create(tracking.experiments.create("exp"))
