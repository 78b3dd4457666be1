"""Promotion policies are given as a dict, a typed PromotionPolicy, YAML/JSON text or a file,
and a malformed one is refused before any rule runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loopml.errors import InvalidInput
from loopml.registry import PromotionPolicy, load_policy

TYPED: PromotionPolicy = {
    "metrics": {"accuracy": {"min": 0.9}},
    "beats_champion": {"dataset": "iris-eval@1", "target": "target", "metric": "f1", "by": 0.01},
    "signature_compatible": True,
    "required_tags": ["reviewed"],
    "approvals": {"min": 2, "from": ["alice", "bob", "carol"]},
}
YAML = """
metrics:
  accuracy: {min: 0.9}
beats_champion: {dataset: iris-eval@1, target: target, metric: f1, by: 0.01}
signature_compatible: true
required_tags: [reviewed]
approvals:
  min: 2
  from: [alice, bob, carol]
"""


def test_every_form_of_a_policy_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "gates.yaml"
    path.write_text(YAML)
    json_path = tmp_path / "gates.json"
    json_path.write_text(json.dumps(TYPED))
    expected = dict(TYPED)
    for given in (TYPED, dict(TYPED), YAML, json.dumps(TYPED), str(path), path, json_path):
        assert load_policy(given) == expected, given
    assert load_policy(None) == {} and load_policy("") == {} and load_policy({}) == {}


def test_the_callers_policy_is_not_changed() -> None:
    mine: dict[str, Any] = {"approvals": {"min": 1, "from": ("alice", "alice")}}
    assert load_policy(mine) == {"approvals": {"min": 1, "from": ["alice"]}}
    assert mine == {"approvals": {"min": 1, "from": ("alice", "alice")}}


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"vibes": True}, "unknown promotion rules"),
        ("[1, 2]", "mapping of rules.*not list"),
        ("metrics: [oops", "not valid YAML"),
        ("gates-typo.yaml", "neither a file nor a YAML mapping"),
        ({"approvals": 2}, r"approvals takes \{min: N\}"),
        ({"approvals": {"from": ["alice"]}}, r"approvals takes \{min: N\}"),
        ({"approvals": {"min": 1, "by": ["alice"]}}, r"approvals takes \{min: N\}"),
        ({"approvals": {"min": 0}}, "approvals.min must be an integer >= 1"),
        ({"approvals": {"min": "2"}}, "approvals.min must be an integer >= 1"),
        ({"approvals": {"min": True}}, "approvals.min must be an integer >= 1"),
        ({"approvals": {"min": 1, "from": "alice"}}, "approvals.from is a list of users"),
        ({"approvals": {"min": 1, "from": ["alice", ""]}}, "approvals.from holds user names"),
        ({"approvals": {"min": 3, "from": ["a", "b", "a"]}}, "could never pass"),
    ],
)
def test_malformed_policies_are_named(policy: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_policy(policy)


def test_a_missing_policy_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read the promotion policy"):
        load_policy(tmp_path / "missing.yaml")
