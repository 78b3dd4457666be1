"""loopml.retrain: a challenger is fitted on fresh data, registered, scored against the
champion on the same held-out labelled rows, and promoted only by policy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

import loopml
from loopml.client import (
    conclude_canary,
    get_client,
    pipeline_retrain_handler,
    retrain,
    set_client,
)
from loopml.errors import InvalidInput
from loopml.serving import EndpointStore, FeedbackLog, PredictionLog, log_root


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LOOPML_DB_URL", raising=False)
    monkeypatch.delenv("LOOPML_TRACKING_URI", raising=False)
    set_client(None)
    yield tmp_path / "home"
    set_client(None)


def _world(n: int, seed: int, flipped: bool) -> pd.DataFrame:
    """Two features; the label follows x1 before the change and x2 after it."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    signal = X["x2"] if flipped else X["x1"]
    return X.assign(label=(signal + 0.3 * rng.normal(size=n) > 0).astype(int))


def _fit(X: pd.DataFrame, y: pd.Series) -> Any:
    return LogisticRegression().fit(X, y)


def _champion() -> None:
    old = _world(400, 0, flipped=False)
    with loopml.start_run(experiment="train"):
        loopml.log_model(_fit(old.drop(columns="label"), old["label"]), "model",
                         input_example=old.head(3).drop(columns="label"),
                         registered_model_name="churn")  # fmt: skip
    loopml.model_registry().set_alias("churn", "production", 1)


def test_a_better_challenger_is_promoted_and_a_worse_one_refused(home: Path) -> None:
    _champion()
    new, recent = _world(600, 1, flipped=True), _world(300, 2, flipped=True)
    outcome = retrain("churn", train=_fit, data=new, evaluation=recent, target="label",
                      metric="f1", by=0.05, reason="drift on x2")  # fmt: skip
    assert outcome.status == "promoted" and outcome.promoted
    assert (outcome.version, outcome.champion_version) == (2, 1)
    assert outcome.figures["challenger"] > outcome.figures["champion"] + 0.05
    registry = loopml.model_registry()
    assert registry.get_version_by_alias("churn", "production").version == 2
    assert registry.get_version_by_alias("churn", "challenger").version == 2
    # The run knows its training data; the version knows the run.
    run = loopml.get_run(outcome.run_id)
    assert run.data.params["policy"] == "gates" and "eval_f1" in run.data.metrics
    assert registry.get_version("churn", 2).datasets == (outcome.train_dataset,)

    def constant(X: pd.DataFrame, y: pd.Series) -> Any:
        return DummyClassifier(strategy="most_frequent").fit(X, y)

    worse = retrain("churn", train=constant, data=new, evaluation=recent, target="label")
    assert worse.status == "refused" and not worse.promoted
    assert worse.figures["challenger"] < worse.figures["champion"]
    assert registry.get_version_by_alias("churn", "production").version == 2  # kept
    assert registry.get_version_by_alias("churn", "challenger").version == 3


def test_approval_and_canary_policies(home: Path) -> None:
    _champion()
    new, recent = _world(600, 1, flipped=True), _world(300, 2, flipped=True)
    waiting = retrain("churn", train=_fit, data=new, evaluation=recent, target="label",
                      policy="approval")  # fmt: skip
    assert waiting.status == "awaiting approval"
    assert loopml.model_registry().get_version_by_alias("churn", "production").version == 1

    endpoints = EndpointStore(get_client().service.store)  # type: ignore[union-attr]
    endpoints.create({"name": "churn", "routes": [{"model": "models:/churn@production"}]})
    canary = retrain("churn", train=_fit, data=new, evaluation=recent, target="label",
                     policy="canary", endpoint="churn", canary_share=0.2)  # fmt: skip
    assert canary.status == "canary"
    routes = endpoints.get("churn").spec.routes
    assert [(r.model, r.weight) for r in routes] == [
        ("models:/churn@production", 0.8), ("models:/churn@challenger", 0.2)]  # fmt: skip
    assert conclude_canary("churn", endpoint="churn", challenger_score=0.9, champion_score=0.6)
    assert loopml.model_registry().get_version_by_alias("churn", "production").version == 3
    assert [r.model for r in endpoints.get("churn").spec.routes] == ["models:/churn@production"]
    assert endpoints.get("churn").generation == 3


