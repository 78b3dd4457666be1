"""The monitor service: monitors in the store, their runs, reports and alerts.

Example::

    from loopml.config import load_settings
    from loopml.monitoring import MonitorService

    monitors = MonitorService.from_settings(load_settings())
    monitors.create({"name": "fraud", "endpoint": "fraud", "reference": "fraud-train@3",
                     "performance": {"metric": "f1", "min": 0.85}})
    run = monitors.run("fraud")            # one run now: figures, checks, report, alerts
    run.verdict, run.checks["drift"], run.report_path
    monitors.runs("fraud", limit=20)       # the trend, newest first
"""

from __future__ import annotations

import builtins
import logging
import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select, update

from loopml.artifacts import ArtifactStore
from loopml.config import Settings
from loopml.data import DataService, DatasetCatalog
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.ids import now_ms
from loopml.monitoring._alert_rows import list_alerts, record_delivery
from loopml.monitoring._alerts import AlertDispatcher, AlertEvent, Delivery
from loopml.monitoring._durations import to_ms
from loopml.monitoring._entities import MonitorRun, StoredMonitor, run_from_row, stored_from_row
from loopml.monitoring._leases import claim_due, release, take_lease
from loopml.monitoring._logs import LogReader
from loopml.monitoring._prometheus import MonitorMetrics
from loopml.monitoring._retrain import RetrainHandler
from loopml.monitoring._spec import Monitor
from loopml.store import AlertEventRow, MonitorRow, MonitorRunRow, Store

__all__ = ["MonitorService", "run_monitor"]

_log = logging.getLogger("loopml.monitoring")


