"""Alembic migrations, applied automatically and by ``loopml db upgrade``, one process at a time."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock
from sqlalchemy import text
from sqlalchemy.engine import make_url

from loopml.store._engine import Store

__all__ = ["current_revision", "head_revision", "upgrade"]

_MIGRATIONS = Path(__file__).parent / "migrations"
# An arbitrary constant: the PostgreSQL advisory lock that serialises loopml migrations.
_PG_LOCK_ID = 0x100B_3A1


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest revision that this version of loopml knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(store: Store) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with store.write_engine().connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(store: Store, revision: str = "head") -> tuple[str | None, str]:
    """Bring the schema to ``revision``; safe when many processes start at once.

    Returns:
        ``(before, after)`` revisions.
    """
    target = head_revision() if revision == "head" else revision
    before = current_revision(store)
    if before == target:
        return before, target
    with _migration_lock(store):
        before = current_revision(store)
        if before != target:
            engine = store.write_engine()
            cfg = _config()
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
    return before, target


@contextmanager
def _migration_lock(store: Store) -> Iterator[None]:
    url = make_url(store.url)
    if url.get_backend_name() == "postgresql":
        with store.write_engine().connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_ID})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_ID})
                conn.commit()
        return
    database = url.database or ""
    if database and database != ":memory:":
        lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
    else:
        digest = hashlib.sha256(store.url.encode()).hexdigest()[:16]
        lock_path = Path(tempfile.gettempdir()) / f"loopml-{digest}.migrate.lock"
    with FileLock(str(lock_path), timeout=300):
        yield
