"""MLflow's scoring protocol (/invocations) over real HTTP, with the request bodies MLflow
users send: pandas' split and records orients, TF-serving instances and inputs, CSV and
Parquet, and MLflow's own scoring client."""

from __future__ import annotations

import io
import json
import warnings
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from loopml.models import load_model


def _post(url: str, body: Any, content_type: str = "application/json") -> httpx.Response:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return httpx.post(f"{url}/invocations", content=data, headers={"Content-Type": content_type})


@pytest.fixture
def iris_url(serve: Any) -> str:
    return str(serve("iris"))


@pytest.fixture
def expected(iris: Any, model_dirs: Any) -> list[int]:
    X, _ = iris
    return [int(v) for v in load_model(model_dirs["iris"]).predict(X.iloc[::30])]


def _rows(iris: Any) -> pd.DataFrame:
    return iris[0].iloc[::30]


def test_dataframe_split_as_pandas_writes_it(iris_url: str, iris: Any, expected: Any) -> None:
    frame = _rows(iris)
    response = _post(iris_url, {"dataframe_split": json.loads(frame.to_json(orient="split"))})
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-loopml-model-version"] == "iris"
    # columns in another order are matched by name
    shuffled = frame[list(reversed(frame.columns))]
    response = _post(iris_url, {"dataframe_split": shuffled.to_dict(orient="split")})
    assert response.json() == {"predictions": expected}


def test_dataframe_records_instances_and_inputs(iris_url: str, iris: Any, expected: Any) -> None:
    frame = _rows(iris)
    records = frame.to_dict(orient="records")
    bodies = [
        {"dataframe_records": records},
        {"instances": records},
        {"instances": frame.to_numpy().tolist()},
        {"inputs": frame.to_dict(orient="list")},
        {"inputs": frame.to_numpy().tolist()},
        {"dataframe_records": records, "params": {"threshold": 0.3}},
    ]
    for body in bodies:
        response = _post(iris_url, body)
        assert response.status_code == 200, (body, response.text)
        assert response.json() == {"predictions": expected}, body
    one = _post(iris_url, {"inputs": records[0]})  # one row as scalars
    assert one.json() == {"predictions": expected[:1]}


def test_csv_and_parquet(iris_url: str, iris: Any, expected: Any) -> None:
    frame = _rows(iris)
    response = _post(iris_url, frame.to_csv(index=False), "text/csv")
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected}
    response = _post(iris_url, frame.to_csv(index=False), "text/csv; charset=utf-8")
    assert response.json() == {"predictions": expected}
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    response = _post(iris_url, buffer.getvalue(), "application/vnd.apache.parquet")
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected}


def test_mlflows_own_client_and_payload_helper(iris_url: str, iris: Any, expected: Any) -> None:
    with warnings.catch_warnings():
        # MLflow's helpers raise DeprecationWarnings/FutureWarnings under pandas 3
        warnings.simplefilter("ignore")
        from mlflow.models import convert_input_example_to_serving_input
        from mlflow.pyfunc.scoring_server.client import ScoringServerClient

        frame = _rows(iris)
        payload = convert_input_example_to_serving_input(frame)
        host, port = iris_url.removeprefix("http://").split(":")
        client = ScoringServerClient(host, int(port))
        client.wait_server_ready(timeout=10)
        answer = client.invoke(frame)
    response = _post(iris_url, payload)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected}
    assert [int(v) for v in answer.get_predictions(predictions_format="ndarray")] == expected


def test_string_predictions_and_pyfunc_lists(serve: Any, iris: Any) -> None:
    url = serve("iris-names", "mixed")
    response = _post(url, {"dataframe_records": _rows(iris).to_dict(orient="records")})
    assert response.status_code == 200
    assert set(response.json()["predictions"]) <= {"setosa", "versicolor", "virginica"}


def test_ping_health_version(iris_url: str) -> None:
    for path in ("/ping", "/health"):
        response = httpx.get(iris_url + path)
        assert response.status_code == 200 and response.text == "\n"
    version = httpx.get(iris_url + "/version")
    assert version.status_code == 200 and version.text


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (None, 415),
        ("application/x-www-form-urlencoded", 415),
        ("application/json; charset=latin-1", 415),
        ("application/json; format=pandas-split", 415),
        ("text/plain", 415),
    ],
)
def test_content_types_mlflow_refuses(iris_url: str, content_type: Any, status: int) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(
        iris_url + "/invocations", content=b'{"inputs": [[1,2,3,4]]}', headers=headers
    )
    assert response.status_code == status
    body = response.json()
    assert (body["error_code"] == "BAD_REQUEST" and "Content-Type" in body["message"]) or (
        "UTF-8" in body["message"]
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"dataframe_split": ', "not valid JSON"),
        (b"[[1, 2, 3, 4]]", "JSON object"),
        (b'{"data": [[1, 2, 3, 4]]}', "exactly one of"),
        (b'{"inputs": [[1, 2, 3, 4]], "instances": [[1, 2, 3, 4]]}', "exactly one of"),
        (b'{"dataframe_split": {"columns": ["a"]}}', "dataframe_split must be"),
        (b'{"dataframe_records": {"a": 1}}', "list of"),
        (b'{"instances": [[1, 2, 3]]}', "4 values"),
        (b'{"instances": []}', "rows"),
        ('{"inputs": "\udcff"}'.encode("utf-8", "surrogatepass"), "not valid JSON"),
    ],
)
def test_malformed_bodies_are_400(iris_url: str, body: bytes, message: str) -> None:
    response = _post(iris_url, body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert message in answer["message"] and answer["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Traceback" not in response.text


def test_bad_csv(iris_url: str) -> None:
    bad = "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n1,2,x,4\n"
    response = _post(iris_url, bad, "text/csv")
    assert response.status_code == 400
    assert "petal length (cm)" in response.json()["message"] and "'x'" in response.json()["message"]
    response = _post(iris_url, b"\xff\xfe", "text/csv")
    assert response.status_code == 400 and "UTF-8" in response.json()["message"]
    response = _post(iris_url, b"not parquet", "application/vnd.apache.parquet")
    assert response.status_code == 400 and "Parquet" in response.json()["message"]


def test_numpy_predictions_keep_their_shape(serve: Any) -> None:
    url = serve("echo")
    response = _post(url, {"inputs": [[1.5, 2.0], [3.0, 4.5]]})
    assert response.json() == {"predictions": [[1.5, 2.0], [3.0, 4.5]]}
    response = _post(url, {"instances": [True, False]})
    assert response.json() == {"predictions": [True, False]}
    assert np.asarray(response.json()["predictions"]).dtype == bool
