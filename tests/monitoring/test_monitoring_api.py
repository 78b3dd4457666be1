"""The public surface of loopml.monitoring is pinned: a change to it is a decision."""

from __future__ import annotations

import loopml.monitoring

PUBLIC = [
    "AlertDispatcher",
    "AlertEvent",
    "Chart",
    "DriftReport",
    "FeatureDrift",
    "LogReader",
    "Monitor",
    "MonitorMetrics",
    "MonitorRun",
    "MonitorScheduler",
    "MonitorService",
    "OperationalReport",
    "PerformanceReport",
    "RetrainTrigger",
    "StoredMonitor",
    "WindowOperations",
    "WindowPerformance",
    "detect_drift",
    "get_retrain_handler",
    "load_monitor_spec",
    "model_performance",
    "named_retrain_handler",
    "operational_metrics",
    "run_monitor",
    "set_retrain_handler",
]


def test_public_names_are_pinned() -> None:
    assert sorted(loopml.monitoring.__all__) == PUBLIC
    for name in loopml.monitoring.__all__:
        assert getattr(loopml.monitoring, name).__doc__
