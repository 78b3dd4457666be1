"""Example pipelines for the pipeline tests, importable by module path (CLI, worker processes)."""

from __future__ import annotations

import os
from pathlib import Path

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
