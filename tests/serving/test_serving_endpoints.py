"""Stored endpoints served over HTTP: weighted and sticky routes, the version and request-id
headers, shadow routes, the prediction log (sampled), POST /feedback and GET /endpoints."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx
import numpy as np
import tritonclient.http as tc
from _serving_process import Served, endpoint_store
from prometheus_client.parser import text_string_to_metric_families

from loopml.serving import log_root, read_log

ROW = [5.1, 3.5, 1.4, 0.2]
VERSION = "x-loopml-model-version"


def _score(url: str, **headers: str) -> httpx.Response:
    response = httpx.post(url + "/invocations", json={"instances": [ROW]}, headers=headers)
    assert response.status_code == 200, response.text
    return response


def _wait(condition: Any) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


def _logs(served: Served, kind: str, endpoint: str) -> Any:
    return read_log(log_root(served.settings.resolved_artifacts()), kind, endpoint)


def test_weighted_sticky_and_versioned_routes(
    registered: Any, serve_targets: Any, iris: Any
) -> None:
    endpoint_store().create(
        {
            "name": "flowers-ab",
            "routes": [
                {"model": "models:/flowers@champion", "weight": 1},
                {"model": "models:/flowers@challenger", "weight": 1},
            ],
            "sticky": {"header": "X-User"},
        }
    )
    served = serve_targets(["flowers-ab"])
    url = served.url
    answered = Counter(_score(url).headers[VERSION] for _ in range(40))
    assert set(answered) == {"flowers/1", "flowers/2"}  # both arms get traffic
    by_user = {
        user: {_score(url, **{"X-User": user}).headers[VERSION] for _ in range(3)}
        for user in (f"user-{i}" for i in range(12))
    }
    assert all(len(seen) == 1 for seen in by_user.values())  # a user stays on one arm
    assert {v for seen in by_user.values() for v in seen} == {"flowers/1", "flowers/2"}

    # The Open Inference Protocol, by endpoint name and by version.
    client = tc.InferenceServerClient(url.removeprefix("http://"))
    assert client.get_model_metadata("flowers-ab")["versions"] == ["1", "2"]
    X, _ = iris
    tensor = tc.InferInput("x", [2, 4], "FP64")
    tensor.set_data_from_numpy(X.iloc[[0, 100]].to_numpy())
    result = client.infer("flowers-ab", [tensor], model_version="1", request_id="req-1")
    assert result.get_response()["model_name"] == "flowers-ab"
    assert result.get_response()["model_version"] == "1" and result.get_response()["id"] == "req-1"
    assert result.as_numpy("predict").shape == (2,)

    # Request ids: the caller's header, else the V2 body's id, else a new one; always echoed.
    assert _score(url, **{"X-Request-Id": "abc-1"}).headers["x-request-id"] == "abc-1"
    body = {"id": "body-7", "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64",
                                        "data": ROW}]}  # fmt: skip
    answer = httpx.post(url + "/v2/models/flowers-ab/infer", json=body)
    assert answer.headers["x-request-id"] == "body-7" and answer.json()["id"] == "body-7"
    made = _score(url).headers["x-request-id"]
    assert len(made) == 32 and int(made, 16) >= 0
    too_long = httpx.post(url + "/invocations", json={"instances": [ROW]},
                          headers={"X-Request-Id": "x" * 200})  # fmt: skip
    assert too_long.status_code == 400 and "request id" in too_long.json()["message"]

    status = httpx.get(url + "/endpoints").json()["endpoints"]
    assert status[0]["name"] == "flowers-ab" and status[0]["generation"] == 1
    assert [(r["target"], r["version"], r["share"]) for r in status[0]["routes"]] == [
        ("models:/flowers@champion", "1", 0.5),
        ("models:/flowers@challenger", "2", 0.5),
    ]
    assert status[0]["sticky"] == {"header": "x-user", "field": None}


def test_shadows_and_the_prediction_log(registered: Any, serve_targets: Any) -> None:
    store = endpoint_store()
    store.create({"name": "flowers", "routes": [{"model": "models:/flowers@production"}],
                  "shadows": [{"model": "models:/flowers@champion"}]})  # fmt: skip
    store.create({"name": "quiet", "routes": [{"model": "models:/flowers/1"}],
                  "logging": {"sample": 0}})  # fmt: skip
    served = serve_targets(["flowers", "quiet"])
    ids = [f"r{i}" for i in range(8)]
    for request_id in ids:
        response = _score(served.url, **{"X-Request-Id": request_id})
        assert response.headers[VERSION] == "flowers/2"  # shadows never answer
    v2 = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
    for _ in range(3):
        assert httpx.post(served.url + "/v2/models/quiet/infer", json=v2).status_code == 200
    bad = httpx.post(served.url + "/invocations", json={"instances": [[1.0, 2.0]]},
                     headers={"X-Request-Id": "bad-1"})  # fmt: skip
    assert bad.status_code == 400
    _wait(lambda: served.pool.shadows.done == len(ids))

    text = httpx.get(served.url + "/metrics").text
    shadows = {
        (s.labels["version"], s.labels["outcome"]): s.value
        for f in text_string_to_metric_families(text)
        if f.name == "loopml_serving_shadow_requests"
        for s in f.samples
        if s.name.endswith("_total")
    }
    assert shadows == {("1", "ok"): 8}
    queued = next(f for f in text_string_to_metric_families(text)
                  if f.name == "loopml_serving_log_queue_rows")  # fmt: skip
    depth = {s.labels["log"]: s.value for s in queued.samples}
    assert depth == {"predictions": 17, "feedback": 0}  # 8 answers, 8 shadows, 1 refusal
    served.stop()  # flushes the log

    rows = _logs(served, "predictions", "flowers")
    answered, mirrored = rows[~rows["shadow"]], rows[rows["shadow"]]
    assert sorted(mirrored["request_id"]) == ids
    assert set(mirrored["version"]) == {"1"} and set(mirrored["status"]) == {200}
    assert sorted(answered["request_id"]) == sorted([*ids, "bad-1"])
    good = answered[answered["status"] == 200]
    assert set(good["version"]) == {"2"} and set(good["row"]) == {0}
    assert list(good["f.sepal length (cm)"].unique()) == [5.1]
    assert good["prediction"].notna().all() and (good["latency_ms"] > 0).all()
    failed = answered[answered["request_id"] == "bad-1"].iloc[0]
    assert failed["status"] == 400 and "rows must have 4 values" in failed["error"]
    assert failed["row"] == -1  # refused before its rows were read
    assert _logs(served, "predictions", "quiet").empty  # sampled at 0


def test_feedback(registered: Any, serve_targets: Any) -> None:
    endpoint_store().create({"name": "live", "routes": [{"model": "models:/flowers/2"}]})
    served = serve_targets(["live", "models:/flowers/1"])  # endpoints live and flowers
    url = served.url + "/feedback"

    def post(body: Any, **headers: str) -> httpx.Response:
        return httpx.post(url, json=body, headers=headers)

    one = post({"request_id": "r1", "label": 1, "endpoint": "flowers"})
    assert one.status_code == 202 and one.json() == {"recorded": 1, "endpoint": "flowers"}
    batch = {"endpoint": "flowers", "feedback": [
        {"request_id": "r2", "label": "setosa", "row": 3}, {"request_id": "never-seen", "label": 0},
    ]}  # fmt: skip
    assert post(batch).json()["recorded"] == 2
    problems = {
        "feedback[1].label": {"endpoint": "flowers", "feedback": [
            {"request_id": "a", "label": 1}, {"request_id": "b", "label": None}]},
        "feedback[0].row": {"endpoint": "flowers",
                            "feedback": [{"request_id": "a", "label": 1, "row": -1}]},
        "feedback[0]: unexpected key(s) 'lable'": {"endpoint": "flowers",
                                                   "feedback": [{"request_id": "a", "lable": 1}]},
        "the label.request_id": {"endpoint": "flowers", "label": 1},
        "name the endpoint the labels are for: one of live, flowers": {
            "request_id": "a", "label": 1},
        "'feedback' must be a non-empty list": {"endpoint": "flowers", "feedback": []},
    }  # fmt: skip
    for message, body in problems.items():
        refused = post(body)
        assert refused.status_code == 400 and message in refused.json()["message"], message
    assert post({"endpoint": "elsewhere", "request_id": "a", "label": 1}).status_code == 404
    text = httpx.post(url, content=b"r1,1", headers={"Content-Type": "text/csv"})
    assert text.status_code == 415
    served.stop()
    labels = _logs(served, "feedback", "flowers")
    assert list(labels.sort_values("request_id")["request_id"]) == ["never-seen", "r1", "r2"]
    assert sorted(labels["row"]) == [0, 0, 3]
    assert np.array_equal(labels.sort_values("request_id")["label"], ["0", "1", "setosa"])
