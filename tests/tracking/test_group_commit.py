"""Group commit: many runs' batches in one transaction, one failing without the others."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

from _servers import ThreadedAppServer
from loopml.config import Settings
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.server import create_app
from loopml.tracking import RunBatch, RunStatus, TrackingService


def test_a_group_commits_together_and_fails_apart(store_settings: Settings) -> None:
    service = TrackingService.from_settings(store_settings)
    good, clashing, ended = (service.runs.create("0").info.run_id for _ in range(3))
    service.runs.log_batch(clashing, params={"lr": "0.1"})
    service.runs.update(ended, status=RunStatus.FINISHED)
    results = service.runs.write_many(
        [
            (good, RunBatch(metrics=[("m", 1.0, 1, 0)], params={"a": "1"}), False),
            (clashing, RunBatch(metrics=[("m", 2.0, 1, 0)], params={"lr": "0.2"}), False),
            (ended, RunBatch(metrics=[("m", 3.0, 1, 0)]), False),
            ("f" * 32, RunBatch(metrics=[("m", 4.0, 1, 0)]), False),
            (ended, RunBatch(tags={"late": "yes"}), True),
        ]
    )
    assert results[0] is None and results[4] is None
    assert isinstance(results[1], InvalidInput) and "immutable" in results[1].message
    assert isinstance(results[2], Conflict) and isinstance(results[3], NotFound)
    assert service.runs.get(good).data.params == {"a": "1"}
    assert service.runs.get(good).data.metrics == {"m": 1.0}
    # The failed writes left nothing behind, not even their metrics.
    assert service.runs.get(clashing).data.metrics == {}
    assert service.runs.get(clashing).data.params == {"lr": "0.1"}
    assert service.runs.get(ended).data.metrics == {}
    assert service.runs.get(ended).data.tags["late"] == "yes"


def test_concurrent_log_requests_are_all_acknowledged_and_kept(store_settings: Settings) -> None:
    service = TrackingService.from_settings(store_settings)
    runs = [service.runs.create("0").info.run_id for _ in range(8)]
    service.runs.log_batch(runs[0], params={"fixed": "1"})
    threads_before = threading.active_count()
    with ThreadedAppServer(create_app(store_settings)) as server:
        api = f"{server.url}/api/2.0/mlflow/runs"

        async def one(client: httpx.AsyncClient, run_id: str, step: int) -> int:
            body: dict[str, Any] = {
                "run_id": run_id,
                "metrics": [{"key": "m", "value": step, "timestamp": 1, "step": step}],
            }
            if run_id == runs[0] and step == 7:  # one request that must fail alone
                body["params"] = [{"key": "fixed", "value": "2"}]
            return (await client.post(f"{api}/log-batch", json=body)).status_code

        async def main() -> list[int]:
            async with httpx.AsyncClient(timeout=60) as client:
                jobs = [one(client, r, s) for s in range(20) for r in runs]
                return await asyncio.gather(*jobs)

        statuses = asyncio.run(main())
        # 160 requests at once, and the server added a handful of threads, not one each.
        assert threading.active_count() - threads_before < 20
    assert statuses.count(400) == 1 and statuses.count(200) == len(statuses) - 1
    for run_id in runs:
        steps = sorted(m.step for m in service.runs.metric_history(run_id, "m"))
        assert steps == [s for s in range(20) if not (run_id == runs[0] and s == 7)]


@pytest.mark.parametrize("bad", ["x" * 40, ""])
def test_group_commit_reports_bad_run_ids(store_settings: Settings, bad: str) -> None:
    service = TrackingService.from_settings(store_settings)
    (result,) = service.runs.write_many([(bad, RunBatch(tags={"a": "b"}), False)])
    assert isinstance(result, InvalidInput | NotFound)
