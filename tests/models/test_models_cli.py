"""``loopml models``: list, show, versions, alias, archive, approve, audit and lineage over a
real embedded store."""

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


def _run_cli(*args: str) -> Any:
    from loopml.cli import app

    return CliRunner().invoke(app, ["models", *args])


def test_versions_archive_and_approve(home: Path) -> None:
    import getpass

    for auc in (0.81, 0.86, 0.84):
        with loopml.start_run(experiment="churn") as run:
            loopml.log_metrics({"auc": auc, "f1": auc - 0.1, "loss": 1 - auc})
        loopml.register_model(f"runs:/{run.run_id}/model", "churn")
    invoke("alias", "churn", "champion", "2")

    listed = json.loads(invoke("versions", "churn", "--json").stdout)
    assert [(v["version"], v["current_stage"], v["aliases"]) for v in listed] == [
        (1, "None", []), (2, "None", ["champion"]), (3, "None", [])
    ]  # fmt: skip
    assert listed[2]["metrics"]["auc"] == 0.84 and listed[2]["run_id"] == run.run_id
    text = invoke("versions", "churn", "--metric", "auc").stdout
    assert "champion" in text and "0.86" in text and run.run_id[:12] in text
    assert "loss" not in text  # only the metric asked for

    # Archiving what an alias serves is refused, naming the alias; --force archives it.
    refused = _run_cli("archive", "churn", "--version", "2")
    assert refused.exit_code == 5 and "churn@champion" in refused.output
    archived = json.loads(
        invoke("archive", "churn", "--version", "1", "--reason", "old", "--json").stdout
    )
    assert (archived["version"], archived["current_stage"]) == (1, "Archived")
    forced = invoke("archive", "churn", "--version", "2", "--force")
    assert "Archived" in forced.stdout and "still served by churn@champion" in forced.stdout
    audit = json.loads(invoke("audit", "churn", "--json").stdout)
    assert [(e["action"], e["version"], e["reason"]) for e in audit[:2]] == [
        ("archive_version", 2, None), ("archive_version", 1, "old")
    ]  # fmt: skip

    approved = json.loads(
        invoke("approve", "churn", "--version", "3", "--reason", "read it", "--json").stdout
    )
    me = getpass.getuser()
    assert (approved["user"], approved["version"], approved["reason"]) == (me, 3, "read it")
    assert approved["approved_by"] == [me]
    again = invoke("approve", "churn", "--version", "3")
    assert f"{me} approved churn v3; approved by 1: {me}" in again.stdout

    # Bad input: a clear loopml error and its exit code, for each command.
    for args, code, said in [
        (("versions", "ghost"), 3, "'ghost' does not exist"),
        (("archive", "churn", "--version", "9"), 3, "no version 9"),
        (("approve", "ghost", "--version", "1"), 3, "'ghost' does not exist"),
        (("approve", "churn", "--version", "0"), 2, "positive integer"),
    ]:
        result = _run_cli(*args)
        assert result.exit_code == code and said in result.output, (args, result.output)
    from loopml.client import model_registry

    model_registry().delete_version("churn", 3)
    deleted = _run_cli("approve", "churn", "--version", "3")
    assert deleted.exit_code == 3 and "it was deleted" in deleted.output
    for command in ("versions", "archive", "approve"):
        assert "Example:" in invoke(command, "--help").output
