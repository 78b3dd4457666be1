"""Adaptive batching over real HTTP: concurrent requests share predict calls (counted by a
pyfunc model), a lone request goes at once, and one bad request fails alone."""

from __future__ import annotations

import asyncio
from typing import Any

import _serving_models
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from loopml.serving import BatchPolicy


async def _many(url: str, bodies: list[dict[str, Any]], path: str = "/invocations") -> list[Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(*(client.post(url + path, json=b) for b in bodies))


def _rows(n: int) -> list[dict[str, Any]]:
    return [{"dataframe_records": [{"a": float(i), "b": 0.5}]} for i in range(n)]


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    _serving_models.CALLS.clear()


def _histogram(url: str, name: str) -> tuple[float, float]:
    """(count, sum) of a histogram family, over its label sets."""
    text = httpx.get(url + "/metrics").text
    family = next(f for f in text_string_to_metric_families(text) if f.name == name)
    count = sum(s.value for s in family.samples if s.name.endswith("_count"))
    total = sum(s.value for s in family.samples if s.name.endswith("_sum"))
    return count, total


def test_concurrent_requests_share_predict_calls(serve: Any) -> None:
    url = serve("counting", policy=BatchPolicy(max_batch_size=64, threads=1))
    responses = asyncio.run(_many(url, _rows(12)))
    assert [r.json() for r in responses] == [{"predictions": [i + 0.5]} for i in range(12)]
    calls = list(_serving_models.CALLS)
    assert sum(calls) == 12
    assert len(calls) < 12 and max(calls) > 1, calls  # coalesced
    assert _histogram(url, "loopml_serving_batch_requests") == (len(calls), 12)
    assert _histogram(url, "loopml_serving_batch_rows") == (len(calls), 12)


def test_a_lone_request_does_not_wait_for_max_wait(serve: Any) -> None:
    # A minute of max wait: any request held back for it would time out below.
    policy = BatchPolicy(max_wait_ms=60_000, threads=2)
    url = serve("counting", policy=policy)
    body = {"inputs": {"a": [1.0], "b": [2.0]}}
    alone = httpx.post(url + "/invocations", json=body, timeout=10)
    assert alone.json() == {"predictions": [3.0]}
    # Another call running does hold a newcomer back, but only until the model is idle.
    pair = asyncio.run(_many(url, [body, body]))
    assert [r.json() for r in pair] == [{"predictions": [3.0]}] * 2
    assert _serving_models.CALLS == [1, 1, 1]


def test_max_batch_size_caps_the_rows_of_a_call(serve: Any) -> None:
    url = serve("counting", policy=BatchPolicy(max_batch_size=4, threads=1))
    responses = asyncio.run(_many(url, _rows(12)))
    assert all(r.status_code == 200 for r in responses)
    assert sum(_serving_models.CALLS) == 12 and max(_serving_models.CALLS) <= 4
    # one request over the cap still runs, alone
    big = httpx.post(url + "/invocations", json={"instances": [[1.0, 2.0]] * 9}, timeout=10)
    assert big.json() == {"predictions": [3.0] * 9} and _serving_models.CALLS[-1] == 9


def test_batching_off_gives_one_call_per_request(serve: Any) -> None:
    url = serve("counting", policy=BatchPolicy(enabled=False))
    responses = asyncio.run(_many(url, _rows(5)))
    assert all(r.status_code == 200 for r in responses)
    assert _serving_models.CALLS == [1] * 5


def test_a_bad_request_fails_alone_in_its_batch(serve: Any) -> None:
    url = serve("slow-picky", policy=BatchPolicy(threads=1))
    values = [1.0, 2.0, -1.0, 3.0, 4.0, -2.0, 5.0]
    responses = asyncio.run(_many(url, [{"inputs": {"x": [v]}} for v in values]))
    for value, response in zip(values, responses, strict=True):
        if value < 0:
            assert response.status_code == 500
            assert f"x must not be negative, got {value}" in response.json()["message"]
        else:
            assert response.json() == {"predictions": [value * 2]}
    # coalesced (fewer calls than requests) even though two batches were retried one by one
    calls, _ = _histogram(url, "loopml_serving_batch_requests")
    assert calls >= 2


def test_requests_of_different_shapes_are_not_stacked(serve: Any) -> None:
    url = serve("slow-echo", policy=BatchPolicy(threads=1))
    bodies = [
        {
            "inputs": [
                {"name": "x", "shape": [1, width], "datatype": "FP64", "data": list(range(width))}
            ]
        }
        for width in (2, 3, 2, 3, 1)
    ]
    responses = asyncio.run(_many(url, bodies, "/v2/models/slow-echo/infer"))
    for body, response in zip(bodies, responses, strict=True):
        assert response.status_code == 200, response.text
        assert response.json()["outputs"][0]["data"] == body["inputs"][0]["data"]


def test_v2_and_invocations_requests_batch_together(serve: Any) -> None:
    url = serve("counting", policy=BatchPolicy(threads=1))

    async def mixed() -> list[Any]:
        async with httpx.AsyncClient(timeout=30) as client:
            v2 = {
                "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [1, 2, 3, 4]}]
            }
            calls = [client.post(url + "/invocations", json={"inputs": {"a": [1.0], "b": [1.0]}})]
            calls += [client.post(url + "/v2/models/counting/infer", json=v2) for _ in range(4)]
            calls += [client.post(url + "/invocations", json={"instances": [[2.0, 2.0]]})]
            return await asyncio.gather(*calls)

    first, *v2s, last = asyncio.run(mixed())
    assert first.json() == {"predictions": [2.0]} and last.json() == {"predictions": [4.0]}
    for response in v2s:
        assert response.json()["outputs"][0]["data"] == [3.0, 7.0]
    assert sum(_serving_models.CALLS) == 10 and len(_serving_models.CALLS) < 6
