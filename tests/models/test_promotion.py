"""Promotion gates: thresholds, challenger vs champion on the same data, signature, tags,
approvals, and a forced override with its reason, through the Python API and ``loopml models
promote``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier
from typer.testing import CliRunner

import loopml
from loopml.client import model_registry
from loopml.errors import InvalidInput
from loopml.registry import GateFailed, promote

POLICY = {
    "metrics": {"accuracy": {"min": 0.9}},
    "beats_champion": {"dataset": "iris-eval@1", "target": "target", "metric": "accuracy",
                       "by": 0.05},
    "signature_compatible": True,
    "required_tags": ["reviewed"],
}  # fmt: skip


def _register(X: pd.DataFrame, y: pd.Series, depth: int) -> int:
    model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)
    with loopml.start_run(experiment="iris") as run:
        loopml.log_metric("accuracy", float((model.predict(X) == y).mean()))
        loopml.log_model(model, "model", input_example=X.head(3))
    return loopml.register_model(f"runs:/{run.run_id}/model", "iris").version


def _promote(version: int, **kwargs: Any) -> Any:
    return promote(model_registry(), "iris", version, "production", load_model=loopml.load_model,
                   load_frame=loopml.data.get, **kwargs)  # fmt: skip


def test_gates_refuse_report_and_let_a_better_model_through(
    home: Path, iris: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = iris
    loopml.data.register("iris-eval", X.assign(target=y))
    weak, strong, weaker = _register(X, y, 1), _register(X, y, 3), _register(X, y, 1)
    first = _promote(weak)  # no policy, no champion: the alias is set
    assert first.promoted and first.rules == ()

    with pytest.raises(GateFailed) as refused:
        _promote(strong, policy=POLICY)
    report = refused.value.details
    rules = {r["rule"]: r for r in report["rules"]}
    assert not rules["required_tags"]["passed"] and rules["required_tags"]["figures"] == {
        "missing": ["reviewed"]
    }
    beat = rules["beats_champion"]["figures"]
    assert beat["champion_version"] == weak and beat["challenger"] > beat["champion"] + 0.05
    assert rules["metrics.accuracy"]["passed"] and rules["signature_compatible"]["passed"]
    assert model_registry().get_version_by_alias("iris", "production").version == weak

    model_registry().set_version_tag("iris", strong, "reviewed", "yes")
    passed = _promote(strong, policy=POLICY)
    assert passed.promoted and passed.passed and not passed.forced
    assert loopml.load_model("models:/iris@production").predict(X).shape == (150,)

    with pytest.raises(GateFailed, match="beats_champion"):
        _promote(weaker, policy={"beats_champion": POLICY["beats_champion"]})
    with pytest.raises(InvalidInput, match="needs a --reason"):
        _promote(weaker, policy={"beats_champion": POLICY["beats_champion"]}, force=True)
    forced = _promote(weaker, policy={"beats_champion": POLICY["beats_champion"]}, force=True,
                      reason="rollback drill")  # fmt: skip
    assert forced.promoted and forced.forced and not forced.passed
    reasons = [e.reason for e in model_registry().audit("iris", limit=20) if e.alias]
    assert reasons[:2] == ["forced: rollback drill", "gates passed"]

    policy_file = tmp_path / "gates.yaml"
    policy_file.write_text(json.dumps({"metrics": {"accuracy": {"min": 0.99}}}))
    from loopml.cli import app

    runner = CliRunner()
    refused_cli = runner.invoke(app, ["models", "promote", "iris", "--version", str(weak),
                                      "--alias", "production", "--policy", str(policy_file),
                                      "--json"])  # fmt: skip
    assert refused_cli.exit_code == 2, refused_cli.output
    assert json.loads(refused_cli.stdout)["rules"][0]["rule"] == "metrics.accuracy"
    assert "Example:" in runner.invoke(app, ["models", "promote", "--help"]).output


def test_bad_policies_are_named(home: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown promotion rules"):
        promote(model_registry(), "iris", 1, "production", policy={"vibes": True})
    with pytest.raises(InvalidInput, match="not valid YAML"):
        promote(model_registry(), "iris", 1, "production", policy="metrics: [oops")


def test_approvals_gate_through_the_cli_and_a_typed_python_policy(
    home: Path, tmp_path: Path
) -> None:
    import getpass

    from loopml.registry import PromotionPolicy

    me = getpass.getuser()
    with loopml.start_run(experiment="churn") as run:
        loopml.log_metric("accuracy", 0.93)
    version = loopml.register_model(f"runs:/{run.run_id}/model", "churn").version
    policy_file = tmp_path / "gates.yaml"
    policy_file.write_text(f"metrics:\n  accuracy: {{min: 0.9}}\n"
                           f"approvals:\n  min: 2\n  from: [{me}, bob, carol]\n")  # fmt: skip
    from loopml.cli import app

    runner = CliRunner()
    args = ["models", "promote", "churn", "--version", str(version), "--alias", "production",
            "--policy", str(policy_file), "--json"]  # fmt: skip
    model_registry().approve_version("churn", version, user="mallory")  # not in from
    approved = runner.invoke(app, ["models", "approve", "churn", "--version", str(version)])
    assert approved.exit_code == 0, approved.output
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2, refused.output
    rules = {r["rule"]: r for r in json.loads(refused.stdout)["rules"]}
    assert rules["metrics.accuracy"]["passed"] and not rules["approvals"]["passed"]
    assert rules["approvals"]["figures"]["approved_by"] == [me]
    assert rules["approvals"]["figures"]["not_counted"] == ["mallory"]
    assert rules["approvals"]["figures"]["missing"] == 1

    model_registry().approve_version("churn", version, user="bob", reason="second pair of eyes")
    promoted = runner.invoke(app, args)
    assert promoted.exit_code == 0, promoted.output
    assert json.loads(promoted.stdout)["promoted"] is True
    # The same policy in Python, typed.
    typed: PromotionPolicy = {"metrics": {"accuracy": {"min": 0.9}},
                              "approvals": {"min": 2, "from": [me, "bob", "carol"]}}  # fmt: skip
    report = promote(model_registry(), "churn", version, "staging", policy=typed)
    assert report.promoted and report.rules[-1].figures["approved_by"] == [me, "bob"]