class MonitorService:
    """Monitors over one metadata store, one artifact store and the endpoints' logs.

    Args:
        store: the migrated metadata store.
        data: resolves and reads reference dataset versions.
        blobs: where run reports (HTML, JSON) are stored, by sha256.
        logs: the prediction and feedback logs (``<artifacts>/logs``).
        dispatcher: delivers alerts (default: one of its own, started on first use).
        metrics: Prometheus gauges to update after each run (default: none).
        retrain_handler: called when a run finds retraining due; default: the handler
            installed with :func:`~loopml.monitoring.set_retrain_handler`.
        lease_s: how long a run may hold its monitor before another may take it over.
        user: who creates and updates monitors (default: the OS user).
    """

    def __init__(
        self,
        store: Store,
        *,
        data: DataService,
        blobs: ArtifactStore,
        logs: LogReader,
        dispatcher: AlertDispatcher | None = None,
        metrics: MonitorMetrics | None = None,
        retrain_handler: RetrainHandler | None = None,
        lease_s: float = 900.0,
        user: str | None = None,
    ) -> None:
        self.store = store
        self.data = data
        self.blobs = blobs
        self.logs = logs
        self.dispatcher = dispatcher or AlertDispatcher()
        if self.dispatcher.on_result is None:
            self.dispatcher.on_result = self.record_delivery
        self.metrics = metrics
        self.retrain_handler = retrain_handler
        self.lease_s = lease_s
        self.user = user

    @classmethod
    def from_settings(
        cls, settings: Settings, *, store: Store | None = None,
        blobs: ArtifactStore | None = None, **kwargs: Any,
    ) -> MonitorService:  # fmt: skip
        """The service over the stores ``settings`` name (opened and migrated), or over
        ``store`` and ``blobs`` already open (a server's).

        Raises:
            InvalidInput: ``settings`` point at a remote server and no store is given
                (monitors read the store and the logs directly: point LOOPML_DB_URL and
                LOOPML_ARTIFACTS at them).
        """
        from loopml.serving import log_root
        from loopml.store import open_store
        from loopml.tracking import artifact_store_from_settings

        if store is None:
            if settings.is_remote:
                raise InvalidInput(
                    "monitors read the store and the prediction logs directly: point "
                    "LOOPML_DB_URL and LOOPML_ARTIFACTS at the shared store instead of "
                    "LOOPML_TRACKING_URI"
                )
            store = open_store(
                settings.resolved_db_url(), sqlite_synchronous=settings.sqlite_synchronous
            )
        blobs = blobs or artifact_store_from_settings(settings)
        data = DataService(DatasetCatalog(store), blobs, s3_endpoint_url=settings.s3_endpoint_url)
        logs = LogReader(log_root(settings.resolved_artifacts()), blobs.storage_options)
        return cls(store, data=data, blobs=blobs, logs=logs, **kwargs)

    # -- monitors ------------------------------------------------------------------------
    def _check(self, spec: Monitor) -> None:
        from loopml.serving import EndpointStore

        try:
            EndpointStore(self.store).get(spec.endpoint)
        except NotFound:
            if not self.logs.exists(spec.endpoint):  # served directly (loopml serve URI) is fine
                raise NotFound(
                    f"endpoint {spec.endpoint!r} is neither a stored endpoint (loopml endpoints "
                    f"list) nor has a prediction log under {self.logs.root}",
                    details={"endpoint": spec.endpoint},
                ) from None
        version = self.data.version(spec.reference)  # NotFound names the version
        wanted = [*(spec.features or []), spec.reference_prediction]
        missing = [c for c in wanted if c is not None and c not in version.columns]
        if missing:
            raise InvalidInput(
                f"the reference {version.ref} has no column {missing} (its columns: "
                f"{', '.join(version.columns[:30])})",
                details={"columns": missing},
            )

    def _who(self, user: str | None) -> str:
        from loopml.registry import check_user

        return check_user(user or self.user)

    def create(self, spec: Monitor | dict[str, Any], *, user: str | None = None) -> StoredMonitor:
        """Store a new monitor; it is due at once.

        Raises:
            InvalidInput: a bad spec, or features the reference lacks.  AlreadyExists: the
            name is taken.  NotFound: an unknown endpoint or reference dataset version.
        """
        spec = Monitor.parse(spec)
        self._check(spec)
        now, who = now_ms(), self._who(user)
        with self.store.write() as conn:
            if conn.execute(select(MonitorRow.name).where(MonitorRow.name == spec.name)).first():
                raise AlreadyExists(f"monitor {spec.name!r} already exists; update it instead")
            conn.execute(
                insert(MonitorRow).values(
                    name=spec.name,
                    endpoint=spec.endpoint,
                    spec_json=orjson.dumps(spec.to_dict()).decode(),
                    created_by=who,
                    creation_timestamp=now,
                    last_updated_timestamp=now,
                    next_run_at=now,
                    state_json="{}",
                )
            )
        return self.get(spec.name)

    def update(self, spec: Monitor | dict[str, Any]) -> StoredMonitor:
        """Replace a monitor's spec (its runs and alert episodes stay; a shorter ``every``
        brings the next run forward; a new endpoint gets a new prediction baseline).

        Raises:
            NotFound: no such monitor (or endpoint / dataset).  InvalidInput: a bad spec.
        """
        spec = Monitor.parse(spec)
        old = self.get(spec.name)
        self._check(spec)
        now = now_ms()
        every = int(spec.every_delta.total_seconds() * 1000)
        values: dict[str, Any] = {
            "endpoint": spec.endpoint,
            "last_updated_timestamp": now,
            "spec_json": orjson.dumps(spec.to_dict()).decode(),
            "next_run_at": min(old.next_run_at, now + every),
        }
        if old.spec.endpoint != spec.endpoint:
            values.update(baseline_start=None, baseline_end=None)
        with self.store.write() as conn:
            conn.execute(update(MonitorRow).where(MonitorRow.name == spec.name).values(**values))
        return self.get(spec.name)

    def get(self, name: str) -> StoredMonitor:
        """A monitor by name.

        Raises:
            NotFound: no such monitor.
        """
        with self.store.read() as conn:
            row = conn.execute(select(MonitorRow).where(MonitorRow.name == name)).one_or_none()
        if row is None:
            raise NotFound(f"monitor {name!r} does not exist", details={"monitor": name})
        return stored_from_row(row)

    def list(self) -> builtins.list[StoredMonitor]:
        """Every monitor, by name."""
        with self.store.read() as conn:
            rows = conn.execute(select(MonitorRow).order_by(MonitorRow.name)).all()
        return [stored_from_row(r) for r in rows]

    def delete(self, name: str) -> None:
        """Forget a monitor with its runs and alerts (report blobs stay in the artifact store).

        Raises:
            NotFound: no such monitor.
        """
        with self.store.write() as conn:
            conn.execute(delete(AlertEventRow).where(AlertEventRow.monitor == name))
            conn.execute(delete(MonitorRunRow).where(MonitorRunRow.monitor == name))
            gone = conn.execute(delete(MonitorRow).where(MonitorRow.name == name)).rowcount
        if not gone:
            raise NotFound(f"monitor {name!r} does not exist", details={"monitor": name})
        if self.metrics is not None:
            self.metrics.forget(name)

    # -- runs ----------------------------------------------------------------------------
    def run(self, name: str, *, now: datetime | None = None, wait_s: float = 0.0) -> MonitorRun:
        """Run a monitor once over the window ending at ``now`` (default: now), store the run
        and its reports, raise its alerts, and trigger a retrain when due.

        Args:
            name: the monitor.
            now: the end of the window (a past moment re-judges history).
            wait_s: how long to wait for a run of the same monitor in progress.

        Raises:
            NotFound: no such monitor.  Conflict: another run of it is in progress.
        """
        owner = uuid.uuid4().hex
        take_lease(self.store, name, owner, lease_s=self.lease_s, wait_s=wait_s)
        try:
            return self._execute(name, owner, now)
        finally:
            release(self.store, name, owner)

    def _execute(self, name: str, owner: str, now: datetime | None) -> MonitorRun:
        from loopml.monitoring._runner import execute

        return execute(self, self.get(name), owner, now)

    def due(self, now: datetime | None = None) -> builtins.list[StoredMonitor]:
        """Enabled monitors whose next run is due at ``now``."""
        moment = now_ms() if now is None else to_ms(now)
        with self.store.read() as conn:
            rows = conn.execute(
                select(MonitorRow)
                .where(MonitorRow.next_run_at <= moment)
                .order_by(MonitorRow.next_run_at)
            ).all()
        return [m for m in (stored_from_row(r) for r in rows) if m.spec.enabled]

    def run_due(self, now: datetime | None = None) -> builtins.list[MonitorRun]:
        """Run every due monitor that no other process claims first (see ``_leases``); a run
        that fails is logged and the others still run."""
        done = []
        for monitor in self.due(now):
            owner = uuid.uuid4().hex
            every = int(monitor.spec.every_delta.total_seconds() * 1000)
            if not claim_due(
                self.store,
                monitor.name,
                owner,
                seen_next=monitor.next_run_at,
                next_run_at=now_ms() + every,
                lease_s=self.lease_s,
            ):
                continue
            try:
                done.append(self._execute(monitor.name, owner, now))
            except NotFound:  # deleted meanwhile
                continue
            except Exception:
                _log.exception("scheduled run of monitor %s failed", monitor.name)
            finally:
                release(self.store, monitor.name, owner)
        return done

    def _report_path(self, sha: str | None) -> str | None:
        return self.blobs.blob_path(sha) if sha and self.blobs.is_local else None

    def runs(self, name: str, *, limit: int = 20) -> builtins.list[MonitorRun]:
        """A monitor's runs, the latest window first.

        Raises:
            NotFound: no such monitor.
        """
        self.get(name)
        with self.store.read() as conn:
            rows = conn.execute(
                select(MonitorRunRow)
                .where(MonitorRunRow.monitor == name)
                .order_by(MonitorRunRow.window_end.desc(), MonitorRunRow.started.desc())
                .limit(limit)
            ).all()
        return [run_from_row(r, report_path=self._report_path(r.report_sha256)) for r in rows]

    def get_run(self, run_id: str) -> MonitorRun:
        """A run by id.

        Raises:
            NotFound: no such run.
        """
        with self.store.read() as conn:
            row = conn.execute(
                select(MonitorRunRow).where(MonitorRunRow.run_id == run_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"no monitor run {run_id!r}", details={"run_id": run_id})
        return run_from_row(row, report_path=self._report_path(row.report_sha256))

    def latest_runs(self) -> builtins.list[MonitorRun]:
        """The latest run of each monitor (what ``/metrics`` shows)."""
        latest = (
            select(MonitorRunRow.monitor, func.max(MonitorRunRow.window_end).label("end"))
            .group_by(MonitorRunRow.monitor)
            .subquery()
        )
        with self.store.read() as conn:
            rows = conn.execute(
                select(MonitorRunRow).join(
                    latest,
                    (MonitorRunRow.monitor == latest.c.monitor)
                    & (MonitorRunRow.window_end == latest.c.end),
                )
            ).all()
        by_monitor = {r.monitor: r for r in sorted(rows, key=lambda r: r.started)}
        return [run_from_row(r) for r in by_monitor.values()]

    def report_html(self, run_id: str) -> str:
        """A run's HTML report.

        Raises:
            NotFound: no such run, or it has no report.
        """
        run = self.get_run(run_id)
        if not run.report_sha256:
            raise NotFound(f"monitor run {run_id} has no report")
        return self.blobs.get_bytes(run.report_sha256).decode("utf-8")

    def report_json(self, run_id: str) -> dict[str, Any]:
        """A run's JSON report (the run with the drift report's full detail)."""
        run = self.get_run(run_id)
        if not run.json_sha256:
            raise NotFound(f"monitor run {run_id} has no report")
        return dict(orjson.loads(self.blobs.get_bytes(run.json_sha256)))

    # -- alerts --------------------------------------------------------------------------
    def alerts(
        self, name: str | None = None, *, kind: str | None = None, limit: int = 100
    ) -> builtins.list[AlertEvent]:
        """Alert events, newest first (of one monitor, of one kind), with their deliveries."""
        return list_alerts(self.store, name, kind=kind, limit=limit)

    def record_delivery(self, alert_id: str, sink: str, delivery: Delivery) -> None:
        """Store one sink's delivery outcome with its event (a final outcome is never
        replaced by ``pending``)."""
        record_delivery(self.store, alert_id, sink, delivery)

    def close(self, timeout: float = 30.0) -> None:
        """Let pending webhook deliveries finish (up to ``timeout`` seconds), then stop."""
        self.dispatcher.close(timeout)


def run_monitor(
    name: str, *, now: datetime | None = None, settings: Settings | None = None
) -> MonitorRun:
    """Run monitor ``name`` once with the process's settings (see :meth:`MonitorService.run`);
    webhook deliveries are waited for (up to 30 s) before it returns.

    Raises:
        NotFound: no such monitor.  Conflict: a run of it is in progress.
    """
    from loopml.config import load_settings

    service = MonitorService.from_settings(settings or load_settings())
    try:
        return service.run(name, now=now)
    finally:
        service.close()
