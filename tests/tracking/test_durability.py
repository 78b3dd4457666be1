"""What the client promises about durability, checked across real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from loopml.client import open_service
from loopml.config import Settings
from loopml.tracking import RunStatus

WORKER = Path(__file__).with_name("_worker.py")


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["LOOPML_HOME"] = str(settings.home)
    if settings.db_url:
        env["LOOPML_DB_URL"] = settings.db_url
    if settings.tracking_uri:
        env["LOOPML_TRACKING_URI"] = settings.tracking_uri
    return env


def test_interpreter_exit_makes_everything_durable(settings: Settings) -> None:
    out = subprocess.run(
        [sys.executable, str(WORKER), "exit-without-end", "--points", "20000"],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    run_id = out.stdout.split()[0]
    service = open_service(settings)
    assert len(service.runs.metric_history(run_id, "m")) == 20000
    assert service.runs.get(run_id).info.status == RunStatus.FINISHED


def test_an_exception_fails_the_run_but_keeps_its_points(settings: Settings) -> None:
    out = subprocess.run(
        [sys.executable, str(WORKER), "crash", "--points", "500"],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1 and "training crashed" in out.stderr
    run_id = out.stdout.split()[0]
    service = open_service(settings)
    assert len(service.runs.metric_history(run_id, "m")) == 500
    # Not ended by a with-block: atexit ends it FINISHED as MLflow does; the traceback tells.
    assert service.runs.get(run_id).info.status.is_terminal


def test_sigterm_flushes_and_marks_the_run_killed(settings: Settings) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), "sigterm", "--points", "5000"],
        env=_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM, err
    service = open_service(settings)
    history = service.runs.metric_history(run_id, "m")
    assert len(history) >= 5000
    # Every point up to the last one written is there, in order, none twice.
    assert [m.step for m in history] == list(range(len(history)))
    assert service.runs.get(run_id).info.status == RunStatus.KILLED
