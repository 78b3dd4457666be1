"""Serving fixtures: small real models saved once per session, and a real uvicorn server
on 127.0.0.1 (in a thread of the test process) serving any of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _serving_models import CountingModel, EchoModel, MixedModel, PickyModel
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _servers import ThreadedAppServer
from loopml.config import Settings, load_settings
from loopml.models import save_model
from loopml.server.serving import create_serving_app
from loopml.serving import BatchPolicy, ModelPool, StoreSource, load_served_model


@pytest.fixture(scope="session")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory, iris: Any) -> dict[str, Path]:
    """Model directories by name:

    - ``iris``: scaler + logistic regression, four float64 columns, int labels;
    - ``iris-names``: logistic regression predicting the species' names (strings);
    - ``counting``: pyfunc summing columns a, b (float64), sleeping 0.2 s per call;
    - ``picky``: pyfunc that raises for a negative ``x``;
    - ``echo``: pyfunc without a signature, returning its input;
    - ``slow-echo``, ``slow-picky``: the same, sleeping 0.2 s per call;
    - ``mixed``: pyfunc taking int, float, bool and string columns;
    - ``tensor``: pyfunc taking a float32 [n, 3] tensor.
    """
    root = tmp_path_factory.mktemp("models")
    X, y = iris
    names = pd.Series(load_iris().target_names[y], name="species")
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    save_model(pipe, root / "iris", input_example=X.head(5))
    save_model(
        LogisticRegression(max_iter=500).fit(X, names), root / "iris-names", input_example=X.head(5)
    )
    pickled: dict[str, tuple[Any, Any]] = {
        "counting": (CountingModel(delay=0.2), pd.DataFrame({"a": [1.0], "b": [2.0]})),
        "picky": (PickyModel(), pd.DataFrame({"x": [1.0, 2.0]})),
        "echo": (EchoModel(), None),
        "slow-echo": (EchoModel(delay=0.2), None),
        "slow-picky": (PickyModel(delay=0.2), pd.DataFrame({"x": [1.0, 2.0]})),
        "mixed": (
            MixedModel(),
            pd.DataFrame(
                {
                    "age": np.array([30], dtype=np.int64),
                    "income": [1.5],
                    "member": [True],
                    "city": pd.Series(["Oslo"], dtype=object),
                }
            ),
        ),
        "tensor": (CountingModel(), np.ones((2, 3), dtype=np.float32)),
    }
    for name, (model, example) in pickled.items():
        save_model(model, root / name, input_example=example, allow_pickle=True)
    return {p.name: p for p in root.iterdir()}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        home=tmp_path / "home", serve_max_body_mb=1, serve_max_rows=1000, tracking_uri=None
    )


Serve = Callable[..., str]


@pytest.fixture
def serve(model_dirs: dict[str, Path], settings: Settings) -> Iterator[Serve]:
    """``serve("iris", "picky", policy=BatchPolicy(...), nan_policy=...)`` starts a server
    for those models (their directory names are their served names) and returns its URL."""
    stack: list[tuple[ThreadedAppServer, ModelPool]] = []

    def start(*names: str, policy: BatchPolicy | None = None, **options: Any) -> str:
        with StoreSource(settings) as source:
            models = [
                load_served_model(
                    model_dirs[name],
                    source=source,
                    allow_pickle=True,
                    policy=policy,
                    max_rows=settings.serve_max_rows,
                    **options,
                )
                for name in names
            ]
        pool = ModelPool.from_models(models)
        server = ThreadedAppServer(create_serving_app(pool, settings=settings))
        server.__enter__()
        stack.append((server, pool))
        return server.url

    yield start
    for server, pool in reversed(stack):
        server.__exit__(None, None, None)
        pool.close()
