"""Listing a model's versions, and archiving one: refused while an alias serves it."""

from __future__ import annotations

import pytest

from loopml.errors import Conflict, NotFound
from loopml.registry import ModelRegistry, Stage
from loopml.tracking import Run


def test_list_versions_oldest_first(registry: ModelRegistry, run: Run) -> None:
    registry.create_model("m")
    with pytest.raises(NotFound, match="'ghost'"):
        registry.list_versions("ghost")
    assert registry.list_versions("m") == []
    for i in range(3):
        registry.create_version("m", f"runs:/{run.info.run_id}/model", metrics={"auc": i / 10})
    registry.delete_version("m", 2)
    registry.set_alias("m", "champion", 3)
    versions = registry.list_versions("m")
    assert [(v.version, v.aliases, v.metrics) for v in versions] == [
        (1, (), {"auc": 0.0}),
        (3, ("champion",), {"auc": 0.2}),
    ]


def test_archive_refuses_a_served_version_unless_forced(registry: ModelRegistry, run: Run) -> None:
    registry.create_model("m")
    for _ in range(3):
        registry.create_version("m", f"runs:/{run.info.run_id}/model")
    registry.transition_stage("m", 1, "Production")
    archived = registry.archive_version("m", 1, reason="superseded by v2")
    assert archived.current_stage == Stage.ARCHIVED
    assert registry.archive_version("m", 1) == archived  # already archived: no change

    registry.set_alias("m", "champion", 2)
    registry.set_alias("m", "canary", 2)
    with pytest.raises(Conflict, match="m@canary, m@champion") as refused:
        registry.archive_version("m", 2)
    assert refused.value.details["aliases"] == ["canary", "champion"]
    assert registry.get_version("m", 2).current_stage == Stage.NONE
    forced = registry.archive_version("m", 2, force=True, reason="rollback drill")
    # Archiving changes the stage only: the aliases still serve the version.
    assert forced.current_stage == Stage.ARCHIVED and forced.aliases == ("canary", "champion")

    rows = [e for e in registry.audit("m") if e.action == "archive_version"]
    assert [(e.version, e.before, e.after, e.reason) for e in reversed(rows)] == [
        (1, {"stage": "Production"}, {"stage": "Archived"}, "superseded by v2"),
        (2, {"stage": "None"}, {"stage": "Archived", "aliases": ["canary", "champion"]},
         "rollback drill"),
    ]  # fmt: skip
    with pytest.raises(NotFound, match="no version 7"):
        registry.archive_version("m", 7)
    registry.delete_version("m", 3)
    with pytest.raises(NotFound, match="it was deleted"):
        registry.archive_version("m", 3)
