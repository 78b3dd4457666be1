"""Logged models through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import pytest

from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.tracking import (
    LoggedModelStatus,
    ModelMetric,
    ModelOrder,
    ModelOutput,
    TrackingService,
)

MISSING = "m-" + "0" * 32


@pytest.fixture
def experiment_id(service: TrackingService) -> str:
    return service.experiments.create("models")


@pytest.fixture
def run_id(service: TrackingService, experiment_id: str) -> str:
    return service.runs.create(experiment_id, run_name="train").info.run_id


def test_create_and_get(service: TrackingService, experiment_id: str, run_id: str) -> None:
    models = service.logged_models
    made = models.create(
        experiment_id,
        name="net",
        source_run_id=run_id,
        model_type="classifier",
        params={"lr": "0.1"},
        tags={"team": "ml"},
    )
    assert made.model_id.startswith("m-") and len(made.model_id) == 34
    assert made.status == LoggedModelStatus.PENDING and made.lifecycle_stage == "active"
    assert (made.name, made.experiment_id, made.source_run_id) == ("net", experiment_id, run_id)
    assert made.model_type == "classifier"
    assert made.artifact_location == (
        f"mlflow-artifacts:/{experiment_id}/models/{made.model_id}/artifacts"
    )
    assert (made.params, made.tags, made.metrics) == ({"lr": "0.1"}, {"team": "ml"}, ())
    assert made.creation_timestamp == made.last_updated_timestamp > 1_600_000_000_000
    assert models.get(made.model_id) == made
    unnamed = models.create(experiment_id)
    assert unnamed.name and unnamed.source_run_id is None


def test_bad_input_and_missing_things(service: TrackingService, experiment_id: str) -> None:
    models = service.logged_models
    for bad in ("a/b", "a.b", "", "x" * 501, "it's"):
        with pytest.raises(InvalidInput):
            models.create(experiment_id, name=bad)
    with pytest.raises(InvalidInput):
        models.create(experiment_id, params={"../x": "1"})
    with pytest.raises(InvalidInput):
        models.create("not-a-number")
    with pytest.raises(NotFound):
        models.create("424242")
    with pytest.raises(NotFound):
        models.create(experiment_id, source_run_id="f" * 32)
    for model_id in (MISSING, "not-an-id", "m-" + "g" * 32, ""):
        with pytest.raises(NotFound):
            models.get(model_id)
    with pytest.raises(NotFound):
        models.finalize(MISSING, LoggedModelStatus.READY)
    with pytest.raises(NotFound):
        models.set_tags(MISSING, {"a": "b"})
    with pytest.raises(NotFound):
        models.log_params(MISSING, {"a": "b"})
    with pytest.raises(NotFound):
        models.delete(MISSING)
    service.experiments.delete(experiment_id)
    with pytest.raises(Conflict):
        models.create(experiment_id)


def test_finalize(service: TrackingService, experiment_id: str) -> None:
    models = service.logged_models
    model_id = models.create(experiment_id, name="m").model_id
    assert models.finalize(model_id, "READY").status == LoggedModelStatus.READY
    assert models.finalize(model_id, LoggedModelStatus.FAILED).status == LoggedModelStatus.FAILED
    for bad in ("PENDING", "DONE"):
        with pytest.raises(InvalidInput):
            models.finalize(model_id, bad)


def test_tags_and_params(service: TrackingService, experiment_id: str) -> None:
    models = service.logged_models
    model_id = models.create(experiment_id, name="m", params={"lr": "0.1"}).model_id
    assert models.set_tags(model_id, {"a": "1", "b": "2"}).tags == {"a": "1", "b": "2"}
    assert models.set_tags(model_id, {"a": "3"}).tags == {"a": "3", "b": "2"}
    models.delete_tag(model_id, "b")
    assert models.get(model_id).tags == {"a": "3"}
    with pytest.raises(NotFound):
        models.delete_tag(model_id, "b")
    models.log_params(model_id, {"lr": "0.1", "depth": "3"})  # same value again: fine
    assert models.get(model_id).params == {"lr": "0.1", "depth": "3"}
    with pytest.raises(InvalidInput, match="lr"):
        models.log_params(model_id, {"lr": "0.2"})
    with pytest.raises(InvalidInput):
        models.set_tags(model_id, {"t": "x" * 8001})


def test_metrics(service: TrackingService, experiment_id: str, run_id: str) -> None:
    models = service.logged_models
    model_id = models.create(experiment_id, name="m").model_id
    models.log_metrics(
        model_id,
        [
            ModelMetric("acc", 0.8, 1000, 0, run_id, "val", "d1"),
            ModelMetric("acc", 0.9, 2000, 1, run_id, "test", "d2"),
            ModelMetric("loss", math.nan, 1000),
        ],
    )
    got = models.get(model_id).metrics
    assert [(m.key, m.step, m.dataset_name) for m in got] == [
        ("acc", 0, "val"),
        ("acc", 1, "test"),
        ("loss", 0, ""),
    ]
    assert math.isnan(got[2].value) and got[0].run_id == run_id
    eid = [experiment_id]
    assert len(models.search(eid, filter_string="metrics.acc > 0.85").models) == 1
    # Only the points on the given dataset count.
    on_val = models.search(
        eid, filter_string="metrics.acc > 0.85", datasets=[{"dataset_name": "val"}]
    )
    assert on_val.models == []
    with pytest.raises(InvalidInput):
        models.log_metrics(model_id, [ModelMetric("acc", 1.0, -1)])


def test_search_filters(service: TrackingService, experiment_id: str, run_id: str) -> None:
    models = service.logged_models
    a = models.create(experiment_id, name="alpha", source_run_id=run_id, params={"k": "1"})
    b = models.create(experiment_id, name="beta", tags={"stage": "prod"}, model_type="agent")
    models.finalize(a.model_id, "READY")
    other = service.experiments.create("elsewhere")
    models.create(other, name="alpha")

    def names(text: str | None) -> list[str]:
        page = models.search([experiment_id], filter_string=text)
        return sorted(m.name for m in page.models)

    assert names(None) == ["alpha", "beta"]
    assert names("name = 'alpha'") == ["alpha"]
    assert names(f"source_run_id = '{run_id}'") == ["alpha"]
    assert names("params.k = '1'") == ["alpha"]
    assert names("tags.stage = 'prod'") == ["beta"]
    assert names("tags.stage != 'prod'") == []  # a missing tag matches no comparison
    assert names("status = 'READY'") == ["alpha"]
    assert names("status = 'LOGGED_MODEL_PENDING'") == ["beta"]
    assert names("name LIKE 'a%'") == ["alpha"]
    assert names("name ILIKE 'B%'") == ["beta"]
    assert names("name IN ('alpha', 'gamma')") == ["alpha"]
    assert names("model_type = 'agent' OR params.k = '1'") == ["alpha", "beta"]
    assert names(f"model_id = '{b.model_id}'") == ["beta"]
    assert names("creation_timestamp > 0") == ["alpha", "beta"]
    assert names("source_run_id IS NULL") == ["beta"]
    both = models.search([experiment_id, other]).models
    assert sorted(m.name for m in both) == ["alpha", "alpha", "beta"]
    for bad in ("name =", "colour = 'red'", "name > 3", "creation_timestamp = 'soon'"):
        with pytest.raises(InvalidInput):
            models.search([experiment_id], filter_string=bad)
    with pytest.raises(InvalidInput):
        models.search([])
    models.delete(b.model_id)
    assert names(None) == ["alpha"]
    assert models.get(b.model_id, allow_deleted=True).lifecycle_stage == "deleted"


def test_search_order_and_pages(service: TrackingService, experiment_id: str) -> None:
    models = service.logged_models
    ids = {}
    for name, acc in (("c", 0.5), ("a", 0.9), ("b", None), ("d", 0.7)):
        ids[name] = models.create(experiment_id, name=name).model_id
        if acc is not None:
            models.log_metrics(ids[name], [ModelMetric("acc", acc, 1)])
    eid = [experiment_id]

    def order(*keys: ModelOrder) -> list[str]:
        return [m.name for m in models.search(eid, order_by=list(keys)).models]

    assert order(ModelOrder("name")) == ["a", "b", "c", "d"]
    assert order(ModelOrder("name", ascending=False)) == ["d", "c", "b", "a"]
    assert order(ModelOrder("metrics.acc", ascending=False)) == ["a", "d", "c", "b"]
    assert order(ModelOrder("metrics.acc")) == ["c", "d", "a", "b"]  # missing values last
    with pytest.raises(InvalidInput):
        order(ModelOrder("colour"))

    seen, token = [], None
    while True:
        page = models.search(eid, order_by=[ModelOrder("name")], max_results=3, page_token=token)
        seen.append([m.name for m in page.models])
        if not page.next_page_token:
            break
        token = page.next_page_token
    assert seen == [["a", "b", "c"], ["d"]]
    with pytest.raises(InvalidInput):
        models.search(eid, page_token="garbage")
    with pytest.raises(InvalidInput):
        models.search(eid, max_results=0)


def test_run_outputs_and_inputs(service: TrackingService, experiment_id: str, run_id: str) -> None:
    models = service.logged_models
    first = models.create(experiment_id, name="first", source_run_id=run_id).model_id
    second = models.create(experiment_id, name="second").model_id
    assert models.outputs(run_id) == [] and models.inputs(run_id) == []
    models.log_outputs(run_id, [ModelOutput(first, 2)])
    models.log_outputs(run_id, [ModelOutput(first, 2)])  # logging again is a no-op
    models.log_inputs(run_id, [second])
    assert models.outputs(run_id) == [ModelOutput(first, 2)]
    assert models.inputs(run_id) == [second]
    with pytest.raises(NotFound):
        models.log_outputs(run_id, [ModelOutput(MISSING)])
    with pytest.raises(NotFound):
        models.log_outputs("f" * 32, [ModelOutput(first)])
    with pytest.raises(NotFound):
        models.log_inputs(run_id, [MISSING])
