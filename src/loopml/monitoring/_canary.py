"""Ending a canary from a monitor run: promote the challenger when it held, else roll back.

A ``canary`` retrain (see :func:`loopml.client.retrain`) splits the endpoint between
``name@alias`` and ``name@challenger``. Each later run of a monitor whose retrain policy is
``canary`` looks at the window's labelled traffic of each version (the prediction log says
which version answered each request). Once both have ``performance.min_labelled`` labelled
rows, the challenger is promoted when its metric beats the champion's by the retrain block's
``params.by`` (default 0), and the endpoint goes back to ``name@alias`` alone either way:
a canary never lingers. Both steps are in the registry's audit log and the endpoint's
history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from loopml.errors import NotFound
from loopml.monitoring._performance import model_performance
from loopml.monitoring._spec import Monitor
from loopml.registry import ModelRegistry
from loopml.serving import EndpointSpec, EndpointStore
from loopml.store import Store

__all__ = ["CHALLENGER", "conclude_canary_run"]

CHALLENGER = "challenger"
_LOWER_IS_BETTER = {"rmse", "mae", "log_loss"}


def _split(spec: EndpointSpec) -> tuple[str, str] | None:
    """``(model, alias)`` of an endpoint split between ``name@alias`` and ``name@challenger``."""
    uris = [r.model for r in spec.routes]
    if len(uris) != 2 or not all(u.startswith("models:/") and "@" in u for u in uris):
        return None
    (name, alias), (other, challenger) = (u.removeprefix("models:/").split("@") for u in uris)
    if name != other or challenger != CHALLENGER or alias == CHALLENGER:
        return None
    return name, alias


def conclude_canary_run(
    store: Store,
    monitor: Monitor,
    predictions: pd.DataFrame,
    feedback: pd.DataFrame,
    *,
    start: datetime,
    end: datetime,
) -> dict[str, Any] | None:
    """Conclude the endpoint's canary if the window holds enough labels for both versions.

    Returns the figures of the decision, or None while there is no canary or too little
    data (the canary goes on).
    """
    if monitor.retrain is None or monitor.retrain.policy != "canary" or not monitor.performance:
        return None
    endpoints = EndpointStore(store)
    try:
        current = endpoints.get(monitor.endpoint)
    except NotFound:
        return None
    split = _split(current.spec)
    if split is None or predictions.empty or "version" not in predictions.columns:
        return None
    name, alias = split
    registry = ModelRegistry(store)
    versions = {
        "champion": registry.get_version_by_alias(name, alias).version,
        "challenger": registry.get_version_by_alias(name, CHALLENGER).version,
    }
    metric, need = monitor.performance.metric, monitor.performance.min_labelled
    scores: dict[str, float] = {}
    labelled: dict[str, int] = {}
    for role, version in versions.items():
        served = predictions[predictions["version"].astype(str) == str(version)]
        report = model_performance(
            served, feedback, task=monitor.task, window=end - start, start=start, end=end,
            classes=monitor.performance.classes, positive_label=monitor.performance.positive_label,
            average=monitor.performance.average,
        )  # fmt: skip
        value = report.overall.metrics.get(metric)
        labelled[role] = report.overall.n_labelled
        if value is None or report.overall.n_labelled < need:
            return None  # not enough evidence yet for one of them: keep the split
        scores[role] = float(value)
    by = float(monitor.retrain.params.get("by", 0.0))
    margin = scores["challenger"] - scores["champion"]
    if metric in _LOWER_IS_BETTER:
        margin = -margin
    won = margin >= by
    why = (f"canary of v{versions['challenger']}: {metric} {scores['challenger']:.4g} vs "
           f"v{versions['champion']} {scores['champion']:.4g} on live traffic")  # fmt: skip
    if won:
        registry.set_alias(name, alias, versions["challenger"], reason=why)
    whole = current.spec.to_dict()
    whole["routes"] = [{"model": f"models:/{name}@{alias}", "weight": 1.0}]
    endpoints.update(
        EndpointSpec.parse(whole), reason=f"{why}: {'promoted' if won else 'rolled back'}"
    )
    return {"promoted": won, "metric": metric, "scores": scores, "labelled": labelled,
            "margin": margin, "by": by, "versions": versions}  # fmt: skip
