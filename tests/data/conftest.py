"""The dataset tests' clients: embedded or remote, on SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopml
from _servers import ThreadedAppServer
from loopml.client import Client, set_client
from loopml.config import Settings
from loopml.server import create_app


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(home=tmp_path / "home")
    return Settings(home=tmp_path / "home", db_url=request.getfixturevalue("pg_url"))


@pytest.fixture(params=["embedded", pytest.param("remote", marks=pytest.mark.remote)])
def client(
    request: pytest.FixtureRequest, store_settings: Settings, tmp_path: Path
) -> Iterator[Client]:
    """The process client (and so ``loopml.data``) on an empty store, or on a live server
    over it (``LOOPML_TRACKING_URI``)."""
    with contextlib.ExitStack() as stack:
        settings = store_settings
        if request.param == "remote":
            server = stack.enter_context(ThreadedAppServer(create_app(store_settings)))
            settings = Settings(home=tmp_path / "client-home", tracking_uri=server.url)
        c = Client(settings)
        set_client(c)
        yield c
        while loopml.active_run() is not None:
            loopml.end_run()
        set_client(None)
