"""Fixtures for the models suite: real scikit-learn models fitted on bundled datasets."""

from __future__ import annotations

import contextlib
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
from _servers import ThreadedAppServer
from loopml.client import Client, set_client
from loopml.config import Settings
from loopml.server import create_app


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


@pytest.fixture(params=["embedded", pytest.param("remote", marks=pytest.mark.remote)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Client]:
    """The process client, on an embedded home or on a live ``loopml server``."""
    with contextlib.ExitStack() as stack:
        settings = Settings(home=tmp_path / "home")
        if request.param == "remote":
            server = stack.enter_context(ThreadedAppServer(create_app(settings)))
            settings = Settings(home=tmp_path / "client", tracking_uri=server.url)
        c = Client(settings)
        set_client(c)
        yield c
        while loopml.active_run() is not None:
            loopml.end_run()
        set_client(None)
