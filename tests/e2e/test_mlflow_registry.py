"""MLflow's model registry against ``loopml server``: the unmodified MLflow 3 client end to
end (register, alias, stage, search, rename, load by alias), and the wire format and
errors of ``/registered-models`` and ``/model-versions`` over raw HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sklearn.datasets import load_iris

import loopml
from loopml.client import Client, set_client
from loopml.config import Settings

SCRIPT = Path(__file__).with_name("_mlflow_registry_script.py")
BAD = (400, "INVALID_PARAMETER_VALUE")
MISSING = (404, "RESOURCE_DOES_NOT_EXIST")
EXISTS = (400, "RESOURCE_ALREADY_EXISTS")


@pytest.mark.slow
def test_registry_driven_by_the_mlflow_client(live_server: Any, tmp_path: Path) -> None:
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
    run_id, model_id = seen["run_id"], seen["model_id"]
    root = f"mlflow-artifacts:/1/models/{model_id}/artifacts"

    # log_model(registered_model_name=...) and register_model("runs:/...") both register
    # MLflow 3's "models:/m-<id>", stored as the logged model's artifact root.
    assert seen["registered_version"] == "1"
    assert seen["v2"] == ["2", root, run_id, "READY"]
    assert seen["v3"] == ["3", f"runs:/{run_id}/model", run_id]
    assert seen["by_alias"] == ["2", ["champion"], "second"]
    assert seen["v2_tags"] == {"validated": "yes", "via": "register_model"}
    # archive_existing_versions moved version 1 out of Production.
    assert seen["moved"] == ["2", "Production"]
    assert seen["v1"] == ["Archived", root, run_id, ["challenger"], "READY"]
    created, updated = seen["v1_times"]
    assert 1e12 < created <= updated  # milliseconds
    assert seen["production"] == ["2"]
    assert seen["versions"] == ["1", "2", "3"]
    assert seen["by_run"] == ["1", "2", "3"]
    assert seen["found"] == ["iris"]  # the client's prompt filter (tag != 'true') matched
    assert seen["registered"] == {
        "description": "iris classifier",
        "tags": {"team": "ml"},
        "aliases": {"challenger": "1", "champion": "2"},
        "latest": [["1", "Archived"], ["2", "Production"], ["3", "None"]],
    }
    # Loaded by alias, stage, latest (a runs:/ source), number and after a rename: the same
    # predictions as the fitted model.
    assert len(set(seen["expected"])) == 3
    assert seen["predictions"] == dict.fromkeys(
        ("alias", "stage", "latest", "v1", "renamed"), seen["expected"]
    )
    assert seen["download"] == root
    assert seen["after_alias_delete"] == {"champion": "2"}
    assert seen["renamed"] == "iris-renamed"
    assert seen["left"] == ["1", "3"] and seen["aliases_left"] == {}  # deleted with v2
    assert seen["errors"] == {
        "unknown_alias": "INVALID_PARAMETER_VALUE",
        "old_name": "RESOURCE_DOES_NOT_EXIST",
        "duplicate": "RESOURCE_ALREADY_EXISTS",
        "unknown_version": "RESOURCE_DOES_NOT_EXIST",
        "reserved_alias": "INVALID_PARAMETER_VALUE",
        "bad_stage": "INVALID_PARAMETER_VALUE",
        "bad_source": "INVALID_PARAMETER_VALUE",
        "deleted": "RESOURCE_DOES_NOT_EXIST",
    }

    # loopml's own client registers and loads what the MLflow client logged, by its logged
    # model's artifact root (models:/m-<id>) and by runs:/<run>/model, whose files MLflow 3
    # keeps with the logged model rather than among the run's artifacts.
    set_client(Client(Settings(home=tmp_path / "client", tracking_uri=live_server.url)))
    try:
        registry = loopml.model_registry()
        registry.create_model("iris-again")
        assert registry.create_version("iris-again", f"models:/{model_id}").source == root
        assert loopml.register_model(f"runs:/{run_id}/model", "iris-again").version == 2
        rows = load_iris(return_X_y=True)[0][::25]
        for uri in ("models:/iris-again/1", "models:/iris-again/2"):
            assert loopml.load_model(uri).predict(rows).tolist() == seen["expected"], uri
    finally:
        set_client(None)


def _check(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code, response.text
    assert response.json()["message"]


def test_registry_wire_format_and_errors(live_server: Any) -> None:
    api = f"{live_server.url}/api/2.0/mlflow"
    with httpx.Client(timeout=10) as http:
        eid = http.post(f"{api}/experiments/create", json={"name": "wire-registry"}).json()[
            "experiment_id"
        ]
        run = http.post(f"{api}/runs/create", json={"experiment_id": eid}).json()["run"]["info"]
        run_id, run_root = run["run_id"], run["artifact_uri"]
        assert http.put(
            f"{live_server.url}/api/2.0/mlflow-artifacts/artifacts/{eid}/{run_id}/artifacts/m/MLmodel",
            content=b"flavors: {}\n",
        ).is_success

        made = http.post(
            f"{api}/registered-models/create",
            json={"name": "churn", "description": "d", "tags": [{"key": "k", "value": "v"}]},
        )
        assert made.status_code == 200, made.text
        model = made.json()["registered_model"]
        assert model["creation_timestamp"] == model["last_updated_timestamp"] > 1e12
        assert {k: model[k] for k in ("name", "description", "tags", "aliases")} == {
            "name": "churn",
            "description": "d",
            "tags": [{"key": "k", "value": "v"}],
            "aliases": [],
        }
        assert model["latest_versions"] == []

        created = http.post(
            f"{api}/model-versions/create",
            json={"name": "churn", "source": f"runs:/{run_id}/m", "run_id": run_id},
        )
        assert created.status_code == 200, created.text
        version = created.json()["model_version"]
        assert {k: v for k, v in version.items() if "timestamp" not in k} == {
            "name": "churn",
            "version": "1",
            "user_id": version["user_id"],
            "current_stage": "None",
            "source": f"runs:/{run_id}/m",
            "run_id": run_id,
            "status": "READY",
            "tags": [],
            "aliases": [],
        }
        # Version numbers and alias targets arrive as strings (MLflow's client) or numbers.
        assert (
            http.post(
                f"{api}/registered-models/alias",
                json={"name": "churn", "alias": "prod", "version": 1},
            ).json()
            == {}
        )
        # The UI's prefix serves the same routes.
        got = http.get(
            f"{live_server.url}/ajax-api/2.0/mlflow/registered-models/get", params={"name": "churn"}
        ).json()["registered_model"]
        assert got["aliases"] == [{"alias": "prod", "version": "1"}]
        assert [v["version"] for v in got["latest_versions"]] == ["1"]
        assert got["latest_versions"][0]["aliases"] == ["prod"]
        by_alias = http.get(
            f"{api}/registered-models/alias", params={"name": "churn", "alias": "prod"}
        ).json()["model_version"]
        assert by_alias["version"] == "1" and by_alias["aliases"] == ["prod"]
        # Files logged to the run itself: the download URI is the run's artifact location.
        uri = http.get(
            f"{api}/model-versions/get-download-uri", params={"name": "churn", "version": "1"}
        ).json()
        assert uri == {"artifact_uri": f"{run_root}/m"}
        latest = http.post(
            f"{api}/registered-models/get-latest-versions",
            json={"name": "churn", "stages": ["None"]},
        ).json()
        assert [v["version"] for v in latest["model_versions"]] == ["1"]

        # Search: the client's prompt filter matches models without the tag; pagination.
        http.post(f"{api}/registered-models/create", json={"name": "churn2"})
        prompt_filter = "tag.`mlflow.prompt.is_prompt` != 'true'"
        page = http.get(
            f"{api}/registered-models/search",
            params={"filter": f"name LIKE 'churn%' AND {prompt_filter}", "max_results": 1},
        ).json()
        assert [m["name"] for m in page["registered_models"]] == ["churn"]
        rest = http.get(
            f"{api}/registered-models/search",
            params={"max_results": 1, "page_token": page["next_page_token"]},
        ).json()
        assert [m["name"] for m in rest["registered_models"]] == ["churn2"]
        assert "next_page_token" not in rest
        versions = http.get(
            f"{api}/model-versions/search", params={"filter": f"run_id = '{run_id}'"}
        ).json()
        assert [v["version"] for v in versions["model_versions"]] == ["1"]

        get_v = "model-versions/get"
        alias = "registered-models/alias"
        create_v = "model-versions/create"
        cases: list[tuple[str, str, dict[str, Any], tuple[int, str]]] = [
            ("POST", "registered-models/create", {"content": b"{bad"}, BAD),
            ("POST", "registered-models/create", {"json": {}}, BAD),
            ("POST", "registered-models/create", {"json": {"name": "a/b"}}, BAD),
            ("POST", "registered-models/create", {"json": {"name": "churn"}}, EXISTS),
            ("GET", "registered-models/get", {"params": {"name": "nope"}}, MISSING),
            ("GET", "registered-models/get", {}, BAD),
            ("DELETE", "registered-models/delete", {"json": {"name": "nope"}}, MISSING),
            (
                "POST",
                "registered-models/rename",
                {"json": {"name": "churn", "new_name": "churn2"}},
                EXISTS,
            ),
            ("GET", get_v, {"params": {"name": "churn", "version": "9"}}, MISSING),
            ("GET", get_v, {"params": {"name": "churn", "version": "x"}}, BAD),
            ("GET", get_v, {"params": {"name": "nope", "version": "1"}}, MISSING),
            # An unknown alias is a 400 in MLflow (its client relies on it); a model, a 404.
            ("GET", alias, {"params": {"name": "churn", "alias": "gone"}}, BAD),
            ("GET", alias, {"params": {"name": "nope", "alias": "prod"}}, MISSING),
            ("POST", alias, {"json": {"name": "churn", "alias": "x", "version": "9"}}, MISSING),
            ("POST", alias, {"json": {"name": "churn", "alias": "v2", "version": "1"}}, BAD),
            (
                "POST",
                "model-versions/transition-stage",
                {"json": {"name": "churn", "version": "1", "stage": "Gold"}},
                BAD,
            ),
            ("GET", "registered-models/search", {"params": {"filter": "name = "}}, BAD),
            ("GET", "registered-models/search", {"params": {"max_results": 5000}}, BAD),
            ("GET", "model-versions/search", {"params": {"page_token": "garbage"}}, BAD),
            ("POST", create_v, {"json": {"name": "churn"}}, BAD),
            ("POST", create_v, {"json": {"name": "nope", "source": f"runs:/{run_id}/m"}}, MISSING),
        ]
        # NUL reaches no query (PostgreSQL refuses it): a name no model has, a bad alias/key.
        nul = "a\x00b"
        cases += [
            ("GET", "registered-models/get-latest-versions", {"params": {"name": nul}}, MISSING),
            ("PATCH", "registered-models/update", {"json": {"name": nul}}, MISSING),
            ("GET", alias, {"params": {"name": "churn", "alias": nul}}, BAD),
            ("GET", "registered-models/search", {"params": {"filter": f"name = '{nul}'"}}, BAD),
            (
                "DELETE",
                "registered-models/delete-tag",
                {"json": {"name": "churn", "key": nul}},
                BAD,
            ),
        ]
        # Sources outside the run's (or a logged model's) own artifacts are refused.
        for source in (
            "file:///etc",
            "/etc",
            "s3://bucket/model",
            f"runs:/{run_id}/../../etc",
            f"runs:/{'0' * 32}/m",
            f"{run_root}/../../x",
            f"mlflow-artifacts:/{eid}/{'0' * 32}/artifacts/m",
            f"models:/m-{'0' * 32}",
            "models:/churn/1",
        ):
            cases.append(("POST", create_v, {"json": {"name": "churn", "source": source}}, BAD))
        other = http.post(f"{api}/runs/create", json={"experiment_id": eid}).json()["run"]["info"]
        body = {"name": "churn", "source": f"runs:/{run_id}/m", "run_id": other["run_id"]}
        cases.append(("POST", create_v, {"json": body}, BAD))  # another run's source
        for method, path, kwargs, (status, code) in cases:
            _check(http.request(method, f"{api}/{path}", **kwargs), status, code)

        # Deleting the version drops its alias; nothing else was registered by the refusals.
        gone = http.request(
            "DELETE", f"{api}/model-versions/delete", json={"name": "churn", "version": "1"}
        )
        assert gone.json() == {}
        after = http.get(f"{api}/registered-models/get", params={"name": "churn"}).json()
        assert after["registered_model"]["aliases"] == []
        assert after["registered_model"]["latest_versions"] == []
        assert http.get(f"{live_server.url}/health").json() == {"status": "ok"}
