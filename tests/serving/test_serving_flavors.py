"""predict_proba of models whose raw object is not a scikit-learn estimator: a LightGBM
classifier (a Booster) and a scikit-learn model run on its ONNX export (a session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import lightgbm
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.models import load_model, save_model


@pytest.mark.parametrize("kind", ["lightgbm", "onnx"])
def test_probabilities_are_served(
    kind: str, home: Path, tmp_path: Path, iris: Any, serve_targets: Any
) -> None:
    X, y = iris
    directory = tmp_path / kind
    if kind == "lightgbm":
        model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y)
        save_model(model, directory, input_example=X.head(5))
        served = serve_targets([str(directory)])
    else:
        model = LogisticRegression(max_iter=500).fit(X, y)
        save_model(model, directory, input_example=X.head(5), onnx=True)
        served = serve_targets([str(directory)], serve_backend="onnx")
    meta = httpx.get(f"{served.url}/v2/models/{kind}").json()
    outputs = {o["name"]: o["shape"] for o in meta["outputs"]}
    assert outputs["predict_proba"] == [-1, 3]  # the width, though no classes_ was there
    body = {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64",
                        "data": X.iloc[[0, 100]].to_numpy().ravel().tolist()}],
            "outputs": [{"name": "predict_proba"}, {"name": "predict"}]}  # fmt: skip
    answer = httpx.post(f"{served.url}/v2/models/{kind}/infer", json=body).json()
    proba = next(o for o in answer["outputs"] if o["name"] == "predict_proba")
    assert proba["shape"] == [2, 3]
    backend = "onnx" if kind == "onnx" else "native"
    expected = load_model(directory, backend=backend).predict_proba(X.iloc[[0, 100]])
    np.testing.assert_allclose(np.reshape(proba["data"], (2, 3)), expected, atol=1e-5)
