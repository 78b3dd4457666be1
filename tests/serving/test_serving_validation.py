"""Bad input gets a 4xx naming the column and the problem, a failing model a 500 for that
request only, and the server stays up through all of it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import tritonclient.http as tc
from prometheus_client.parser import text_string_to_metric_families

from loopml.serving import BatchPolicy

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROW = dict(zip(COLUMNS, [5.1, 3.5, 1.4, 0.2], strict=True))


def _score(url: str, body: Any) -> httpx.Response:
    return httpx.post(f"{url}/invocations", json=body, timeout=30)


def _infer(url: str, model: str, inputs: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/v2/models/{model}/infer", json={"inputs": inputs, **extra}, timeout=30
    )


def _message(response: httpx.Response) -> str:
    body = response.json()
    return str(body.get("message", body.get("error")))


@pytest.mark.parametrize(
    ("record", "status", "words"),
    [
        (
            {k: v for k, v in ROW.items() if k != "petal width (cm)"},
            400,
            ["missing", "'petal width (cm)'"],
        ),
        ({**ROW, "colour": "red"}, 400, ["unexpected", "'colour'"]),
        ({**ROW, "sepal width (cm)": "wide"}, 400, ["'sepal width (cm)'", "float64", "str"]),
        ({**ROW, "sepal width (cm)": "3.5"}, 400, ["'sepal width (cm)'", "str"]),
        ({**ROW, "sepal width (cm)": True}, 400, ["'sepal width (cm)'", "true/false"]),
        ({**ROW, "petal length (cm)": None}, 400, ["'petal length (cm)'", "null/NaN"]),
        ({**ROW, "sepal width (cm)": [1, 2]}, 400, ["'sepal width (cm)'"]),
        ({k: int(v) for k, v in ROW.items()}, 200, []),
    ],
    ids=["missing", "unexpected", "string", "numeric-string", "bool", "null", "list", "ints"],
)
def test_records_checked_against_the_signature(
    serve: Any, record: dict[str, Any], status: int, words: list[str]
) -> None:
    url = serve("iris")
    response = _score(url, {"dataframe_records": [ROW, record]})
    assert response.status_code == status, response.text
    for word in words:
        assert word in _message(response)


def test_extra_columns_dropped_when_allowed(serve: Any) -> None:
    url = serve("iris", allow_extra_columns=True)
    response = _score(url, {"dataframe_records": [{**ROW, "id": 17}]})
    assert response.status_code == 200 and response.json() == {"predictions": [0]}


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ({"age": 1.5}, ["'age'", "int64", "non-integer"]),
        ({"age": None}, ["'age'", "null"]),
        ({"age": 2**70}, ["'age'", "out of the integer range"]),
        ({"member": 1}, ["'member'", "bool"]),
        ({"income": "12"}, ["'income'", "str"]),
    ],
)
def test_typed_columns(serve: Any, record: dict[str, Any], words: list[str]) -> None:
    url = serve("mixed")
    good = {"age": 41, "income": 2.5, "member": False, "city": "Bergen"}
    assert _score(url, {"dataframe_records": [good]}).json() == {
        "predictions": ["41|2.5|False|Bergen"]
    }
    response = _score(url, {"dataframe_records": [{**good, **record}]})
    assert response.status_code == 400, response.text
    for word in words:
        assert word in _message(response)
    # a string column takes what comes: the model judges it
    assert _score(url, {"dataframe_records": [{**good, "city": 7}]}).status_code == 200


def test_nan_policy(serve: Any) -> None:
    allowed = serve("picky")  # pyfunc: auto lets NaN through
    response = _score(allowed, {"inputs": {"x": [1.0, None]}})
    assert response.status_code == 200 and response.json() == {"predictions": [2.0, None]}
    refused = serve("picky", nan_policy="reject")
    response = _score(refused, {"inputs": {"x": [1.0, None]}})
    assert response.status_code == 400 and "'x' has a null/NaN value (row 1)" in _message(response)


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        ([{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}], ["4 values"]),
        (
            [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}],
            ["4 values", "shape [2, 4]"],
        ),
        (
            [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ["1", 2, 3, 4]}],
            ["declared FP64", "strings"],
        ),
        (
            [{"name": "x", "shape": [1, 4], "datatype": "INT64", "data": [1.5, 2, 3, 4]}],
            ["declared INT64", "non-integer"],
        ),
        (
            [{"name": "x", "shape": [1, 4], "datatype": "INT8", "data": [1, 2, 3, 400]}],
            ["INT8 range"],
        ),
        ([{"name": "x", "shape": [1, 4], "datatype": "BF16", "data": [1, 2, 3, 4]}], ["BF16"]),
        (
            [{"name": "x", "shape": [1, 4], "datatype": "BYTES", "data": ["a", "b", "c", "d"]}],
            ["'sepal length (cm)'", "str"],
        ),
        ([{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [[1, 2], [3]]}], ["ragged"]),
        ([{"name": "x", "shape": [-1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}], ["shape"]),
        ([{"name": "x", "shape": [0, 4], "datatype": "FP64", "data": []}], ["no rows"]),
        (
            [{"name": c, "shape": [1], "datatype": "FP64", "data": [1]} for c in COLUMNS[:3]],
            ["missing", "'petal width (cm)'"],
        ),
        ([{"name": "x", "shape": [1, 4], "datatype": "FP64"}], ["no 'data'"]),
        ([], ["non-empty 'inputs'"]),
    ],
)
def test_bad_tensors(serve: Any, inputs: list[dict[str, Any]], words: list[str]) -> None:
    url = serve("iris")
    response = _infer(url, "iris", inputs)
    assert response.status_code == 400, response.text
    for word in words:
        assert word in response.json()["error"], response.json()


def test_bad_outputs_and_tensor_shapes(serve: Any) -> None:
    url = serve("iris", "tensor")
    good = [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]
    unknown = _infer(url, "iris", good, outputs=[{"name": "logits"}])
    assert unknown.status_code == 400 and "no output 'logits'" in unknown.json()["error"]
    classify = _infer(
        url, "iris", good, outputs=[{"name": "predict", "parameters": {"classification": 2}}]
    )
    assert classify.status_code == 400 and "classification" in classify.json()["error"]
    ok = _infer(
        url,
        "tensor",
        [{"name": "t", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}],
    )
    assert ok.status_code == 200 and ok.json()["outputs"][0]["data"] == [6.0, 15.0]
    wrong = _infer(
        url,
        "tensor",
        [{"name": "t", "shape": [3, 2], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}],
    )
    assert wrong.status_code == 400 and "[n, 3]" in wrong.json()["error"]
    huge = _infer(
        url, "tensor", [{"name": "t", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 1e300]}]
    )
    assert huge.status_code == 400 and "beyond the float32 range" in huge.json()["error"]
    huge = _infer(
        url, "tensor", [{"name": "t", "shape": [1, 3], "datatype": "FP16", "data": [1, 2, 1e6]}]
    )
    assert huge.status_code == 400 and "beyond the FP16 range" in huge.json()["error"]


def _binary(url: str, header: dict[str, Any], data: bytes, length: int | None = None) -> Any:
    head = json.dumps(header).encode()
    return httpx.post(
        f"{url}/v2/models/iris/infer",
        content=head + data,
        headers={"Inference-Header-Content-Length": str(len(head) if length is None else length)},
    )


def test_binary_data_that_does_not_add_up(serve: Any) -> None:
    url = serve("iris")
    tensor = {
        "name": "x",
        "shape": [1, 4],
        "datatype": "FP64",
        "parameters": {"binary_data_size": 32},
    }
    ok = _binary(url, {"inputs": [tensor]}, bytes(32))
    assert ok.status_code == 200, ok.text
    for header, data, length, words in [
        ({"inputs": [tensor]}, bytes(16), None, "only 16 are left"),
        ({"inputs": [tensor]}, bytes(40), None, "8 bytes of binary data belong to no input"),
        (
            {"inputs": [{**tensor, "parameters": {"binary_data_size": 16}}]},
            bytes(16),
            None,
            "needs 32",
        ),
        ({"inputs": [tensor]}, bytes(32), 10**6, "Inference-Header-Content-Length"),
        ({"inputs": [tensor]}, bytes(32), 5, "not valid JSON"),
    ]:
        response = _binary(url, header, data, length)
        assert response.status_code == 400 and words in response.json()["error"], response.text


def test_oversize_bodies_are_413(serve: Any) -> None:
    url = serve("iris")
    big = b"x" * (1024 * 1024 + 1)
    declared = httpx.post(
        url + "/invocations", content=big, headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 413 and "over 1048576 bytes" in _message(declared)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(20):
            yield b" " * 65536

    streamed = httpx.post(url + "/v2/models/iris/infer", content=chunks())
    assert streamed.status_code == 413 and "over 1048576 bytes" in streamed.json()["error"]
    rows = _score(url, {"instances": [[1, 2, 3, 4]] * 1001})
    assert rows.status_code == 413 and "1001 rows; the limit is 1000" in _message(rows)
    assert _score(url, {"instances": [[1, 2, 3, 4]]}).status_code == 200


def test_a_model_that_raises_fails_only_that_request(serve: Any) -> None:
    url = serve("picky")
    response = _score(url, {"inputs": {"x": [1.0, -3.0]}})
    assert response.status_code == 500
    body = response.json()
    assert body["error_code"] == "INTERNAL_ERROR"
    assert "ValueError: x must not be negative, got -3.0" in body["message"]
    assert "Traceback" not in response.text
    v2 = _infer(url, "picky", [{"name": "x", "shape": [1], "datatype": "FP64", "data": [-1]}])
    assert v2.status_code == 500 and "x must not be negative" in v2.json()["error"]
    client = tc.InferenceServerClient(url.removeprefix("http://"))
    assert client.is_server_ready()
    assert _score(url, {"inputs": {"x": [2.0]}}).json() == {"predictions": [4.0]}


def _in_flight(url: str) -> float:
    text = httpx.get(url + "/metrics").text
    family = next(
        f
        for f in text_string_to_metric_families(text)
        if f.name == "loopml_serving_in_flight_requests"
    )
    return sum(s.value for s in family.samples)


def test_clients_that_disconnect_leave_the_server_up(serve: Any) -> None:
    url = serve("counting", policy=BatchPolicy(threads=1))
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"inputs": {"a": [1.0], "b": [2.0]}}).encode()
    head = (
        "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\n\r\n"
    )
    # 1. gone halfway through the body
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.format(len(body)).encode() + body[:10])
    # 2. gone while the model works on its request (the model sleeps 0.2 s)
    for _ in range(3):
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(head.format(len(body)).encode() + body)
    response = _score(url, {"inputs": {"a": [1.0], "b": [2.0]}})
    assert response.status_code == 200 and response.json() == {"predictions": [3.0]}
    deadline = time.monotonic() + 20
    while _in_flight(url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _in_flight(url) == 0
