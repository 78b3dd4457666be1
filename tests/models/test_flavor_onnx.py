"""ONNX: the onnx flavor, and scikit-learn exports checked against the original model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pandas as pd
import pytest
import yaml
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import loopml
from loopml.client import get_client
from loopml.errors import ArtifactCorrupted, InvalidInput, NotFound
from loopml.models import ColumnSpec, TensorSpec, load_model, log_model, save_model
from loopml.models._manifest import sha256_file


@pytest.fixture(scope="module")
def forest(iris: tuple[pd.DataFrame, pd.Series]) -> RandomForestClassifier:
    X, y = iris
    return RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y)


def _sum_graph() -> onnx.ModelProto:
    """A two-input graph: out = a + b, each input one float column."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 1])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [None, 1])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 1])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["out"])], "sum", [a, b], [out])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_classifier_export_is_checked_recorded_and_served(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], forest: Any
) -> None:
    X, _ = iris
    info = save_model(forest, tmp_path / "m", input_example=X.head(20), onnx=True)
    assert info.flavor == "sklearn" and info.onnx is not None
    assert info.onnx.rows_checked == 20 and info.onnx.max_abs_diff is not None
    assert 0 <= info.onnx.max_abs_diff <= 1e-4
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "loopml-model.yaml",
        "model.onnx",
        "model.skops",
    ]
    raw = yaml.safe_load((tmp_path / "m" / "loopml-model.yaml").read_text())
    assert raw["onnx"]["max_abs_diff"] == info.onnx.max_abs_diff
    assert raw["onnx"]["sha256"] == sha256_file(tmp_path / "m" / "model.onnx")
    assert f"onnxruntime=={onnxruntime.__version__}" in raw["onnx"]["requirements"]

    native = load_model(tmp_path / "m")  # the default stays the native flavor
    assert native.backend == "native" and isinstance(native.raw_model, RandomForestClassifier)
    fast = load_model(tmp_path / "m", backend="onnx")
    assert (fast.flavor, fast.backend) == ("sklearn", "onnx")
    assert isinstance(fast.raw_model, onnxruntime.InferenceSession) and fast.has_predict_proba
    assert fast.signature == native.signature
    # all 150 rows, not only the 20 checked at save time
    np.testing.assert_array_equal(fast.predict(X), forest.predict(X))
    np.testing.assert_allclose(fast.predict_proba(X), forest.predict_proba(X), atol=1e-4)
    np.testing.assert_array_equal(fast.predict(X.iloc[[7]]), forest.predict(X.iloc[[7]]))
    with pytest.raises(InvalidInput, match="missing"):
        fast.predict(X.drop(columns=[X.columns[0]]))
    with pytest.raises(InvalidInput, match="backend must be one of"):
        load_model(tmp_path / "m", backend="tensorrt")  # type: ignore[arg-type]


