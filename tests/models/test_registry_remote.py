"""The model registry from loopml's own client, embedded and through ``loopml server``: the
same calls, entities, errors, audit trail and promotion gates either way."""

from __future__ import annotations

import getpass
import itertools
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier
from typer.testing import CliRunner

import loopml
from loopml.client import Client
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.registry import GateFailed, ModelVersion, Stage, promote


def _train(X: pd.DataFrame, y: pd.Series, depth: int, name: str = "iris") -> ModelVersion:
    model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)
    with loopml.start_run(experiment="iris") as run:
        loopml.log_metric("accuracy", float((model.predict(X) == y).mean()))
        loopml.log_model(model, "model", input_example=X.head(3), registered_model_name=name)
    return loopml.model_registry().search_versions(f"run_id = '{run.run_id}'").versions[0]


def test_registry_calls_entities_and_errors(
    client: Client, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = iris
    registry = loopml.model_registry()
    first = _train(X, y, 1)
    assert isinstance(first, ModelVersion) and first.version == 1
    assert first.current_stage is Stage.NONE and first.metrics["accuracy"] > 0.5
    registry.update_model("iris", description="iris classifier")
    registry.set_alias("iris", "champion", 1, reason="first")
    model = registry.get_model("iris")
    assert model.description == "iris classifier" and model.aliases == {"champion": 1}
    assert registry.resolve("models:/iris@champion").version == 1
    prediction = loopml.load_model("models:/iris@champion").predict(X.head(4))
    assert prediction.shape == (4,)
    moved = registry.transition_stage("iris", 1, "production")
    assert moved.current_stage is Stage.PRODUCTION
    assert [m.name for m in registry.search_models("name LIKE 'ir%'").models] == ["iris"]

    # Errors arrive as the classes the embedded registry raises, with their messages.
    with pytest.raises(NotFound, match="'nope'"):
        registry.get_model("nope")
    with pytest.raises(AlreadyExists, match="already exists"):
        registry.create_model("iris")
    with pytest.raises(NotFound):
        registry.get_version_by_alias("iris", "challenger")
    with pytest.raises(InvalidInput, match="local path"):
        registry.create_version("iris", "/etc/passwd")
    with pytest.raises(InvalidInput, match="names a host"):
        registry.create_version("iris", "mlflow-artifacts://evil.example/0/x/artifacts/m")
    with pytest.raises(AttributeError):
        registry.no_such_method  # noqa: B018

    # Each change is attributed to this process's user, not to the server's.
    entries = registry.audit("iris", limit=10)
    assert {e.user for e in entries} == {getpass.getuser()}
    actions = [e.action for e in entries]
    assert {"create_model", "create_version", "set_alias", "transition_stage"} <= set(actions)


def test_log_model_needs_a_run_to_register(client: Client, iris_clf: Any) -> None:
    with pytest.raises(InvalidInput, match="active run"):
        loopml.log_model(iris_clf, "model", registered_model_name="iris")
    with pytest.raises(NotFound):
        loopml.model_registry().get_model("iris")


def test_promotion_gates_and_cli(
    client: Client, iris: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = iris
    loopml.data.register("iris-eval", X.assign(target=y))
    weak, strong = _train(X, y, 1).version, _train(X, y, 3).version
    registry = loopml.model_registry()
    registry.set_alias("iris", "production", weak)
    policy = {"beats_champion": {"dataset": "iris-eval@1", "target": "target",
                                 "metric": "accuracy", "by": 0.05}}  # fmt: skip
    with pytest.raises(GateFailed, match="beats_champion"):
        promote(registry, "iris", weak, "production", policy=policy,
                load_model=loopml.load_model, load_frame=loopml.data.get)  # fmt: skip
    report = promote(registry, "iris", strong, "production", policy=policy,
                     load_model=loopml.load_model, load_frame=loopml.data.get)  # fmt: skip
    assert report.promoted and registry.get_version_by_alias("iris", "production").version == 2
    np.testing.assert_array_equal(
        loopml.load_model("models:/iris@production").predict(X),
        DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y).predict(X),
    )

    # The CLI is the same code on the same registry: through the server when remote.
    from loopml.cli import app

    runner = CliRunner()
    gates = tmp_path / "gates.yaml"
    gates.write_text(json.dumps({"metrics": {"accuracy": {"min": 0.99}}}))
    out = runner.invoke(app, ["models", "promote", "iris", "--version", "1", "--alias",
                              "production", "--policy", str(gates), "--json"])  # fmt: skip
    assert out.exit_code == 2, out.output
    out = runner.invoke(app, ["models", "show", "iris@production", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["version"] == 2
    out = runner.invoke(app, ["models", "lineage", "iris@production", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["run"]["run_id"] == registry.get_version("iris", 2).run_id

    # Approvals, archiving and the version list, the same through a server.
    gates.write_text(json.dumps({"approvals": {"min": 1}}))
    args = ["models", "promote", "iris", "--version", "1", "--alias", "production",
            "--policy", str(gates), "--json"]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 2
    out = runner.invoke(app, ["models", "approve", "iris", "--version", "1", "--json"])
    assert out.exit_code == 0, out.output
    assert runner.invoke(app, args).exit_code == 0
    assert registry.get_version_by_alias("iris", "production").version == 1
    refused = runner.invoke(app, ["models", "archive", "iris", "--version", "1"])
    assert refused.exit_code == 5 and "iris@production" in refused.output
    out = runner.invoke(app, ["models", "archive", "iris", "--version", "2", "--json"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["models", "versions", "iris", "--json"])
    assert out.exit_code == 0, out.output
    stages = {v["version"]: v["current_stage"] for v in json.loads(out.output)}
    assert stages == {1: "None", 2: "Archived"}


def test_concurrent_alias_moves_last_writer_wins_and_both_are_audited(
    client: Client, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = iris
    for depth in (1, 2, 3):
        _train(X, y, depth)
    registry = loopml.model_registry()
    barrier = threading.Barrier(2)

    def move(version: int) -> None:
        barrier.wait()
        for _ in range(5):
            registry.set_alias("iris", "champion", version, reason=f"to v{version}")

    threads = [threading.Thread(target=move, args=(v,)) for v in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    moves = [e for e in registry.audit("iris", limit=50) if e.alias == "champion"][::-1]
    # Every move is on record and they chain: each starts where the one before it ended
    # (no move was lost or interleaved), and the last one names where the alias points.
    assert moves and moves[0].before is None
    for earlier, later in itertools.pairwise(moves):
        assert later.before == earlier.after and later.before != later.after
    current = registry.get_version_by_alias("iris", "champion").version
    assert moves[-1].after == {"version": current} and current in (2, 3)
