"""The append-only audit log: one row per registry change, written in the change's own
transaction (so a change without its row, or a row without its change, cannot exist)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert, or_, select

from loopml.errors import InvalidInput
from loopml.ids import now_ms
from loopml.registry._entities import AuditEntry
from loopml.store import RegisteredModelRow, RegistryAuditRow

__all__ = ["read_audit", "record"]

MAX_AUDIT_PAGE = 10_000


def record(
    conn: Connection,
    *,
    user: str,
    action: str,
    entity: str,
    model_id: int | None,
    name: str,
    version: int | None = None,
    alias: str | None = None,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
) -> None:
    """Append one audit row inside the caller's transaction (this module never updates)."""
    conn.execute(
        insert(RegistryAuditRow).values(
            timestamp=now_ms(),
            user_id=user,
            action=action,
            entity=entity,
            model_id=model_id,
            name=name,
            version=version,
            alias=alias,
            from_json=json.dumps(before, sort_keys=True),
            to_json=json.dumps(after, sort_keys=True),
            reason=reason,
        )
    )


def read_audit(conn: Connection, name: str | None, limit: int) -> list[AuditEntry]:
    """The newest ``limit`` rows, for one model (across its renames) or for all."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_AUDIT_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_AUDIT_PAGE}, got {limit!r}")
    q = select(RegistryAuditRow)
    if name is not None:
        current = select(RegisteredModelRow.model_id).where(RegisteredModelRow.name == name)
        # The name it had at the time, or the model that carries the name now: a renamed
        # model's history stays with it, and a deleted model's history stays findable.
        q = q.where(or_(RegistryAuditRow.name == name, RegistryAuditRow.model_id.in_(current)))
    rows = conn.execute(q.order_by(RegistryAuditRow.id.desc()).limit(limit)).all()
    return [
        AuditEntry(
            id=r.id,
            timestamp=r.timestamp,
            user=r.user_id,
            action=r.action,
            entity=r.entity,
            name=r.name,
            version=r.version,
            alias=r.alias,
            before=json.loads(r.from_json),
            after=json.loads(r.to_json),
            reason=r.reason,
        )
        for r in rows
    ]
