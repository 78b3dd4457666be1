"""Open Inference Protocol V2 over real HTTP, with the real tritonclient.http client."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as tc
from tritonclient.utils import InferenceServerException

from loopml.models import load_model


def _client(url: str) -> tc.InferenceServerClient:
    return tc.InferenceServerClient(url.removeprefix("http://"))


def _tensor(name: str, array: np.ndarray, datatype: str, *, binary: bool = True) -> Any:
    tensor = tc.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def test_health_and_metadata(serve: Any) -> None:
    client = _client(serve("iris", "picky"))
    assert client.is_server_live() and client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta["name"] == "loopml" and "binary_tensor_data" in meta["extensions"]
    assert client.is_model_ready("iris") and client.is_model_ready("picky")
    assert not client.is_model_ready("nope")
    model = client.get_model_metadata("iris")
    assert model["name"] == "iris" and model["platform"] == "sklearn" and "versions" not in model
    assert [i["name"] for i in model["inputs"]] == [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ]
    assert {i["datatype"] for i in model["inputs"]} == {"FP64"}
    outputs = {o["name"]: o for o in model["outputs"]}
    assert outputs["predict"]["datatype"] == "INT64"
    assert outputs["predict_proba"] == {
        "name": "predict_proba",
        "datatype": "FP64",
        "shape": [-1, 3],
    }
    with pytest.raises(InferenceServerException, match="no model named 'nope'"):
        client.get_model_metadata("nope")
    with pytest.raises(InferenceServerException, match="no version '1'"):
        client.get_model_metadata("iris", "1")


def test_infer_with_the_clients_defaults(serve: Any, iris: Any, model_dirs: Any) -> None:
    """Binary tensor data in (no Content-Type), binary output asked for; one [n, 4] tensor."""
    X, _ = iris
    client = _client(serve("iris"))
    rows = X.iloc[40:60].to_numpy()
    result = client.infer("iris", [_tensor("input-0", rows, "FP64")], request_id="req-7")
    expected = load_model(model_dirs["iris"]).predict(X.iloc[40:60])
    np.testing.assert_array_equal(result.as_numpy("predict"), expected)
    response = result.get_response()
    assert response["id"] == "req-7" and response["model_name"] == "iris"


@pytest.mark.parametrize("binary", [True, False])
def test_infer_one_input_per_column_and_asked_outputs(
    serve: Any, iris: Any, model_dirs: Any, binary: bool
) -> None:
    X, _ = iris
    client = _client(serve("iris"))
    rows = X.iloc[::15]
    inputs = [_tensor(c, rows[[c]].to_numpy(), "FP64", binary=binary) for c in X.columns]
    outputs = [
        tc.InferRequestedOutput("predict_proba", binary_data=binary),
        tc.InferRequestedOutput("predict", binary_data=binary),
    ]
    result = client.infer("iris", inputs, outputs=outputs, parameters={"note": "x"})
    model = load_model(model_dirs["iris"])
    np.testing.assert_allclose(result.as_numpy("predict_proba"), model.predict_proba(rows))
    np.testing.assert_array_equal(result.as_numpy("predict"), model.predict(rows))
    assert [o["name"] for o in result.get_response()["outputs"]] == ["predict_proba", "predict"]


@pytest.mark.parametrize("binary", [True, False])
def test_string_outputs_are_bytes(serve: Any, iris: Any, model_dirs: Any, binary: bool) -> None:
    X, _ = iris
    client = _client(serve("iris-names"))
    outputs = [tc.InferRequestedOutput("predict", binary_data=binary)]
    rows = X.iloc[::10]
    result = client.infer("iris-names", [_tensor("x", rows.to_numpy(), "FP64")], outputs=outputs)
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("predict")]
    assert labels == list(load_model(model_dirs["iris-names"]).predict(rows))
    assert {"setosa", "versicolor", "virginica"} <= set(labels)
    assert result.get_response()["outputs"][0]["datatype"] == "BYTES"


_DATATYPES = {
    "BOOL": np.array([[True, False], [False, True]]),
    "INT8": np.array([[-128, 127]], dtype=np.int8),
    "INT16": np.array([[-32768, 32767]], dtype=np.int16),
    "INT32": np.array([[-(2**31), 2**31 - 1]], dtype=np.int32),
    "INT64": np.array([[-(2**63), 2**63 - 1]], dtype=np.int64),
    "UINT8": np.array([[0, 255]], dtype=np.uint8),
    "UINT16": np.array([[0, 65535]], dtype=np.uint16),
    "UINT32": np.array([[0, 2**32 - 1]], dtype=np.uint32),
    "UINT64": np.array([[0, 2**64 - 1]], dtype=np.uint64),
    "FP16": np.array([[0.5, -2.0]], dtype=np.float16),
    "FP32": np.array([[1.25, -3.5]], dtype=np.float32),
    "FP64": np.array([[1e300, -1e-300]], dtype=np.float64),
    "BYTES": np.array([["ab", "ünï"], ["", "x y"]], dtype=object),
}


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("datatype", list(_DATATYPES))
def test_every_datatype_round_trips(serve: Any, datatype: str, binary: bool) -> None:
    client = _client(serve("echo"))
    array = _DATATYPES[datatype]
    if datatype == "BYTES" and binary:
        array = np.array([[v.encode() for v in row] for row in array], dtype=object)
    outputs = [tc.InferRequestedOutput("predict", binary_data=binary)]
    result = client.infer("echo", [_tensor("x", array, datatype, binary=binary)], outputs=outputs)
    got = result.as_numpy("predict")
    assert result.get_response()["outputs"][0]["datatype"] == datatype
    if datatype == "BYTES":
        text = [[v.decode() if isinstance(v, bytes) else v for v in row] for row in got]
        assert text == [["ab", "ünï"], ["", "x y"]]
    else:
        np.testing.assert_array_equal(got, array)
        assert got.dtype == array.dtype


def test_errors_are_json_on_every_v2_route(serve: Any) -> None:
    url = serve("iris")
    for method, path in [
        ("GET", "/v2/nothing/here"),
        ("GET", "/v2/models/iris/infer"),
        ("POST", "/v2/models/nope/infer"),
        ("GET", "/v2/models/nope/ready"),
        ("GET", "/v2/models/iris/versions/3"),
        ("DELETE", "/v2"),
    ]:
        response = httpx.request(method, url + path)
        assert response.status_code in (404, 405), (path, response.status_code)
        assert isinstance(response.json()["error"], str), path
    bad = httpx.post(url + "/v2/models/iris/infer", content=b'{"inputs": [')
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
    assert bad.headers["x-loopml-model-version"] == "iris"


def test_infer_with_plain_json_and_curl_style_body(serve: Any, iris: Any) -> None:
    X, _ = iris
    url = serve("iris")
    body = {
        "id": "abc",
        "inputs": [
            {
                "name": "x",
                "shape": [2, 4],
                "datatype": "FP32",
                "data": X.iloc[[0, 100]].to_numpy().tolist(),
            }
        ],
        "outputs": [{"name": "predict"}],
    }
    response = httpx.post(url + "/v2/models/iris/infer", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["id"] == "abc" and answer["model_name"] == "iris"
    assert answer["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": [2], "data": [0, 2]}
    ]
    assert response.headers["x-loopml-model-version"] == "iris"


def test_integers_widen_to_float_columns(serve: Any, iris: Any, model_dirs: Any) -> None:
    X, _ = iris
    client = _client(serve("iris"))
    rows = np.array([[5, 3, 1, 0], [6, 3, 5, 2]], dtype=np.int32)
    result = client.infer("iris", [_tensor("x", rows, "INT32")])
    expected = load_model(model_dirs["iris"]).predict(pd.DataFrame(rows, columns=X.columns))
    np.testing.assert_array_equal(result.as_numpy("predict"), expected)


def test_onnx_backend(tmp_path: Any, iris: Any, settings: Any) -> None:
    """A scikit-learn model's checked ONNX export, served by onnxruntime."""
    from sklearn.ensemble import RandomForestClassifier

    from _servers import ThreadedAppServer
    from loopml.models import save_model
    from loopml.server.serving import create_serving_app
    from loopml.serving import ModelPool

    X, y = iris
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    save_model(forest, tmp_path / "forest", input_example=X.head(5), onnx=True, onnx_sample=X)
    pool = ModelPool.load(
        [str(tmp_path / "forest")], settings=settings.model_copy(update={"serve_backend": "onnx"})
    )
    try:
        assert pool.get("forest").model.backend == "onnx"
        with ThreadedAppServer(create_serving_app(pool, settings=settings)) as server:
            client = _client(server.url)
            outputs = [tc.InferRequestedOutput("predict"), tc.InferRequestedOutput("predict_proba")]
            result = client.infer("forest", [_tensor("x", X.to_numpy(), "FP64")], outputs=outputs)
            np.testing.assert_array_equal(result.as_numpy("predict"), forest.predict(X))
            np.testing.assert_allclose(
                result.as_numpy("predict_proba"), forest.predict_proba(X), atol=1e-4
            )
            scored = httpx.post(
                server.url + "/invocations", json={"instances": X.head(3).values.tolist()}
            )
            assert scored.json() == {"predictions": forest.predict(X.head(3)).tolist()}
    finally:
        pool.close()


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_requests(serve: Any, iris: Any, model_dirs: Any, algorithm: str) -> None:
    X, _ = iris
    client = _client(serve("iris"))
    rows = X.iloc[::7].to_numpy()
    result = client.infer(
        "iris",
        [_tensor("x", rows, "FP64")],
        request_compression_algorithm=algorithm,
        response_compression_algorithm=algorithm,  # asked for; a plain answer is fine too
    )
    expected = load_model(model_dirs["iris"]).predict(X.iloc[::7])
    np.testing.assert_array_equal(result.as_numpy("predict"), expected)


def test_compression_bombs_and_bad_encodings(serve: Any) -> None:
    import gzip

    url = serve("iris") + "/v2/models/iris/infer"
    bomb = gzip.compress(b" " * (2 * 1024 * 1024))  # 2 MiB of spaces, 2 KiB on the wire
    response = httpx.post(url, content=bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413 and "over 1048576 bytes" in response.json()["error"]
    cut = gzip.compress(b'{"inputs": []}')[:-12]
    response = httpx.post(url, content=cut, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400 and "cut short" in response.json()["error"]
    response = httpx.post(url, content=b"{}", headers={"Content-Encoding": "br"})
    assert response.status_code == 415 and "gzip or deflate" in response.json()["error"]
    response = httpx.post(url, content=b"not gzip", headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400 and "not valid gzip" in response.json()["error"]
