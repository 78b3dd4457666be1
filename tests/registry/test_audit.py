"""Every registry change leaves one audit row, in its own transaction, with from → to."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from loopml.errors import InvalidInput, NotFound
from loopml.registry import ModelRegistry
from loopml.store import RegistryAuditRow, Store
from loopml.tracking import Run


def _rows(registry: ModelRegistry, name: str | None = None) -> list[tuple[object, ...]]:
    return [
        (e.action, e.entity, e.version, e.alias, e.before, e.after)
        for e in reversed(registry.audit(name, limit=1000))
    ]


def test_every_change_is_audited_with_from_and_to(registry: ModelRegistry, run: Run) -> None:
    src, rid = f"runs:/{run.info.run_id}/model", run.info.run_id
    made = {"source": src, "run_id": rid, "tags": {}}
    gone = {"source": src, "run_id": rid, "stage": "Production"}
    registry.create_model("m", description="a", tags={"t": "1"})
    registry.update_model("m", description="b")
    registry.update_model("m", description="b")  # no change, no row
    registry.set_model_tag("m", "t", "2")
    registry.delete_model_tag("m", "t")
    registry.create_version("m", src)
    registry.create_version("m", src)
    registry.update_version("m", 1, description="v1")
    registry.set_version_tag("m", 1, "ok", "yes")
    registry.delete_version_tag("m", 1, "ok")
    registry.set_alias("m", "champion", 1, reason="beats baseline")
    registry.set_alias("m", "champion", 1)  # already there: no row
    registry.set_alias("m", "champion", 2, user="bob", reason="better auc")
    registry.set_alias("m", "old", 1)
    registry.delete_alias("m", "old")
    registry.transition_stage("m", 1, "Production")
    registry.transition_stage("m", 2, "Production", archive_existing_versions=True)
    registry.rename_model("m", "m2")
    registry.delete_version("m2", 2)
    assert _rows(registry, "m2") == [
        ("create_model", "model", None, None, None, {"description": "a", "tags": {"t": "1"}}),
        ("update_model", "model", None, None, {"description": "a"}, {"description": "b"}),
        ("set_model_tag", "model", None, None, {"t": "1"}, {"t": "2"}),
        ("delete_model_tag", "model", None, None, {"t": "2"}, None),
        ("create_version", "version", 1, None, None, made),
        ("create_version", "version", 2, None, None, made),
        ("update_version", "version", 1, None, {"description": ""}, {"description": "v1"}),
        ("set_version_tag", "version", 1, None, None, {"ok": "yes"}),
        ("delete_version_tag", "version", 1, None, {"ok": "yes"}, None),
        ("set_alias", "alias", 1, "champion", None, {"version": 1}),
        ("move_alias", "alias", 2, "champion", {"version": 1}, {"version": 2}),
        ("set_alias", "alias", 1, "old", None, {"version": 1}),
        ("delete_alias", "alias", 1, "old", {"version": 1}, None),
        ("transition_stage", "version", 1, None, {"stage": "None"}, {"stage": "Production"}),
        ("transition_stage", "version", 2, None, {"stage": "None"}, {"stage": "Production"}),
        ("transition_stage", "version", 1, None, {"stage": "Production"}, {"stage": "Archived"}),
        ("rename_model", "model", None, None, {"name": "m"}, {"name": "m2"}),
        ("delete_alias", "alias", 2, "champion", {"version": 2}, None),
        ("delete_version", "version", 2, None, gone, None),
    ]  # fmt: skip
    entries = registry.audit("m2", limit=1000)
    move = next(e for e in entries if e.action == "move_alias")
    assert (move.user, move.reason, move.name) == ("bob", "better auc", "m")
    assert next(e for e in entries if e.action == "set_alias").user == "alice"
    assert entries[0].timestamp >= entries[-1].timestamp > 0
    assert [e.id for e in entries] == sorted((e.id for e in entries), reverse=True)
    # The old name still finds the history it made; a limit cuts the newest first.
    assert registry.audit("m", limit=2)[0].action == "rename_model"
    assert len(registry.audit(limit=3)) == 3
    registry.delete_model("m2", reason="retired")
    last = registry.audit("m2", limit=1)[0]
    assert (last.action, last.reason, last.before["versions"]) == ("delete_model", "retired", [1])
    assert last.before["description"] == "b"


def test_a_failed_change_writes_no_audit_row(
    registry: ModelRegistry, run: Run, store: Store
) -> None:
    registry.create_model("m")

    def count() -> int:
        with store.read() as conn:
            return int(
                conn.execute(select(func.count()).select_from(RegistryAuditRow)).scalar_one()
            )

    before = count()
    with pytest.raises(InvalidInput):
        registry.create_version("m", "file:///etc")
    with pytest.raises(NotFound):
        registry.set_alias("m", "champion", 1)
    with pytest.raises(InvalidInput):
        registry.audit(limit=0)
    assert count() == before


def test_the_user_defaults_to_the_os_user(store: Store) -> None:
    import getpass

    ModelRegistry(store).create_model("m")
    assert ModelRegistry(store).audit("m")[0].user == getpass.getuser()


def test_the_database_refuses_to_rewrite_the_audit_log(
    registry: ModelRegistry, store: Store
) -> None:
    registry.create_model("m")
    for statement in (
        update(RegistryAuditRow).values(user_id="mallory"),
        delete(RegistryAuditRow),
    ):
        with pytest.raises(DBAPIError, match="append-only"), store.write() as conn:
            conn.execute(statement)
    assert registry.audit("m")[0].user == "alice"


def test_a_new_model_does_not_inherit_a_deleted_models_history(registry: ModelRegistry) -> None:
    registry.create_model("old")
    registry.delete_model("old")
    registry.create_model("new")
    assert [e.action for e in registry.audit("new")] == ["create_model"]
    assert [e.action for e in registry.audit("old")] == ["delete_model", "create_model"]
