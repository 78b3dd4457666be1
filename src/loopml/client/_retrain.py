"""Retraining a registered model and promoting it only when it wins: the loop's last arrow.

:func:`retrain` fits a challenger on fresh data, records it (a run with its dataset
versions, a registered version with the ``challenger`` alias), evaluates challenger and
champion on the same recent labelled data through the registry's ``beats_champion`` gate,
and then acts by policy:

- ``gates``: promote when the gates pass (the alias moves; serving replicas hot-swap);
- ``canary``: send ``canary_share`` of an endpoint's traffic to the challenger first, and
  promote later with :func:`conclude_canary` when its labelled performance holds;
- ``approval``: stop at ``challenger`` and wait for ``loopml models approve`` + ``promote``.

Every step leaves a record: the run, the dataset versions, the version, the audit log.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import pandas as pd

from loopml.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from loopml.monitoring import RetrainTrigger

__all__ = ["RetrainOutcome", "conclude_canary", "pipeline_retrain_handler", "retrain"]

Policy = Literal["gates", "canary", "approval"]
_CHALLENGER = "challenger"


@dataclass(frozen=True)
class RetrainOutcome:
    """What :func:`retrain` did.

    Attributes:
        status: ``promoted``, ``refused`` (the gates said no; the champion keeps serving),
            ``canary`` or ``awaiting approval``.
        figures: the gate's figures (metric, challenger and champion scores, margin).
    """

    model: str
    version: int
    champion_version: int | None
    run_id: str
    policy: str
    status: str
    train_dataset: str
    evaluation_dataset: str
    figures: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    @property
    def promoted(self) -> bool:
        return self.status == "promoted"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrain(
    name: str,
    *,
    train: Callable[[pd.DataFrame, pd.Series], Any],
    data: pd.DataFrame,
    evaluation: pd.DataFrame,
    target: str,
    metric: str = "f1",
    by: float = 0.0,
    alias: str = "production",
    policy: Policy = "gates",
    endpoint: str | None = None,
    canary_share: float = 0.1,
    experiment: str = "retrain",
    reason: str = "",
    params: Mapping[str, Any] | None = None,
) -> RetrainOutcome:
    """Fit, register and (by ``policy``) promote a challenger for ``name@alias``.

    Args:
        train: fits a model on (features, target) and returns it.
        data: the training rows (e.g. the reference plus the labelled production window),
            features and ``target``.
        evaluation: recent labelled rows, held out from ``data``: both models are scored on
            exactly these (registered as a dataset version, so the gate's figures can be
            reproduced).
        metric, by: the gate: the challenger must beat the champion by at least ``by``.
        endpoint, canary_share: for ``policy="canary"``: the stored endpoint to split.

    Raises:
        InvalidInput: no target column, an empty evaluation set, an unknown policy.
        NotFound: no such registered model or endpoint.
    """
    import loopml
    from loopml.client._models import model_registry
    from loopml.registry import GateFailed, promote

    if policy not in ("gates", "canary", "approval"):
        raise InvalidInput(f"policy {policy!r} is not one of gates, canary, approval")
    for frame, what in ((data, "data"), (evaluation, "evaluation")):
        if target not in frame.columns:
            raise InvalidInput(f"the {what} has no target column {target!r}")
        if frame.empty:
            raise InvalidInput(
                f"the {what} is empty: nothing to {'fit' if what == 'data' else 'score'}"
            )
    if policy == "canary" and endpoint is None:
        raise InvalidInput("policy 'canary' needs the endpoint whose traffic it splits")
    registry = model_registry()
    try:
        champion = registry.get_version_by_alias(name, alias).version
    except NotFound:
        champion = None
    train_set = loopml.data.register(f"{name}-train", data)
    eval_set = loopml.data.register(f"{name}-eval", evaluation)
    train_ref, eval_ref = f"{name}-train@{train_set.version}", f"{name}-eval@{eval_set.version}"
    X, y = data.drop(columns=[target]), data[target]
    with loopml.start_run(experiment=experiment, tags={"loopml.retrain": name}) as run:
        loopml.log_input(train_set)
        loopml.log_params({"policy": policy, "metric": metric, "by": by, **dict(params or {})})
        model = train(X, y)
        score = _score(model, evaluation.drop(columns=[target]), evaluation[target], metric)
        loopml.log_metric(f"eval_{metric}", score)
        loopml.log_model(model, "model", input_example=X.head(5), registered_model_name=name)
    version = registry.search_versions(f"run_id = '{run.run_id}'").versions[0].version
    registry.set_alias(name, _CHALLENGER, version, reason=reason or "retrained")
    common: dict[str, Any] = {"model": name, "version": version, "champion_version": champion,
              "run_id": run.run_id, "policy": policy, "train_dataset": train_ref,
              "evaluation_dataset": eval_ref}  # fmt: skip
    gate = {"beats_champion": {"dataset": eval_ref, "target": target, "metric": metric, "by": by}}
    if policy == "approval":
        detail = f"approve and promote {name} v{version} to @{alias}"
        return RetrainOutcome(**common, status="awaiting approval", detail=detail)
    if policy == "canary":
        assert endpoint is not None
        _split(endpoint, name, alias, canary_share, reason or f"canary of {name} v{version}")
        detail = f"{canary_share:.0%} of {endpoint} goes to v{version}"
        return RetrainOutcome(**common, status="canary", detail=detail)
    try:
        report = promote(registry, name, version, alias, policy=gate, load_model=loopml.load_model,
                         load_frame=loopml.data.get, reason=reason or "retrained")  # fmt: skip
    except GateFailed as refused:
        rules = refused.details.get("rules", [])
        shown: dict[str, Any] = next(
            (r["figures"] for r in rules if r["rule"] == "beats_champion"), {}
        )
        return RetrainOutcome(**common, status="refused", figures=shown, detail=str(refused))
    figures: dict[str, Any] = next(
        (dict(r.figures) for r in report.rules if r.rule == "beats_champion"), {}
    )
    return RetrainOutcome(**common, status="promoted", figures=figures,
                          detail=f"{name}@{alias} -> v{version}")  # fmt: skip


def _score(model: Any, X: pd.DataFrame, y: pd.Series, metric: str) -> float:
    from sklearn import metrics

    if metric == "roc_auc":
        return float(metrics.roc_auc_score(y, model.predict_proba(X)[:, 1]))
    scorers: dict[str, Callable[..., float]] = {
        "accuracy": metrics.accuracy_score, "f1": metrics.f1_score,
        "precision": metrics.precision_score, "recall": metrics.recall_score,
        "r2": metrics.r2_score,
    }  # fmt: skip
    if metric not in scorers:
        raise InvalidInput(f"metric {metric!r} is not one of roc_auc, {', '.join(scorers)}")
    return float(scorers[metric](y, model.predict(X)))


def _split(endpoint: str, name: str, alias: str, share: float, reason: str) -> None:
    from loopml.client._fluent import get_client
    from loopml.serving import EndpointSpec, EndpointStore

    if not 0 < share < 1:
        raise InvalidInput(f"canary_share must be between 0 and 1, not {share}")
    store = EndpointStore(get_client().service.store)  # type: ignore[union-attr]
    spec = store.get(endpoint).spec.to_dict()
    spec["routes"] = [
        {"model": f"models:/{name}@{alias}", "weight": 1 - share},
        {"model": f"models:/{name}@{_CHALLENGER}", "weight": share},
    ]
    store.update(EndpointSpec.parse(spec), reason=reason)


def conclude_canary(
    name: str,
    *,
    endpoint: str,
    challenger_score: float,
    champion_score: float,
    by: float = 0.0,
    alias: str = "production",
    reason: str = "",
) -> bool:
    """End a canary: promote the challenger when its labelled score beat the champion's by
    ``by`` on the canary's traffic, and give the endpoint back to ``name@alias`` alone
    either way. Returns whether the challenger was promoted."""
    from loopml.client._fluent import get_client
    from loopml.client._models import model_registry
    from loopml.serving import EndpointSpec, EndpointStore

    registry = model_registry()
    won = challenger_score - champion_score >= by
    if won:
        version = registry.get_version_by_alias(name, _CHALLENGER).version
        why = f"canary held: {challenger_score:.4g} vs {champion_score:.4g}"
        registry.set_alias(name, alias, version, reason=reason or why)
    store = EndpointStore(get_client().service.store)  # type: ignore[union-attr]
    spec = store.get(endpoint).spec.to_dict()
    spec["routes"] = [{"model": f"models:/{name}@{alias}", "weight": 1.0}]
    store.update(EndpointSpec.parse(spec), reason=reason or "canary concluded")
    return won


def pipeline_retrain_handler(trigger: RetrainTrigger) -> dict[str, Any]:
    """The retrain handler behind a monitor's ``retrain`` block (installed by
    ``loopml monitors run|serve``; install it yourself with
    ``loopml.monitoring.set_retrain_handler(pipeline_retrain_handler)``).

    ``retrain.pipeline`` names a function ``module:attr`` that fits a model on
    ``(features, target)`` and returns it. The fresh data is the monitor's reference dataset
    plus the production rows of the trigger's window joined to their labels (by request id
    and row); a seeded ``holdout`` share of those labelled rows is kept out of training and
    is where challenger and champion are scored. The endpoint's first route
    (``models:/name@alias``) names the model and alias to promote. ``retrain.params``:
    ``target`` (required), ``metric`` (f1), ``by`` (0.0), ``holdout`` (0.3), ``seed`` (0),
    ``canary_share`` (0.1), and anything else is logged as a param.

    Raises:
        InvalidInput: no target, an endpoint that does not serve a ``models:/`` alias, no
            labelled production rows, a pipeline that is not ``module:attr``.
    """
    params = dict(trigger.retrain.params)
    target = params.pop("target", None)
    if not isinstance(target, str):
        raise InvalidInput("the monitor's retrain.params needs target: the label column's name")
    metric, by = str(params.pop("metric", "f1")), float(params.pop("by", 0.0))
    holdout, seed = float(params.pop("holdout", 0.3)), int(params.pop("seed", 0))
    canary_share = float(params.pop("canary_share", 0.1))
    name, alias = _served_alias(trigger.endpoint)
    train = _import(trigger.retrain.pipeline)
    import loopml

    reference = loopml.data.get(trigger.reference)
    labelled = _labelled_window(trigger, target, reference)
    if labelled.empty:
        raise InvalidInput(
            f"no labelled production rows for {trigger.endpoint} between "
            f"{trigger.window_start:%Y-%m-%d %H:%M} and {trigger.window_end:%H:%M}: "
            "send feedback before retraining"
        )
    shuffled = labelled.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    cut = max(1, min(len(shuffled) - 1, round(len(shuffled) * (1 - holdout))))
    outcome = retrain(
        name, train=lambda X, y: train(X, y),
        data=pd.concat([reference, shuffled.iloc[:cut]], ignore_index=True),
        evaluation=shuffled.iloc[cut:], target=target, metric=metric, by=by, alias=alias,
        policy=trigger.retrain.policy, endpoint=trigger.endpoint, canary_share=canary_share,
        experiment=f"retrain-{name}", params={"monitor": trigger.monitor, **params},
        reason=f"monitor {trigger.monitor}: {', '.join(trigger.reasons)}",
    )  # fmt: skip
    return outcome.to_dict()


def _served_alias(endpoint: str) -> tuple[str, str]:
    from loopml.client._fluent import get_client
    from loopml.serving import EndpointStore

    store = EndpointStore(get_client().service.store)  # type: ignore[union-attr]
    uri = store.get(endpoint).spec.routes[0].model
    name, at, alias = uri.removeprefix("models:/").partition("@")
    if not uri.startswith("models:/") or not at:
        raise InvalidInput(f"endpoint {endpoint!r} serves {uri}: retraining promotes an alias, "
                           "so its first route must be models:/name@alias")  # fmt: skip
    return name, alias


def _import(target: str) -> Callable[[pd.DataFrame, pd.Series], Any]:
    import importlib

    module, colon, attr = target.partition(":")
    if not colon or not module or not attr:
        raise InvalidInput(f"retrain.pipeline {target!r} is not module:function")
    try:
        found = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(f"cannot import retrain.pipeline {target!r}: {exc}") from None
    if not callable(found):
        raise InvalidInput(f"retrain.pipeline {target!r} is not callable")
    return cast(Callable[[pd.DataFrame, pd.Series], Any], found)


def _labelled_window(trigger: RetrainTrigger, target: str, reference: pd.DataFrame) -> pd.DataFrame:
    """The window's served rows (features as the reference names them) with their labels."""
    from loopml.client._fluent import get_client
    from loopml.serving import log_root, read_log
    from loopml.tracking import artifact_store_from_settings

    settings = get_client().settings
    root = log_root(settings.resolved_artifacts())
    options = artifact_store_from_settings(settings).storage_options
    served = read_log(root, "predictions", trigger.endpoint, start=trigger.window_start,
                      end=trigger.window_end, storage_options=options)  # fmt: skip
    labels = read_log(root, "feedback", trigger.endpoint, start=trigger.window_start,
                      storage_options=options)  # fmt: skip
    if served.empty or labels.empty:
        return pd.DataFrame()
    if "shadow" in served.columns:
        served = served[served["shadow"] != True]  # noqa: E712 - NaN means not a shadow
    served = served[(served["status"] == 200) & (served["row"] >= 0)]
    labels = labels.sort_values("timestamp").drop_duplicates(["request_id", "row"], keep="last")
    joined = served.merge(labels[["request_id", "row", "label"]], on=["request_id", "row"])
    # One order whatever the files' names and flush timing: training is then reproducible.
    joined = joined.sort_values(["request_id", "row"], kind="stable")
    features = [c for c in reference.columns if c != target and f"f.{c}" in joined.columns]
    out = joined[[f"f.{c}" for c in features]].rename(columns=lambda c: c[2:])
    out[target] = joined["label"].to_numpy()
    for column in out.columns:  # as the reference has them, so one schema holds both
        with contextlib.suppress(TypeError, ValueError):
            out[column] = out[column].astype(reference[column].dtype)
    return out.reset_index(drop=True)
