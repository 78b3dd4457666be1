"""``loopml models``: list, show, alias, audit and lineage over a real embedded store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from typer.testing import CliRunner

import loopml
from loopml.pipeline import Pipeline, step


@step
def raw(n: int) -> pd.DataFrame:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    return frame.head(n).reset_index(drop=True)


@step(dataset="iris-features")
def features(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))


def invoke(*args: str) -> Any:
    from loopml.cli import app

    result = CliRunner().invoke(app, ["models", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_lineage_from_alias_to_pipeline_step(home: Path, iris_clf: Any) -> None:
    from loopml.client import get_client

    piped = Pipeline("iris-prep", [raw, features], params={"n": 150}).run(
        settings=get_client().settings
    )
    data = loopml.data.version(piped.steps["features"].dataset or "")
    X = loopml.data.get(data.ref).drop(columns=["target"])
    X.columns = list(iris_clf.feature_names_in_)
    with loopml.start_run(experiment="iris") as run:
        loopml.log_input(data)
        loopml.log_metric("accuracy", 0.96)
        loopml.log_model(iris_clf, "model", input_example=X.head(3))
    version = loopml.register_model(f"runs:/{run.run_id}/model", "iris")
    invoke("alias", "iris", "champion", str(version.version), "--reason", "first")

    tree = json.loads(invoke("lineage", "iris@champion", "--json").stdout)
    assert (tree["model"], tree["version"], tree["aliases"]) == ("iris", 1, ["champion"])
    assert tree["run"]["run_id"] == run.run_id and tree["metrics"] == {"accuracy": 0.96}
    [dataset] = tree["datasets"]
    assert dataset["ref"] == data.ref and dataset["step"] == "features"
    producer = dataset["produced_by"]
    assert producer["step"] == "features" and producer["run_id"] == piped.steps["features"].run_id
    assert producer["pipeline_run"]["run_id"] == piped.run_id
    assert "git_commit" in producer["pipeline_run"]
    text = invoke("lineage", "iris@champion").stdout
    assert "iris-features@1" in text and "produced by step features" in text

    shown = json.loads(invoke("show", "iris/1", "--json").stdout)
    assert shown["aliases"] == ["champion"] and shown["datasets"] == [data.ref]
    listed = json.loads(invoke("list", "--json").stdout)
    assert [m["name"] for m in listed] == ["iris"] and listed[0]["aliases"] == {"champion": 1}
    audit = json.loads(invoke("audit", "iris", "--json").stdout)
    assert audit[0]["action"] in ("set_alias", "move_alias") and audit[0]["reason"] == "first"
    for command in ("list", "show", "alias", "audit", "lineage"):
        assert "Example:" in invoke(command, "--help").output
