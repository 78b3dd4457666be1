"""``loopml serve`` processes: SIGTERM flushes the prediction log; two replicas of a stored
endpoint sharing one store both pick up an alias move."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from _serving_process import endpoint_store, start_serve, stop_serve

import loopml
from loopml.config import load_settings
from loopml.serving import log_root, read_log

ROW = [5.1, 3.5, 1.4, 0.2]


def _version(url: str) -> str:
    response = httpx.post(url + "/invocations", json={"instances": [ROW]}, timeout=30)
    assert response.status_code == 200, response.text
    return response.headers["x-loopml-model-version"]


@pytest.mark.slow
def test_sigterm_flushes_the_prediction_log(registered: Any, tmp_path: Path) -> None:
    env = dict(os.environ, LOOPML_SERVE_LOG_FLUSH_S="3600")  # only shutdown flushes
    proc, url, out = start_serve(["models:/flowers@production"], tmp_path, env)
    try:
        for i in range(5):
            response = httpx.post(url + "/invocations", json={"instances": [ROW, ROW]},
                                  headers={"X-Request-Id": f"sig-{i}"})  # fmt: skip
            assert response.status_code == 200
    finally:
        stop_serve(proc)  # SIGTERM
    # uvicorn shuts down gracefully, then re-raises SIGTERM: killed by it, after the flush.
    assert proc.returncode in (0, -15), out.read_text()[-2000:]
    rows = read_log(log_root(load_settings().resolved_artifacts()), "predictions", "flowers")
    assert sorted(rows["request_id"].unique()) == [f"sig-{i}" for i in range(5)]
    assert len(rows) == 10 and set(rows["row"]) == {0, 1} and set(rows["version"]) == {"2"}


@pytest.mark.slow
def test_two_replicas_pick_up_an_alias_move(registered: Any, tmp_path: Path) -> None:
    endpoint_store().create(
        {"name": "flowers-live", "routes": [{"model": "models:/flowers@production"}]}
    )
    env = dict(os.environ, LOOPML_SERVE_POLL_S="0.2")
    replicas = [start_serve(["flowers-live"], tmp_path, env) for _ in range(2)]
    urls = [url for _, url, _ in replicas]
    try:
        assert [_version(u) for u in urls] == ["flowers/2", "flowers/2"]
        loopml.set_model_alias("flowers", "production", 1, reason="replica test")
        deadline = time.monotonic() + 60
        while [_version(u) for u in urls] != ["flowers/1", "flowers/1"]:
            assert time.monotonic() < deadline, [_version(u) for u in urls]
            time.sleep(0.1)
        for url in urls:
            status = httpx.get(url + "/endpoints").json()["endpoints"][0]
            assert status["swaps"] == 1 and status["routes"][0]["version"] == "1"
    finally:
        for proc, _, _ in replicas:
            stop_serve(proc)
