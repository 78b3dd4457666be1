"""MLflow-format model directories written by the real ``mlflow.sklearn.save_model``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml
from _pyfunc_models import Shift
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from loopml.errors import InvalidInput
from loopml.models import ColumnSpec, TensorSpec, load_model


def _mlflow_save(model: Any, path: Path, **kwargs: Any) -> Path:
    with warnings.catch_warnings():
        # mlflow warns at import and on pickle saves; this suite turns warnings into errors
        warnings.simplefilter("ignore")
        import mlflow.sklearn

        # explicit requirements: inferring them starts a subprocess and takes seconds
        mlflow.sklearn.save_model(model, str(path), pip_requirements=["scikit-learn"], **kwargs)
    return path


def _mlflow_signature(X: pd.DataFrame, y: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlflow.models import infer_signature

        return infer_signature(X, y)


def test_pickle_format_needs_allow_pickle(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], iris_clf: Any
) -> None:
    X, _ = iris
    d = _mlflow_save(iris_clf, tmp_path / "pkl", serialization_format="cloudpickle")
    assert (d / "model.pkl").is_file()
    with pytest.raises(InvalidInput, match=r"model.pkl.*allow_pickle=True"):
        load_model(d)
    model = load_model(d, allow_pickle=True)
    assert model.flavor == "sklearn" and model.signature is None
    np.testing.assert_array_equal(model.predict(X), iris_clf.predict(X))
    np.testing.assert_allclose(model.predict_proba(X), iris_clf.predict_proba(X))


def test_skops_format_loads_with_signature(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], iris_clf: Any
) -> None:
    X, _ = iris
    d = _mlflow_save(
        iris_clf,
        tmp_path / "skops",
        serialization_format="skops",
        signature=_mlflow_signature(X, iris_clf.predict(X)),
        metadata={"source": "mlflow"},
    )
    model = load_model(d)
    np.testing.assert_array_equal(model.predict(X), iris_clf.predict(X))
    assert model.metadata == {"source": "mlflow"}
    assert model.signature is not None
    assert model.signature.inputs[0] == ColumnSpec("sepal length (cm)", "float64")  # type: ignore[index]
    assert model.signature.outputs == TensorSpec("int64", (-1,))
    with pytest.raises(InvalidInput, match=r"'petal length \(cm\)'"):
        model.predict(X.drop(columns=["petal length (cm)"]))


def test_mlflow_self_declared_trusted_types_are_ignored(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = iris
    pipe = make_pipeline(Shift(), LogisticRegression(max_iter=500)).fit(X, y)
    d = _mlflow_save(
        pipe,
        tmp_path / "custom",
        serialization_format="skops",
        skops_trusted_types=["_pyfunc_models.Shift"],
    )
    mlmodel = yaml.safe_load((d / "MLmodel").read_text())
    assert mlmodel["flavors"]["sklearn"]["skops_trusted_types"] == ["_pyfunc_models.Shift"]
    assert sio.get_untrusted_types(file=d / "model.skops") == ["_pyfunc_models.Shift"]
    with pytest.raises(InvalidInput, match=r"_pyfunc_models.Shift"):
        load_model(d)
    got = load_model(d, trusted_types=["_pyfunc_models.Shift"]).predict(X)
    np.testing.assert_array_equal(got, pipe.predict(X))


def test_unsupported_flavor_and_traversal_in_mlmodel(tmp_path: Path, iris_clf: Any) -> None:
    d = _mlflow_save(iris_clf, tmp_path / "m", serialization_format="skops")
    raw = yaml.safe_load((d / "MLmodel").read_text())
    raw["flavors"]["sklearn"]["pickled_model"] = "../../etc/passwd"
    (d / "MLmodel").write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidInput, match=r"is refused"):
        load_model(d)
    (d / "MLmodel").write_text(yaml.safe_dump({"flavors": {"pytorch": {"model_data": "data"}}}))
    with pytest.raises(InvalidInput, match=r"flavor\(s\) pytorch"):
        load_model(d)


def test_python_function_flavor_backed_by_mlflow_sklearn(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], iris_clf: Any
) -> None:
    X, _ = iris
    d = _mlflow_save(iris_clf, tmp_path / "pyfunc", serialization_format="skops")
    raw = yaml.safe_load((d / "MLmodel").read_text())
    del raw["flavors"]["sklearn"]  # as a pyfunc-only directory: loader_module mlflow.sklearn
    (d / "MLmodel").write_text(yaml.safe_dump(raw))
    np.testing.assert_array_equal(load_model(d).predict(X), iris_clf.predict(X))
