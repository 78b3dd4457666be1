"""The two other retrain triggers and outcomes: a schedule (drift or not), and a canary that
a later monitor run concludes from each version's labelled live traffic."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from _monitor_world import HOUR, NOW, World

from loopml.artifacts import ArtifactStore
from loopml.monitoring import RetrainTrigger
from loopml.registry import ModelRegistry
from loopml.serving import EndpointStore
from loopml.tracking import TrackingService

START = NOW - 4 * HOUR


def test_a_schedule_retrains_without_drift_and_restarts_its_clock(lite: World) -> None:
    for hour in range(4):
        lite.traffic.predict(START + hour * HOUR, 120)
    calls: list[tuple[str, ...]] = []

    def handler(trigger: RetrainTrigger) -> str:
        calls.append(trigger.reasons)
        return "started"

    service = lite.service(retrain_handler=handler)
    # A drift check that this traffic cannot fail (its countries are the reference's exact
    # shares; a one-in-a-billion test): only the clock can trigger a retrain.
    service.create({"name": "fraud", "endpoint": "fraud", "reference": "train@1",
                    "drift": {"share": 1.0, "alpha": 1e-9}, "features": ["country"],
                    "reference_prediction": "prediction",
                    "retrain": {"pipeline": "flows:fraud", "every": "2h",
                                "cooldown": "0s"}})  # fmt: skip
    runs = [service.run("fraud", now=START + h * HOUR) for h in (1, 2, 3, 4, 5)]
    assert [r.checks["drift"]["status"] for r in runs[:4]] == ["pass"] * 4  # no drift at all
    # The clock starts at the first run: due two hours later, then two hours after that.
    assert calls == [("schedule",), ("schedule",)]
    fired = [i for i, r in enumerate(runs) if any(a.kind == "retrain" for a in r.alerts)]
    assert fired == [2, 4]


def _version(registry: ModelRegistry, tracking: TrackingService, experiment: str) -> int:
    run = tracking.runs.create(experiment)
    return registry.create_version("fraud", f"runs:/{run.info.run_id}/model").version


def _served(lite: World, version: str, start: Any, n: int) -> list[str]:
    """``n`` requests answered by ``version``, logged as the serving process logs them."""
    ids = []
    rng = np.random.default_rng(int(version))
    for i in range(n):
        rid = f"v{version}-{i}"
        amount = float(rng.normal(50, 10))
        lite.traffic.predictions.record(
            request_id=rid, endpoint="fraud", model="fraud", version=version, status=200,
            latency_ms=3.0, inputs=pd.DataFrame({"amount": [amount], "country": ["FR"]}),
            outputs=[int(amount > 55)], timestamp_ms=int(start.timestamp() * 1000) + i * 1000,
        )  # fmt: skip
        ids.append(rid)
    lite.traffic.predictions.flush()
    return ids


def test_a_canary_is_promoted_when_it_holds_and_the_split_ends(lite: World, tmp_path: Any) -> None:
    tracking = TrackingService(lite.store, ArtifactStore(str(tmp_path / "runs")))
    experiment = tracking.experiments.create("fraud")
    registry = ModelRegistry(lite.store, user="ana")
    registry.create_model("fraud")
    champion, challenger = (_version(registry, tracking, experiment) for _ in range(2))
    registry.set_alias("fraud", "production", champion)
    registry.set_alias("fraud", "challenger", challenger)
    endpoints = EndpointStore(lite.store)
    endpoints.create({"name": "fraud", "routes": [
        {"model": "models:/fraud@production", "weight": 0.8},
        {"model": "models:/fraud@challenger", "weight": 0.2}]})  # fmt: skip
    service = lite.service()
    service.create({"name": "fraud", "endpoint": "fraud", "reference": "train@1",
                    "performance": {"metric": "accuracy", "min": 0.5, "min_labelled": 40},
                    "retrain": {"pipeline": "flows:fraud", "policy": "canary",
                                "params": {"by": 0.05}}})  # fmt: skip

    old = _served(lite, str(champion), START, 200)
    new = _served(lite, str(challenger), START, 30)
    lite.traffic.label(old, accuracy=0.7)
    lite.traffic.label(new, accuracy=1.0)
    # 30 labelled rows for the challenger: too few to judge, the split stays.
    waiting = service.run("fraud", now=START + HOUR)
    assert not [a for a in waiting.alerts if a.kind == "retrain"]  # nor a second retrain
    assert len(endpoints.get("fraud").spec.routes) == 2

    more = _served(lite, str(challenger), START + HOUR, 60)
    lite.traffic.label(more, accuracy=1.0)
    lite.traffic.label(_served(lite, str(champion), START + HOUR, 100), accuracy=0.7)
    decided = service.run("fraud", now=START + 2 * HOUR)
    (event,) = [a for a in decided.alerts if a.kind == "retrain" and "scores" in a.figures]
    assert event.figures["promoted"] and "canary promoted" in event.message
    assert event.figures["scores"]["challenger"] > event.figures["scores"]["champion"] + 0.05
    assert registry.get_version_by_alias("fraud", "production").version == challenger
    assert [r.model for r in endpoints.get("fraud").spec.routes] == ["models:/fraud@production"]
    moves = [e for e in registry.audit("fraud") if e.alias == "production"]
    assert moves[0].reason is not None and "canary" in moves[0].reason


def test_a_canary_that_does_worse_is_rolled_back(lite: World, tmp_path: Any) -> None:
    tracking = TrackingService(lite.store, ArtifactStore(str(tmp_path / "runs")))
    experiment = tracking.experiments.create("fraud")
    registry = ModelRegistry(lite.store, user="ana")
    registry.create_model("fraud")
    champion, challenger = (_version(registry, tracking, experiment) for _ in range(2))
    registry.set_alias("fraud", "production", champion)
    registry.set_alias("fraud", "challenger", challenger)
    endpoints = EndpointStore(lite.store)
    endpoints.create({"name": "fraud", "routes": [
        {"model": "models:/fraud@production", "weight": 0.5},
        {"model": "models:/fraud@challenger", "weight": 0.5}]})  # fmt: skip
    service = lite.service()
    service.create({"name": "fraud", "endpoint": "fraud", "reference": "train@1",
                    "performance": {"metric": "accuracy", "min": 0.5, "min_labelled": 40},
                    "retrain": {"pipeline": "flows:fraud", "policy": "canary"}})  # fmt: skip
    lite.traffic.label(_served(lite, str(champion), START, 100), accuracy=0.95)
    lite.traffic.label(_served(lite, str(challenger), START, 100), accuracy=0.6)
    run = service.run("fraud", now=START + HOUR)
    (event,) = [a for a in run.alerts if a.kind == "retrain" and "scores" in a.figures]
    assert not event.figures["promoted"] and "rolled back" in event.message
    assert registry.get_version_by_alias("fraud", "production").version == champion
    assert [r.model for r in endpoints.get("fraud").spec.routes] == ["models:/fraud@production"]


def test_one_retrain_per_drift_episode(lite: World) -> None:
    # Hours 0-1 drift, 2 does not, 3 drifts again: two episodes.
    for hour, shift in enumerate((1.5, 1.5, 0.0, 1.5)):
        lite.traffic.predict(START + hour * HOUR, 150, shift=shift)
    calls: list[Any] = []
    service = lite.service(retrain_handler=lambda t: calls.append(t) or "started")
    service.create({"name": "fraud", "endpoint": "fraud", "reference": "train@1",
                    "features": ["amount"], "reference_prediction": "prediction",
                    "retrain": {"pipeline": "flows:fraud", "cooldown": "0s"}})  # fmt: skip
    runs = [service.run("fraud", now=START + h * HOUR) for h in (1, 2, 3, 4)]
    assert [r.checks["drift"]["status"] for r in runs] == ["fail", "fail", "pass", "fail"]
    fired = [i for i, r in enumerate(runs) if any(a.kind == "retrain" for a in r.alerts)]
    assert fired == [0, 3]  # the second hour of the first episode does not retrain again
    assert [c.window_start for c in calls] == [START, START + 3 * HOUR]
