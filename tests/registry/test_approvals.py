"""Approvals: recorded in the audit log, one per user per version, and counted by the
``approvals`` promotion gate."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.registry import Approval, GateFailed, ModelRegistry, promote
from loopml.tracking import Run


@pytest.fixture
def model(registry: ModelRegistry, run: Run) -> str:
    registry.create_model("m")
    for _ in range(2):
        registry.create_version("m", f"runs:/{run.info.run_id}/model")
    return "m"


def test_one_approval_per_user_per_version(registry: ModelRegistry, model: str) -> None:
    first = registry.approve_version(model, 1, reason="read the eval report")
    assert isinstance(first, Approval)
    assert (first.name, first.version, first.user, first.reason) == (
        "m", 1, "alice", "read the eval report"
    )  # fmt: skip
    # Approving again answers the first approval and records nothing.
    assert registry.approve_version(model, "1", reason="again") == first
    bob = registry.approve_version(model, 1, user="bob")
    registry.approve_version(model, 2, user="carol")
    assert registry.list_approvals(model, 1) == [first, bob]
    assert [a.user for a in registry.list_approvals(model, 2)] == ["carol"]

    rows = [e for e in registry.audit(model) if e.action == "approve_version"]
    assert [(e.user, e.version, e.after, e.reason) for e in reversed(rows)] == [
        ("alice", 1, {"approved_by": "alice"}, "read the eval report"),
        ("bob", 1, {"approved_by": "bob"}, None),
        ("carol", 2, {"approved_by": "carol"}, None),
    ]
    # Approvals follow the model across a rename.
    registry.rename_model(model, "m2")
    assert [a.user for a in registry.list_approvals("m2", 1)] == ["alice", "bob"]
    assert registry.list_approvals("m2", 1)[0].name == "m2"


def test_bad_approvals_are_refused_by_name(registry: ModelRegistry, model: str) -> None:
    with pytest.raises(NotFound, match="'ghost'"):
        registry.approve_version("ghost", 1)
    with pytest.raises(NotFound, match=r"no version 9$"):
        registry.approve_version(model, 9)
    registry.delete_version(model, 2)
    with pytest.raises(NotFound, match="no version 2: it was deleted") as deleted:
        registry.approve_version(model, 2)
    assert deleted.value.details["deleted"] is True
    with pytest.raises(NotFound, match="it was deleted"):
        registry.list_approvals(model, 2)
    for bad in ("x", 0, -1, True):
        with pytest.raises(InvalidInput, match="version"):
            registry.approve_version(model, bad)
    with pytest.raises(InvalidInput, match="reason"):
        registry.approve_version(model, 1, reason="\x00")
    assert registry.list_approvals(model, 1) == []


def test_a_recreated_model_does_not_inherit_approvals(
    registry: ModelRegistry, model: str, run: Run
) -> None:
    registry.approve_version(model, 1)
    registry.delete_model(model)
    registry.create_model(model)
    registry.create_version(model, f"runs:/{run.info.run_id}/model")
    assert registry.list_approvals(model, 1) == []


def test_the_approvals_gate_counts_distinct_users_of_this_version(
    registry: ModelRegistry, model: str
) -> None:
    policy = {"approvals": {"min": 2}}
    registry.approve_version(model, 2, user="alice")  # another version: does not count
    registry.approve_version(model, 1, user="alice")
    registry.approve_version(model, 1, user="alice")  # twice: once
    with pytest.raises(GateFailed, match="1 of 2 approvals") as refused:
        promote(registry, model, 1, "production", policy=policy)
    [rule] = refused.value.details["rules"]
    assert rule["rule"] == "approvals" and not rule["passed"]
    assert rule["figures"] == {"approved_by": ["alice"], "count": 1, "min": 2, "missing": 1,
                               "from": None, "not_counted": []}  # fmt: skip
    assert rule["detail"] == "1 of 2 approvals (alice); 1 missing"

    registry.approve_version(model, 1, user="bob")
    report = promote(registry, model, 1, "production", policy=policy)
    assert report.promoted and report.rules[0].figures["approved_by"] == ["alice", "bob"]
    assert report.rules[0].detail == "2 of 2 approvals (alice, bob)"
    assert registry.get_version_by_alias(model, "production").version == 1


def test_the_approvals_gate_can_name_who_may_approve(registry: ModelRegistry, model: str) -> None:
    policy = {"approvals": {"min": 2, "from": ["bob", "carol", "dan"]}}
    registry.approve_version(model, 2, user="alice")
    registry.approve_version(model, 2, user="bob")
    with pytest.raises(GateFailed) as refused:
        promote(registry, model, 2, "production", policy=policy)
    [rule] = refused.value.details["rules"]
    assert rule["figures"]["approved_by"] == ["bob"]
    assert rule["figures"]["not_counted"] == ["alice"] and rule["figures"]["missing"] == 1
    assert rule["detail"] == (
        "1 of 2 approvals (bob); 1 missing, from carol, dan; not counted (not in from): alice"
    )
    # A forced promotion says why, and the report still shows the missing approval.
    forced = promote(registry, model, 2, "production", policy=policy, force=True,
                     reason="hotfix, carol is away")  # fmt: skip
    assert forced.forced and forced.rules[0].figures["missing"] == 1
    registry.approve_version(model, 2, user="carol")
    assert promote(registry, model, 2, "production", policy=policy).passed
