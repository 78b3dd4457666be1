"""CLI fixtures: an isolated home for each test, on SQLite or PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from _servers import ThreadedAppServer
from loopml.cli import app
from loopml.client import set_client
from loopml.config import load_settings
from loopml.server import create_app


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LOOPML_TRACKING_URI", raising=False)
    if request.param == "postgres":
        monkeypatch.setenv("LOOPML_DB_URL", request.getfixturevalue("pg_url"))
    else:
        monkeypatch.delenv("LOOPML_DB_URL", raising=False)
    return tmp_path / "home"


@pytest.fixture(params=["embedded", pytest.param("remote", marks=pytest.mark.remote)])
def home(
    request: pytest.FixtureRequest, store_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The store's home; in remote mode the CLI talks to a live server over that store."""
    set_client(None)
    if request.param == "embedded":
        yield store_env
    else:
        with ThreadedAppServer(create_app(load_settings())) as server:
            monkeypatch.setenv("LOOPML_TRACKING_URI", server.url)
            monkeypatch.setenv("LOOPML_HOME", str(store_env.parent / "client-home"))
            monkeypatch.delenv("LOOPML_DB_URL", raising=False)
            yield store_env
    set_client(None)


Invoke = Callable[..., Any]


@pytest.fixture
def cli(home: Path) -> Invoke:
    """Run ``loopml ARGS``; returns the result, or the parsed JSON with ``json=True``."""
    runner = CliRunner()

    def invoke(*args: str, json_out: bool = False, code: int = 0) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (result.output, result.exception)
        return json.loads(result.stdout) if json_out else result

    return invoke
