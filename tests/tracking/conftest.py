"""Fixtures for the tracking suite.

Every test runs four ways: on SQLite and on a real PostgreSQL, each both embedded (the
store opened in-process) and remote (the same API over HTTP to a live server on
127.0.0.1, ``LOOPML_TRACKING_URI=http://...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import loopml
from _servers import ThreadedAppServer
from loopml.client import Client, RemoteService, open_service, set_client
from loopml.config import Settings
from loopml.server import create_app
from loopml.tracking import TrackingService


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for an empty store: the embedded SQLite default, or PostgreSQL."""
    if request.param == "sqlite":
        return Settings(home=tmp_path / "home")
    return Settings(home=tmp_path / "home", db_url=request.getfixturevalue("pg_url"))


@pytest.fixture(params=["embedded", pytest.param("remote", marks=pytest.mark.remote)])
def settings(
    request: pytest.FixtureRequest, store_settings: Settings, tmp_path: Path
) -> Iterator[Settings]:
    """What the client is given: the store itself, or the URL of a server over it."""
    if request.param == "embedded":
        yield store_settings
        return
    with ThreadedAppServer(create_app(store_settings)) as server:
        yield Settings(home=tmp_path / "client-home", tracking_uri=server.url)


@pytest.fixture
def service(settings: Settings) -> Iterator[TrackingService | RemoteService]:
    """The tracking service over an empty store, embedded or remote."""
    opened = open_service(settings)
    yield opened
    if isinstance(opened, RemoteService):
        opened.close()


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
