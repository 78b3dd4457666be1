"""The server answers other requests while one waits on the database: handlers run in the
thread pool, never on the event loop."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest


@pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)
@pytest.mark.parametrize("via", ["mlflow", "native"])
def test_a_request_waiting_on_the_database_does_not_hold_up_the_others(
    live_server: Any, via: str
) -> None:
    api = f"{live_server.url}/api/2.0/mlflow"
    if via == "mlflow":
        create_url, body = f"{api}/experiments/create", {"name": "waits"}
    else:  # loopml's own client's route
        create_url = f"{live_server.url}/api/loopml/v1/call/experiments/create"
        body = {"args": ["waits"], "kwargs": {}}
    # Another process holds SQLite's write lock: a create must wait for it (busy timeout).
    holder = sqlite3.connect(live_server.home / "loopml.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with ThreadPoolExecutor(1) as pool:
        try:
            create = pool.submit(httpx.post, create_url, json=body, timeout=60)
            time.sleep(0.5)  # lets the create reach the server (a late one only weakens this)
            for _ in range(20):  # reads go on meanwhile, answered from the WAL
                got = httpx.get(f"{api}/experiments/get", params={"experiment_id": "0"},
                                timeout=20)  # fmt: skip
                assert got.status_code == 200, got.text
                assert got.json()["experiment"]["name"] == "Default"
            assert not create.done()  # still waiting for the lock, off the event loop
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        created = create.result(timeout=60)
    assert created.status_code == 200, created.text
    answer = created.json()
    experiment_id = answer["experiment_id"] if via == "mlflow" else answer["result"]
    got = httpx.get(f"{api}/experiments/get", params={"experiment_id": experiment_id})
    assert got.json()["experiment"]["name"] == "waits"
