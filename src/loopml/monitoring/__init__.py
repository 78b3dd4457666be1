"""Monitoring: has the data a model sees drifted from the data it was trained on?

Example::

    from loopml.monitoring import detect_drift

    report = detect_drift("churn@3", "logs/today.parquet", prediction="score")
    report.dataset_drift            # True when at least half of the features drifted
    report["age"].score             # per feature: method, score, threshold, drifted
    report.to_html("drift.html")    # a chart per feature

Default methods (by column type and the smaller sample's size ``n``): KS (numeric) and
chi-square (categorical) with p < 0.05 up to n = 1000; above, Wasserstein distance in
reference standard deviations (numeric) and Jensen-Shannon distance, base 2 (categorical).
A distance's threshold is ``max(0.1, q)``, ``q`` being the 95th percentile of the distance
when the pooled samples are relabelled at random (a permutation null at these sample sizes),
so a small window does not alarm on noise; PSI is available on request, thresholded alike.
See :mod:`loopml.monitoring._compare` for the exact rules.

Each sample streams through once (Parquet in chunks, Dask partition-wise) into per-column
summaries: KLL sketches, exact up to 4,096 values per column, moments and category counts.
"""

from loopml.monitoring._detect import detect_drift
from loopml.monitoring._report import Chart, DriftReport, FeatureDrift

__all__ = ["Chart", "DriftReport", "FeatureDrift", "detect_drift"]
