"""model_performance and operational_metrics on real prediction and feedback logs: windows,
late labels joined by request id, unmatched and duplicate labels, undefined figures with
their reasons, and throughput / error rate / latency quantiles."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _monitor_world import HOUR, NOW, Traffic
from sklearn import metrics as skm

from loopml.errors import InvalidInput
from loopml.monitoring import model_performance, operational_metrics
from loopml.serving import FeedbackLog, PredictionLog, read_log

START = NOW - 3 * HOUR


@pytest.fixture
def traffic(tmp_path: Path) -> Traffic:
    made = Traffic(str(tmp_path / "logs"))
    yield made
    made.close()


def _read(t: Traffic) -> tuple[pd.DataFrame, pd.DataFrame]:
    return read_log(t.root, "predictions", t.endpoint), read_log(t.root, "feedback", t.endpoint)


def test_windows_of_a_classifier_match_scikit_learn(traffic: Traffic) -> None:
    first = traffic.predict(START, 120)
    second = traffic.predict(START + HOUR, 80, shift=0.5)
    traffic.label(first, accuracy=0.9)
    traffic.label(second[:50], accuracy=0.6)  # late labels: only some have arrived
    predictions, feedback = _read(traffic)
    report = model_performance(predictions, feedback, window="1h")

    assert report.task == "classification" and report.classes == (0, 1)
    assert [w.start for w in report.windows] == [START, START + HOUR]
    assert [(w.n_predictions, w.n_labelled) for w in report.windows] == [(120, 120), (80, 50)]
    joined = predictions.merge(feedback[["request_id", "row", "label"]], on=["request_id", "row"])
    for window, ids in zip(report.windows, (first, second[:50]), strict=True):
        part = joined[joined["request_id"].isin(ids)]
        y, p = part["label"].to_numpy(), part["prediction"].astype(int).to_numpy()
        score = np.vstack(part["proba"].to_numpy())[:, 1]
        assert window.metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
        assert window.metrics["f1"] == pytest.approx(skm.f1_score(y, p))
        assert window.metrics["precision"] == pytest.approx(skm.precision_score(y, p))
        assert window.metrics["recall"] == pytest.approx(skm.recall_score(y, p))
        assert window.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))
        assert window.metrics["log_loss"] == pytest.approx(skm.log_loss(y, score))
        assert window.undefined == {}
    assert report.overall.n_labelled == 170 and report.unmatched_labels == 0
    assert list(report.to_frame()["n_labelled"]) == [120, 50]
    assert report.to_dict()["windows"][0]["start"] == START.isoformat()


def test_unknown_ids_are_unmatched_and_the_latest_label_wins(traffic: Traffic) -> None:
    ids = traffic.predict(START, 40)
    traffic.label(ids, accuracy=1.0, unknown=3)
    traffic.label(ids[:10], accuracy=0.0)  # corrected later: every one of them now wrong
    predictions, feedback = _read(traffic)
    report = model_performance(predictions, feedback, window="1h")
    (window,) = report.windows
    assert report.unmatched_labels == 3 and set(report.unmatched_ids) == {
        "ghost-0",
        "ghost-1",
        "ghost-2",
    }
    assert report.duplicate_labels == 10
    assert window.n_labelled == 40 and window.metrics["accuracy"] == pytest.approx(30 / 40)


def test_shadow_and_failed_rows_are_not_judged(tmp_path: Path) -> None:
    log, feedback = PredictionLog(str(tmp_path), flush_every_s=3600), FeedbackLog(str(tmp_path))
    t0 = int(START.timestamp() * 1000)
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    # r0 answered, then mirrored to a shadow model (same request id); r2 refused.
    for rid, status, shadow, outputs in [
        ("r0", 200, False, [1, 0]),
        ("r0", 200, True, [0, 0]),
        ("r2", 500, False, None),
    ]:
        log.record(
            request_id=rid,
            endpoint="e",
            model="m",
            version="1",
            status=status,
            latency_ms=5.0,
            inputs=None if status == 500 else frame,
            outputs=outputs,
            timestamp_ms=t0,
            shadow=shadow,
            error="boom" if status == 500 else None,
        )
    feedback.record(
        "e", [{"request_id": rid, "row": r, "label": 1} for rid in ("r0", "r2") for r in range(2)]
    )
    log.close()
    feedback.close()
    predictions = read_log(str(tmp_path), "predictions", "e")
    report = model_performance(predictions, read_log(str(tmp_path), "feedback", "e"))
    # The shadow's answers are never judged; the refused request's labels match nothing.
    assert report.overall.n_predictions == 2 and report.overall.n_labelled == 2
    assert report.overall.metrics["accuracy"] == 0.5
    assert report.unmatched_labels == 2 and report.unmatched_ids == ("r2",)
    assert report.overall.undefined["roc_auc"].startswith("the prediction log has no proba")
    ops = operational_metrics(predictions, window="1h")
    assert (ops.overall.requests, ops.overall.errors, ops.overall.rows) == (2, 1, 2)


def test_undefined_figures_say_why() -> None:
    t = int(START.timestamp() * 1000)
    predictions = pd.DataFrame(
        {
            "request_id": ["a", "b", "c"],
            "row": [0, 0, 0],
            "timestamp": [t, t + 1, t + 2],
            "prediction": [1, 1, 0],
            "proba": [[0.2, 0.8], [0.3, 0.7], [0.6, 0.4]],
        }
    )
    feedback = pd.DataFrame({"request_id": ["a", "b", "c"], "label": [1, 1, 1]})
    (window,) = model_performance(predictions, feedback).windows
    assert window.metrics["roc_auc"] is None
    assert "only one class" in window.undefined["roc_auc"]
    assert window.metrics["log_loss"] is not None and window.metrics["recall"] == pytest.approx(
        2 / 3
    )
    empty = model_performance(predictions, feedback.iloc[:0], window="30m")
    assert empty.windows[0].n_labelled == 0
    assert empty.windows[0].undefined["f1"] == "no labelled predictions in this window"
    nothing = model_performance(pd.DataFrame(), pd.DataFrame())
    assert nothing.windows == () and nothing.task is None and nothing.unmatched_labels == 0
    with pytest.raises(InvalidInput, match="window"):
        model_performance(predictions, feedback, window="soon")
    with pytest.raises(InvalidInput, match="label"):
        model_performance(predictions, feedback.drop(columns="label"))


def test_multiclass_text_labels_and_regression() -> None:
    t = int(START.timestamp() * 1000)
    classes = ["cat", "dog", "eel"]
    rng = np.random.default_rng(3)
    proba = rng.dirichlet([1, 1, 1], 60)
    truth = rng.choice(classes, 60)
    predictions = pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(60)],
            "row": 0,
            "timestamp": t + np.arange(60),
            "prediction": [classes[i] for i in proba.argmax(1)],
            "proba": list(proba),
        }
    )
    feedback = pd.DataFrame({"request_id": predictions["request_id"], "label": truth})
    report = model_performance(predictions, feedback, window="1d")
    metrics = report.overall.metrics
    assert report.classes == tuple(classes)
    assert metrics["f1"] == pytest.approx(
        skm.f1_score(truth, predictions["prediction"], average="macro")
    )
    assert metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(truth, proba, multi_class="ovr", labels=classes)
    )
    # Regression: floats; R² is undefined for constant labels.
    y = rng.normal(10, 2, 50)
    reg = predictions.iloc[:50].assign(prediction=y + rng.normal(0, 1, 50)).drop(columns="proba")
    labels = pd.DataFrame({"request_id": reg["request_id"], "label": y})
    out = model_performance(reg, labels, window="1d")
    assert out.task == "regression"
    assert out.overall.metrics["rmse"] == pytest.approx(
        np.sqrt(skm.mean_squared_error(y, reg["prediction"]))
    )
    assert out.overall.metrics["r2"] == pytest.approx(skm.r2_score(y, reg["prediction"]))
    flat = model_performance(reg, labels.assign(label=3.0), window="1d").overall
    assert flat.metrics["r2"] is None and "constant" in flat.undefined["r2"]


def test_integer_classes_with_a_failed_request_are_still_classification(traffic: Traffic) -> None:
    t = int(START.timestamp() * 1000)
    traffic.predictions.record(
        request_id="x",
        endpoint="fraud",
        model="m",
        version="1",
        status=200,
        latency_ms=1.0,
        inputs=pd.DataFrame({"a": [1.0]}),
        outputs=[1],
        timestamp_ms=t,
    )
    traffic.predictions.record(
        request_id="y",
        endpoint="fraud",
        model="m",
        version="1",
        status=500,
        latency_ms=1.0,
        inputs=None,
        error="boom",
        timestamp_ms=t + 1,
    )
    traffic.predictions.flush()
    predictions = read_log(traffic.root, "predictions", "fraud")
    assert predictions["prediction"].dtype.kind == "f"  # the null made the column float
    report = model_performance(predictions, pd.DataFrame({"request_id": ["x"], "label": [1]}))
    assert report.task == "classification" and report.overall.metrics["accuracy"] == 1.0


def test_operational_metrics_per_window(traffic: Traffic) -> None:
    traffic.predict(START, 100, latency=10.0)
    traffic.predict(START + HOUR, 50, latency=30.0, status=503)
    # Two hours of traffic, then a quiet hour: throughput 0 in it, not a missing row.
    report = operational_metrics(
        read_log(traffic.root, "predictions", "fraud"),
        window="1h",
        start=START,
        end=START + 3 * HOUR,
    )
    first, second, quiet = report.windows
    assert (first.requests, first.errors, first.error_rate) == (100, 0, 0.0)
    assert first.throughput_rps == pytest.approx(100 / 3600)
    assert first.latency_p50_ms == first.latency_p99_ms == 10.0
    assert (second.requests, second.error_rate, second.latency_p95_ms) == (50, 1.0, 30.0)
    assert (quiet.requests, quiet.throughput_rps, quiet.error_rate) == (0, 0.0, None)
    assert report.overall.requests == 150 and report.overall.errors == 50
    assert len(report.to_frame()) == 3 and report.to_dict()["window"] == 3600
    with pytest.raises(InvalidInput, match="windows"):
        operational_metrics(
            read_log(traffic.root, "predictions", "fraud"),
            window="1ms",
            start=START - timedelta(days=30),
        )
