"""The remote transport's own edges: the wire codec, loopml's API on the server, and a
server that is down, wrong, or restarted under a logging client."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from _servers import ThreadedAppServer, free_ports
from loopml.client import Client
from loopml.config import Settings
from loopml.errors import InvalidInput, LoopMLError, NotFound, Unavailable
from loopml.server import create_app
from loopml.tracking import Metric, RunBatch, RunStatus, ViewType
from loopml.tracking._codec import decode, encode

# -- the codec ----------------------------------------------------------------------------
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(max_size=64),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(values)
def test_codec_roundtrips_plain_values(value: Any) -> None:
    import orjson

    assert decode(orjson.loads(orjson.dumps(encode(value)))) == value


def test_codec_keeps_entities_nan_and_tag_like_keys() -> None:
    import orjson

    batch = RunBatch(
        metrics=[("m", math.nan, 1, 0), ("m", math.inf, 2, 1), ("n", -0.0, 3, 2)],
        params={"$type": "not a tag"},
        tags={"$float": "nan"},
        finish=(RunStatus.FAILED, 5),
    )
    back = decode(orjson.loads(orjson.dumps(encode(batch))))
    assert isinstance(back, RunBatch) and back.finish == (RunStatus.FAILED, 5)
    assert math.isnan(back.metrics[0][1]) and back.metrics[1][1] == math.inf
    assert math.copysign(1, back.metrics[2][1]) == -1  # every bit kept, the sign of zero too
    assert back.params == {"$type": "not a tag"} and back.tags == {"$float": "nan"}
    points = [Metric("a", 1.0, 2, 3)]
    assert decode(orjson.loads(orjson.dumps(encode(points)))) == points
    assert decode(encode({1: ViewType.ALL})) == {1: ViewType.ALL}


@pytest.mark.parametrize(
    "wire",
    [
        {"$type": "Popen", "fields": {}},
        {"$type": "RunInfo", "fields": {"nope": 1}},
        {"$enum": "RunStatus", "value": "EXPLODED"},
        {"$float": "1e400"},
        {"$points": {"k": ["a"], "v": "!!", "t": [1], "s": [1], "named": True}},
    ],
)
def test_codec_refuses_what_it_does_not_know(wire: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match="malformed"):
        decode(wire)


# -- loopml's API on the server -----------------------------------------------------------
@pytest.fixture
def server(tmp_path: Path) -> Any:
    settings = Settings(home=tmp_path / "home", max_upload_mb=1)
    with ThreadedAppServer(create_app(settings)) as live:
        yield live


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/call/runs/nope", {}, 404, "no method runs.nope"),
        ("/call/artifacts/log_file", {"args": ["r", "/etc/passwd"]}, 404, "no method"),
        ("/call/store/dispose", {}, 404, "no method"),
        ("/call/runs/get", b"{not json", 400, "malformed JSON"),
        ("/call/runs/get", [1, 2], 400, "JSON object"),
        ("/call/runs/get", {"args": {"a": 1}}, 400, '"args" must be'),
        ("/call/runs/get", {"args": []}, 400, "runs.get: missing"),
        ("/call/runs/get", {"kwargs": {"colour": 1, "run_id": "x"}}, 400, "runs.get:"),
        ("/call/runs/get", {"args": ["0" * 32]}, 404, "does not exist"),
        ("/call/runs/get", {"args": [{"$type": "Popen", "fields": {}}]}, 400, "malformed"),
        ("/call/experiments/create", {"args": [""]}, 400, "name"),
        ("/call/runs/get", b"x" * (1024 * 1024 + 1), 413, "limit"),
    ],
)
def test_native_api_answers_bad_calls_with_4xx(
    server: Any, path: str, body: Any, status: int, message: str
) -> None:
    raw = body if isinstance(body, bytes) else None
    response = httpx.post(
        f"{server.url}/api/loopml/v1{path}", content=raw, json=None if raw else body
    )
    assert response.status_code == status, response.text
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "path", ["../../etc/passwd", "%2e%2e/x", "a/%252e%252e/%252e%252e/x", "/abs", "a\\..\\b"]
)
def test_native_artifact_routes_confine_paths(server: Any, path: str) -> None:
    client = Client(Settings(home=Path("/nonexistent"), tracking_uri=server.url))
    run_id = client.create_run().info.run_id
    client.flush()
    url = f"{server.url}/api/loopml/v1/runs/{run_id}/artifacts/{path}"
    put = httpx.put(url, content=b"x")
    assert put.status_code in (400, 404), put.text
    assert httpx.get(url).status_code in (400, 404)
    assert client.list_artifacts(run_id) == [] or all(
        ".." not in a.path for a in client.list_artifacts(run_id)
    )


def test_upload_over_the_limit_is_413_and_stores_nothing(server: Any) -> None:
    client = Client(Settings(home=Path("/nonexistent"), tracking_uri=server.url))
    run_id = client.create_run().info.run_id
    with pytest.raises(LoopMLError, match="LOOPML_MAX_UPLOAD_MB"):
        client.service.artifacts.log_bytes(run_id, b"0" * (1024 * 1024 + 10), "big.bin")
    assert client.list_artifacts(run_id) == []


# -- a server that is down, wrong, or restarted -------------------------------------------
def test_no_server_is_a_clear_unavailable_error(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    client = Client(Settings(home=tmp_path, tracking_uri=f"http://127.0.0.1:{port}"))
    with pytest.raises(Unavailable, match="cannot reach the loopml server"):
        client.create_experiment("x")


def test_a_server_that_is_not_loopml_is_named(tmp_path: Path) -> None:
    other = Starlette(routes=[Route("/{p:path}", lambda r: PlainTextResponse("nope", 404))])
    with ThreadedAppServer(other) as live:
        client = Client(Settings(home=tmp_path, tracking_uri=live.url))
        with pytest.raises(LoopMLError, match="is LOOPML_TRACKING_URI a loopml server"):
            client.create_experiment("x")


def test_points_logged_while_the_server_restarts_are_not_lost(tmp_path: Path) -> None:
    store = Settings(home=tmp_path / "home")
    (port,) = free_ports(1)
    client = Client(Settings(home=tmp_path / "c", tracking_uri=f"http://127.0.0.1:{port}"))
    with ThreadedAppServer(create_app(store), port=port):
        run_id = client.create_run(client.create_experiment("restart")).info.run_id
        for step in range(100):
            client.log_metric(run_id, "m", float(step), step=step)
        client.flush()
    # The server is down: points queue; the background writer keeps retrying.
    for step in range(100, 200):
        client.log_metric(run_id, "m", float(step), step=step)
    with ThreadedAppServer(create_app(store), port=port):
        client.set_terminated(run_id)
        history = client.get_metric_history(run_id, "m")
        assert [m.step for m in history] == list(range(200))
        assert client.get_run(run_id).info.status == RunStatus.FINISHED
    with pytest.raises(Unavailable):
        client.get_run(run_id)


def test_remote_errors_keep_their_class(tmp_path: Path, server: Any) -> None:
    client = Client(Settings(home=tmp_path, tracking_uri=server.url))
    with pytest.raises(NotFound, match="does not exist"):
        client.get_run("0" * 32)
    with pytest.raises(InvalidInput):
        client.search_runs(["0"], "metrics.auc >")
