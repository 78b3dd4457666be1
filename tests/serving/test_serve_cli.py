"""``loopml serve``: registered models by alias, runs:/ URIs, worker processes, and the
errors that stop it before it serves."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as tc
from _serving_process import start_serve, stop_serve
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

import loopml
from loopml.cli import app
from loopml.config import load_settings
from loopml.serving import ModelPool


def test_pool_loads_models_runs_and_directories(
    registered: dict[str, str], model_dirs: Any, iris: Any
) -> None:
    settings = load_settings()
    pool = ModelPool.load(
        [
            "models:/flowers@production",
            "models:/flowers/1",
            f"runs:/{registered['1']}/model",
            str(model_dirs["iris"]),
        ],
        settings=settings,
    )
    try:
        assert [e.name for e in pool.endpoints] == ["flowers", "model", "iris"]
        assert pool.get("flowers").version == "2"  # the alias; first given answers by default
        assert pool.get("flowers", "1").version == "1"
        assert pool.get("model").version is None and pool.get("iris").label == "iris"
        assert pool.endpoints[0].versions == ["2", "1"]
    finally:
        pool.close()


@pytest.mark.slow
def test_serve_a_registered_alias(registered: Any, home: Path, tmp_path: Path, iris: Any) -> None:
    X, _ = iris
    proc, url, out = start_serve(
        ["models:/flowers@production", "--json"], tmp_path, dict(os.environ)
    )
    try:
        summary = json.loads(out.read_text()[: out.read_text().rindex("}") + 1])
        assert summary["models"] == [
            {
                "name": "flowers",
                "version": "2",
                "flavor": "sklearn",
                "source": "models:/flowers@production",
            }
        ]
        client = tc.InferenceServerClient(url.removeprefix("http://"))
        meta = client.get_model_metadata("flowers")
        assert meta["versions"] == ["2"]
        tensor = tc.InferInput("x", [3, 4], "FP64")
        tensor.set_data_from_numpy(X.iloc[[0, 60, 120]].to_numpy())
        for version in ("", "2"):
            result = client.infer("flowers", [tensor], model_version=version)
            assert result.get_response()["model_version"] == "2"
            expected = loopml.load_model("models:/flowers/2").predict(X.iloc[[0, 60, 120]])
            np.testing.assert_array_equal(result.as_numpy("predict"), expected)
        with pytest.raises(tc.InferenceServerException, match="no version '1'"):
            client.infer("flowers", [tensor], model_version="1")
        scored = httpx.post(url + "/invocations", json={"instances": [[5.1, 3.5, 1.4, 0.2]]})
        assert scored.status_code == 200
        assert scored.headers["x-loopml-model-version"] == "flowers/2"
    finally:
        stop_serve(proc)


@pytest.mark.slow
def test_two_workers_share_the_port_and_their_metrics(model_dirs: Any, tmp_path: Path) -> None:
    env = dict(os.environ, LOOPML_HOME=str(tmp_path / "home"))
    env.pop("LOOPML_TRACKING_URI", None)
    proc, url, out = start_serve([str(model_dirs["iris"]), "--workers", "2"], tmp_path, env)
    try:
        with httpx.Client(timeout=10) as client:
            for _ in range(20):
                response = client.post(
                    url + "/invocations",
                    json={"instances": [[5.1, 3.5, 1.4, 0.2]]},
                    headers={"Connection": "close"},  # new connections: spread over workers
                )
                assert response.json() == {"predictions": [0]}
            # Whichever worker answers /metrics, it counts every worker's requests.
            for _ in range(4):
                text = client.get(url + "/metrics", headers={"Connection": "close"}).text
                counted = sum(
                    s.value
                    for f in text_string_to_metric_families(text)
                    if f.name == "loopml_serving_requests"
                    for s in f.samples
                    if s.name.endswith("_total")
                )
                assert counted == 20
        children = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(children) >= 2, out.read_text()
    finally:
        stop_serve(proc)


def test_errors_stop_it_before_it_serves(home: Path, model_dirs: Any, tmp_path: Path) -> None:
    runner = CliRunner()

    def serve(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["serve", *args])
        return result.exit_code, " ".join(result.output.split())  # rich wraps long lines

    code, output = serve(str(tmp_path / "nothing"))
    assert code == 3 and "no such model directory" in output
    code, output = serve("models:/nope@production")
    assert code == 3 and "'nope'" in output
    code, output = serve("no-such-endpoint")
    assert code == 3 and "no endpoint of that name" in output
    code, output = serve(str(model_dirs["counting"]))
    assert code == 2 and "allow_pickle" in output
    code, output = serve("s3://bucket/model")
    assert code == 2 and "runs:/" in output
    code, output = serve(str(model_dirs["iris"]), "--max-body-mb", "-1")
    assert code == 2 and "serve_max_body_mb" in output
    code, output = serve(str(model_dirs["iris"]), "--backend", "gpu")
    assert code == 2 and "native or onnx" in output
    code, output = serve("--help")
    assert code == 0 and "Example" in output
