"""The model registry: registered models, versions, aliases, legacy stages, audit log.

Example::

    registry = ModelRegistry(store)
    registry.create_model("churn")
    v = registry.create_version("churn", f"runs:/{run_id}/model", metrics={"auc": 0.91})
    registry.set_alias("churn", "champion", v.version, reason="beats v1 on March data")
    registry.resolve("models:/churn@champion")
"""

from loopml.registry._entities import (
    AuditEntry,
    ModelVersion,
    ModelVersionsPage,
    RegisteredModel,
    RegisteredModelsPage,
    Stage,
)
from loopml.registry._gates import GateFailed, GateReport, RuleResult, load_policy, promote
from loopml.registry._lineage import lineage, model_uri
from loopml.registry._registry import ModelRegistry

__all__ = [
    "AuditEntry",
    "GateFailed",
    "GateReport",
    "ModelRegistry",
    "ModelVersion",
    "ModelVersionsPage",
    "RegisteredModel",
    "RegisteredModelsPage",
    "RuleResult",
    "Stage",
    "lineage",
    "load_policy",
    "model_uri",
    "promote",
]
