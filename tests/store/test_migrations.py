"""Alembic migrations: a database made by an older loopml is upgraded in place, data kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from loopml.config import Settings
from loopml.store import Store, current_revision, head_revision, upgrade
from loopml.tracking import TrackingService, artifact_store_from_settings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_upgrade_from_the_first_revision_keeps_data(url: str, tmp_path: Path) -> None:
    store = Store(url)
    assert upgrade(store, "0001") == (None, "0001")
    assert "run_inputs" not in inspect(store.write_engine()).get_table_names()
    with store.write() as conn:
        conn.execute(
            text(
                "INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
                "creation_time, last_update_time) VALUES ('old', '', 'active', 1, 1)"
            )
        )
    before, after = upgrade(store)
    assert (before, after) == ("0001", head_revision()) and current_revision(store) == after
    assert "run_inputs" in inspect(store.write_engine()).get_table_names()
    service = TrackingService(store, artifact_store_from_settings(Settings(home=tmp_path)))
    assert service.experiments.get_by_name("old").name == "old"
    assert upgrade(store) == (after, after)  # idempotent
    store.dispose()


def test_the_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from loopml.store import Base, open_store

    store = open_store(f"sqlite:///{tmp_path}/parity.db")
    with store.write_engine().connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_cache_entries_made_before_0006_count_as_used_when_made(url: str) -> None:
    store = Store(url)
    upgrade(store, "0005")
    with store.write() as conn:
        conn.execute(
            text(
                "INSERT INTO pipeline_cache (cache_key, step, manifest_json, run_id, created) "
                "VALUES ('k', 's', '{}', NULL, 123)"
            )
        )
    upgrade(store)
    with store.read() as conn:
        assert conn.execute(text("SELECT last_used FROM pipeline_cache")).scalar_one() == 123
    store.dispose()
