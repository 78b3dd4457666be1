"""INSERT ... ON CONFLICT for both SQLite and PostgreSQL, from one call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_ignore", "insert_rows", "upsert"]


def _insert(conn: Connection, model: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


_UPSERTS: dict[tuple[Any, ...], Any] = {}


def upsert(
    conn: Connection,
    model: Any,
    rows: Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str],
    where: Any = None,
) -> None:
    """Insert ``rows``; on a key clash update the ``update`` columns (only where ``where``).

    ``where`` is a callable ``(table, excluded) -> condition`` so that it can refer to the
    proposed row (``excluded``), e.g. "only when the new step is higher". The statement is
    built once per dialect and shape: building it costs more than running it.
    """
    if not rows:
        return
    cache_key = (conn.dialect.name, model, tuple(keys), tuple(update), where)
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        stmt = _insert(conn, model)
        condition: ColumnElement[bool] | None = where(model, stmt.excluded) if where else None
        stmt = _UPSERTS[cache_key] = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={col: stmt.excluded[col] for col in update},
            where=condition,
        )
    conn.execute(stmt, list(rows))


def insert_ignore(conn: Connection, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows``, skipping any that clash with an existing key."""
    if rows:
        conn.execute(_insert(conn, model).on_conflict_do_nothing(), list(rows))


_INSERT_SQL: dict[tuple[str, str, tuple[str, ...]], str] = {}


def insert_rows(
    conn: Connection, model: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert positional ``rows`` through the driver's executemany.

    The statement text is derived from the model's table and cached per dialect. On the hot
    path of run logging this is about twice as fast as a Core ``insert()`` with dicts,
    because no per-row parameter processing happens in Python.
    """
    if not rows:
        return
    table = model.__table__
    key = (conn.dialect.name, table.name, tuple(columns))
    sql = _INSERT_SQL.get(key)
    if sql is None:
        for column in columns:
            table.c[column]
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        preparer = conn.dialect.identifier_preparer
        sql = _INSERT_SQL[key] = (
            f"INSERT INTO {preparer.format_table(table)} "
            f"({', '.join(preparer.quote(c) for c in columns)}) "
            f"VALUES ({', '.join([mark] * len(columns))})"
        )
    # Straight to the driver's cursor, inside the connection's current transaction: the
    # statement text is fixed, and SQLAlchemy's per-statement bookkeeping would cost more
    # than the insert itself for a handful of rows.
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()
