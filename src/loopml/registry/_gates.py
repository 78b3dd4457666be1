"""Promotion gates: the rules a version must pass before an alias moves to it.

A policy (see ``_policy.py``: a dict, a :class:`PromotionPolicy`, YAML text or a file) lists
rules; :func:`promote` checks every rule, reports each one's figures, and moves the alias
only when all pass, or when forced with a reason (both recorded in the audit log). The
registry runs the challenger-vs-champion comparison itself: both models predict the same
evaluation dataset, and the same metric is computed for each. The ``approvals`` rule counts
the distinct users who approved this very version (:meth:`ModelRegistry.approve_version`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from loopml.errors import InvalidInput, LoopMLError, NotFound
from loopml.registry._entities import Approval, ModelVersion
from loopml.registry._policy import load_policy

__all__ = ["GateFailed", "GateReport", "RuleResult", "promote"]

_HIGHER_IS_BETTER = {"accuracy": True, "f1": True, "roc_auc": True, "r2": True,
                     "rmse": False, "mae": False}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule's outcome: ``figures`` holds the numbers it was judged on."""

    rule: str
    passed: bool
    detail: str
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GateReport:
    """Every rule's outcome for one promotion; ``promoted`` says whether the alias moved."""

    name: str
    version: int
    alias: str
    rules: tuple[RuleResult, ...]
    promoted: bool
    forced: bool = False

    @property
    def passed(self) -> bool:
        """True when every rule passed."""
        return all(r.passed for r in self.rules)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {**asdict(self), "passed": self.passed}


class GateFailed(InvalidInput):
    """A promotion refused by its gates; ``details`` holds the whole report."""

    code = "GATE_FAILED"


def promote(
    registry: Any,
    name: str,
    version: int,
    alias: str,
    *,
    policy: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    load_model: Callable[[str], Any] | None = None,
    load_frame: Callable[[str], Any] | None = None,
    force: bool = False,
    reason: str = "",
) -> GateReport:
    """Check ``version`` of ``name`` against the policy and move ``name@alias`` to it.

    Args:
        registry: a :class:`ModelRegistry` (or the remote client's registry).
        policy: the rules, as a dict, a :class:`PromotionPolicy`, YAML text or a YAML file
            path (see :func:`load_policy`); None checks nothing.
        load_model: loads a ``models:/`` URI (the champion-vs-challenger and signature
            rules need it); load_frame: loads a dataset reference as a DataFrame.
        force: move the alias even when a rule fails; needs a ``reason``, and both are
            recorded in the audit log.

    Raises:
        GateFailed: a rule failed and ``force`` is off; ``details`` holds the report.
    """
    rules = load_policy(policy)
    if force and not reason.strip():
        raise InvalidInput("--force needs a --reason: an override must say why")
    challenger: ModelVersion = registry.get_version(name, version)
    try:
        champion: ModelVersion | None = registry.get_version_by_alias(name, alias)
    except NotFound:
        champion = None
    results: list[RuleResult] = []
    for threshold in (rules.get("metrics") or {}).items():
        results.append(_metric_rule(challenger, *threshold))
    if rules.get("required_tags"):
        results.append(_tags_rule(challenger, list(rules["required_tags"])))
    if rules.get("approvals"):
        approvals = registry.list_approvals(name, challenger.version)
        results.append(_approvals_rule(approvals, rules["approvals"]))
    if rules.get("signature_compatible"):
        results.append(_signature_rule(challenger, champion, load_model))
    if rules.get("beats_champion"):
        results.append(_beats_rule(challenger, champion, rules["beats_champion"],
                                   load_model, load_frame))  # fmt: skip
    report = GateReport(name, challenger.version, alias, tuple(results), promoted=False)
    if not report.passed and not force:
        failed = [f"{r.rule}: {r.detail}" for r in results if not r.passed]
        raise GateFailed(
            f"promotion of {name} v{version} to @{alias} refused: {'; '.join(failed)}",
            details=report.to_dict(),
        )
    forced = force and not report.passed
    why = f"forced: {reason}" if forced else (reason or "gates passed")
    registry.set_alias(name, alias, challenger.version, reason=why)
    return GateReport(name, challenger.version, alias, tuple(results), True, forced)


def _metric_rule(version: ModelVersion, metric: str, bounds: Any) -> RuleResult:
    if not isinstance(bounds, Mapping) or not set(bounds) <= {"min", "max"} or not bounds:
        raise InvalidInput(f"metrics.{metric} takes min and/or max, e.g. {{min: 0.9}}")
    value = version.metrics.get(metric)
    figures = {"value": value, **bounds}
    if value is None:
        return RuleResult(f"metrics.{metric}", False, "the version has no such metric", figures)
    ok = ("min" not in bounds or value >= bounds["min"]) and (
        "max" not in bounds or value <= bounds["max"]
    )
    shown = ", ".join(f"{k} {v:g}" for k, v in bounds.items())
    return RuleResult(f"metrics.{metric}", ok, f"{value:g} (needs {shown})", figures)


