"""Fixtures for the models suite: real scikit-learn models fitted on bundled datasets."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


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
