"""``loopml serve`` as a subprocess on a free port of 127.0.0.1, for the tests that need a
separate process (worker processes, a registry home, warnings not turned into errors)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


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
