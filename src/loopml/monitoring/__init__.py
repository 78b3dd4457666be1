"""Monitoring: has the data a model sees drifted, does the model still perform, and does the
endpoint answer well? Monitors check all three on a schedule, alert, and trigger retraining.

Drift, one-off::

    from loopml.monitoring import detect_drift

    report = detect_drift("churn@3", "logs/today.parquet", prediction="score")
    report.dataset_drift            # True when at least half of the features drifted
    report["age"].score             # per feature: method, score, threshold, drifted
    report.to_html("drift.html")    # a chart per feature

Performance and operations from the serving logs::

    from loopml.monitoring import model_performance, operational_metrics
    from loopml.serving import read_log

    perf = model_performance(read_log(root, "predictions", "fraud"),
                             read_log(root, "feedback", "fraud"), window="1h")
    ops = operational_metrics(read_log(root, "predictions", "fraud"), window="5m")

Monitors (stored, scheduled, alerting; ``loopml monitors ...`` on the command line)::

    from loopml.monitoring import MonitorService

    monitors = MonitorService.from_settings(settings)
    monitors.create({"name": "fraud", "endpoint": "fraud", "reference": "fraud-train@3",
                     "performance": {"metric": "f1", "min": 0.85},
                     "alerts": ["log", "webhook:https://hooks.example.com/x"]})
    run = monitors.run("fraud")

Default drift methods (by column type and the smaller sample's size ``n``): KS (numeric) and
chi-square (categorical) with p < 0.05 up to n = 1000; above, Wasserstein distance in
reference standard deviations (numeric) and Jensen-Shannon distance, base 2 (categorical).
A distance's threshold is ``max(0.1, q)``, ``q`` being the 95th percentile of the distance
when the pooled samples are relabelled at random (a permutation null at these sample sizes),
so a small window does not alarm on noise; PSI is available on request, thresholded alike.
See :mod:`loopml.monitoring._compare` for the exact rules.

Each sample streams through once (Parquet in chunks, Dask partition-wise) into per-column
summaries: KLL sketches, exact up to 4,096 values per column, moments and category counts.
"""

from loopml.monitoring._alerts import AlertDispatcher, AlertEvent
from loopml.monitoring._detect import detect_drift
from loopml.monitoring._entities import MonitorRun, StoredMonitor
from loopml.monitoring._logs import LogReader
from loopml.monitoring._operational import operational_metrics
from loopml.monitoring._performance import model_performance
from loopml.monitoring._prometheus import MonitorMetrics
from loopml.monitoring._report import Chart, DriftReport, FeatureDrift
from loopml.monitoring._retrain import (
    RetrainTrigger,
    get_retrain_handler,
    named_retrain_handler,
    set_retrain_handler,
)
from loopml.monitoring._scheduler import MonitorScheduler
from loopml.monitoring._service import MonitorService, run_monitor
from loopml.monitoring._spec import Monitor, load_monitor_spec
from loopml.monitoring._windows import (
    OperationalReport,
    PerformanceReport,
    WindowOperations,
    WindowPerformance,
)

__all__ = [
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