def test_bad_requests_are_refused_before_anything_is_written(home: Path) -> None:
    _champion()
    new, recent = _world(100, 1, flipped=True), _world(50, 2, flipped=True)
    cases = [
        ({"target": "nope"}, "no target column 'nope'"),
        ({"evaluation": recent.iloc[:0]}, "evaluation is empty"),
        ({"policy": "yolo"}, "not one of gates, canary, approval"),
        ({"policy": "canary"}, "needs the endpoint"),
    ]
    for change, message in cases:
        args: dict[str, Any] = {"train": _fit, "data": new, "evaluation": recent,
                                "target": "label", **change}  # fmt: skip
        with pytest.raises(InvalidInput, match=message):
            retrain("churn", **args)
    assert [v.version for v in loopml.model_registry().list_versions("churn")] == [1]


def fit_logistic(X: pd.DataFrame, y: pd.Series) -> Any:
    """What the monitor's retrain block names in the handler test (module:function)."""
    return LogisticRegression().fit(X, y)


def _trigger(pipeline: str, **params: Any) -> Any:
    from loopml.monitoring import RetrainTrigger
    from loopml.monitoring._spec import RetrainSpec

    now = datetime.now(UTC)
    spec = RetrainSpec(pipeline=pipeline, params={"target": "label", **params})
    return RetrainTrigger(monitor="churn", endpoint="churn", reference="churn-ref@1",
                          run_id="r1", reasons=("performance",), messages={}, retrain=spec,
                          window_start=now - timedelta(hours=1),
                          window_end=now + timedelta(minutes=1))  # fmt: skip


def test_the_pipeline_handler_retrains_on_the_labelled_window(home: Path) -> None:
    _champion()
    loopml.data.register("churn-ref", _world(400, 0, flipped=False))
    store = get_client().service.store  # type: ignore[union-attr]
    EndpointStore(store).create(
        {"name": "churn", "routes": [{"model": "models:/churn@production"}]}
    )
    root = log_root(get_client().settings.resolved_artifacts())
    served, truth = PredictionLog(root), FeedbackLog(root)
    window = _world(600, 5, flipped=True)
    for i in range(0, len(window), 10):
        rows = window.iloc[i : i + 10]
        served.record(request_id=f"q{i}", endpoint="churn", model="churn", version="1",
                      status=200, latency_ms=1.0, inputs=rows[["x1", "x2"]],
                      outputs=[0] * len(rows))  # fmt: skip
        truth.record("churn", [{"request_id": f"q{i}", "row": r, "label": int(v)}
                               for r, v in enumerate(rows["label"])])  # fmt: skip
    served.close()
    truth.close()

    outcome = pipeline_retrain_handler(
        _trigger(f"{__name__}:fit_logistic", metric="accuracy", by=0.05, holdout=0.25)
    )
    assert outcome["status"] == "promoted" and outcome["version"] == 2
    assert outcome["figures"]["challenger"] > outcome["figures"]["champion"] + 0.05
    # The challenger learnt from the reference and 75% of the 600 labelled rows; the
    # other 150 are where both models were scored.
    assert loopml.data.get(outcome["train_dataset"]).shape == (400 + 450, 3)
    assert loopml.data.get(outcome["evaluation_dataset"]).shape == (150, 3)
    assert loopml.model_registry().get_version_by_alias("churn", "production").version == 2

    for trigger, message in [
        (_trigger("no_colon_here"), "not module:function"),
        (_trigger("loopml:no_such_function"), "cannot import"),
        (_trigger(f"{__name__}:fit_logistic", target=None), "needs target"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            pipeline_retrain_handler(trigger)
    later = _trigger(f"{__name__}:fit_logistic")
    empty = type(later)(**{**later.__dict__, "window_start": later.window_end,
                           "window_end": later.window_end + timedelta(hours=1)})  # fmt: skip
    with pytest.raises(InvalidInput, match="no labelled production rows"):
        pipeline_retrain_handler(empty)
