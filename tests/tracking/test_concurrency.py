"""Many processes logging at once: no error, no lost point (SQLite 8 writers, PostgreSQL 16)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loopml.client import open_service
from loopml.config import Settings
from loopml.store import head_revision, open_store, reset_stores
from loopml.store._migrate import current_revision

WORKER = Path(__file__).with_name("_worker.py")
POINTS = 1500


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["LOOPML_HOME"] = str(settings.home)
    if settings.db_url:
        env["LOOPML_DB_URL"] = settings.db_url
    if settings.tracking_uri:
        env["LOOPML_TRACKING_URI"] = settings.tracking_uri
    env["LOOPML_FLUSH_INTERVAL"] = "0.02"  # many small transactions: the hardest case
    return env


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(settings: Settings) -> None:
    # 8 processes on one SQLite file; 16 through PostgreSQL or a server.
    writers = 16 if settings.db_url or settings.is_remote else 8
    service = open_service(settings)
    shared = service.runs.create(service.experiments.create("shared")).info.run_id
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                "log",
                "--index",
                str(i),
                "--points",
                str(POINTS),
                "--shared-run",
                shared,
            ],
            env=_env(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(writers)
    ]
    run_ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        run_ids.append(out.split()[0])
    assert len(set(run_ids)) == writers
    for i, run_id in enumerate(run_ids):
        run = service.runs.get(run_id)
        assert run.data.params == {f"p{k}": f"{i}-{k}" for k in range(20)}
        steps = [m.step for m in service.runs.metric_history(run_id, "m")]
        assert steps == list(range(POINTS))
    shared_run = service.runs.get(shared)
    for i in range(writers):
        steps = [m.step for m in service.runs.metric_history(shared, f"w{i}")]
        assert steps == list(range(POINTS))
        assert shared_run.data.metrics[f"w{i}"] == POINTS - 1
        assert shared_run.data.params[f"worker{i}"] == str(i)


def test_concurrent_first_start_migrates_once(store_settings: Settings) -> None:
    settings = store_settings
    url = settings.resolved_db_url()
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "migrate", "--db-url", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    reset_stores()
    assert current_revision(open_store(url, migrate=False)) == head_revision()
    service = open_service(settings)
    assert service.experiments.get("0").name == "Default"
