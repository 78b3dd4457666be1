"""INSERT ... ON CONFLICT for both SQLite and PostgreSQL, from one call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_ignore", "upsert"]


def _insert(conn: Connection, model: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


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
    proposed row (``excluded``), e.g. "only when the new step is higher".
    """
    if not rows:
        return
    stmt = _insert(conn, model)
    condition: ColumnElement[bool] | None = where(model, stmt.excluded) if where else None
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={col: stmt.excluded[col] for col in update},
        where=condition,
    )
    conn.execute(stmt, list(rows))


def insert_ignore(conn: Connection, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows``, skipping any that clash with an existing key."""
    if rows:
        conn.execute(_insert(conn, model).on_conflict_do_nothing(), list(rows))
