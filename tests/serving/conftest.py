"""Serving fixtures: small real models saved once per session, and a real uvicorn server
on 127.0.0.1 (in a thread of the test process, lifespan on, as ``loopml serve`` runs it)
serving any of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _serving_models import CALLS, CountingModel, EchoModel, MixedModel, PickyModel
from _serving_process import LifespanAppServer, Served
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml
from loopml.client import set_client
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
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An embedded home (LOOPML_HOME) for this test, with the process client reset."""
    home = tmp_path / "home"
    monkeypatch.setenv("LOOPML_HOME", str(home))
    monkeypatch.delenv("LOOPML_DB_URL", raising=False)
    monkeypatch.delenv("LOOPML_TRACKING_URI", raising=False)
    monkeypatch.delenv("LOOPML_SERVE_TARGETS", raising=False)
    set_client(None)
    yield home
    while loopml.active_run() is not None:
        loopml.end_run()
    set_client(None)


@pytest.fixture
def registered(home: Path, iris: Any) -> dict[str, str]:
    """Model 'flowers' in the home: v1 (C=1, 'champion'), v2 (C=0.01, 'production',
    'challenger'); returns the run of each version."""
    X, y = iris
    runs = {}
    for version, c in ((1, 1.0), (2, 0.01)):
        with loopml.start_run(experiment="flowers") as run:
            clf = LogisticRegression(C=c, max_iter=500).fit(X, y)
            loopml.log_model(clf, "model", input_example=X.head(5))
        loopml.register_model(f"runs:/{run.run_id}/model", "flowers")
        runs[str(version)] = run.run_id
    loopml.set_model_alias("flowers", "production", 2, reason="serving test")
    loopml.set_model_alias("flowers", "champion", 1, reason="serving test")
    loopml.set_model_alias("flowers", "challenger", 2, reason="serving test")
    loopml.flush()
    return runs


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        home=tmp_path / "home", serve_max_body_mb=1, serve_max_rows=1000, tracking_uri=None
    )


Serve = Callable[..., str]


@pytest.fixture
def serve(model_dirs: dict[str, Path], settings: Settings) -> Iterator[Serve]:
    """``serve("iris", "picky", policy=BatchPolicy(...), nan_policy=...)`` starts a server
    for those models (their directory names are their served names) and returns its URL;
    ``pool_options`` go to :meth:`ModelPool.from_models` (``log=``, ``feedback=``)."""
    stack: list[tuple[LifespanAppServer, ModelPool]] = []

    def start(
        *names: str, policy: BatchPolicy | None = None, pool_options: Any = None, **options: Any
    ) -> str:
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
        CALLS.clear()  # loading warmed each model up: those calls are not the test's
        pool = ModelPool.from_models(models, **(pool_options or {}))
        server = LifespanAppServer(create_serving_app(pool, settings=settings))
        server.__enter__()
        stack.append((server, pool))
        return server.url

    yield start
    for server, pool in reversed(stack):
        server.__exit__(None, None, None)
        pool.close()


@pytest.fixture
def serve_targets(home: Path) -> Iterator[Callable[..., Served]]:
    """``serve_targets(["fraud", "models:/x@a"], serve_poll_s=0.2)`` loads targets (stored
    endpoints, URIs) from the embedded home with those settings and serves them, polling
    every 0.2 s by default and flushing logs only when stopped."""
    started: list[Served] = []

    def start(targets: list[str], **overrides: Any) -> Served:
        chosen = {"serve_poll_s": 0.2, "serve_log_flush_s": 3600, **overrides}
        settings = load_settings(**chosen)
        pool = ModelPool.load(targets, settings=settings)
        server = LifespanAppServer(create_serving_app(pool, settings=settings))
        server.__enter__()
        served = Served(server.url, pool, settings, server)
        started.append(served)
        return served

    yield start
    for served in reversed(started):
        served.stop()
