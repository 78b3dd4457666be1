"""The LightGBM flavor: wrappers and Boosters in LightGBM's text format, never a pickle."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import make_classification

import loopml
from loopml.errors import ArtifactCorrupted, InvalidInput
from loopml.models import TensorSpec, load_model, save_model

PARAMS: dict[str, Any] = {"n_estimators": 5, "num_leaves": 7, "verbose": -1, "n_jobs": 1}


@pytest.fixture(scope="module")
def binary() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    return X, y


def _squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return y_pred - y_true, np.ones_like(y_pred)


def test_multiclass_with_string_labels_round_trip(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = iris
    labels = y.map({0: "setosa", 1: "versicolor", 2: "virginica"})
    clf = lightgbm.LGBMClassifier(**PARAMS).fit(X, labels)
    info = save_model(clf, tmp_path / "m", input_example=X.head(5))
    assert (info.flavor, info.serialization) == ("lightgbm", "lightgbm-text")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["loopml-model.yaml", "model.txt"]
    raw = yaml.safe_load((tmp_path / "m" / "loopml-model.yaml").read_text())
    assert raw["flavor_options"]["model_class"] == "LGBMClassifier"
    assert raw["flavor_options"]["classes"] == ["setosa", "versicolor", "virginica"]
    assert raw["flavor_options"]["objective"] == "multiclass"
    assert f"lightgbm=={lightgbm.__version__}" in raw["requirements"]
    assert info.signature is not None and info.signature.column_names == list(X.columns)

    model = load_model(tmp_path / "m")
    assert model.flavor == "lightgbm" and isinstance(model.raw_model, lightgbm.Booster)
    assert model.has_predict_proba  # answered by loopml's adapter, not by the Booster
    np.testing.assert_array_equal(model.predict(X), clf.predict(X))
    np.testing.assert_allclose(model.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(InvalidInput, match="missing"):
        model.predict(X.drop(columns=[X.columns[1]]))


def test_binary_predict_proba_has_two_columns(
    tmp_path: Path, binary: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = binary
    clf = lightgbm.LGBMClassifier(**PARAMS).fit(X, y)
    info = save_model(clf, tmp_path / "m", input_example=X[:5])
    assert info.signature is not None
    assert info.signature.inputs == TensorSpec("float64", (-1, 6))
    assert info.signature.outputs == TensorSpec("int64", (-1,))
    model = load_model(tmp_path / "m")
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba, clf.predict_proba(X))
    np.testing.assert_array_equal(model.predict(X), clf.predict(X))


def test_regressor_and_raw_booster(
    tmp_path: Path, diabetes: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = diabetes
    reg = lightgbm.LGBMRegressor(**PARAMS).fit(X, y)
    save_model(reg, tmp_path / "reg", input_example=X.head(3))
    loaded = load_model(tmp_path / "reg")
    assert not loaded.has_predict_proba
    np.testing.assert_allclose(loaded.predict(X), reg.predict(X))
    with pytest.raises(InvalidInput, match="no predict_proba"):
        loaded.predict_proba(X)

    booster = lightgbm.train(
        {"objective": "regression", "num_leaves": 7, "verbose": -1, "num_threads": 1},
        lightgbm.Dataset(X, label=y),
        num_boost_round=5,
    )
    info = save_model(booster, tmp_path / "booster", input_example=X.head(3))
    assert info.flavor == "lightgbm" and info.signature is not None
    model = load_model(tmp_path / "booster")
    np.testing.assert_allclose(model.predict(X), booster.predict(X))


def test_tampered_weights_are_refused(tmp_path: Path, binary: tuple[Any, Any]) -> None:
    X, y = binary
    save_model(lightgbm.LGBMClassifier(**PARAMS).fit(X, y), tmp_path / "m")
    weights = tmp_path / "m" / "model.txt"
    text = weights.read_text()
    # a plausible edit: a changed leaf value still parses, but is not what was saved
    weights.write_text(text.replace("leaf_value=", "leaf_value=1", 1))
    with pytest.raises(ArtifactCorrupted, match=r"model\.txt.*refusing to load"):
        load_model(tmp_path / "m")
    weights.write_text(text)
    manifest = tmp_path / "m" / "loopml-model.yaml"
    raw = yaml.safe_load(manifest.read_text())
    del raw["flavor_options"]["classes"]
    manifest.write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidInput, match="does not list its classes"):
        load_model(tmp_path / "m")


def test_what_the_text_format_cannot_hold_is_refused(
    tmp_path: Path, diabetes: tuple[pd.DataFrame, pd.Series], monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = diabetes
    custom = lightgbm.LGBMRegressor(objective=_squared_error, **PARAMS).fit(X, y)
    with pytest.raises(InvalidInput, match="custom objective"):
        save_model(custom, tmp_path / "c")
    with pytest.raises(InvalidInput, match="fit it first"):
        save_model(lightgbm.LGBMClassifier(), tmp_path / "u")
    assert not (tmp_path / "c").exists() and not (tmp_path / "u").exists()
    # onnx="try" on a flavor loopml does not export: a warning, and the model is saved
    reg = lightgbm.LGBMRegressor(**PARAMS).fit(X, y)
    with pytest.warns(UserWarning, match="ONNX export skipped"):
        info = save_model(reg, tmp_path / "r", onnx="try")
    assert info.onnx is None
    with pytest.raises(InvalidInput, match="has no ONNX export"):
        load_model(tmp_path / "r", backend="onnx")
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(InvalidInput, match=r"pip install 'loopml\[lightgbm\]'"):
        load_model(tmp_path / "r")


def test_log_with_the_public_api_and_load_from_the_run(
    home: Path, binary: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = binary
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = lightgbm.LGBMClassifier(**PARAMS).fit(frame, y)
    with loopml.start_run(experiment="flavors") as run:
        info = loopml.log_model(clf, "model", input_example=frame.head(5))
    assert info.flavor == "lightgbm"
    model = loopml.load_model(f"runs:/{run.info.run_id}/model")
    assert model.flavor == "lightgbm" and model.signature == info.signature
    np.testing.assert_array_equal(model.predict(frame), clf.predict(frame))
    np.testing.assert_allclose(model.predict_proba(frame), clf.predict_proba(frame))
