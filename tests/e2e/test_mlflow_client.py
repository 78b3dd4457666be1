"""The unmodified MLflow client against ``loopml server``; runs cross both ways."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopml.config import Settings
from loopml.tracking import Metric, RunStatus, TrackingService

SCRIPT = Path(__file__).with_name("_mlflow_script.py")


def _service(server: Any) -> TrackingService:
    return TrackingService.from_settings(Settings(home=server.home, db_url=server.db_url))


@pytest.mark.slow
def test_mlflow_client_end_to_end(live_server: Any) -> None:
    service = _service(live_server)
    ours = service.runs.create(service.experiments.create("from-loopml")).info.run_id
    service.runs.log_batch(ours, metrics=[Metric("auc", 0.93, 1, 0)], params={"k": "v"})
    env = dict(live_server.env, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1")
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run(
        [sys.executable, str(SCRIPT), live_server.url, ours],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])

    # What the MLflow client saw.
    assert seen["status"] == "FINISHED"
    assert seen["params"] == {"lr": "0.1", "depth": "3", "model": "rf"}
    assert seen["metrics"] == {"loss": 0.2, "acc": 0.9, "f1": 0.8, "weird": "nan"}
    assert seen["tags_team"] == "ml"
    assert seen["history"] == [[s, pytest.approx(1 / (s + 1))] for s in range(5)]
    assert seen["child_parent_tag"] == seen["parent"]
    assert seen["search_rows"] == 1
    assert "metrics.acc" in seen["search_columns"]
    assert seen["either_rows"] == 2  # OR: beyond MLflow's grammar
    assert seen["pages"] == [["child"], ["parent"]]
    assert seen["foreign_metrics"] == {"auc": 0.93} and seen["foreign_params"] == {"k": "v"}
    assert seen["experiments_tagged"] == ["mlflow-compat"]
    assert seen["experiments_by_name"] == ["mlflow-compat", "Default"]
    assert seen["artifacts"] == ["notes.txt", "tree"]
    assert seen["inputs"] == [["toy", seen["digest"], {"mlflow.data.context": "training"}]]
    assert seen["nested"] == ["tree/sub/w.bin"]
    assert seen["notes"] == "hello from mlflow" and seen["weights_ok"] is True
    assert seen["errors"] == {
        "missing_run": "RESOURCE_DOES_NOT_EXIST",
        "duplicate_experiment": "RESOURCE_ALREADY_EXISTS",
        "param_changed": "INVALID_PARAMETER_VALUE",
        "bad_filter": "INVALID_PARAMETER_VALUE",
    }

    # The same runs through loopml's own service.
    parent = service.runs.get(seen["parent"])
    assert parent.info.status == RunStatus.FINISHED
    assert parent.data.params["lr"] == "0.1" and parent.data.metrics["acc"] == 0.9
    assert [m.step for m in service.runs.metric_history(seen["parent"], "loss")] == list(range(5))
    assert service.artifacts.read_bytes(seen["parent"], "notes.txt") == b"hello from mlflow"
    (used,) = service.inputs.get(seen["parent"])
    assert (used.name, used.context) == ("toy", "training") and "train.csv" in used.source

    # ... and through `loopml runs show`, the CLI talking to the same server.
    cli_env = dict(os.environ, LOOPML_TRACKING_URI=live_server.url)
    shown = subprocess.run(
        [sys.executable, "-m", "loopml.cli", "runs", "show", seen["parent"], "--json"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    as_shown = json.loads(shown.stdout)
    assert as_shown["data"]["params"] == {"lr": "0.1", "depth": "3", "model": "rf"}
    assert {a["path"] for a in as_shown["artifacts"]} == {"notes.txt", "tree"}


def test_wire_format_and_errors(live_server: Any) -> None:
    api = f"{live_server.url}/api/2.0/mlflow"
    with httpx.Client(timeout=10) as http:
        default = http.get(f"{api}/experiments/get", params={"experiment_id": "0"}).json()
        assert default["experiment"]["name"] == "Default"
        created = http.post(f"{api}/experiments/create", json={"name": "wire"}).json()
        eid = created["experiment_id"]
        run = http.post(
            f"{api}/runs/create", json={"experiment_id": eid, "start_time": 1700000000000}
        ).json()["run"]
        run_id = run["info"]["run_id"]
        assert run["info"]["run_uuid"] == run_id and run["info"]["status"] == "RUNNING"
        assert run["info"]["start_time"] == 1700000000000
        ok = http.post(
            f"{api}/runs/log-batch",
            json={
                "run_id": run_id,
                "metrics": [
                    {"key": "m", "value": "NaN", "timestamp": "1700000000001", "step": "2"},
                    {"key": "n", "value": "Infinity", "timestamp": 1700000000001, "step": 0},
                ],
                "params": [{"key": "p", "value": "1"}],
                "tags": [{"key": "t", "value": "x"}],
            },
        )
        assert ok.status_code == 200 and ok.json() == {}
        got = http.get(f"{api}/runs/get", params={"run_id": run_id}).json()["run"]
        metrics = {m["key"]: m for m in got["data"]["metrics"]}
        assert metrics["m"]["value"] == "NaN" and metrics["m"]["step"] == 2
        assert metrics["n"]["value"] == "Infinity"
        # Errors: MLflow's shape and statuses; never a 500, never HTML.
        cases = [
            (
                http.post(f"{api}/experiments/create", json={"name": "wire"}),
                400,
                "RESOURCE_ALREADY_EXISTS",
            ),
            (
                http.get(f"{api}/runs/get", params={"run_id": "f" * 32}),
                404,
                "RESOURCE_DOES_NOT_EXIST",
            ),
            (http.get(f"{api}/no/such/route"), 404, "ENDPOINT_NOT_FOUND"),
            (
                http.post(f"{api}/runs/log-metric", content=b"{not json"),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (http.post(f"{api}/runs/log-metric", json=[1, 2]), 400, "INVALID_PARAMETER_VALUE"),
            (
                http.post(
                    f"{api}/runs/log-metric",
                    json={"run_id": run_id, "key": "m", "value": "x", "timestamp": 1},
                ),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(
                    f"{api}/runs/log-metric",
                    json={"run_id": run_id, "key": "../m", "value": 1, "timestamp": 1},
                ),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            *(  # an unhashable key, with an int value so the fast path's set look-up runs
                (
                    http.post(
                        f"{api}/runs/log-batch",
                        json={
                            "run_id": run_id,
                            "metrics": [{"key": bad, "value": 0, "timestamp": 0, "step": 0}],
                        },
                    ),
                    400,
                    "INVALID_PARAMETER_VALUE",
                )
                for bad in ({"a": 1}, [1], None)
            ),
            (
                http.post(
                    f"{api}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "2"}
                ),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(
                    f"{api}/runs/log-parameter",
                    json={"run_id": run_id, "key": "q", "value": "x" * 6001},
                ),
                413,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(
                    f"{api}/runs/search", json={"experiment_ids": [eid], "filter": "metrics.m >"}
                ),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(
                    f"{api}/runs/search", json={"experiment_ids": [eid], "max_results": "many"}
                ),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(f"{api}/runs/create", json={"experiment_id": "not-a-number"}),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(f"{api}/runs/log-batch", content=b"{" + b" " * 1_100_000 + b"}"),
                413,
                "INVALID_PARAMETER_VALUE",
            ),
        ]
        for response, status, code in cases:
            assert response.status_code == status, response.text
            assert response.json()["error_code"] == code, response.text
            assert response.json()["message"]
        # MLflow lets data reach an ended run (its clients rely on it); a deleted one, never.
        http.post(f"{api}/runs/update", json={"run_id": run_id, "status": "FINISHED"})
        late = http.post(
            f"{api}/runs/log-metric",
            json={"run_id": run_id, "key": "late", "value": 1, "timestamp": 5},
        )
        assert late.status_code == 200
        http.post(f"{api}/runs/delete", json={"run_id": run_id})
        gone = http.post(
            f"{api}/runs/log-metric",
            json={"run_id": run_id, "key": "x", "value": 1, "timestamp": 5},
        )
        assert gone.status_code == 400 and "deleted" in gone.json()["message"]
        assert http.get(f"{live_server.url}/health").json() == {"status": "ok"}


def test_server_help_has_an_example() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "loopml.cli", "server", "--help"],
        capture_output=True,
        text=True,
        env=dict(os.environ, COLUMNS="200"),
        check=True,
    )
    assert "Example" in out.stdout and "--port" in out.stdout
