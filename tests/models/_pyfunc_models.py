"""Plain-Python models for the pyfunc tests (importable, so cloudpickle stores them by name)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class Doubler:
    """Predicts twice the sum of each row; has no predict_proba."""

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        return np.asarray(data, dtype=float).sum(axis=1) * 2


class Thresholder:
    """A classifier written by hand: probability = clipped first column."""

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(data)[:, 1] > 0.5).astype(int)

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray:
        p = np.clip(np.asarray(data, dtype=float)[:, 0] / 10, 0, 1)
        return np.column_stack([1 - p, p])


class Shift(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """A custom sklearn transformer: skops writes it, but loopml does not trust it."""

    def fit(self, X: Any, y: Any = None) -> Shift:
        return self

    def transform(self, X: Any) -> Any:
        return X + 1.0