def _tags_rule(version: ModelVersion, required: list[str]) -> RuleResult:
    missing = [t for t in required if t not in version.tags]
    detail = f"missing tags {missing}" if missing else "all present"
    return RuleResult("required_tags", not missing, detail, {"missing": missing})


def _approvals_rule(approvals: list[Approval], rule: Mapping[str, Any]) -> RuleResult:
    wanted, allowed = int(rule["min"]), rule.get("from")
    users = [a.user for a in approvals]
    counted = [u for u in users if allowed is None or u in allowed]
    ignored = [u for u in users if u not in counted]
    missing = max(0, wanted - len(counted))
    figures = {"approved_by": counted, "count": len(counted), "min": wanted,
               "missing": missing, "from": allowed, "not_counted": ignored}  # fmt: skip
    who = f" ({', '.join(counted)})" if counted else ""
    detail = f"{len(counted)} of {wanted} approvals{who}"
    if missing:
        pool = [u for u in allowed if u not in counted] if allowed is not None else []
        detail += f"; {missing} missing" + (f", from {', '.join(pool)}" if pool else "")
    if ignored:
        detail += f"; not counted (not in from): {', '.join(ignored)}"
    return RuleResult("approvals", not missing, detail, figures)


def _load(load_model: Callable[[str], Any] | None, version: ModelVersion) -> Any:
    if load_model is None:
        raise InvalidInput("this rule loads the models: pass load_model")
    return load_model(f"models:/{version.name}/{version.version}")


def _signature_rule(
    challenger: ModelVersion, champion: ModelVersion | None, load_model: Any
) -> RuleResult:
    if champion is None:
        return RuleResult("signature_compatible", True, "no champion yet")
    new, old = _load(load_model, challenger).signature, _load(load_model, champion).signature
    if old is None:
        return RuleResult("signature_compatible", True, "the champion has no signature")
    if new is None:
        return RuleResult("signature_compatible", False, "the challenger has no signature")
    wanted = {c.name: c.dtype for c in getattr(old, "inputs", ()) if hasattr(c, "name")}
    given = {c.name: c.dtype for c in getattr(new, "inputs", ()) if hasattr(c, "name")}
    broken = {k: (v, given.get(k)) for k, v in wanted.items() if given.get(k) != v}
    detail = f"columns differ {broken}" if broken else "same input columns and dtypes"
    return RuleResult("signature_compatible", not broken, detail,
                      {"differences": {k: list(v) for k, v in broken.items()}})  # fmt: skip


def _beats_rule(
    challenger: ModelVersion,
    champion: ModelVersion | None,
    rule: Any,
    load_model: Any,
    load_frame: Callable[[str], Any] | None,
) -> RuleResult:
    if not isinstance(rule, Mapping) or not {"dataset", "target", "metric"} <= set(rule):
        raise InvalidInput("beats_champion needs dataset, target and metric (and optional by)")
    metric, by = str(rule["metric"]), float(rule.get("by", 0.0))
    if metric not in _HIGHER_IS_BETTER:
        raise InvalidInput(f"beats_champion.metric must be one of {sorted(_HIGHER_IS_BETTER)}")
    if champion is None:
        return RuleResult("beats_champion", True, "no champion yet")
    if load_frame is None:
        raise InvalidInput("beats_champion loads the evaluation data: pass load_frame")
    frame = load_frame(str(rule["dataset"]))
    if rule["target"] not in frame.columns:
        raise InvalidInput(f"evaluation dataset {rule['dataset']} has no column {rule['target']!r}")
    y, X = frame[rule["target"]], frame.drop(columns=[rule["target"]])
    try:
        scores = {v.version: _score(_load(load_model, v), X, y, metric)
                  for v in (challenger, champion)}  # fmt: skip
    except LoopMLError:
        raise
    except Exception as exc:  # a model that cannot predict the data fails the rule, named
        return RuleResult("beats_champion", False, f"evaluation failed: {exc}", {})
    new, old = scores[challenger.version], scores[champion.version]
    margin = new - old if _HIGHER_IS_BETTER[metric] else old - new
    figures = {"metric": metric, "challenger": new, "champion": old, "margin": margin, "by": by,
               "dataset": str(rule["dataset"]), "champion_version": champion.version}  # fmt: skip
    detail = (f"{metric} {new:.4g} vs champion v{champion.version} {old:.4g} "
              f"(margin {margin:+.4g}, needs ≥ {by:g})")  # fmt: skip
    return RuleResult("beats_champion", margin >= by, detail, figures)


def _score(model: Any, X: Any, y: Any, metric: str) -> float:
    from sklearn import metrics as m

    if metric == "roc_auc":
        proba = model.predict_proba(X)
        return float(m.roc_auc_score(y, proba[:, 1] if proba.shape[1] == 2 else proba,
                                     multi_class="ovr"))  # fmt: skip
    predicted = model.predict(X)
    if metric == "accuracy":
        return float(m.accuracy_score(y, predicted))
    if metric == "f1":
        return float(m.f1_score(y, predicted, average="macro"))
    if metric == "rmse":
        return float(m.mean_squared_error(y, predicted) ** 0.5)
    if metric == "mae":
        return float(m.mean_absolute_error(y, predicted))
    return float(m.r2_score(y, predicted))
