"""The metric-history routes the MLflow UI charts with: bulk, and sampled by interval."""

from __future__ import annotations

from typing import Any

import httpx

from loopml.config import Settings
from loopml.tracking import Metric, TrackingService


def test_history_bulk_and_interval_sampling(live_server: Any) -> None:
    service = TrackingService.from_settings(
        Settings(home=live_server.home, db_url=live_server.db_url)
    )
    runs = [service.runs.create("0").info.run_id for _ in range(2)]
    for i, run_id in enumerate(runs):
        points = [Metric("loss", 1.0 / (s + 1) + i, 1000 + s, s) for s in range(1000)]
        service.runs.log_batch(run_id, metrics=points)
    url = f"{live_server.url}/ajax-api/2.0/mlflow/metrics"

    bulk = httpx.get(f"{url}/get-history-bulk", params={"run_id": runs, "metric_key": "loss"})
    assert bulk.status_code == 200, bulk.text
    got = bulk.json()["metrics"]
    assert len(got) == 2000 and {m["run_id"] for m in got} == set(runs)

    params: dict[str, Any] = {"run_ids": runs, "metric_key": "loss", "max_results": 11}
    sampled = httpx.get(f"{url}/get-history-bulk-interval", params=params).json()["metrics"]
    steps = [m["step"] for m in sampled if m["run_id"] == runs[0]]
    assert len(steps) == 11 and steps[0] == 0 and steps[-1] == 999  # ends kept
    params.update(start_step=100, end_step=200, max_results=2500)
    window = httpx.get(f"{url}/get-history-bulk-interval", params=params).json()["metrics"]
    assert [m["step"] for m in window if m["run_id"] == runs[1]] == list(range(100, 201))

    for bad in [
        {"metric_key": "loss"},
        {"run_ids": runs, "metric_key": "loss", "start_step": 5},
        {"run_ids": runs, "metric_key": "loss", "start_step": 9, "end_step": 2},
        {"run_ids": runs, "metric_key": "loss", "max_results": 0},
        {"run_ids": [str(i) for i in range(101)], "metric_key": "loss"},
    ]:
        response = httpx.get(f"{url}/get-history-bulk-interval", params=bad)
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
