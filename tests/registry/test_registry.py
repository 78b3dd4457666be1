"""Registered models, versions, aliases, stages and URIs over a real SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

import loopml.registry
from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.registry import ModelRegistry, Stage
from loopml.tracking import Run


def test_public_surface_is_pinned() -> None:
    assert sorted(loopml.registry.__all__) == [
        "Approval",
        "AuditEntry",
        "GateFailed",
        "GateReport",
        "ModelRegistry",
        "ModelVersion",
        "ModelVersionsPage",
        "PromotionPolicy",
        "RETRY_WINDOW_MS",
        "RegisteredModel",
        "RegisteredModelsPage",
        "RuleResult",
        "SourceLocation",
        "Stage",
        "check_user",
        "lineage",
        "load_policy",
        "model_uri",
        "promote",
        "source_location",
    ]


def test_model_lifecycle(registry: ModelRegistry) -> None:
    created = registry.create_model("churn", description="d1", tags={"team": "growth"})
    assert (created.name, created.description, created.tags) == ("churn", "d1", {"team": "growth"})
    assert created.user_id == "alice" and created.aliases == {}
    with pytest.raises(AlreadyExists, match="churn"):
        registry.create_model("churn")
    assert registry.update_model("churn", description="d2").description == "d2"
    registry.set_model_tag("churn", "team", "core")
    registry.set_model_tag("churn", "mlflow.prompt.is_prompt", "false")
    registry.delete_model_tag("churn", "mlflow.prompt.is_prompt")
    with pytest.raises(NotFound, match="no tag 'nope'"):
        registry.delete_model_tag("churn", "nope")
    assert registry.get_model("churn").tags == {"team": "core"}
    renamed = registry.rename_model("churn", "churn2")
    assert renamed.name == "churn2" and renamed.tags == {"team": "core"}
    with pytest.raises(NotFound, match="'churn'"):
        registry.get_model("churn")
    registry.create_model("other")
    with pytest.raises(AlreadyExists, match="other"):
        registry.rename_model("churn2", "other")
    registry.delete_model("churn2")
    with pytest.raises(NotFound, match="churn2"):
        registry.get_model("churn2")
    registry.create_model("churn2")  # the name is free again


def test_version_lifecycle(registry: ModelRegistry, run: Run) -> None:
    registry.create_model("m")
    rid = run.info.run_id
    v1 = registry.create_version(
        "m",
        f"runs:/{rid}/model",
        description="first",
        tags={"k": "v"},
        metrics={"auc": 0.9},
        datasets=["churn@3"],
        signature='{"inputs": []}',
    )
    assert (v1.version, v1.status, v1.current_stage, v1.run_id) == (1, "READY", Stage.NONE, rid)
    assert (v1.source, v1.metrics, v1.datasets) == (
        f"runs:/{rid}/model",
        {"auc": 0.9},
        ("churn@3",),
    )
    assert v1.tags == {"k": "v"} and v1.signature == '{"inputs": []}'
    v2 = registry.create_version("m", f"runs:/{rid}/model", run_id=rid)
    assert v2.version == 2
    assert registry.update_version("m", 2, description="second").description == "second"
    registry.set_version_tag("m", "2", "validated", "yes")
    assert registry.get_version("m", "2").tags == {"validated": "yes"}
    registry.delete_version_tag("m", 2, "validated")
    registry.delete_version("m", 2)
    with pytest.raises(NotFound, match="no version 2"):
        registry.get_version("m", 2)
    # A deleted version's number is never handed out again.
    assert registry.create_version("m", f"runs:/{rid}/model").version == 3
    with pytest.raises(NotFound, match="'ghost'"):
        registry.create_version("ghost", f"runs:/{rid}/model")
    registry.delete_model("m")
    assert registry.search_versions("name = 'm'").versions == []


def test_aliases_move_resolve_and_die_with_their_version(registry: ModelRegistry, run: Run) -> None:
    registry.create_model("m")
    src = f"runs:/{run.info.run_id}/model"
    for _ in range(3):
        registry.create_version("m", src)
    registry.set_alias("m", "champion", 1)
    registry.set_alias("m", "challenger", 2)
    assert registry.resolve("models:/m@champion").version == 1
    registry.set_alias("m", "champion", "2")  # move
    assert registry.get_model("m").aliases == {"challenger": 2, "champion": 2}
    assert registry.get_version("m", 2).aliases == ("challenger", "champion")
    assert registry.resolve("models:/m@champion").version == 2
    with pytest.raises(NotFound, match="no version 9"):
        registry.set_alias("m", "champion", 9)
    for bad in ("latest", "V3", "a b", "", "x" * 256):
        with pytest.raises(InvalidInput):
            registry.set_alias("m", bad, 1)
    registry.delete_alias("m", "challenger")
    with pytest.raises(NotFound, match="'challenger'"):
        registry.resolve("models:/m@challenger")
    with pytest.raises(NotFound, match="'challenger'"):
        registry.delete_alias("m", "challenger")
    registry.delete_version("m", 2)
    assert registry.get_model("m").aliases == {}
    with pytest.raises(NotFound, match="'champion'"):
        registry.get_version_by_alias("m", "champion")


def test_stages_and_resolve(registry: ModelRegistry, run: Run) -> None:
    registry.create_model("m")
    for _ in range(3):
        registry.create_version("m", f"runs:/{run.info.run_id}/model")
    registry.transition_stage("m", 1, "Production")
    registry.transition_stage("m", 2, "production")
    assert registry.resolve("models:/m/Production").version == 2
    v3 = registry.transition_stage("m", 3, Stage.PRODUCTION, archive_existing_versions=True)
    assert v3.current_stage == Stage.PRODUCTION
    stages = {v.version: v.current_stage for v in registry.search_versions("name='m'").versions}
    assert stages == {1: Stage.ARCHIVED, 2: Stage.ARCHIVED, 3: Stage.PRODUCTION}
    assert [v.version for v in registry.get_latest_versions("m")] == [2, 3]
    assert registry.resolve("models:/m/3").version == 3
    assert registry.resolve("models:/m/latest").version == 3
    with pytest.raises(NotFound, match="Staging"):
        registry.resolve("models:/m/Staging")
    with pytest.raises(InvalidInput, match="stage 'Prod'"):
        registry.resolve("models:/m/Prod")
    with pytest.raises(InvalidInput, match="only applies"):
        registry.transition_stage("m", 1, "Archived", archive_existing_versions=True)
    for uri in ("runs:/x/m", "models:/", "models:/m", "models:/m/1/2", "models:/a@b@c"):
        with pytest.raises(InvalidInput, match="models:/"):
            registry.resolve(uri)
    with pytest.raises(NotFound, match="'nope'"):
        registry.resolve("models:/nope/1")
