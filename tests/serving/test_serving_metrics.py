"""GET /metrics, read back with prometheus_client's own parser."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families


def _families(url: str) -> dict[str, Any]:
    response = httpx.get(url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(response.text)}


def _samples(family: Any, suffix: str = "") -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for s in family.samples
        if s.name == family.name + suffix
    }


def test_metrics_count_time_and_describe_requests(serve: Any) -> None:
    url = serve("iris", "picky")
    row = [5.1, 3.5, 1.4, 0.2]
    for _ in range(3):
        assert httpx.post(url + "/invocations", json={"instances": [row]}).status_code == 200
    v2 = {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": row * 2}]}
    assert httpx.post(url + "/v2/models/iris/infer", json=v2).status_code == 200
    assert httpx.post(url + "/invocations", json={"instances": [[1, 2]]}).status_code == 400
    bad = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [-1]}]}
    assert httpx.post(url + "/v2/models/picky/infer", json=bad).status_code == 500
    assert httpx.post(url + "/v2/models/nope/infer", json=bad).status_code == 404

    families = _families(url)
    requests = _samples(families["loopml_serving_requests"], "_total")

    def key(model: str, *labels: tuple[str, str]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted([("endpoint", model), ("model", model), ("version", ""), *labels]))

    assert requests[key("iris", ("protocol", "invocations"), ("status", "200"))] == 3
    assert requests[key("iris", ("protocol", "v2"), ("status", "200"))] == 1
    assert requests[key("iris", ("protocol", "invocations"), ("status", "400"))] == 1
    assert requests[key("picky", ("protocol", "v2"), ("status", "500"))] == 1
    assert not any(("model", "nope") in k for k in requests)  # no label for unknown names

    latency = families["loopml_serving_request_duration_seconds"]
    assert latency.type == "histogram"
    counts = _samples(latency, "_count")
    assert counts[key("iris", ("protocol", "invocations"))] == 4
    buckets = [s for s in latency.samples if s.name.endswith("_bucket")]
    assert {s.labels["le"] for s in buckets} >= {"0.001", "0.01", "+Inf"}

    rows = _samples(families["loopml_serving_batch_rows"], "_sum")
    assert rows[key("iris")] == 5  # 3 single rows and a pair
    assert families["loopml_serving_batch_requests"].type == "histogram"
    assert families["loopml_serving_predict_duration_seconds"].type == "histogram"

    in_flight = families["loopml_serving_in_flight_requests"]
    assert in_flight.type == "gauge" and set(_samples(in_flight).values()) == {0}
    loads = _samples(families["loopml_serving_model_load_seconds"])
    assert loads[key("iris")] > 0
    assert set(loads) == {key("iris"), key("picky")}
