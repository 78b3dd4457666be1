"""Alert events in the store: listing them, and recording how each delivery went."""

from __future__ import annotations

import orjson
from sqlalchemy import select, update

from loopml.monitoring._alerts import AlertEvent, Delivery
from loopml.store import AlertEventRow, Store

__all__ = ["list_alerts", "record_delivery"]

_FINAL = ("delivered", "failed", "dropped")


def list_alerts(
    store: Store, monitor: str | None, *, kind: str | None, limit: int
) -> list[AlertEvent]:
    """Alert events, newest first, of one monitor and one kind when given."""
    query = select(AlertEventRow).order_by(AlertEventRow.timestamp.desc()).limit(limit)
    if monitor is not None:
        query = query.where(AlertEventRow.monitor == monitor)
    if kind is not None:
        query = query.where(AlertEventRow.kind == kind)
    with store.read() as conn:
        rows = conn.execute(query).all()
    return [
        AlertEvent(
            r.alert_id,
            r.monitor,
            r.run_id,
            r.kind,
            r.message,
            orjson.loads(r.figures_json),
            r.timestamp,
            orjson.loads(r.deliveries_json),
        )
        for r in rows
    ]


def record_delivery(store: Store, alert_id: str, sink: str, delivery: Delivery) -> None:
    """Set one sink's delivery record on an event. The row is locked while it is read and
    written (the log sink and webhook workers record concurrently), and a final outcome is
    never replaced by ``pending`` (a fast webhook may finish before its first record)."""
    with store.write() as conn:
        found = conn.execute(
            select(AlertEventRow.deliveries_json)
            .where(AlertEventRow.alert_id == alert_id)
            .with_for_update()
        ).scalar()
        if found is None:  # the monitor was deleted meanwhile
            return
        deliveries = orjson.loads(found)
        old = deliveries.get(sink, {}).get("status")
        if old in _FINAL and delivery["status"] not in _FINAL:
            return
        deliveries[sink] = delivery
        conn.execute(
            update(AlertEventRow)
            .where(AlertEventRow.alert_id == alert_id)
            .values(deliveries_json=orjson.dumps(deliveries).decode())
        )
