"""log_model into a real run and load_model("runs:/...") back, through the embedded client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from _pyfunc_models import Doubler

import loopml
from loopml.client import Client, set_client
from loopml.config import Settings
from loopml.errors import InvalidInput, NotFound
from loopml.models import load_model, log_model


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(Settings(home=tmp_path / "home"))
    set_client(c)
    try:
        yield c
    finally:
        while loopml.active_run() is not None:
            loopml.end_run()
        set_client(None)


def test_log_model_then_load_runs_uri(
    client: Client, iris: tuple[pd.DataFrame, pd.Series], iris_clf: Any
) -> None:
    X, _ = iris
    with loopml.start_run(experiment="models") as run:
        info = log_model(
            iris_clf, "clf", log_artifacts=loopml.log_artifacts, input_example=X.head(3)
        )
    run_id = run.info.run_id
    assert info.path == "clf" and info.flavor == "sklearn"
    files = sorted(a.path for a in client.list_artifacts(run_id, "clf"))
    assert files == ["clf/loopml-model.yaml", "clf/model.skops"]
    manifest = yaml.safe_load(client.read_artifact(run_id, "clf/loopml-model.yaml"))
    assert manifest["sha256"] == info.sha256

    model = load_model(f"runs:/{run_id}/clf", download=client.download_artifacts)
    assert model.source == f"runs:/{run_id}/clf" and model.signature == info.signature
    np.testing.assert_array_equal(model.predict(X), iris_clf.predict(X))

    with pytest.raises(NotFound):
        load_model(f"runs:/{run_id}/nothing-here", download=client.download_artifacts)


def test_log_pyfunc_needs_allow_pickle_and_a_clean_name(
    client: Client, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = iris
    with loopml.start_run(experiment="models") as run:
        with pytest.raises(InvalidInput, match=r"allow_pickle=True"):
            log_model(Doubler(), log_artifacts=loopml.log_artifacts)
        with pytest.raises(InvalidInput, match=r"'\.\.'"):
            log_model(Doubler(), "../up", log_artifacts=loopml.log_artifacts, allow_pickle=True)
        log_model(Doubler(), log_artifacts=loopml.log_artifacts, allow_pickle=True)
    uri = f"runs:/{run.info.run_id}/model"
    with pytest.raises(InvalidInput, match=r"allow_pickle=True"):
        load_model(uri, download=client.download_artifacts)
    model = load_model(uri, download=client.download_artifacts, allow_pickle=True)
    np.testing.assert_allclose(model.predict(X), Doubler().predict(X))
