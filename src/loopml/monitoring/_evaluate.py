"""One monitor run's figures: the window of the prediction log against the reference (drift),
against the labels (performance) and against the limits (operations).

The window is ``[now - window, now)`` by prediction time. Performance judges the window
shifted back by ``label_delay``, with every label received since its start. Features are the
log's ``f.<name>`` columns compared with the reference's ``<name>`` columns; a feature the
reference lacks (or the log lacks, when the spec lists it) is left out and named in
``problems``, so one bad column does not blind the whole monitor. Prediction drift compares
the ``prediction`` column with the reference's ``reference_prediction`` column when the spec
names one, else with the first window that had predictions (the *baseline*, kept with the
monitor; the run that sets it reports no prediction drift).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from loopml.data import DataService, DatasetVersion
from loopml.monitoring._detect import detect_drift
from loopml.monitoring._durations import from_ms, parse_duration, to_ms
from loopml.monitoring._entities import FAIL, NO_DATA, OK, PASS, SKIPPED
from loopml.monitoring._logs import LogReader
from loopml.monitoring._operational import operational_metrics
from loopml.monitoring._performance import (
    latest_labels,
    model_performance,
    served_rows,
    unmatched,
)
from loopml.monitoring._report import DriftReport, FeatureDrift
from loopml.monitoring._spec import Monitor, OperationalSpec
from loopml.monitoring._windows import WindowOperations

__all__ = ["Evaluation", "evaluate"]

Check = dict[str, Any]


@dataclass
class Evaluation:
    """What :func:`evaluate` found (the service stores it as a run)."""

    status: str
    checks: dict[str, Check]
    figures: dict[str, Any]
    problems: list[str]
    rows: int
    labelled: int
    drift_report: DriftReport | None = None
    baseline: tuple[int, int] | None = None  # a new prediction baseline to keep


def _check(status: str, message: str) -> Check:
    return {"status": status, "message": message}


def evaluate(
    spec: Monitor,
    *,
    now: datetime,
    logs: LogReader,
    data: DataService,
    baseline: tuple[int, int] | None,
) -> Evaluation:
    """Compute one run's figures and checks (see the module docstring).

    Raises:
        NotFound: the reference dataset version is gone.
        InvalidInput: a drift option the data does not fit (a method for the wrong type...).
    """
    end = to_ms(now)
    start = end - int(spec.window_delta.total_seconds() * 1000)
    perf = spec.performance
    delay = parse_duration(perf.label_delay, allow_zero=True) if perf else timedelta(0)
    perf_end = end - int(delay.total_seconds() * 1000)
    perf_start = perf_end - (end - start)
    predictions = logs.read("predictions", spec.endpoint, from_ms(min(start, perf_start)), now)
    in_window = predictions[predictions["timestamp"] >= start] if len(predictions) else predictions
    problems: list[str] = []
    figures: dict[str, Any] = {
        "endpoint": spec.endpoint,
        "reference": spec.reference,
        "window_start": start,
        "window_end": end,
        "performance_window": [perf_start, perf_end],
    }
    out = Evaluation(OK, {}, figures, problems, 0, 0)

    ops = operational_metrics(
        in_window, window=now - from_ms(start), start=from_ms(start), end=now
    ).overall
    figures["operational"] = {k: v for k, v in ops.to_dict().items() if k not in ("start", "end")}
    out.checks["operational"] = _operational(spec.operational, ops)

    current = served_rows(in_window)
    out.rows = len(current)
    version = data.version(spec.reference)
    figures["reference_version"] = version.ref  # what name@latest meant for this run
    out.checks["drift"] = _drift(spec, current, version, data, logs, baseline, out)

    if len(predictions):
        ts = predictions["timestamp"]
        judged = predictions[(ts >= perf_start) & (ts < perf_end)]
    else:
        judged = predictions
    feedback = logs.read("feedback", spec.endpoint, from_ms(perf_start), None)
    out.checks["performance"] = _performance(spec, judged, feedback, perf_start, perf_end, out)
    # Labels may come from after ``now`` (a past window judged today): so may their requests.
    since = perf_start - max(end - start, end - perf_end)
    _strays(spec, feedback, logs, since, max(now, datetime.now(UTC)), out)
    if in_window.empty and out.labelled == 0:
        out.status = NO_DATA
    figures["problems"] = list(problems)
    return out


def _operational(limits: OperationalSpec, ops: WindowOperations) -> Check:
    bounds = {
        "error_rate": limits.max_error_rate,
        "latency_p95_ms": limits.max_latency_p95_ms,
        "latency_p99_ms": limits.max_latency_p99_ms,
    }
    if all(v is None for v in bounds.values()):
        return _check(SKIPPED, "no operational limits set")
    if ops.requests == 0:
        return _check(SKIPPED, "no requests in the window")
    broken: list[str] = []
    held: list[str] = []
    for name, bound in bounds.items():
        value = getattr(ops, name)
        if bound is None or value is None:
            continue
        shown = f"{value:.1%}" if name == "error_rate" else f"{value:.1f} ms"
        limit = f"{bound:.1%}" if name == "error_rate" else f"{bound:g} ms"
        (broken if value > bound else held).append(
            f"{name} {shown} {'>' if value > bound else '<='} {limit}"
        )
    if broken:
        return _check(FAIL, "; ".join(broken) + f" over {ops.requests:,} requests")
    return _check(PASS, "; ".join(held) + f" over {ops.requests:,} requests")


def _scalar_column(values: pd.Series) -> bool:
    sample = values.dropna()
    return sample.empty or not isinstance(sample.iloc[0], list | tuple | np.ndarray | dict)


def _drift(
    spec: Monitor,
    current: pd.DataFrame,
    version: DatasetVersion,
    data: DataService,
    logs: LogReader,
    baseline: tuple[int, int] | None,
    out: Evaluation,
) -> Check:
    problems = out.problems
    if current.empty:
        return _check(SKIPPED, "no served predictions in the window")
    logged = {c[2:]: c for c in current.columns if c.startswith("f.") and current[c].notna().any()}
    wanted = list(spec.features) if spec.features else list(logged)
    names = []
    for name in wanted:
        if name not in logged:
            problems.append(
                f"feature {name!r} is not in the endpoint's prediction log for this "
                f"window (it logs: {', '.join(sorted(logged)) or 'nothing'})"
            )
        elif name not in version.columns:
            problems.append(
                f"feature {name!r} is logged by the endpoint but the reference "
                f"{version.ref} has no such column: not compared (its columns: "
                f"{', '.join(version.columns[:20])})"
            )
        elif not _scalar_column(current[logged[name]]):
            problems.append(f"feature {name!r} holds tensors (a list per row): not compared")
        else:
            names.append(name)
    frame = pd.DataFrame({n: current[logged[n]].to_numpy() for n in names})
    prediction = None
    has_prediction = "prediction" in current and _scalar_column(current["prediction"])
    ref_pred = spec.reference_prediction
    if ref_pred and has_prediction:
        if ref_pred in version.columns:
            frame[ref_pred], prediction = current["prediction"].to_numpy(), ref_pred
        else:
            problems.append(
                f"the reference {version.ref} has no column {ref_pred!r} "
                "(reference_prediction): prediction drift not measured"
            )
    if not names and prediction is None and (ref_pred or not has_prediction):
        return _check(SKIPPED, "no feature to compare with the reference")
    d = spec.drift
    options: dict[str, Any] = {
        "methods": None if d.method == "auto" else d.method,
        "thresholds": d.thresholds or None,
        "alpha": d.alpha,
    }
    if names or prediction:
        report = detect_drift(
            version,
            frame,
            features=names,
            prediction=prediction,
            drift_share=d.share,
            service=data,
            **options,
        )
    else:
        report = None
    if not ref_pred and has_prediction:
        report = _baseline_drift(spec, current, report, logs, baseline, out, options)
    out.drift_report = report
    if report is None:  # only predictions to compare, and this run set their baseline
        return _check(SKIPPED, "no feature to compare; this window is the prediction baseline")
    out.figures["drift"] = _drift_figures(report, baseline if not ref_pred else None)
    return _drift_check(report, d.share)


def _baseline_drift(
    spec: Monitor,
    current: pd.DataFrame,
    report: DriftReport | None,
    logs: LogReader,
    baseline: tuple[int, int] | None,
    out: Evaluation,
    options: dict[str, Any],
) -> DriftReport | None:
    if baseline is None:
        out.baseline = (out.figures["window_start"], out.figures["window_end"])
        out.figures["prediction_baseline"] = "set by this run"
        return report
    b0, b1 = baseline
    past = served_rows(logs.read("predictions", spec.endpoint, from_ms(b0), from_ms(b1)))
    if past.empty or "prediction" not in past or past["prediction"].isna().all():
        out.problems.append(
            f"the prediction baseline ({from_ms(b0)} to {from_ms(b1)}) is no "
            "longer in the log: prediction drift not measured"
        )
        return report
    preds = detect_drift(
        past[["prediction"]],
        current[["prediction"]],
        features=[],
        prediction="prediction",
        **options,
    )
    if report is None:
        return dataclasses.replace(preds, rows_reference=0)
    return dataclasses.replace(report, predictions=preds.predictions)


def _feature(row: FeatureDrift) -> dict[str, Any]:
    return {
        "method": row.method,
        "score": row.score,
        "threshold": row.threshold,
        "drifted": row.drifted,
        "n_reference": row.n_reference,
        "n_current": row.n_current,
        "missing_current": row.missing_current,
    }


def _drift_figures(report: DriftReport, baseline: tuple[int, int] | None) -> dict[str, Any]:
    return {
        "share_drifted": report.share_drifted,
        "num_drifted": report.num_drifted,
        "num_tested": report.num_tested,
        "dataset_drift": report.dataset_drift,
        "prediction_drift": report.prediction_drift,
        "drifted_features": report.drifted_features,
        "features": {r.feature: _feature(r) for r in report.features},
        "predictions": {r.feature: _feature(r) for r in report.predictions},
        "baseline": list(baseline) if baseline else None,
    }


def _drift_check(report: DriftReport, share: float) -> Check:
    parts = []
    if report.num_tested:
        parts.append(
            f"{report.num_drifted} of {report.num_tested} features drifted "
            f"({report.share_drifted:.0%}, alert at {share:.0%})"
        )
        if report.drifted_features:
            parts[-1] += ": " + ", ".join(report.drifted_features[:10])
    if report.prediction_drift is not None:
        parts.append(
            "the predictions drifted"
            if report.prediction_drift
            else "the predictions did not drift"
        )
    failed = report.dataset_drift or bool(report.prediction_drift)
    if not parts:
        return _check(SKIPPED, "nothing could be compared (see the report's notes)")
    return _check(FAIL if failed else PASS, "; ".join(parts))


def _performance(
    spec: Monitor,
    judged: pd.DataFrame,
    feedback: pd.DataFrame,
    start: int,
    end: int,
    out: Evaluation,
) -> Check:
    perf = spec.performance
    options: dict[str, Any] = {}
    if perf is not None:
        options = {
            "classes": perf.classes,
            "positive_label": perf.positive_label,
            "average": perf.average,
        }
    report = model_performance(
        judged,
        feedback,
        task=spec.task,
        window=from_ms(end) - from_ms(start),
        start=from_ms(start),
        end=from_ms(end),
        **options,
    )
    w = report.overall
    out.labelled = w.n_labelled
    out.figures["performance"] = {
        "task": report.task,
        "n_predictions": w.n_predictions,
        "n_labelled": w.n_labelled,
        "metrics": w.metrics,
        "undefined": w.undefined,
        "duplicate_labels": report.duplicate_labels,
        "notes": list(report.notes),
    }
    if perf is None:
        return _check(SKIPPED, "no performance metric set")
    value = w.metrics.get(perf.metric)
    if w.n_labelled < perf.min_labelled:
        return _check(
            SKIPPED,
            f"{w.n_labelled:,} labelled rows, fewer than min_labelled {perf.min_labelled:,}",
        )
    if value is None:
        return _check(SKIPPED, f"{perf.metric} is undefined: {w.undefined.get(perf.metric)}")
    over = f"over {w.n_labelled:,} labelled rows"
    if perf.min is not None and value < perf.min:
        return _check(FAIL, f"{perf.metric} {value:.4g} < min {perf.min:g} {over}")
    if perf.max is not None and value > perf.max:
        return _check(FAIL, f"{perf.metric} {value:.4g} > max {perf.max:g} {over}")
    bound = f">= min {perf.min:g}" if perf.min is not None else f"<= max {perf.max:g}"
    return _check(PASS, f"{perf.metric} {value:.4g} {bound} {over}")


def _strays(
    spec: Monitor,
    feedback: pd.DataFrame,
    logs: LogReader,
    since: int,
    now: datetime,
    out: Evaluation,
) -> None:
    """Count the labels received since the judged window began that match no served
    prediction of the span before it (a window, or the label delay if longer) up to now:
    unknown request ids, refused requests, or labels later than that span."""
    labels, _ = latest_labels(feedback)
    strays = unmatched(labels, served_rows(logs.keys(spec.endpoint, from_ms(since), now)))
    ids = list(dict.fromkeys(strays["request_id"].astype(str)))[:10]
    out.figures["performance"].update(unmatched_labels=len(strays), unmatched_ids=ids)
    if len(strays):
        out.problems.append(
            f"{len(strays):,} labels received since the window began match no served "
            f"prediction since {from_ms(since):%Y-%m-%d %H:%M} UTC (unknown request ids, "
            f"refused requests, or labels later than that; e.g. {', '.join(ids[:3])})"
        )
