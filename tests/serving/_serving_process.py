"""``loopml serve`` as a subprocess on a free port of 127.0.0.1, for the tests that need a
separate process (worker processes, a registry home, warnings not turned into errors,
signals); and the serving app in a thread of the test process with its lifespan on."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from _servers import HOST, ThreadedAppServer
from loopml.client import get_client
from loopml.config import Settings
from loopml.serving import EndpointStore, ModelPool


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(args: list[str], tmp_path: Path, env: dict[str, str]) -> tuple[Any, str, Path]:
    port = _free_port()
    out = tmp_path / f"serve-{port}.out"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loopml.cli",
                "serve",
                *args,
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return proc, url, out
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(out.read_text()[-3000:])
        time.sleep(0.1)


def stop_serve(proc: Any) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class LifespanAppServer(ThreadedAppServer):
    """:class:`ThreadedAppServer` with the app's lifespan run, as ``loopml serve`` runs it
    (the pool's watcher and shadow tasks start; stopping flushes its logs)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        super().__init__(app)
        config = uvicorn.Config(app, host=HOST, port=0, log_level="warning", lifespan="on",
                                ws="none")  # fmt: skip
        self._server = uvicorn.Server(config)


@dataclass
class Served:
    """A serving app on a real socket, over the embedded home's store."""

    url: str
    pool: ModelPool
    settings: Settings
    server: LifespanAppServer

    def stop(self) -> None:
        """Stop the server (its lifespan stops the pool and flushes the logs); idempotent."""
        if self.server.url:
            self.server.__exit__(None, None, None)
            self.server.url = ""


def endpoint_store() -> EndpointStore:
    """The stored endpoints of the process client's (embedded) store."""
    return EndpointStore(get_client().service.store)
