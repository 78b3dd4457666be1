"""Fixtures for the models suite: real scikit-learn models fitted on bundled datasets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml
from loopml.client import set_client


@pytest.fixture(scope="session")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="session")
def iris_clf(iris: tuple[pd.DataFrame, pd.Series]) -> object:
    """A fitted pipeline (scaler + logistic regression): skops needs no extra types."""
    X, y = iris
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)


@pytest.fixture(scope="session")
def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="session")
def diabetes_forest(diabetes: tuple[pd.DataFrame, pd.Series]) -> object:
    """A fitted forest: its trees are a type skops does not trust but loopml does."""
    X, y = diabetes
    return RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(X, y)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty embedded home that the process client and the CLI both use."""
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LOOPML_DB_URL", raising=False)
    monkeypatch.delenv("LOOPML_TRACKING_URI", raising=False)
    set_client(None)
    yield tmp_path / "home"
    while loopml.active_run() is not None:
        loopml.end_run()
    set_client(None)
