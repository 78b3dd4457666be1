"""Fixtures of the pipeline tests: stores in a temporary home, worker processes' import path."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import Settings

EXAMPLES_DIR = str(Path(__file__).parent)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(home=tmp_path / "home")
    return Settings(home=tmp_path / "home", db_url=request.getfixturevalue("pg_url"))


@pytest.fixture
def workers_import_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes import the example modules by name: put them on their path."""
    monkeypatch.setenv("PYTHONPATH", EXAMPLES_DIR)
