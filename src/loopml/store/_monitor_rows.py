"""Tables of monitoring: monitors, each of their runs, and the alerts the runs raised."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loopml.store._models import Base

__all__ = ["AlertEventRow", "MonitorRow", "MonitorRunRow"]


class MonitorRow(Base):
    """A monitor: its spec, when it is next due, and who holds the lease on running it.

    ``lease_owner`` / ``lease_until`` make runs of one monitor exclusive across processes and
    servers: a run takes the lease with one conditional UPDATE, and a lease left by a process
    that died expires. ``state_json`` keeps what spans runs (open alert episodes, the last
    retrain trigger), ``baseline_*`` the window that prediction drift is measured against.
    """

    __tablename__ = "monitors"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(256), index=True)
    spec_json: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(256))
    creation_timestamp: Mapped[int] = mapped_column(BigInteger)
    last_updated_timestamp: Mapped[int] = mapped_column(BigInteger)
    next_run_at: Mapped[int] = mapped_column(BigInteger, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    state_json: Mapped[str] = mapped_column(Text)
    baseline_start: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    baseline_end: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class MonitorRunRow(Base):
    """One run of a monitor: its window, verdicts, figures and the report's blobs (HTML and
    JSON, by sha256 in the artifact store). Written once, when the run ends."""

    __tablename__ = "monitor_runs"

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    monitor: Mapped[str] = mapped_column(
        String(256), ForeignKey("monitors.name", ondelete="CASCADE")
    )
    started: Mapped[int] = mapped_column(BigInteger)
    finished: Mapped[int] = mapped_column(BigInteger)
    window_start: Mapped[int] = mapped_column(BigInteger)
    window_end: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(32))
    rows: Mapped[int] = mapped_column(Integer)
    labelled: Mapped[int] = mapped_column(Integer)
    checks_json: Mapped[str] = mapped_column(Text)
    figures_json: Mapped[str] = mapped_column(Text)
    report_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    json_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_monitor_runs_monitor_window", "monitor", "window_end"),)


class AlertEventRow(Base):
    """An alert a run raised (drift, performance, operational, retrain), with the outcome
    of its delivery to each sink (``deliveries_json``, updated as deliveries finish)."""

    __tablename__ = "alert_events"

    alert_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    monitor: Mapped[str] = mapped_column(
        String(256), ForeignKey("monitors.name", ondelete="CASCADE")
    )
    run_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("monitor_runs.run_id", ondelete="CASCADE"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    figures_json: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    deliveries_json: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_alert_events_monitor_timestamp", "monitor", "timestamp"),)
