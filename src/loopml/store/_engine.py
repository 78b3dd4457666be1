"""Engines for the metadata store: SQLite in WAL mode (default) or PostgreSQL via psycopg 3."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from loopml.errors import InvalidInput, Unavailable

__all__ = ["Store", "open_store"]

_BUSY_TIMEOUT_MS = 60_000


class Store:
    """The metadata store behind one database URL.

    Holds a read engine and a write engine. On SQLite the write engine opens every
    transaction with ``BEGIN IMMEDIATE``, so concurrent writers queue on the busy timeout
    instead of failing with "database is locked" half-way through a transaction.

    Args:
        url: SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).
        sqlite_synchronous: ``FULL`` makes every acknowledged commit survive power loss.
    """

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.sqlite_synchronous = sqlite_synchronous
        self._read: Engine | None = None
        self._write: Engine | None = None
        self._lock = threading.Lock()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return make_url(self.url).get_backend_name()

    def _engines(self) -> tuple[Engine, Engine]:
        if self._read is None or self._write is None:
            with self._lock:
                if self._read is None or self._write is None:
                    self._read, self._write = _make_engines(self.url, self.sqlite_synchronous)
        return self._read, self._write

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for queries (never takes the SQLite write lock)."""
        read_engine, _ = self._engines()
        try:
            with read_engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise Unavailable(f"metadata store unreachable: {exc.orig}") from exc

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits on success and rolls back on any error."""
        _, write_engine = self._engines()
        try:
            with write_engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise Unavailable(f"metadata store write failed, retry: {exc.orig}") from exc

    def write_engine(self) -> Engine:
        """The engine that migrations run on."""
        return self._engines()[1]

    def dispose(self) -> None:
        """Close every pooled connection (after a fork, or at shutdown)."""
        for engine in (self._read, self._write):
            if engine is not None:
                engine.dispose()
        self._read = self._write = None


def _make_engines(url: str, synchronous: str) -> tuple[Engine, Engine]:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInput(f"LOOPML_DB_URL {url!r} is not a database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {
            "connect_args": {"check_same_thread": False, "timeout": _BUSY_TIMEOUT_MS / 1000},
        }
        read = create_engine(url, **kwargs)
        write = create_engine(url, **kwargs)
        _sqlite_setup(read, synchronous, immediate=False)
        _sqlite_setup(write, synchronous, immediate=True)
        return read, write
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        return engine, engine
    raise InvalidInput(
        f"unsupported database {backend!r} in LOOPML_DB_URL: use sqlite:///path "
        "or postgresql+psycopg://user@host/db"
    )


def _sqlite_setup(engine: Engine, synchronous: str, *, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that BEGIN is ours.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        # LIKE is case-sensitive in the filter grammar (as on PostgreSQL); ILIKE is not.
        cur.execute("PRAGMA case_sensitive_like=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_STORES: dict[tuple[str, str], Store] = {}
_STORES_LOCK = threading.Lock()


def open_store(url: str, *, sqlite_synchronous: str = "FULL", migrate: bool = True) -> Store:
    """The process-wide :class:`Store` for ``url``, migrated to the newest schema on first use."""
    key = (url, sqlite_synchronous)
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = Store(url, sqlite_synchronous=sqlite_synchronous)
            if migrate:
                from loopml.store._migrate import upgrade

                upgrade(store)
            _STORES[key] = store
    return store


def reset_stores() -> None:
    """Forget every open store (tests, and after ``os.fork``)."""
    with _STORES_LOCK:
        for store in _STORES.values():
            store.dispose()
        _STORES.clear()
