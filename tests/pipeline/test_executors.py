"""Executors: threads, a process pool, a Dask LocalCluster and an external Dask scheduler give
the same output hashes, and a worker that dies mid-step costs a retry, not the pipeline."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import _example_pipeline as ex
import pytest
from _example_pipeline import hashes, statuses

from loopml.config import Settings
from loopml.errors import InvalidInput, Unavailable
from loopml.pipeline import Pipeline, ProcessExecutor, StepFailed, list_pipeline_runs, step


def test_independent_steps_run_at_the_same_time(settings: Settings) -> None:
    both_running = threading.Barrier(2, timeout=30)  # breaks unless the two overlap

    @step
    def left(n: int) -> int:
        both_running.wait()
        return n

    @step
    def right(n: int) -> int:
        both_running.wait()
        return -n

    @step
    def join(left: int, right: int) -> int:
        return left + right

    result = Pipeline("parallel", [left, right, join], params={"n": 3}).run(settings=settings)
    assert result.outputs == {"left": 3, "right": -3, "join": 0}


@pytest.mark.slow
def test_the_same_hashes_on_every_executor(tmp_path: Path, workers_import_examples: None) -> None:
    local = ex.churn.run(settings=Settings(home=tmp_path / "local"), executor="local")
    process = ex.churn.run(settings=Settings(home=tmp_path / "process"), executor="process")
    dask = ex.churn.run(settings=Settings(home=tmp_path / "dask"), executor="dask-local")
    assert hashes(local) == hashes(process) == hashes(dask)
    assert set(statuses(process).values()) == set(statuses(dask).values()) == {"ran"}
    assert dask.executor == "dask-local"


def test_an_unknown_executor_is_refused(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="unknown executor 'ray'"):
        ex.churn.run(settings=settings, executor="ray")
    for bad in ("dask://", "dask://10.0.0.5", "dask://host:port", "dask://host:99999"):
        with pytest.raises(InvalidInput, match="is not dask://host:port"):
            ex.churn.run(settings=settings, executor=bad)
    assert list_pipeline_runs(settings=settings) == []  # refused before anything is recorded


# -- worker processes that die ---------------------------------------------------------------
@pytest.mark.slow
def test_a_dask_worker_that_dies_mid_step_is_replaced(
    tmp_path: Path, workers_import_examples: None
) -> None:
    local = ex.churn.run(settings=Settings(home=tmp_path / "local"))
    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    result = ex.churn.run(
        params={"crash_dir": str(crash_dir)},
        settings=Settings(home=tmp_path / "dask"),
        executor="dask-local",
    )
    assert (crash_dir / "clean-crashed").exists()  # the first attempt really died
    assert result.status == "FINISHED"
    assert hashes(result) == hashes(local)


@pytest.mark.slow
def test_a_process_that_dies_mid_step_is_replaced(
    tmp_path: Path, workers_import_examples: None
) -> None:
    local = ex.churn.run(settings=Settings(home=tmp_path / "local"))
    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    result = ex.churn.run(
        params={"crash_dir": str(crash_dir)},
        settings=Settings(home=tmp_path / "process"),
        executor="process",
    )
    assert (crash_dir / "clean-crashed").exists()  # the first attempt really died
    assert result.status == "FINISHED"
    assert hashes(result) == hashes(local)
    assert result.steps["clean"].attempts == 2


@pytest.mark.slow
def test_steps_running_beside_a_dying_process_are_resubmitted(
    tmp_path: Path, workers_import_examples: None
) -> None:
    # One worker dying breaks the whole standard-library pool: bystander (no retries) was
    # running in the other worker when crasher killed its own, and must not fail for it.
    events: list[tuple[str, str]] = []
    result = ex.crash_pair.run(
        params={"crash_dir": str(tmp_path)},
        settings=Settings(home=tmp_path / "home"),
        executor=ProcessExecutor(max_workers=2),
        on_event=lambda e: events.append((e.step, e.status)),
    )
    assert (tmp_path / "crasher-crashed").exists()
    assert result.status == "FINISHED"
    assert result.outputs == {"bystander": 3, "crasher": -3}
    assert result.steps["bystander"].attempts == 2 and ex.bystander.retries == 0
    assert ("bystander", "retrying") in events and ("crasher", "retrying") in events


@pytest.mark.slow
def test_a_step_that_always_kills_its_process_fails_after_a_bounded_number_of_tries(
    settings: Settings, workers_import_examples: None
) -> None:
    pipe = Pipeline("suicidal", [ex.suicidal], params={"n": 1})
    with pytest.raises(StepFailed, match=r"step 'suicidal' .* execution lost") as info:
        pipe.run(settings=settings, executor="process")
    tries = 1 + ProcessExecutor.lost_retries
    assert info.value.details["attempts"] == tries
    assert f"after {tries} attempts" in info.value.message


# -- an external Dask cluster ------------------------------------------------------------------
def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        # A session of its own: the worker's nanny and worker processes are stopped with it.
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _scheduler_address(scheduler_file: Path, scheduler: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and scheduler.poll() is None:
        try:
            return str(json.loads(scheduler_file.read_text())["address"])
        except (OSError, ValueError, KeyError):  # not written yet, or half written
            time.sleep(0.05)
    raise AssertionError(f"the dask scheduler did not start (exit code {scheduler.poll()})")


@pytest.fixture
def dask_cluster(tmp_path: Path, workers_import_examples: None) -> Iterator[str]:
    """``host:port`` of a real ``dask scheduler`` with two worker processes on 127.0.0.1."""
    from distributed import Client

    scheduler_file = tmp_path / "scheduler.json"
    # Port 0: the scheduler picks a free port and writes it to the scheduler file. The HTTP
    # server (health, metrics) also gets a free port instead of 0.0.0.0:8787.
    common = ["--scheduler-file", str(scheduler_file), "--dashboard-address", "127.0.0.1:0"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            _spawn([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                    "--port", "0", "--no-dashboard", *common],
                   tmp_path / "scheduler.log")
        )  # fmt: skip
        address = _scheduler_address(scheduler_file, procs[0])
        procs.append(
            _spawn([sys.executable, "-m", "distributed.cli.dask_worker", "--host", "127.0.0.1",
                    "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
                    "--local-directory", str(tmp_path / "workers"), *common],
                   tmp_path / "workers.log")
        )  # fmt: skip
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address.removeprefix("tcp://")
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.mark.slow
def test_an_external_dask_scheduler(tmp_path: Path, dask_cluster: str) -> None:
    local = ex.churn.run(settings=Settings(home=tmp_path / "local"))
    remote = ex.churn.run(
        settings=Settings(home=tmp_path / "remote"), executor=f"dask://{dask_cluster}"
    )
    assert remote.status == "FINISHED"
    assert set(statuses(remote).values()) == {"ran"}
    assert hashes(remote) == hashes(local)
    assert remote.executor == f"dask://{dask_cluster}"
    assert dask_cluster.startswith("127.0.0.1:")


def test_an_unreachable_dask_scheduler_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(
        Unavailable, match=r"cannot reach the Dask scheduler at dask://127\.0\.0\.1:1"
    ):
        ex.churn.run(settings=settings, executor="dask://127.0.0.1:1")
    assert list_pipeline_runs(settings=settings) == []