def test_regressor_export_and_an_explicit_sample(
    tmp_path: Path, diabetes: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = diabetes
    reg = LinearRegression().fit(X, y)
    info = save_model(reg, tmp_path / "m", onnx=True, onnx_sample=X)
    assert info.onnx is not None and info.onnx.rows_checked == len(X)
    assert info.onnx.max_abs_diff is not None and info.onnx.max_abs_diff < 1e-2
    # with no input example, the signature comes from the sample
    assert info.signature is not None and info.signature.column_names == list(X.columns)
    model = load_model(tmp_path / "m", backend="onnx")
    got = model.predict(X)
    assert got.shape == (len(X),)  # the (n, 1) ONNX output, shaped as sklearn answers
    np.testing.assert_allclose(got, reg.predict(X), rtol=1e-4, atol=1e-5)


def test_string_columns_become_one_input_per_column(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = iris
    frame = X.assign(size=np.where(X.iloc[:, 0] > 5.8, "big", "small"))
    prep = ColumnTransformer(
        [("num", StandardScaler(), list(X.columns)), ("cat", OneHotEncoder(), ["size"])]
    )
    clf = make_pipeline(prep, LogisticRegression(max_iter=500)).fit(frame, y)
    info = save_model(clf, tmp_path / "m", input_example=frame, onnx=True)
    assert info.onnx is not None and info.onnx.options["columns"] == list(frame.columns)
    model = load_model(tmp_path / "m", backend="onnx")
    np.testing.assert_array_equal(model.predict(frame), clf.predict(frame))
    np.testing.assert_allclose(model.predict_proba(frame), clf.predict_proba(frame), atol=1e-4)


def test_unconvertible_model_is_a_clear_error_or_a_warning_with_try(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = iris
    centroid = NearestCentroid().fit(X, y)  # skl2onnx has no converter for it
    with pytest.raises(InvalidInput, match="skl2onnx cannot convert this NearestCentroid"):
        save_model(centroid, tmp_path / "m", input_example=X, onnx=True)
    assert not (tmp_path / "m").exists()  # nothing half-written
    with pytest.warns(UserWarning, match="ONNX export skipped: skl2onnx cannot convert"):
        info = save_model(centroid, tmp_path / "m", input_example=X, onnx="try")
    assert info.onnx is None and not (tmp_path / "m" / "model.onnx").exists()
    np.testing.assert_array_equal(load_model(tmp_path / "m").predict(X), centroid.predict(X))
    with pytest.raises(InvalidInput, match="no ONNX export; save it with onnx=True"):
        load_model(tmp_path / "m", backend="onnx")
    with pytest.raises(InvalidInput, match="input_example= or onnx_sample="):
        save_model(NearestCentroid().fit(X, y), tmp_path / "n", onnx=True)
    with pytest.raises(InvalidInput, match="onnx must be True, False or 'try'"):
        save_model(centroid, tmp_path / "o", onnx="yes")  # type: ignore[arg-type]


def test_an_export_that_disagrees_is_refused(tmp_path: Path) -> None:
    # An uncentred feature: 10,000 + u, with u in [0, 1]. float32 keeps about 3 decimals of
    # it, ONNX computes in float32, so 1000 * (x - 10,000) is off by up to ~0.5 where the
    # rule allows 1e-4 of the value: the check must catch it.
    x = 10_000 + np.linspace(0, 1, 50)
    X, y = x.reshape(-1, 1), 1000 * (x - 10_000)
    reg = LinearRegression().fit(X, y)
    with pytest.raises(InvalidInput, match=r"does not agree with the original.*differ by up to"):
        save_model(reg, tmp_path / "m", input_example=X, onnx=True)
    assert not (tmp_path / "m").exists()
    with pytest.warns(UserWarning, match="does not agree"):
        info = save_model(reg, tmp_path / "m", input_example=X, onnx="try")
    assert info.onnx is None and not (tmp_path / "m" / "model.onnx").exists()


def test_tampered_export_is_refused_but_the_native_model_loads(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], forest: Any
) -> None:
    X, _ = iris
    save_model(forest, tmp_path / "m", input_example=X.head(10), onnx=True)
    file = tmp_path / "m" / "model.onnx"
    file.write_bytes(file.read_bytes() + b"\x00")
    with pytest.raises(ArtifactCorrupted, match=r"model\.onnx.*refusing to load"):
        load_model(tmp_path / "m", backend="onnx")
    np.testing.assert_array_equal(load_model(tmp_path / "m").predict(X), forest.predict(X))


def test_onnx_flavor_from_a_model_proto_bytes_or_path(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = iris
    arr = X.to_numpy(dtype=np.float32)
    clf = LogisticRegression(max_iter=500).fit(arr, y)
    proto = to_onnx(clf, arr[:1], options={id(clf): {"zipmap": False}})
    info = save_model(proto, tmp_path / "proto")  # detected: no flavor needed
    assert (info.flavor, info.serialization) == ("onnx", "onnx")
    # no example: the signature is the graph's
    assert info.signature is not None and info.signature.inputs == TensorSpec("float32", (-1, 4))
    model = load_model(tmp_path / "proto")
    assert (model.flavor, model.backend) == ("onnx", "onnx")
    np.testing.assert_array_equal(model.predict(arr), clf.predict(arr))
    np.testing.assert_allclose(model.predict_proba(arr), clf.predict_proba(arr), atol=1e-5)
    np.testing.assert_array_equal(
        load_model(tmp_path / "proto", backend="onnx").predict(arr), clf.predict(arr)
    )

    path = tmp_path / "clf.onnx"
    path.write_bytes(proto.SerializeToString())
    from_path = save_model(path, tmp_path / "path", flavor="onnx", input_example=X.head(5))
    assert from_path.signature is not None and from_path.signature.column_names == list(X.columns)
    np.testing.assert_array_equal(load_model(tmp_path / "path").predict(X), clf.predict(arr))
    save_model(path.read_bytes(), tmp_path / "bytes", flavor="onnx")
    np.testing.assert_array_equal(load_model(tmp_path / "bytes").predict(arr), clf.predict(arr))
    with pytest.raises(InvalidInput, match="flavor='onnx'"):
        save_model(path.read_bytes(), tmp_path / "nope")
    with pytest.raises(NotFound, match="no ONNX file"):
        save_model(tmp_path / "missing.onnx", tmp_path / "nope", flavor="onnx")
    with pytest.raises(InvalidInput, match="onnxruntime cannot load"):
        save_model(b"not an onnx model", tmp_path / "nope", flavor="onnx")
    assert not (tmp_path / "nope").exists()

    (tmp_path / "proto" / "model.onnx").write_bytes(b"\x08\x07" + proto.SerializeToString()[2:])
    with pytest.raises(ArtifactCorrupted, match=r"model\.onnx"):
        load_model(tmp_path / "proto")


def test_onnx_flavor_with_several_inputs_takes_columns_by_name(tmp_path: Path) -> None:
    info = save_model(_sum_graph(), tmp_path / "m")
    assert info.signature is not None
    assert info.signature.inputs == (ColumnSpec("a", "float32"), ColumnSpec("b", "float32"))
    model = load_model(tmp_path / "m")
    frame = pd.DataFrame({"b": [1.0, 2.0], "a": [10.0, 20.0]}, dtype="float32")
    np.testing.assert_allclose(model.predict(frame), [[11.0], [22.0]])
    with pytest.raises(InvalidInput, match=r"missing column.*'b'"):
        model.predict(frame[["a"]])
    with pytest.raises(InvalidInput, match="no predict_proba"):
        model.predict_proba(frame)


def test_log_with_an_export_and_load_it_from_the_run(
    home: Path, iris: tuple[pd.DataFrame, pd.Series], forest: Any
) -> None:
    X, _ = iris
    with loopml.start_run(experiment="flavors") as run:
        info = log_model(
            forest, "rf", log_artifacts=loopml.log_artifacts, input_example=X.head(10), onnx=True
        )
    assert info.path == "rf" and info.onnx is not None
    uri = f"runs:/{run.info.run_id}/rf"
    model = load_model(uri, download=get_client().download_artifacts, backend="onnx")
    assert model.backend == "onnx" and model.source == uri
    np.testing.assert_array_equal(model.predict(X), forest.predict(X))


def test_auto_backend_runs_the_export_when_there_is_one(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], forest: Any
) -> None:
    X, _ = iris
    save_model(forest, tmp_path / "with", input_example=X.head(20), onnx=True)
    save_model(forest, tmp_path / "without", input_example=X.head(20))
    exported = load_model(tmp_path / "with", backend="auto")
    plain = load_model(tmp_path / "without", backend="auto")
    assert (exported.backend, plain.backend) == ("onnx", "native")
    np.testing.assert_array_equal(exported.predict(X), forest.predict(X))
    np.testing.assert_array_equal(plain.predict(X), forest.predict(X))
    assert load_model(tmp_path / "with").backend == "native"  # the library default stays
