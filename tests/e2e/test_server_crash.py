"""kill -9 of the server while clients write: after a restart, every acknowledged write is there."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from loopml.config import Settings
from loopml.tracking import TrackingService


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "loopml.cli", "server", "--port", str(port)]
    with log.open("ab") as out:  # the child keeps its own handle
        proc = subprocess.Popen(
            [*command, "--log-level", "warning"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(log.read_text()[-2000:])


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_acknowledged_writes_survive_kill_9(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = dict(os.environ, LOOPML_HOME=str(tmp_path / "home"))
    db_url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    if db_url:
        env["LOOPML_DB_URL"] = db_url
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    server = _start(env, port, tmp_path / "server.log")
    run_id = httpx.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"][
        "run_id"
    ]
    acked: list[tuple[str, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(worker: int) -> None:
        with httpx.Client(timeout=5) as http:
            for i in range(10_000):
                if stop.is_set():
                    return
                key = f"w{worker}_{i}"
                try:
                    response = http.post(
                        f"{api}/runs/log-batch",
                        json={
                            "run_id": run_id,
                            "params": [{"key": key, "value": str(i)}],
                            "metrics": [
                                {"key": f"m{worker}", "value": i, "timestamp": 1, "step": i}
                            ],
                        },
                    )
                except httpx.TransportError:
                    return  # the server is gone: this write is unknown, not acknowledged
                if response.status_code == 200:
                    with lock:
                        acked.append((key, i))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) > 20, "the writers should have been acknowledged before the kill"

    server = _start(env, port, tmp_path / "server.log")  # the store must reopen cleanly
    try:
        run = httpx.get(f"{api}/runs/get", params={"run_id": run_id}).json()["run"]
        params = {p["key"]: p["value"] for p in run["data"]["params"]}
        missing = [key for key, i in acked if params.get(key) != str(i)]
        assert missing == []
        service = TrackingService.from_settings(Settings(home=tmp_path / "home", db_url=db_url))
        for worker in range(4):
            steps = {m.step for m in service.runs.metric_history(run_id, f"m{worker}")}
            assert {i for key, i in acked if key.startswith(f"w{worker}_")} <= steps
    finally:
        server.terminate()
        server.wait(timeout=20)
    if backend == "sqlite":
        import sqlite3

        db = sqlite3.connect(tmp_path / "home" / "loopml.db")
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
