"""16 unmodified MLflow client processes logging through one server: no error, no loss."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loopml.config import Settings
from loopml.tracking import RunStatus, TrackingService

WORKER = Path(__file__).with_name("_mlflow_worker.py")
CLIENTS = 16


@pytest.mark.slow
def test_sixteen_mlflow_clients_lose_nothing(live_server: Any) -> None:
    service = TrackingService.from_settings(
        Settings(home=live_server.home, db_url=live_server.db_url)
    )
    experiment_id = service.experiments.create("load")
    env = dict(live_server.env, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1")
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), live_server.url, str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(CLIENTS)
    ]
    run_ids = {}
    for i, proc in enumerate(procs):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        run_ids[i] = out.split()[-1]
    found = service.runs.search([experiment_id], max_results=100).runs
    assert sorted(r.info.run_id for r in found) == sorted(run_ids.values())
    for i, run_id in run_ids.items():
        run = service.runs.get(run_id)
        assert run.info.status == RunStatus.FINISHED and run.info.run_name == f"worker-{i}"
        assert run.data.params == {f"p{k}": f"{i}-{k}" for k in range(10)}
        assert run.data.tags["worker"] == str(i)
        assert [m.step for m in service.runs.metric_history(run_id, "m")] == list(range(100))
        assert [m.step for m in service.runs.metric_history(run_id, "b")] == list(range(1000))
