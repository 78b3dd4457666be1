"""Fixtures for the monitor tests: a migrated store (SQLite, and a real PostgreSQL), a
reference dataset version, real prediction and feedback logs, a monitor service over them,
and real HTTP servers for webhooks (helpers in ``_monitor_world``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _monitor_world import Hook, Traffic, World, reference_frame

from loopml.artifacts import ArtifactStore
from loopml.data import DataService, DatasetCatalog
from loopml.monitoring import LogReader
from loopml.store import Store, upgrade


def _store(url: str) -> Iterator[Store]:
    store = Store(url)
    upgrade(store)
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on SQLite or PostgreSQL."""
    url = (
        f"sqlite:///{tmp_path / 'monitors.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    yield from _store(url)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """SQLite only, for tests whose subject is not the database."""
    yield from _store(f"sqlite:///{tmp_path / 'monitors.db'}")


def _world(store: Store, tmp_path: Path) -> Iterator[World]:
    blobs = ArtifactStore(str(tmp_path / "artifacts"))
    data = DataService(DatasetCatalog(store), blobs)
    data.register("train", reference_frame())
    root = str(tmp_path / "artifacts" / "logs")
    traffic = Traffic(root)
    world = World(store, blobs, data, LogReader(root), traffic)
    yield world
    world.close()


@pytest.fixture
def world(store: Store, tmp_path: Path) -> Iterator[World]:
    """SQLite and PostgreSQL: a reference version ``train@1`` and an empty log root."""
    yield from _world(store, tmp_path)


@pytest.fixture
def lite(sqlite_store: Store, tmp_path: Path) -> Iterator[World]:
    """The same world on SQLite only."""
    yield from _world(sqlite_store, tmp_path)


@pytest.fixture
def hooks() -> Iterator[list[Hook]]:
    """Make receivers with ``hooks.append(Hook(...))``; all are closed afterwards."""
    made: list[Hook] = []
    yield made
    for hook in made:
        hook.close()
