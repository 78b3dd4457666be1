"""Approvals of model versions, which the ``approvals`` promotion gate counts.

An approval is an audit-log row (action ``approve_version``), so it is written in the same
append-only table as every other registry change, can never be edited or removed, and
needs no table of its own. It belongs to the model (by id, across renames) and to one
version number, which is never reused: an approval of another version, or of a deleted
model that had the same name, never counts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select

from loopml.registry._audit import record
from loopml.registry._entities import Approval
from loopml.registry._rows import model_row, version_row
from loopml.registry._validation import check_text, check_version
from loopml.registry._versions import VersionOps
from loopml.store import RegistryAuditRow

__all__ = ["ApprovalOps"]

_APPROVE = "approve_version"
MAX_REASON = 10_000


def _approvals(conn: Connection, model: Row[Any], version: int) -> list[Approval]:
    rows = conn.execute(
        select(RegistryAuditRow.user_id, RegistryAuditRow.timestamp, RegistryAuditRow.reason)
        .where(
            RegistryAuditRow.model_id == model.model_id,
            RegistryAuditRow.version == version,
            RegistryAuditRow.action == _APPROVE,
        )
        .order_by(RegistryAuditRow.id)
    ).all()
    first: dict[str, Approval] = {}
    for r in rows:
        first.setdefault(r.user_id, Approval(model.name, version, r.user_id, r.timestamp, r.reason))
    return list(first.values())


class ApprovalOps(VersionOps):
    """Approve versions and list their approvals; :class:`ModelRegistry` inherits them."""

    def approve_version(
        self, name: str, version: int | str, *, user: str | None = None, reason: str | None = None
    ) -> Approval:
        """Record that ``user`` approves ``version`` of ``name`` (for the ``approvals`` gate
        of :func:`~loopml.registry.promote`).

        Approving again is a no-op that answers the first approval: one user is one
        approval, however often they approve.

        Args:
            user: who approves (default: the registry's user, else the OS user).
            reason: what they checked, kept with the approval.

        Returns:
            The approval, with the time the user first approved the version.

        Raises:
            NotFound: no such model or version (a deleted version is named as deleted).
            InvalidInput: a bad version number, user or reason.
        """
        number, who = check_version(version), self._who(user)
        if reason is not None:
            check_text(reason, "reason", MAX_REASON)
        with self.store.write() as conn:
            model = model_row(conn, name, lock=True)
            version_row(conn, model, number)
            if not any(a.user == who for a in _approvals(conn, model, number)):
                record(
                    conn, user=who, action=_APPROVE, entity="version", model_id=model.model_id,
                    name=model.name, version=number, after={"approved_by": who}, reason=reason,
                )  # fmt: skip
            return next(a for a in _approvals(conn, model, number) if a.user == who)

    def list_approvals(self, name: str, version: int | str) -> list[Approval]:
        """The approvals of one version, one per user, in the order they were first given.

        Raises:
            NotFound: no such model or version.
        """
        number = check_version(version)
        with self.store.read() as conn:
            model = model_row(conn, name)
            version_row(conn, model, number)
            return _approvals(conn, model, number)
