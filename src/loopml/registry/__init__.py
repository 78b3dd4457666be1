"""The model registry: registered models, versions, aliases, legacy stages, audit log.

Example::

    registry = ModelRegistry(store)
    registry.create_model("churn")
    v = registry.create_version("churn", f"runs:/{run_id}/model", metrics={"auc": 0.91})
    registry.approve_version("churn", v.version, user="bob", reason="checked the drift report")
    promote(registry, "churn", v.version, "champion", policy={"approvals": {"min": 1}})
    registry.resolve("models:/churn@champion")
"""

from loopml.registry._entities import (
    Approval,
    AuditEntry,
    ModelVersion,
    ModelVersionsPage,
    RegisteredModel,
    RegisteredModelsPage,
    Stage,
)
from loopml.registry._gates import GateFailed, GateReport, RuleResult, promote
from loopml.registry._lineage import lineage, model_uri
from loopml.registry._locations import SourceLocation, source_location
from loopml.registry._policy import PromotionPolicy, load_policy
from loopml.registry._registry import ModelRegistry
from loopml.registry._retries import RETRY_WINDOW_MS
from loopml.registry._validation import check_user

__all__ = [
    "RETRY_WINDOW_MS",
    "Approval",
    "AuditEntry",
    "GateFailed",
    "GateReport",
    "ModelRegistry",
    "ModelVersion",
    "ModelVersionsPage",
    "PromotionPolicy",
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
