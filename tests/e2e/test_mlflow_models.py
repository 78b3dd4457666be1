"""MLflow 3's logged models against ``loopml server``: log_model and load_model with the
unmodified client, and the wire format and errors of ``/logged-models`` and ``runs/outputs``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopml.config import Settings
from loopml.tracking import LoggedModelStatus, TrackingService

SCRIPT = Path(__file__).with_name("_mlflow_model_script.py")


@pytest.mark.slow
def test_sklearn_model_logged_and_loaded_with_the_mlflow_client(live_server: Any) -> None:
    env = dict(live_server.env, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1")
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run(
        [sys.executable, str(SCRIPT), live_server.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])

    model_id, run_id = seen["model_id"], seen["run_id"]
    assert seen["model_uri"] == f"models:/{model_id}"
    assert len(set(seen["expected"])) == 3  # the rows cover every class
    assert seen["by_run"] == seen["expected"]
    assert seen["by_id"] == seen["expected"]
    assert seen["sklearn"] == seen["expected"]
    assert (seen["name"], seen["status"], seen["source_run_id"]) == ("model", "READY", run_id)
    assert seen["artifact_location"] == (
        f"mlflow-artifacts:/{seen['experiment_id']}/models/{model_id}/artifacts"
    )
    assert seen["params"] == {"C": "1.0"}  # the run's params, copied by log_model
    assert seen["metrics"] == {"accuracy": pytest.approx(0.97, abs=0.03)}
    assert seen["accuracy_points"] == 1  # linking the metric to the model did not re-log it
    assert seen["tags"]["stage"] == "candidate" and "owner" not in seen["tags"]
    assert seen["tagged_params"] == {"C": "1.0", "extra": "1"}
    assert "MLmodel" in seen["files"] and "requirements.txt" in seen["files"]
    assert seen["everything"] == ["model", "other"]
    assert seen["named"] == [model_id]
    assert seen["ready"] == ["model"]
    assert seen["by_param"] == ["model"]
    assert seen["pages"] == [["model"], ["other"], None]
    assert seen["by_metric"] == ["model"]
    assert seen["outputs"] == [model_id]
    assert seen["after_delete"] == ["model"]
    assert seen["errors"] == {
        "missing_model": "RESOURCE_DOES_NOT_EXIST",
        "deleted_model": "RESOURCE_DOES_NOT_EXIST",
        "bad_filter": "INVALID_PARAMETER_VALUE",
        "bad_name": "INVALID_PARAMETER_VALUE",
    }

    # The same model through loopml's own service: its files are content-addressed blobs.
    service = TrackingService.from_settings(
        Settings(home=live_server.home, db_url=live_server.db_url)
    )
    model = service.logged_models.get(model_id)
    assert model.status == LoggedModelStatus.READY and model.source_run_id == run_id
    assert b"sklearn" in service.model_artifacts.read_bytes(model_id, "MLmodel")
    assert [o.model_id for o in service.logged_models.outputs(run_id)] == [model_id]


def _check(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code, response.text
    assert response.json()["message"]


def test_logged_models_wire_format_and_errors(live_server: Any) -> None:
    api = f"{live_server.url}/api/2.0/mlflow"
    proxy = f"{live_server.url}/api/2.0/mlflow-artifacts/artifacts"
    with httpx.Client(timeout=10) as http:
        eid = http.post(f"{api}/experiments/create", json={"name": "wire-models"}).json()[
            "experiment_id"
        ]
        run_id = http.post(f"{api}/runs/create", json={"experiment_id": eid}).json()["run"]["info"][
            "run_id"
        ]
        created = http.post(
            f"{api}/logged-models",
            json={
                "experiment_id": eid,
                "name": "net",
                "model_type": "classifier",
                "source_run_id": run_id,
                "params": [{"key": "lr", "value": "0.1"}],
                "tags": [{"key": "team", "value": "ml"}],
            },
        )
        assert created.status_code == 200, created.text
        model = created.json()["model"]
        info, model_id = model["info"], model["info"]["model_id"]
        assert model_id.startswith("m-") and len(model_id) == 34
        assert info["status"] == "LOGGED_MODEL_PENDING" and info["experiment_id"] == eid
        assert info["artifact_uri"] == f"mlflow-artifacts:/{eid}/models/{model_id}/artifacts"
        assert info["creation_timestamp_ms"] == info["last_updated_timestamp_ms"] > 1e12
        assert info["tags"] == [{"key": "team", "value": "ml"}]
        assert model["data"]["params"] == [{"key": "lr", "value": "0.1"}]

        # Files under the model's location go through the artifact proxy.
        base = f"{proxy}/{eid}/models/{model_id}/artifacts"
        assert http.put(f"{base}/sub/w.bin", content=b"\x00\x01").status_code == 200
        assert http.get(f"{base}/sub/w.bin").content == b"\x00\x01"
        listing = http.get(proxy, params={"path": f"{eid}/models/{model_id}/artifacts"}).json()
        assert listing == {"files": [{"path": "sub", "is_dir": True}]}
        dirs = http.get(f"{api}/logged-models/{model_id}/artifacts/directories").json()
        assert dirs["root_uri"] == info["artifact_uri"] and dirs["files"][0]["path"] == "sub"

        done = http.patch(
            f"{api}/logged-models/{model_id}",
            json={"model_id": model_id, "status": "LOGGED_MODEL_READY"},
        )
        assert done.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
        assert (
            http.post(
                f"{api}/runs/outputs",
                json={"run_id": run_id, "models": [{"model_id": model_id, "step": 3}]},
            ).json()
            == {}
        )
        assert (
            http.post(
                f"{api}/runs/log-inputs",
                json={"run_id": run_id, "models": [{"model_id": model_id}]},
            ).json()
            == {}
        )
        run = http.get(f"{api}/runs/get", params={"run_id": run_id}).json()["run"]
        assert run["outputs"] == {"model_outputs": [{"model_id": model_id, "step": 3}]}
        assert run["inputs"] == {"model_inputs": [{"model_id": model_id}]}
        found = http.post(
            f"{api}/logged-models/search",
            json={"experiment_ids": [eid], "filter": f"source_run_id = '{run_id}'"},
        ).json()
        assert [m["info"]["model_id"] for m in found["models"]] == [model_id]

        # A metric naming a model (MLflow 3's Metric.model_id) is the model's too.
        point = {"key": "acc", "value": 0.9, "timestamp": 5, "step": 1, "model_id": model_id}
        logged = http.post(f"{api}/runs/log-batch", json={"run_id": run_id, "metrics": [point]})
        assert logged.status_code == 200, logged.text
        got = http.get(f"{api}/logged-models/{model_id}").json()["model"]
        assert got["data"]["metrics"] == [{**point, "run_id": run_id}]

        missing = "m-" + "0" * 32
        cases = [
            (http.get(f"{api}/logged-models/{missing}"), 404, "RESOURCE_DOES_NOT_EXIST"),
            (http.get(f"{api}/logged-models/not-an-id"), 404, "RESOURCE_DOES_NOT_EXIST"),
            (
                http.patch(f"{api}/logged-models/{missing}", json={"status": "LOGGED_MODEL_READY"}),
                404,
                "RESOURCE_DOES_NOT_EXIST",
            ),
            (http.delete(f"{api}/logged-models/{missing}"), 404, "RESOURCE_DOES_NOT_EXIST"),
            (
                http.post(
                    f"{api}/runs/log-batch",
                    json={"run_id": run_id, "metrics": [{**point, "model_id": missing}]},
                ),
                404,
                "RESOURCE_DOES_NOT_EXIST",
            ),
            (
                http.delete(f"{api}/logged-models/{model_id}/tags/nope"),
                404,
                "RESOURCE_DOES_NOT_EXIST",
            ),
            (
                http.post(f"{api}/logged-models", json={"experiment_id": "999999"}),
                404,
                "RESOURCE_DOES_NOT_EXIST",
            ),
            (
                http.post(
                    f"{api}/runs/outputs",
                    json={"run_id": run_id, "models": [{"model_id": missing}]},
                ),
                404,
                "RESOURCE_DOES_NOT_EXIST",
            ),
            (
                http.get(f"{proxy}/{eid}/models/{missing}/artifacts/x"),
                404,
                "RESOURCE_DOES_NOT_EXIST",
            ),
            (
                http.get(f"{proxy}/0/models/{model_id}/artifacts/sub/w.bin"),
                404,
                "RESOURCE_DOES_NOT_EXIST",
            ),
            (
                http.post(f"{api}/logged-models", content=b"{not json"),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (http.post(f"{api}/logged-models", json=[1]), 400, "INVALID_PARAMETER_VALUE"),
            (http.post(f"{api}/logged-models", json={}), 400, "INVALID_PARAMETER_VALUE"),
            (
                http.post(f"{api}/logged-models", json={"experiment_id": eid, "name": "a.b"}),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(f"{api}/logged-models", json={"experiment_id": eid, "params": "x"}),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(f"{api}/logged-models", json={"experiment_id": eid, "tags": [{"v": 1}]}),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.patch(f"{api}/logged-models/{model_id}", json={"status": "DONE"}),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.patch(f"{api}/logged-models/{model_id}", json={"status": True}),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.patch(f"{api}/logged-models/{model_id}/tags", json={"tags": "x"}),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(
                    f"{api}/logged-models/{model_id}/params",
                    json={"params": [{"key": "lr", "value": "0.2"}]},
                ),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (http.post(f"{api}/logged-models/search", json={}), 400, "INVALID_PARAMETER_VALUE"),
            (
                http.post(
                    f"{api}/logged-models/search", json={"experiment_ids": [eid], "filter": "x ="}
                ),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(
                    f"{api}/logged-models/search",
                    json={"experiment_ids": [eid], "filter": "colour = 'red'"},
                ),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(
                    f"{api}/logged-models/search",
                    json={"experiment_ids": [eid], "page_token": "garbage"},
                ),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(
                    f"{api}/logged-models/search",
                    json={"experiment_ids": [eid], "order_by": [{"field_name": "colour"}]},
                ),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(
                    f"{api}/logged-models/search",
                    json={"experiment_ids": ["x"], "max_results": 5},
                ),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(f"{api}/runs/outputs", json={"run_id": run_id, "models": ["m"]}),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.post(f"{api}/runs/log-inputs", json={"run_id": run_id, "models": [{}]}),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.put(f"{proxy}/{eid}/models/{model_id}/artifacts/../../x", content=b"x"),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
            (
                http.put(f"{proxy}/{eid}/models/{model_id}/artifacts/%2e%2e/x", content=b"x"),
                400,
                "INVALID_PARAMETER_VALUE",
            ),
        ]
        for response, status, code in cases:
            _check(response, status, code)

        # Deleted: gone from get and search, still readable with allow_deleted.
        assert http.delete(f"{api}/logged-models/{model_id}").json() == {}
        _check(http.get(f"{api}/logged-models/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
        kept = http.get(f"{api}/logged-models/{model_id}", params={"allow_deleted": "true"})
        assert kept.json()["model"]["info"]["model_id"] == model_id
        empty = http.post(f"{api}/logged-models/search", json={"experiment_ids": [eid]}).json()
        assert empty == {"models": []}
        assert http.get(f"{live_server.url}/health").json() == {"status": "ok"}
