"""The xgboost flavor: wrappers and Boosters in xgboost's UBJSON format, never a pickle."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost
import yaml
from sklearn.datasets import make_classification

import loopml
from loopml.client import get_client
from loopml.errors import ArtifactCorrupted, InvalidInput
from loopml.models import TensorSpec, load_model, log_model, save_model
from loopml.models._manifest import sha256_file


class Tweaked(xgboost.XGBClassifier):  # type: ignore[misc]
    """A user subclass: loading it back as a plain XGBClassifier would drop its changes."""

    def predict(self, X: Any, **kwargs: Any) -> Any:
        return super().predict(X, **kwargs) + 1


@pytest.fixture(scope="module")
def xgb_clf(iris: tuple[pd.DataFrame, pd.Series]) -> xgboost.XGBClassifier:
    X, y = iris
    return xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(X, y)


def _installed_xgboost() -> str:
    for dist in ("xgboost", "xgboost-cpu"):
        try:
            return f"{dist}=={metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    raise AssertionError("xgboost is imported but no distribution provides it")


def test_classifier_round_trip_with_manifest_and_signature(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], xgb_clf: Any
) -> None:
    X, _ = iris
    info = save_model(xgb_clf, tmp_path / "m", input_example=X.head(5))
    assert (info.flavor, info.serialization) == ("xgboost", "xgboost-ubj")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["loopml-model.yaml", "model.ubj"]
    raw = yaml.safe_load((tmp_path / "m" / "loopml-model.yaml").read_text())
    assert raw["flavor"] == "xgboost" and raw["flavor_options"] == {"model_class": "XGBClassifier"}
    assert raw["sha256"] == sha256_file(tmp_path / "m" / "model.ubj") == info.sha256
    # whichever of xgboost / xgboost-cpu is installed, with its version
    assert _installed_xgboost() in raw["requirements"]
    assert info.signature is not None and info.signature.column_names == list(X.columns)
    assert info.signature.outputs == TensorSpec("int64", (-1,))

    model = load_model(tmp_path / "m")
    assert (model.flavor, model.backend) == ("xgboost", "native")
    assert isinstance(model.raw_model, xgboost.XGBClassifier)
    np.testing.assert_array_equal(model.predict(X), xgb_clf.predict(X))
    np.testing.assert_array_equal(model.predict_proba(X), xgb_clf.predict_proba(X))
    # the signature orders columns and names a missing one
    np.testing.assert_array_equal(model.predict(X[X.columns[::-1]]), xgb_clf.predict(X))
    with pytest.raises(InvalidInput, match="missing"):
        model.predict(X.drop(columns=[X.columns[0]]))


def test_regressor_and_raw_booster(
    tmp_path: Path, diabetes: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = diabetes
    reg = xgboost.XGBRegressor(n_estimators=5, max_depth=3, n_jobs=1).fit(X, y)
    save_model(reg, tmp_path / "reg", input_example=X.head(3))
    loaded = load_model(tmp_path / "reg")
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    with pytest.raises(InvalidInput, match="predict_proba"):
        loaded.predict_proba(X)

    Xb, yb = make_classification(n_samples=200, n_features=6, random_state=0)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 2, "nthread": 1},
        xgboost.DMatrix(Xb, label=yb),
        num_boost_round=5,
    )
    info = save_model(booster, tmp_path / "booster", input_example=Xb[:5])
    assert info.flavor == "xgboost" and info.signature is not None
    assert info.signature.inputs == TensorSpec("float64", (-1, 6))
    model = load_model(tmp_path / "booster")
    assert isinstance(model.raw_model, xgboost.Booster)
    # a raw Booster predicts what the booster outputs: here P(class 1)
    np.testing.assert_allclose(model.predict(Xb), booster.predict(xgboost.DMatrix(Xb)))
    with pytest.raises(InvalidInput, match="shape"):
        model.predict(Xb[:, :4])


def test_tampered_weights_and_manifest_are_refused(tmp_path: Path, xgb_clf: Any) -> None:
    save_model(xgb_clf, tmp_path / "m")
    weights = tmp_path / "m" / "model.ubj"
    original = weights.read_bytes()
    weights.write_bytes(original[:-8] + b"\x00" * 8)
    with pytest.raises(ArtifactCorrupted, match=r"model\.ubj.*refusing to load"):
        load_model(tmp_path / "m")

    weights.write_bytes(original)
    manifest = tmp_path / "m" / "loopml-model.yaml"
    raw = yaml.safe_load(manifest.read_text())
    raw["flavor_options"]["model_class"] = "DMatrix"  # only xgboost's model classes load
    manifest.write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidInput, match="model_class 'DMatrix'"):
        load_model(tmp_path / "m")
    raw["serialization"] = "cloudpickle"  # a flavor stored in another format is refused
    raw["flavor_options"]["model_class"] = "XGBClassifier"
    manifest.write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidInput, match="not something this version of loopml loads"):
        load_model(tmp_path / "m", allow_pickle=True)


def test_missing_package_names_the_extra(
    tmp_path: Path, xgb_clf: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_model(xgb_clf, tmp_path / "m")
    monkeypatch.setitem(sys.modules, "xgboost", None)  # `import xgboost` now fails
    with pytest.raises(InvalidInput, match=r"pip install 'loopml\[xgboost\]'"):
        load_model(tmp_path / "m")


def test_flavor_detection_imports_no_optional_package(tmp_path: Path) -> None:
    """Saving and loading a scikit-learn model never imports xgboost, LightGBM or ONNX."""
    code = (
        "import sys\n"
        "from sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from loopml.models import load_model, save_model\n"
        "X, y = load_iris(return_X_y=True, as_frame=True)\n"
        f"save_model(LogisticRegression(max_iter=300).fit(X, y), {str(tmp_path / 'm')!r})\n"
        f"load_model({str(tmp_path / 'm')!r}).predict(X)\n"
        "print(sorted(m for m in ('xgboost', 'lightgbm', 'onnx', 'onnxruntime', 'skl2onnx')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_subclasses_and_wrong_flavors_are_refused_with_advice(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], xgb_clf: Any
) -> None:
    X, y = iris
    tweaked = Tweaked(n_estimators=2, max_depth=2, n_jobs=1).fit(X, y)
    with pytest.raises(InvalidInput, match="flavor='pyfunc'"):
        save_model(tweaked, tmp_path / "t")
    assert not (tmp_path / "t").exists()
    with pytest.raises(InvalidInput, match="does not fit a XGBClassifier"):
        save_model(xgb_clf, tmp_path / "s", flavor="sklearn")
    with pytest.raises(InvalidInput, match="unknown flavor 'torch'"):
        save_model(xgb_clf, tmp_path / "s", flavor="torch")
    with pytest.raises(InvalidInput, match="fit it first"):
        save_model(xgboost.XGBRegressor(), tmp_path / "u")
    with pytest.raises(InvalidInput, match="exports scikit-learn models"):
        save_model(xgb_clf, tmp_path / "o", onnx=True)


def test_log_to_a_run_and_load_it_back(
    home: Path, iris: tuple[pd.DataFrame, pd.Series], xgb_clf: Any
) -> None:
    X, _ = iris
    with loopml.start_run(experiment="flavors") as run:
        info = log_model(
            xgb_clf, "xgb", log_artifacts=loopml.log_artifacts, input_example=X.head(5)
        )
        public = loopml.log_model(xgb_clf, "public", input_example=X.head(5))
    assert (info.path, info.flavor) == ("xgb", "xgboost") and public.flavor == "xgboost"
    uri = f"runs:/{run.info.run_id}/xgb"
    model = load_model(uri, download=get_client().download_artifacts)
    assert model.source == uri and model.signature == info.signature
    np.testing.assert_array_equal(model.predict_proba(X), xgb_clf.predict_proba(X))
    again = loopml.load_model(f"runs:/{run.info.run_id}/public")
    np.testing.assert_array_equal(again.predict(X), xgb_clf.predict(X))
