"""Leases on monitors: at most one run of a monitor at a time, across processes and servers.

A run takes the lease with one conditional UPDATE (free, or left by a holder whose lease
expired), so on SQLite and PostgreSQL alike exactly one of two racing runners wins. The
scheduler's claim is the same UPDATE with one more condition, that ``next_run_at`` is still
the value it read, and moves ``next_run_at`` on: two schedulers never both run one due
monitor, and a monitor missed while nobody was up runs once, not once per missed period.
"""

from __future__ import annotations

import time

from sqlalchemy import ColumnElement, and_, or_, select, update

from loopml.errors import Conflict, NotFound
from loopml.ids import now_ms
from loopml.store import MonitorRow, Store

__all__ = ["claim_due", "release", "take_lease"]


def _free(now: int) -> ColumnElement[bool]:
    return or_(MonitorRow.lease_owner.is_(None), MonitorRow.lease_until < now)


def take_lease(store: Store, name: str, owner: str, *, lease_s: float, wait_s: float = 0.0) -> None:
    """Take ``name``'s lease for ``owner``, waiting up to ``wait_s`` for a run in progress.

    Raises:
        NotFound: no such monitor.  Conflict: another run holds the lease.
    """
    deadline = time.monotonic() + wait_s
    while True:
        now = now_ms()
        with store.write() as conn:
            taken = conn.execute(
                update(MonitorRow)
                .where(MonitorRow.name == name, _free(now))
                .values(lease_owner=owner, lease_until=now + int(lease_s * 1000))
            ).rowcount
            holder = None
            if not taken:
                holder = conn.execute(
                    select(MonitorRow.lease_owner, MonitorRow.lease_until).where(
                        MonitorRow.name == name
                    )
                ).first()
        if taken:
            return
        if holder is None:
            raise NotFound(f"monitor {name!r} does not exist", details={"monitor": name})
        if time.monotonic() >= deadline:
            raise Conflict(
                f"monitor {name!r} is being run by another process (lease {holder[0]} held "
                f"for {max(0, (holder[1] or now) - now) / 1000:.0f} s more); runs of one "
                "monitor never overlap: try again when it ends",
                details={"monitor": name, "lease_owner": holder[0]},
            )
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def claim_due(
    store: Store, name: str, owner: str, *, seen_next: int, next_run_at: int, lease_s: float
) -> bool:
    """Take the lease of a due monitor if its ``next_run_at`` is still ``seen_next``, moving
    it to ``next_run_at``; False when another scheduler got there first or a run holds it."""
    now = now_ms()
    with store.write() as conn:
        claimed = conn.execute(
            update(MonitorRow)
            .where(and_(MonitorRow.name == name, MonitorRow.next_run_at == seen_next, _free(now)))
            .values(
                lease_owner=owner, lease_until=now + int(lease_s * 1000), next_run_at=next_run_at
            )
        ).rowcount
    return bool(claimed)


def release(store: Store, name: str, owner: str) -> None:
    """Give the lease back (only if ``owner`` still holds it)."""
    with store.write() as conn:
        conn.execute(
            update(MonitorRow)
            .where(MonitorRow.name == name, MonitorRow.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
