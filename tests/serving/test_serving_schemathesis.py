"""schemathesis against the serving app's ``/openapi.json``: no generated request gets a 5xx.

The server is a ``loopml serve`` subprocess: in this process pytest turns every warning
into an error, even a numpy overflow warning inside a model fed 1e308.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from _serving_process import start_serve, stop_serve


def test_openapi_describes_the_routes(serve: Any) -> None:
    url = serve("iris", "mixed")
    schema = httpx.get(url + "/openapi.json").json()
    infer = schema["paths"]["/v2/models/{name}/infer"]["post"]
    assert infer["parameters"][0]["schema"]["enum"] == ["iris", "mixed"]
    body = infer["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["inputs"]
    assert "text/csv" in schema["paths"]["/invocations"]["post"]["requestBody"]["content"]
    assert httpx.get(url + "/docs").status_code == 200


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(model_dirs: Any, tmp_path: Path) -> None:
    env = dict(
        os.environ,
        LOOPML_HOME=str(tmp_path / "home"),
        PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), *sys.path]),
    )
    env.pop("LOOPML_TRACKING_URI", None)
    args = [
        str(model_dirs["iris"]),
        str(model_dirs["mixed"]),
        str(model_dirs["echo"]),
        "--allow-pickle",
        "--max-body-mb",
        "1",
    ]
    proc, url, _ = start_serve(args, tmp_path, env)
    try:
        out = subprocess.run(
            [
                str(Path(sys.executable).with_name("st")),
                "run",
                f"{url}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--phases",
                "coverage,fuzzing",
                "--max-examples",
                "25",
                "--workers",
                "1",  # hypothesis' lambda introspection is not thread-safe
                "--seed",
                "20261205",
                "--no-shrink",
                "--report-dir",
                str(tmp_path / "report"),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env=dict(os.environ, SCHEMATHESIS_TELEMETRY="false", NO_COLOR="1"),
        )
    finally:
        stop_serve(proc)
    problems = out.stdout.find("=== ERRORS"), out.stdout.find("=== FAILURES")
    start = min((i for i in problems if i >= 0), default=max(0, len(out.stdout) - 6000))
    assert out.returncode == 0, out.stdout[start : start + 8000]
    assert "Tested: " in out.stdout and " failed" not in out.stdout.split("Test cases:")[-1]
