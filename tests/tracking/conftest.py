"""Fixtures for the tracking suite: every test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import loopml
from loopml.client import Client, set_client
from loopml.config import Settings
from loopml.tracking import TrackingService


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for an empty store: the embedded SQLite default, or PostgreSQL."""
    if request.param == "sqlite":
        return Settings(home=tmp_path / "home")
    return Settings(home=tmp_path / "home", db_url=request.getfixturevalue("pg_url"))


@pytest.fixture
def service(settings: Settings) -> TrackingService:
    """The tracking service over an empty store."""
    return TrackingService.from_settings(settings)


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    """A client that the module-level API (``loopml.start_run`` ...) uses too."""
    c = Client(settings)
    set_client(c)
    try:
        yield c
    finally:
        while loopml.active_run() is not None:
            loopml.end_run()
        set_client(None)
