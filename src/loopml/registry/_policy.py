"""Promotion policies: what one is, and reading one from Python, YAML text or a YAML file.

A policy maps rule names to their settings. In Python it is a plain dict, which
:class:`PromotionPolicy` types for mypy and editors; in a file it is the same mapping in
YAML (or JSON, which YAML reads too)::

    metrics:                      # thresholds on the version's metrics snapshot
      accuracy: {min: 0.9}
    beats_champion:               # challenger vs the version the alias points at now
      dataset: iris-eval@1
      target: target
      metric: accuracy            # accuracy, f1, roc_auc, rmse, mae, r2
      by: 0.0
    signature_compatible: true    # the champion's input columns, same dtypes
    required_tags: [reviewed]
    approvals:                    # distinct users who approved this very version
      min: 2
      from: [alice, bob, carol]   # optional: only these users' approvals count
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypedDict

import yaml

from loopml.errors import InvalidInput

__all__ = ["RULES", "PromotionPolicy", "check_approvals_rule", "load_policy"]

RULES = ("metrics", "beats_champion", "signature_compatible", "required_tags", "approvals")


class Bounds(TypedDict, total=False):
    """``min`` and/or ``max`` of one metric."""

    min: float
    max: float


class _BeatsRequired(TypedDict):
    dataset: str
    target: str
    metric: str


class BeatsChampionRule(_BeatsRequired, total=False):
    """The challenger must beat the champion by ``by`` on ``metric`` over ``dataset``."""

    by: float


# Functional form: ``from`` is a Python keyword.
ApprovalsRule = TypedDict("ApprovalsRule", {"min": int, "from": list[str]}, total=False)


class PromotionPolicy(TypedDict, total=False):
    """A promotion policy as a typed dict: every rule is optional.

    Example::

        policy: PromotionPolicy = {
            "metrics": {"accuracy": {"min": 0.9}},
            "approvals": {"min": 2, "from": ["alice", "bob", "carol"]},
        }
        promote(registry, "churn", 4, "production", policy=policy)
    """

    metrics: dict[str, Bounds]
    beats_champion: BeatsChampionRule
    signature_compatible: bool
    required_tags: list[str]
    approvals: ApprovalsRule


def load_policy(policy: Mapping[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    """Read and check a promotion policy.

    Args:
        policy: one of

            * a mapping (a dict, or a :class:`PromotionPolicy`), used as it is;
            * a path (``str`` without a newline that names a file, or ``os.PathLike``)
              to a YAML or JSON file;
            * YAML or JSON text;
            * None: no rules.

    Returns:
        The rules as a new dict (the caller's mapping is not changed).

    Raises:
        InvalidInput: not a mapping, invalid YAML, an unknown rule, or a malformed
            ``approvals`` rule (the other rules are checked when they run).
    """
    if policy is None:
        return {}
    if isinstance(policy, Mapping):
        loaded: Any = dict(policy)
    elif isinstance(policy, str | os.PathLike):
        text = os.fspath(policy)
        if isinstance(policy, os.PathLike) or ("\n" not in text and os.path.isfile(text)):
            try:
                with open(text, encoding="utf-8") as f:
                    text = f.read()
            except OSError as exc:
                raise InvalidInput(f"cannot read the promotion policy {text!r}: {exc}") from None
        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InvalidInput(f"the promotion policy is not valid YAML: {exc}") from None
    else:
        loaded = policy
    if isinstance(loaded, str) and isinstance(policy, str) and "\n" not in policy:
        raise InvalidInput(f"promotion policy {policy!r} is neither a file nor a YAML mapping")
    if not isinstance(loaded, dict):
        raise InvalidInput(
            "a promotion policy is a mapping of rules (metrics, beats_champion...), "
            f"not {type(loaded).__name__}"
        )
    unknown = sorted(set(loaded) - set(RULES), key=str)
    if unknown:
        raise InvalidInput(f"unknown promotion rules {unknown}; known: {list(RULES)}")
    if loaded.get("approvals") is not None:
        loaded["approvals"] = check_approvals_rule(loaded["approvals"])
    return loaded


def check_approvals_rule(rule: Any) -> dict[str, Any]:
    """``approvals: {min: N, from: [users]}``: N >= 1 distinct approving users, counted
    only among ``from`` when it is given (then N can be at most its length)."""
    shape = "approvals takes {min: N} and optional {from: [user, ...]}, e.g. {min: 2}"
    if not isinstance(rule, Mapping) or "min" not in rule or not set(rule) <= {"min", "from"}:
        raise InvalidInput(shape)
    wanted = rule["min"]
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
        raise InvalidInput(f"approvals.min must be an integer >= 1, got {wanted!r}")
    out: dict[str, Any] = {"min": wanted}
    if rule.get("from") is not None:
        allowed = rule["from"]
        if isinstance(allowed, str) or not isinstance(allowed, list | tuple):
            raise InvalidInput(f"approvals.from is a list of users, got {allowed!r}")
        if not all(isinstance(u, str) and u for u in allowed):
            raise InvalidInput(f"approvals.from holds user names, got {allowed!r}")
        users = list(dict.fromkeys(allowed))
        if wanted > len(users):
            raise InvalidInput(
                f"approvals.min is {wanted} but only {len(users)} users may approve: "
                "the gate could never pass"
            )
        out["from"] = users
    return out
