"""CLI fixtures: an isolated home for each test, on SQLite or PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from loopml.cli import app
from loopml.client import set_client


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def home(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    if request.param == "postgres":
        monkeypatch.setenv("LOOPML_DB_URL", request.getfixturevalue("pg_url"))
    else:
        monkeypatch.delenv("LOOPML_DB_URL", raising=False)
    set_client(None)
    yield tmp_path / "home"
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
