"""What the monitor service returns: a stored monitor and a monitor run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from loopml.monitoring._alerts import AlertEvent
from loopml.monitoring._durations import from_ms
from loopml.monitoring._spec import Monitor

if TYPE_CHECKING:
    from loopml.monitoring._report import DriftReport

__all__ = ["MonitorRun", "StoredMonitor", "run_from_row", "stored_from_row"]

#: Run statuses: figures computed; nothing logged in the window; the run itself failed.
OK, NO_DATA, ERROR = "ok", "no data", "error"
#: Check (and run verdict) statuses.
PASS, FAIL, SKIPPED = "pass", "fail", "skipped"


@dataclass(frozen=True)
class StoredMonitor:
    """A monitor as stored.

    Attributes:
        spec: the :class:`Monitor`. created_by, creation_timestamp, last_updated_timestamp:
            who made it and when (ms).
        next_run_at: when the scheduler runs it next (ms).
        lease_owner, lease_until: the run in progress, if any (ms).
        state: what spans runs: open alert episodes (``episodes``) and the last retrain
            trigger (``last_retrain_ms``).
        baseline_start, baseline_end: the window prediction drift compares with (ms),
            when the spec names no ``reference_prediction``.
    """

    spec: Monitor
    created_by: str
    creation_timestamp: int
    last_updated_timestamp: int
    next_run_at: int
    lease_owner: str | None = None
    lease_until: int | None = None
    state: dict[str, Any] = field(default_factory=dict)
    baseline_start: int | None = None
    baseline_end: int | None = None

    @property
    def name(self) -> str:
        """The monitor's name."""
        return self.spec.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "name": self.name,
            "spec": self.spec.to_dict(),
            "created_by": self.created_by,
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
            "next_run_at": self.next_run_at,
            "running": self.lease_owner is not None,
            "state": self.state,
            "baseline_start": self.baseline_start,
            "baseline_end": self.baseline_end,
        }


@dataclass(frozen=True)
class MonitorRun:
    """One run of a monitor.

    Attributes:
        run_id: 32 hex characters. monitor, endpoint: what was watched.
        started, finished: wall-clock times of the run (ms).
        window_start, window_end: the judged window ``[start, end)`` of prediction times
            (ms); performance uses the window shifted back by ``label_delay``.
        status: ``ok``, ``no data`` (nothing logged in the window) or ``error`` (see
            ``error``).
        verdict: ``fail`` when a check failed, ``pass`` when one passed and none failed,
            else ``skipped``.
        checks: per check (``drift``, ``performance``, ``operational``): ``status``
            (pass / fail / skipped) and ``message``.
        rows, labelled: prediction rows judged for drift; labelled rows behind performance.
        figures: every number of the run (drift per feature, performance, operations, the
            window bounds, ``problems``), JSON-ready.
        problems: what the run could not do as asked (a feature the reference lacks...).
        error: why the run failed (status ``error``).
        report_sha256, json_sha256: the HTML and JSON reports in the artifact store.
        report_path: the HTML report's path when the artifact store is a local directory.
        alerts: the alert events this run raised (only on the run just made).
        drift_report: the drift report (only on the run just made).
    """

    run_id: str
    monitor: str
    endpoint: str
    started: int
    finished: int
    window_start: int
    window_end: int
    status: str
    verdict: str
    checks: dict[str, dict[str, Any]]
    rows: int = 0
    labelled: int = 0
    figures: dict[str, Any] = field(default_factory=dict, repr=False)
    problems: tuple[str, ...] = ()
    error: str | None = None
    report_sha256: str | None = None
    json_sha256: str | None = None
    report_path: str | None = None
    alerts: tuple[AlertEvent, ...] = ()
    drift_report: DriftReport | None = field(default=None, repr=False, compare=False)

    @property
    def window(self) -> tuple[datetime, datetime]:
        """``(window_start, window_end)`` as UTC datetimes."""
        return from_ms(self.window_start), from_ms(self.window_end)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the JSON report is this, with the drift report's full detail)."""
        return {
            "run_id": self.run_id,
            "monitor": self.monitor,
            "endpoint": self.endpoint,
            "started": self.started,
            "finished": self.finished,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "status": self.status,
            "verdict": self.verdict,
            "checks": self.checks,
            "rows": self.rows,
            "labelled": self.labelled,
            "figures": self.figures,
            "problems": list(self.problems),
            "error": self.error,
            "report_sha256": self.report_sha256,
            "json_sha256": self.json_sha256,
            "report_path": self.report_path,
            "alerts": [a.to_dict() for a in self.alerts],
        }


def stored_from_row(row: Any) -> StoredMonitor:
    """A :class:`StoredMonitor` from a ``monitors`` row."""
    return StoredMonitor(
        spec=Monitor.parse(orjson.loads(row.spec_json)),
        created_by=row.created_by,
        creation_timestamp=row.creation_timestamp,
        last_updated_timestamp=row.last_updated_timestamp,
        next_run_at=row.next_run_at,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        state=orjson.loads(row.state_json or "{}"),
        baseline_start=row.baseline_start,
        baseline_end=row.baseline_end,
    )


def run_from_row(row: Any, *, report_path: str | None = None) -> MonitorRun:
    """A :class:`MonitorRun` from a ``monitor_runs`` row."""
    figures = orjson.loads(row.figures_json)
    return MonitorRun(
        run_id=row.run_id,
        monitor=row.monitor,
        endpoint=str(figures.get("endpoint", "")),
        started=row.started,
        finished=row.finished,
        window_start=row.window_start,
        window_end=row.window_end,
        status=row.status,
        verdict=row.verdict,
        checks=orjson.loads(row.checks_json),
        rows=row.rows,
        labelled=row.labelled,
        figures=figures,
        problems=tuple(figures.get("problems", ())),
        error=row.error,
        report_sha256=row.report_sha256,
        json_sha256=row.json_sha256,
        report_path=report_path,
    )
