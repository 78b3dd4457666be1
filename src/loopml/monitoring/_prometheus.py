"""Prometheus gauges of monitor runs: drift per feature, performance per metric, operations.

Each run sets the gauges of its monitor (series of features or metrics it no longer has are
removed), so ``/metrics`` always shows the latest run. ``loopml server`` refreshes them from
the store at each scrape, so runs made by other processes (``loopml monitors run``, another
replica) show too.

Series (labels in brackets)::

    loopml_monitor_drift_score{monitor,feature}        the method's score (p-value for ks /
                                                       chisquare, distance otherwise)
    loopml_monitor_drift_threshold{monitor,feature}    the threshold it was judged against
    loopml_monitor_feature_drifted{monitor,feature}    1 drifted, 0 not
    loopml_monitor_drift_share{monitor}                share of compared features that drifted
    loopml_monitor_performance{monitor,metric}         each defined performance figure
    loopml_monitor_labelled_rows{monitor}              labelled rows behind them
    loopml_monitor_operational{monitor,figure}         requests, error_rate, throughput_rps,
                                                       latency_p50_ms / p95 / p99
    loopml_monitor_check_failed{monitor,check}         1 when drift / performance /
                                                       operational failed in the latest run
    loopml_monitor_last_run_timestamp_seconds{monitor} when its latest run's window ended
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

if TYPE_CHECKING:
    from loopml.monitoring._entities import MonitorRun

__all__ = ["MonitorMetrics"]

_OPERATIONAL = (
    "requests",
    "error_rate",
    "throughput_rps",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
)


class MonitorMetrics:
    """The gauges of every monitor, in their own registry (see the module docstring).

    Args:
        registry: where to register them (default: a new registry, kept apart from the
            process-wide one so that several services or apps never collide).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        feature, r = ["monitor", "feature"], self.registry
        self.drift_score = Gauge(
            "loopml_monitor_drift_score",
            "Drift score of a feature in the latest run",
            feature,
            registry=r,
        )
        self.drift_threshold = Gauge(
            "loopml_monitor_drift_threshold",
            "Threshold the drift score was judged against",
            feature,
            registry=r,
        )
        self.feature_drifted = Gauge(
            "loopml_monitor_feature_drifted",
            "1 when the feature drifted in the latest run",
            feature,
            registry=r,
        )
        self.drift_share = Gauge(
            "loopml_monitor_drift_share",
            "Share of compared features that drifted",
            ["monitor"],
            registry=r,
        )
        self.performance = Gauge(
            "loopml_monitor_performance",
            "Performance figure over labelled predictions of the window",
            ["monitor", "metric"],
            registry=r,
        )
        self.labelled = Gauge(
            "loopml_monitor_labelled_rows",
            "Labelled rows behind the performance figures",
            ["monitor"],
            registry=r,
        )
        self.operational = Gauge(
            "loopml_monitor_operational",
            "Operational figure of the window",
            ["monitor", "figure"],
            registry=r,
        )
        self.check_failed = Gauge(
            "loopml_monitor_check_failed",
            "1 when the check failed in the latest run",
            ["monitor", "check"],
            registry=r,
        )
        self.last_run = Gauge(
            "loopml_monitor_last_run_timestamp_seconds",
            "End of the latest run's window",
            ["monitor"],
            registry=r,
        )
        self._lock = threading.Lock()
        self._series: dict[str, set[tuple[Gauge, tuple[str, ...]]]] = {}
        self._seen: dict[str, str] = {}  # monitor -> run id last observed

    def observe(self, run: MonitorRun) -> None:
        """Set the gauges of ``run``'s monitor from it (a run already shown is skipped)."""
        with self._lock:
            if self._seen.get(run.monitor) == run.run_id:
                return
            self._seen[run.monitor] = run.run_id
            wanted: dict[tuple[Gauge, tuple[str, ...]], float] = {}
            m, figures = run.monitor, run.figures
            drift = figures.get("drift") or {}
            for name, row in (drift.get("features") or {}).items():
                self._put(wanted, self.drift_score, (m, name), row.get("score"))
                self._put(wanted, self.drift_threshold, (m, name), row.get("threshold"))
                self._put(wanted, self.feature_drifted, (m, name), float(bool(row.get("drifted"))))
            self._put(wanted, self.drift_share, (m,), drift.get("share_drifted"))
            performance = figures.get("performance") or {}
            for metric, value in (performance.get("metrics") or {}).items():
                self._put(wanted, self.performance, (m, metric), value)
            self._put(wanted, self.labelled, (m,), performance.get("n_labelled"))
            operations = figures.get("operational") or {}
            for figure in _OPERATIONAL:
                self._put(wanted, self.operational, (m, figure), operations.get(figure))
            for check, verdict in run.checks.items():
                self._put(
                    wanted,
                    self.check_failed,
                    (m, check),
                    1.0 if verdict.get("status") == "fail" else 0.0,
                )
            self._put(wanted, self.last_run, (m,), run.window_end / 1000)
            for (gauge, labels), value in wanted.items():
                gauge.labels(*labels).set(value)
            for gauge, labels in self._series.get(m, set()) - set(wanted):
                gauge.remove(*labels)
            self._series[m] = set(wanted)

    @staticmethod
    def _put(
        wanted: dict[tuple[Gauge, tuple[str, ...]], float],
        gauge: Gauge,
        labels: tuple[str, ...],
        value: Any,
    ) -> None:
        if isinstance(value, bool):
            value = float(value)
        if isinstance(value, int | float):
            wanted[(gauge, labels)] = float(value)

    def observe_all(self, runs: Iterable[MonitorRun]) -> None:
        """Observe each run (the latest of each monitor)."""
        for run in runs:
            self.observe(run)

    def forget(self, monitor: str) -> None:
        """Remove every series of a deleted monitor."""
        with self._lock:
            for gauge, labels in self._series.pop(monitor, set()):
                gauge.remove(*labels)
            self._seen.pop(monitor, None)

    def keep_only(self, monitors: Iterable[str]) -> None:
        """Forget every monitor not in ``monitors`` (deleted elsewhere)."""
        alive = set(monitors)
        for name in list(self._series):
            if name not in alive:
                self.forget(name)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
