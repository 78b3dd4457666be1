"""Runs, params, metrics and tags through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import pytest

from loopml.client import Client
from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PayloadTooLarge
from loopml.tracking import Metric, RunStatus, TrackingService, ViewType


@pytest.fixture
def run_id(service: TrackingService) -> str:
    experiment_id = service.experiments.create("exp")
    return service.runs.create(experiment_id, run_name="r").info.run_id


def test_default_experiment_exists(service: TrackingService) -> None:
    default = service.experiments.get("0")
    assert default.name == "Default"
    assert service.experiments.get_by_name("Default").experiment_id == "0"


def test_experiment_lifecycle(service: TrackingService) -> None:
    eid = service.experiments.create("churn", tags={"team": "growth"})
    exp = service.experiments.get(eid)
    assert (exp.name, exp.tags, exp.lifecycle_stage) == ("churn", {"team": "growth"}, "active")
    with pytest.raises(AlreadyExists, match="churn"):
        service.experiments.create("churn")
    service.experiments.delete(eid)
    assert service.experiments.get(eid).lifecycle_stage == "deleted"
    # A deleted experiment keeps its name (as in MLflow) ...
    with pytest.raises(AlreadyExists):
        service.experiments.create("churn")
    assert [e.name for e in service.experiments.search()] == ["Default"]
    assert {e.name for e in service.experiments.search(view_type=ViewType.ALL)} == {
        "Default",
        "churn",
    }
    # ... and refuses new runs until restored.
    with pytest.raises(Conflict, match="deleted"):
        service.runs.create(eid)
    service.experiments.restore(eid)
    service.experiments.rename(eid, "churn-v2")
    service.experiments.set_tag(eid, "team", "core")
    assert service.experiments.get(eid).tags == {"team": "core"}
    assert service.experiments.get_by_name("churn-v2").experiment_id == eid
    with pytest.raises(NotFound):
        service.experiments.get("424242")
    with pytest.raises(InvalidInput):
        service.experiments.get("not-a-number")
    with pytest.raises(InvalidInput):
        service.experiments.delete("0")


@pytest.mark.parametrize("name", ["", "   ", "x" * 501, "nul\x00"])
def test_bad_experiment_names(service: TrackingService, name: str) -> None:
    with pytest.raises(InvalidInput):
        service.experiments.create(name)


def test_run_roundtrip(service: TrackingService, run_id: str) -> None:
    service.runs.log_batch(
        run_id,
        metrics=[Metric("acc", 0.5, 1000, 0), Metric("acc", 0.7, 2000, 1)],
        params={"lr": 0.1, "model": "rf"},
        tags={"team": "ml"},
    )
    run = service.runs.get(run_id)
    assert run.info.status == RunStatus.RUNNING
    assert run.info.run_name == "r" and run.data.tags["mlflow.runName"] == "r"
    assert run.data.metrics == {"acc": 0.7}
    assert run.data.params == {"lr": "0.1", "model": "rf"}
    assert run.data.tags["team"] == "ml"
    assert run.info.artifact_uri.endswith(f"/{run_id}/artifacts")
    info = service.runs.update(run_id, status="finished")
    assert info.status == RunStatus.FINISHED and info.end_time is not None


def test_nan_and_infinity_are_stored_faithfully(service: TrackingService, run_id: str) -> None:
    points = [
        Metric("x", math.nan, 1, 0),
        Metric("x", math.inf, 2, 1),
        Metric("x", -math.inf, 3, 2),
        Metric("x", 1e308, 4, 3),
    ]
    service.runs.log_batch(run_id, metrics=points)
    history = service.runs.metric_history(run_id, "x")
    assert math.isnan(history[0].value)
    assert [m.value for m in history[1:]] == [math.inf, -math.inf, 1e308]
    service.runs.log_batch(run_id, metrics=[Metric("y", math.nan, 5, 9)])
    assert math.isnan(service.runs.get(run_id).data.metrics["y"])


def test_latest_metric_is_highest_step_then_latest_time(
    service: TrackingService, run_id: str
) -> None:
    service.runs.log_batch(run_id, metrics=[Metric("m", 10.0, 100, 5)])
    service.runs.log_batch(run_id, metrics=[Metric("m", 1.0, 999, 2)])  # later, lower step
    assert service.runs.get(run_id).data.metrics["m"] == 10.0
    service.runs.log_batch(run_id, metrics=[Metric("m", 3.0, 200, 5)])  # same step, later
    assert service.runs.get(run_id).data.metrics["m"] == 3.0
    history = service.runs.metric_history(run_id, "m")
    assert [(m.step, m.value) for m in history] == [(2, 1.0), (5, 10.0), (5, 3.0)]


def test_params_are_immutable(service: TrackingService, run_id: str) -> None:
    service.runs.log_batch(run_id, params={"lr": "0.1"})
    service.runs.log_batch(run_id, params={"lr": "0.1"})  # the same value again is fine
    with pytest.raises(InvalidInput, match=r"'lr'.*'0\.1'.*'0\.2'.*immutable") as err:
        service.runs.log_batch(run_id, params={"lr": "0.2"})
    assert err.value.details["old_value"] == "0.1"
    assert service.runs.get(run_id).data.params == {"lr": "0.1"}


def test_a_batch_is_all_or_nothing(service: TrackingService, run_id: str) -> None:
    service.runs.log_batch(run_id, params={"p": "1"})
    with pytest.raises(InvalidInput):
        service.runs.log_batch(
            run_id, metrics=[Metric("m", 1.0, 1, 0)], params={"p": "2"}, tags={"t": "v"}
        )
    run = service.runs.get(run_id)
    assert run.data.metrics == {} and "t" not in run.data.tags
    assert service.runs.metric_history(run_id, "m") == []


@pytest.mark.parametrize(
    "key",
    ["", " ", "x" * 251, "a/../b", "../up", "/abs", "semi;colon", "new\nline", 42, None],
)
def test_bad_keys_are_refused(service: TrackingService, run_id: str, key: object) -> None:
    with pytest.raises(InvalidInput, match="key"):
        service.runs.log_batch(run_id, metrics=[Metric(key, 1.0, 1, 0)])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="key"):
        service.runs.log_batch(run_id, params={key: "v"})  # type: ignore[dict-item]


@pytest.mark.parametrize("value", ["0.9", None, [1.0], True, object()])
def test_non_numeric_metric_values_are_refused(
    service: TrackingService, run_id: str, value: object
) -> None:
    with pytest.raises(InvalidInput, match="number"):
        service.runs.log_batch(run_id, metrics=[Metric("m", value, 1, 0)])  # type: ignore[arg-type]


def test_value_limits(service: TrackingService, run_id: str) -> None:
    service.runs.log_batch(run_id, params={"p": "x" * 6000}, tags={"t": "y" * 8000})
    with pytest.raises(PayloadTooLarge, match="6000"):
        service.runs.log_batch(run_id, params={"q": "x" * 6001})
    with pytest.raises(PayloadTooLarge, match="8000"):
        service.runs.log_batch(run_id, tags={"u": "y" * 8001})
    with pytest.raises(InvalidInput, match="step"):
        service.runs.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 2**63)])


def test_logging_to_finished_deleted_or_unknown_runs(service: TrackingService, run_id: str) -> None:
    service.runs.update(run_id, status=RunStatus.FINISHED)
    with pytest.raises(Conflict, match="FINISHED"):
        service.runs.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)])
    service.runs.update(run_id, status=RunStatus.RUNNING)
    service.runs.delete(run_id)
    with pytest.raises(Conflict, match="deleted"):
        service.runs.log_batch(run_id, params={"a": "b"})
    service.runs.restore(run_id)
    service.runs.log_batch(run_id, params={"a": "b"})
    with pytest.raises(NotFound):
        service.runs.log_batch("0" * 32, metrics=[Metric("m", 1.0, 1, 0)])
    with pytest.raises(NotFound):
        service.runs.get("f" * 32)
    with pytest.raises(InvalidInput):
        service.runs.update(run_id, status="EXPLODED")


def test_nested_runs_record_their_parent(service: TrackingService, run_id: str) -> None:
    experiment_id = service.runs.get_info(run_id).experiment_id
    child = service.runs.create(experiment_id, parent_run_id=run_id)
    assert child.info.parent_run_id == run_id
    assert service.runs.get(child.info.run_id).data.tags["mlflow.parentRunId"] == run_id
    with pytest.raises(NotFound):
        service.runs.create(experiment_id, parent_run_id="a" * 32)


def test_delete_tag(service: TrackingService, run_id: str) -> None:
    service.runs.log_batch(run_id, tags={"t": "v"})
    service.runs.delete_tag(run_id, "t")
    assert "t" not in service.runs.get(run_id).data.tags
    with pytest.raises(NotFound):
        service.runs.delete_tag(run_id, "t")


def test_search_experiments_by_filter_and_order(client: Client) -> None:
    growth = client.create_experiment("churn-a", tags={"team": "growth"})
    core = client.create_experiment("churn-b", tags={"team": "core"})
    other = client.create_experiment("fraud", tags={"team": "growth"})

    def ids(flt: str, order: list[str] | None = None) -> list[str]:
        found = client.search_experiments(filter_string=flt, order_by=order)
        return [e.experiment_id for e in found]

    assert ids("name LIKE 'churn%'") == [growth, core]
    assert ids("tags.team = 'growth'") == [growth, other]
    assert ids("tags.team = 'growth' AND name = 'fraud'") == [other]
    assert ids("name = 'fraud' OR tags.team = 'core'") == [core, other]
    assert ids("tags.team IS NULL") == ["0"]
    assert ids("attributes.creation_time >= 0", ["name DESC"]) == [other, core, growth, "0"]
    for bad, match in [
        ("metrics.auc > 1", "no metrics"),
        ("colour = 'x'", "unknown experiment attribute"),
        ("name > 3", "quoted string"),
    ]:
        with pytest.raises(InvalidInput, match=match):
            ids(bad)
    with pytest.raises(InvalidInput, match="order by"):
        ids("", ["tags.team"])
