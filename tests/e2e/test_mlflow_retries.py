"""MLflow's client retries lost requests (POSTs too): a retried create makes nothing twice."""

from __future__ import annotations

import time
from typing import Any

import httpx


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
