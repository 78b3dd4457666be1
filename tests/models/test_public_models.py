"""loopml.log_model / loopml.load_model: the public functions, embedded and through a server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.client import Client
from loopml.errors import InvalidInput, NotFound


def test_log_model_and_load_it_back_by_run(
    client: Client, iris: tuple[pd.DataFrame, pd.Series], iris_clf: Any
) -> None:
    X, _ = iris
    with loopml.start_run(experiment="models") as run:
        info = loopml.log_model(iris_clf, "model", input_example=X.head(5))
    assert info.flavor == "sklearn" and info.serialization == "skops"
    model = loopml.load_model(f"runs:/{run.run_id}/model")
    np.testing.assert_array_equal(model.predict(X), iris_clf.predict(X))
    np.testing.assert_allclose(model.predict_proba(X), iris_clf.predict_proba(X))
    assert [c.name for c in model.signature.inputs] == list(X.columns)
    listed = {a.path for a in client.list_artifacts(run.run_id, "model")}
    assert "model/loopml-model.yaml" in listed
    with pytest.raises(InvalidInput, match="missing"):
        model.predict(X.drop(columns=[X.columns[0]]))


def test_register_alias_and_load_by_name(
    client: Client, iris: tuple[pd.DataFrame, pd.Series], iris_clf: Any, tmp_path: Path
) -> None:
    X, _ = iris
    train = loopml.data.register("iris-train", X)
    with loopml.start_run(experiment="models") as run:
        loopml.log_input(train)
        loopml.log_metric("accuracy", 0.97)
        loopml.log_model(iris_clf, "model", input_example=X.head(5))
    uri = f"runs:/{run.run_id}/model"
    first = loopml.register_model(uri, "iris", reason="baseline")
    second = loopml.register_model(uri, "iris")
    assert (first.version, second.version) == (1, 2)
    assert first.metrics == {"accuracy": 0.97} and first.datasets == ("iris-train@1",)
    assert first.run_id == run.run_id and first.source == uri
    loopml.set_model_alias("iris", "champion", 1, reason="best so far")
    champion = loopml.load_model("models:/iris@champion")
    np.testing.assert_array_equal(champion.predict(X), iris_clf.predict(X))
    assert loopml.load_model("models:/iris/2").predict(X.head(3)).shape == (3,)
    with pytest.raises(NotFound, match="challenger"):
        loopml.load_model("models:/iris@challenger")
    with pytest.raises(InvalidInput, match="runs:/"):
        loopml.register_model(str(tmp_path), "iris")


def test_onnx_export_logged_registered_and_served_from_the_registry(
    client: Client, iris: tuple[pd.DataFrame, pd.Series], iris_clf: Any
) -> None:
    X, _ = iris
    with loopml.start_run(experiment="models"):
        info = loopml.log_model(
            iris_clf, "model", input_example=X.head(20), onnx=True, registered_model_name="iris"
        )
    assert info.onnx is not None and info.onnx.max_abs_diff <= 1e-4
    native = loopml.load_model("models:/iris/1")
    fast = loopml.load_model("models:/iris/1", backend="onnx")
    assert (native.backend, fast.backend) == ("native", "onnx")
    np.testing.assert_array_equal(fast.predict(X), iris_clf.predict(X))
    np.testing.assert_allclose(fast.predict_proba(X), iris_clf.predict_proba(X), atol=1e-4)
