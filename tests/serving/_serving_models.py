"""Plain-Python models for the serving tests (importable: cloudpickle stores them by name,
and the server, in this process or a subprocess with this directory on its path, finds
them)."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pandas as pd

# Rows of each predict call of every CountingModel in this process, in call order.
CALLS: list[int] = []
_LOCK = threading.Lock()


class CountingModel:
    """Sums each row; records the rows of each call and sleeps, so that requests pile up
    while it works."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        with _LOCK:
            CALLS.append(len(data))
        if self.delay:
            time.sleep(self.delay)
        return np.asarray(data, dtype=float).sum(axis=1)


class PickyModel:
    """Raises for any row whose ``x`` is negative, naming it; doubles ``x`` otherwise."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        if self.delay:
            time.sleep(self.delay)
        bad = data["x"] < 0
        if bad.any():
            raise ValueError(f"x must not be negative, got {data['x'][bad].iloc[0]}")
        return data["x"].to_numpy() * 2


class EchoModel:
    """Returns its input unchanged: round-trips every tensor datatype."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def predict(self, data: Any) -> Any:
        if self.delay:
            time.sleep(self.delay)
        return data


class MixedModel:
    """Takes an int, a float, a bool and a string column; returns a string per row."""

    def predict(self, data: pd.DataFrame) -> list[str]:
        return [
            f"{r.age}|{r.income:g}|{bool(r.member)}|{r.city}" for r in data.itertuples(index=False)
        ]
