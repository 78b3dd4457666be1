"""Example pipelines for the pipeline tests, importable by module path (CLI, worker processes)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from loopml.pipeline import Pipeline, step


@step
def load(n: int) -> pd.DataFrame:
    """n rows of deterministic 'customer' data."""
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {"x": rng.normal(size=n), "y": rng.integers(0, 2, size=n), "id": np.arange(n)}
    )


@step(retries=1)
def clean(load: pd.DataFrame, crash_dir: str = "") -> pd.DataFrame:
    """Drops negative x. With ``crash_dir`` set, kills its process on the first attempt."""
    if crash_dir:
        marker = Path(crash_dir) / "clean-crashed"
        if not marker.exists():
            marker.write_text("first attempt died here")
            os._exit(1)  # a worker dying mid-step, not an exception
    return load[load["x"] > 0].reset_index(drop=True)


@step
def features(load: pd.DataFrame) -> np.ndarray:
    """An independent branch: a numpy array."""
    return load[["x"]].to_numpy().ravel() ** 2


@step
def summary(load: pd.DataFrame) -> pl.DataFrame:
    """Another branch, as a polars frame."""
    return pl.from_pandas(load).group_by("y").len().sort("y")


@step
def train(clean: pd.DataFrame, features: np.ndarray, lr: float) -> dict[str, float]:
    """A 'model': JSON-able metrics."""
    return {"lr": lr, "rows": float(len(clean)), "score": round(float(features.mean()) * lr, 6)}


churn = Pipeline("churn", [load, clean, features, summary, train], params={"n": 200, "lr": 0.1})


@step(retries=2)
def flaky(n: int, fail_dir: str) -> int:
    """Fails on its first two attempts (counted in files), then succeeds."""
    count = len(list(Path(fail_dir).glob("attempt-*")))
    (Path(fail_dir) / f"attempt-{count}").write_text("")
    if count < 2:
        raise RuntimeError(f"flaky attempt {count}")
    return n


@step
def broken(load: pd.DataFrame) -> int:
    """Always fails."""
    raise ValueError(f"bad data: {len(load)} rows")


@step
def after_broken(broken: int) -> int:
    """Never reached."""
    return broken + 1


failing = Pipeline("failing", [load, broken, after_broken, features], params={"n": 10})


# -- worker processes that die ---------------------------------------------------------------
def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 120  # a bound, so that a broken test fails instead of hanging
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


@step
def bystander(n: int, crash_dir: str) -> int:
    """On its first attempt, runs until ``crasher`` kills the pool it runs in."""
    started = Path(crash_dir) / "bystander-started"
    if started.exists():
        return n
    started.write_text("")
    _wait_for(Path(crash_dir) / "never")  # the broken pool terminates this process first
    raise RuntimeError("the process pool was not broken")


@step
def crasher(n: int, crash_dir: str) -> int:
    """On its first attempt, kills its process once ``bystander`` runs in another one."""
    marker = Path(crash_dir) / "crasher-crashed"
    if not marker.exists():
        _wait_for(Path(crash_dir) / "bystander-started")
        marker.write_text("")
        os._exit(1)
    return -n


crash_pair = Pipeline("crash-pair", [bystander, crasher], params={"n": 3})


@step
def suicidal(n: int) -> int:
    """Kills its process every time."""
    os._exit(1)


# -- helpers of the tests --------------------------------------------------------------------
def statuses(result: Any) -> dict[str, str]:
    """Step name -> status of a pipeline result."""
    return {name: s.status for name, s in result.steps.items()}


def hashes(result: Any) -> dict[str, str | None]:
    """Step name -> output hash of a pipeline result."""
    return {name: s.output_hash for name, s in result.steps.items()}
