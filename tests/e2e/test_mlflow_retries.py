"""MLflow's client retries lost requests (POSTs too): a retried create makes nothing twice
(runs, experiments and model versions)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import update

from loopml.registry import RETRY_WINDOW_MS
from loopml.store import ModelVersionRow, Store


def _create(url: str, **body: Any) -> str:
    response = httpx.post(f"{url}/api/2.0/mlflow/runs/create", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["run"]["info"]["run_id"])


def test_a_retried_run_create_answers_the_first_run(live_server: Any) -> None:
    url = live_server.url
    sent = int(time.time() * 1000) - 5_000  # as a retry arrives: after its first attempt
    tags = [{"key": "mlflow.user", "value": "ana"}, {"key": "mlflow.source.name", "value": "t.py"}]
    first = _create(url, experiment_id="0", start_time=sent, tags=tags)
    assert _create(url, experiment_id="0", start_time=sent, tags=tags) == first
    named = _create(url, experiment_id="0", start_time=sent, tags=tags, run_name="a")
    assert named != first
    assert _create(url, experiment_id="0", start_time=sent, tags=tags, run_name="a") == named
    # Anything else that differs is another run.
    other_tags = [*tags, {"key": "seed", "value": "2"}]
    assert _create(url, experiment_id="0", start_time=sent, tags=other_tags) != first
    assert _create(url, experiment_id="0", start_time=sent + 1, tags=tags) != first
    # Fresh creates (within a second of their start time) are never merged, even when
    # two processes start in the same millisecond.
    now = int(time.time() * 1000)
    assert _create(url, experiment_id="0", start_time=now, tags=tags) != _create(
        url, experiment_id="0", start_time=now, tags=tags
    )
    # A deleted run is not answered for a retry.
    httpx.post(f"{url}/api/2.0/mlflow/runs/delete", json={"run_id": first}).raise_for_status()
    assert _create(url, experiment_id="0", start_time=sent, tags=tags) != first


def test_a_retried_experiment_create_never_makes_a_second_one(live_server: Any) -> None:
    url = f"{live_server.url}/api/2.0/mlflow/experiments"
    first = httpx.post(f"{url}/create", json={"name": "once"})
    again = httpx.post(f"{url}/create", json={"name": "once"})
    # Names are unique: the retry is told the experiment exists (as MLflow's server says;
    # mlflow.set_experiment then reads it by name), and there is still one experiment.
    assert first.status_code == 200
    assert again.status_code == 400 and again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    found = httpx.post(f"{url}/search", json={"filter": "name = 'once'"}).json()
    assert [e["experiment_id"] for e in found["experiments"]] == [first.json()["experiment_id"]]


def test_a_retried_model_version_create_answers_the_first_version(live_server: Any) -> None:
    api = f"{live_server.url}/api/2.0/mlflow"
    run = httpx.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]
    rid = run["run_id"]
    httpx.post(f"{api}/registered-models/create", json={"name": "churn"}).raise_for_status()
    request = {"name": "churn", "source": f"runs:/{rid}/model", "run_id": rid,
               "description": "d", "tags": [{"key": "k", "value": "v"}]}  # fmt: skip

    def create(**changes: Any) -> dict[str, Any]:
        response = httpx.post(f"{api}/model-versions/create", json={**request, **changes})
        assert response.status_code == 200, response.text
        return dict(response.json()["model_version"])

    first = create()
    assert first["version"] == "1"
    # The client's retry of a create whose answer it lost: the same version, as it was.
    assert create() == first
    # Any difference is a deliberate create: a new version (each answering its own retry).
    assert create(tags=[{"key": "k", "value": "w"}])["version"] == "2"
    assert create(tags=[{"key": "k", "value": "w"}])["version"] == "2"
    assert create(description="e")["version"] == "3"
    assert create(source=f"runs:/{rid}/other")["version"] == "4"
    assert create(source=f"runs:/{rid}/other")["version"] == "4"
    # Version 1 is no longer the newest: the same request again is a new version.
    assert create()["version"] == "5"

    # Outside the window (the version made longer ago than any retry takes): a new version.
    store = Store(live_server.db_url or f"sqlite:///{live_server.home / 'loopml.db'}")
    try:
        with store.write() as conn:
            conn.execute(
                update(ModelVersionRow)
                .where(ModelVersionRow.version == 5)
                .values(creation_timestamp=int(time.time() * 1000) - RETRY_WINDOW_MS - 1000)
            )
    finally:
        store.dispose()
    assert create()["version"] == "6"

    # After the version is deleted, the same request makes a new one (never number 6).
    httpx.request(
        "DELETE", f"{api}/model-versions/delete", json={"name": "churn", "version": "6"}
    ).raise_for_status()
    assert create()["version"] == "7"
    found = httpx.get(f"{api}/model-versions/search", params={"filter": "name = 'churn'"}).json()
    assert sorted(int(v["version"]) for v in found["model_versions"]) == [1, 2, 3, 4, 5, 7]
