"""Saving and loading loopml model directories: flavors, manifest, signature, predictor."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from _pyfunc_models import Doubler, Thresholder

import loopml.models
from loopml.errors import AlreadyExists, InvalidInput
from loopml.models import ColumnSpec, Signature, TensorSpec, load_model, save_model


def test_public_surface_is_pinned() -> None:
    assert sorted(loopml.models.__all__) == sorted(
        [
            "TRUSTED_SKOPS_TYPES",
            "ArtifactDownloader",
            "ArtifactLogger",
            "ColumnSpec",
            "LoadedModel",
            "ModelInfo",
            "OnnxExport",
            "Signature",
            "TensorSpec",
            "infer_signature",
            "load_model",
            "log_model",
            "save_model",
        ]
    )
    assert all(hasattr(loopml.models, n) for n in loopml.models.__all__)


def test_sklearn_round_trip_with_skops_and_manifest(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], iris_clf: Any
) -> None:
    X, _ = iris
    info = save_model(
        iris_clf, tmp_path / "m", input_example=X.head(5), metadata={"team": "ml", "k": 3}
    )
    assert (info.flavor, info.serialization) == ("sklearn", "skops")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "loopml-model.yaml",
        "model.skops",
    ]
    raw = yaml.safe_load((tmp_path / "m" / "loopml-model.yaml").read_text())
    assert raw["flavor"] == "sklearn" and raw["weights"] == "model.skops"
    assert raw["python_version"] == platform.python_version()
    assert raw["loopml_version"] == "0.1.0"
    names = {r.split("==")[0] for r in raw["requirements"]}
    assert {"scikit-learn", "skops", "numpy", "pandas"} <= names
    assert raw["signature"]["inputs"][0] == {"name": "sepal length (cm)", "dtype": "float64"}
    assert raw["signature"]["outputs"] == {"dtype": "int64", "shape": [-1]}
    assert raw["metadata"] == {"team": "ml", "k": 3}

    model = load_model(tmp_path / "m")
    assert model.flavor == "sklearn" and model.metadata == {"team": "ml", "k": 3}
    assert model.signature == info.signature
    np.testing.assert_array_equal(model.predict(X), iris_clf.predict(X))
    np.testing.assert_allclose(model.predict_proba(X), iris_clf.predict_proba(X))
    # file:// paths are the same thing
    np.testing.assert_array_equal(
        load_model(f"file://{tmp_path / 'm'}").predict(X), model.predict(X)
    )


def test_forest_trees_load_through_loopml_allowlist(
    tmp_path: Path, diabetes: tuple[pd.DataFrame, pd.Series], diabetes_forest: Any
) -> None:
    X, _ = diabetes
    save_model(diabetes_forest, tmp_path / "rf", input_example=X.head(3))
    model = load_model(tmp_path / "rf")
    np.testing.assert_allclose(model.predict(X), diabetes_forest.predict(X))
    with pytest.raises(InvalidInput, match=r"has no predict_proba"):
        model.predict_proba(X)


def test_predict_reorders_columns_widens_ints_and_takes_dicts_and_arrays(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], iris_clf: Any
) -> None:
    X, _ = iris
    save_model(iris_clf, tmp_path / "m", input_example=X.head(2))
    model = load_model(tmp_path / "m")
    expected = iris_clf.predict(X)
    shuffled = X[list(reversed(X.columns))].assign(extra="ignored")
    np.testing.assert_array_equal(model.predict(shuffled), expected)
    np.testing.assert_array_equal(model.predict(X.to_dict(orient="list")), expected)
    np.testing.assert_array_equal(model.predict(X.to_numpy()), expected)
    ints = X.round().astype("int64")
    np.testing.assert_array_equal(model.predict(ints), iris_clf.predict(ints.astype(float)))


def test_predict_names_missing_columns_and_bad_dtypes(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], iris_clf: Any
) -> None:
    X, _ = iris
    save_model(iris_clf, tmp_path / "m", input_example=X.head(2))
    model = load_model(tmp_path / "m")
    with pytest.raises(InvalidInput, match=r"'petal width \(cm\)'") as err:
        model.predict(X.drop(columns=["petal width (cm)"]))
    assert err.value.details == {"missing_columns": ["petal width (cm)"]}
    with pytest.raises(InvalidInput, match=r"'sepal width \(cm\)' has dtype"):
        model.predict(X.assign(**{"sepal width (cm)": "wide"}))
    with pytest.raises(InvalidInput, match=r"takes 4 columns"):
        model.predict(X.to_numpy()[:, :3])


def test_signature_inference_from_array_and_dict_examples(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = iris
    info = save_model(
        Thresholder(), tmp_path / "a", input_example=X.to_numpy()[:4], allow_pickle=True
    )
    tensor = Signature(TensorSpec("float64", (-1, 4)), TensorSpec("int64", (-1,)))
    assert info.signature == tensor
    assert tensor.to_dict() == {
        "inputs": {"dtype": "float64", "shape": [-1, 4]},
        "outputs": {"dtype": "int64", "shape": [-1]},
    }
    arr_model = load_model(tmp_path / "a", allow_pickle=True)
    assert arr_model.signature == tensor  # what is stored is what is read back
    assert list(arr_model.predict(X)) == list(Thresholder().predict(X))  # frames become arrays
    with pytest.raises(InvalidInput, match=r"expects \(n, 4\)"):
        arr_model.predict(X.to_numpy()[:, :2])

    info = save_model(
        Doubler(), tmp_path / "d", input_example={"a": [1, 2], "b": [0.5, 1.5]}, allow_pickle=True
    )
    columns = (ColumnSpec("a", "int64"), ColumnSpec("b", "float64"))
    assert info.signature == Signature(columns, TensorSpec("float64", (-1,)))
    dict_model = load_model(tmp_path / "d", allow_pickle=True)
    assert dict_model.signature == info.signature
    assert list(dict_model.predict({"b": 1.5, "a": 2})) == [7.0]  # one row as a dict of scalars


def test_pyfunc_needs_allow_pickle_to_save_and_to_load(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = iris
    with pytest.raises(InvalidInput, match=r"allow_pickle=True"):
        save_model(Thresholder(), tmp_path / "refused")
    assert not (tmp_path / "refused").exists()

    info = save_model(Thresholder(), tmp_path / "p", input_example=X.head(3), allow_pickle=True)
    assert (info.flavor, info.serialization) == ("pyfunc", "cloudpickle")
    raw = yaml.safe_load((tmp_path / "p" / "loopml-model.yaml").read_text())
    assert raw["weights"] == "model.pkl" and raw["sha256"] == info.sha256
    assert {r.split("==")[0] for r in raw["requirements"]} >= {"cloudpickle", "numpy"}

    with pytest.raises(InvalidInput, match=r"allow_pickle=True"):
        load_model(tmp_path / "p")
    model = load_model(tmp_path / "p", allow_pickle=True)
    assert model.flavor == "pyfunc"
    np.testing.assert_array_equal(model.predict(X), Thresholder().predict(X))
    np.testing.assert_allclose(model.predict_proba(X), Thresholder().predict_proba(X))

    save_model(Doubler(), tmp_path / "d", allow_pickle=True)
    with pytest.raises(InvalidInput, match=r"Doubler\) has no predict_proba"):
        load_model(tmp_path / "d", allow_pickle=True).predict_proba(X)


def test_custom_sklearn_types_need_allow_pickle(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    from _pyfunc_models import Shift
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = iris
    pipe = make_pipeline(Shift(), LogisticRegression(max_iter=500)).fit(X, y)
    with pytest.raises(InvalidInput, match=r"_pyfunc_models.Shift") as err:
        save_model(pipe, tmp_path / "s")
    assert "allow_pickle=True" in err.value.message
    info = save_model(pipe, tmp_path / "s", allow_pickle=True)
    assert (info.flavor, info.serialization) == ("sklearn", "cloudpickle")
    got = load_model(tmp_path / "s", allow_pickle=True).predict(X)
    np.testing.assert_array_equal(got, pipe.predict(X))


def test_save_refuses_objects_without_predict_and_existing_dirs(
    tmp_path: Path, iris_clf: Any
) -> None:
    with pytest.raises(InvalidInput, match=r"needs a predict method"):
        save_model(object(), tmp_path / "x", allow_pickle=True)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "f").write_text("x")
    with pytest.raises(AlreadyExists):
        save_model(iris_clf, tmp_path / "taken")
    (tmp_path / "empty").mkdir()
    assert save_model(iris_clf, tmp_path / "empty").flavor == "sklearn"
    with pytest.raises(InvalidInput, match=r"input example must be"):
        save_model(iris_clf, tmp_path / "bad-ex", input_example="not tabular")
    with pytest.raises(InvalidInput, match=r"predict on the input example failed"):
        save_model(iris_clf, tmp_path / "bad-ex", input_example={"a": [1.0]})
    # nothing half-written is left behind next to the targets
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "taken"]


def test_explicit_signature_wins_over_inference(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], iris_clf: Any
) -> None:
    X, _ = iris
    sig = loopml.models.infer_signature(X, iris_clf.predict(X))
    info = save_model(iris_clf, tmp_path / "m", signature=sig, input_example={"x": [1]})
    assert info.signature == sig
    assert load_model(tmp_path / "m").signature == sig
    # metadata must be plain YAML: a numpy scalar is named, and nothing is left behind
    with pytest.raises(InvalidInput, match=r"plain YAML types"):
        save_model(iris_clf, tmp_path / "n", metadata={"auc": np.float64(0.9)})
    assert not (tmp_path / "n").exists()
