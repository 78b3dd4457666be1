"""The MLflow REST API 2.0 adapter: wire format in, tracking service calls, wire format out."""

from typing import Any

from fastapi import APIRouter

from loopml.server.mlflow._artifacts import router as artifacts_router
from loopml.server.mlflow._experiments import router as _experiments
from loopml.server.mlflow._history import router as _history
from loopml.server.mlflow._logged_models import router as _logged_models
from loopml.server.mlflow._registry_models import router as _registry_models
from loopml.server.mlflow._registry_versions import router as _registry_versions
from loopml.server.mlflow._runs import log_batch, log_metric, log_parameter, set_tag
from loopml.server.mlflow._runs import router as _runs

__all__ = ["artifacts_router", "hot_routes", "router"]

router = APIRouter()
router.include_router(_experiments)
router.include_router(_runs)
router.include_router(_logged_models)
router.include_router(_history)
router.include_router(_registry_models)
router.include_router(_registry_versions)


def hot_routes() -> dict[str, Any]:
    """The POST routes that most requests go to: path -> endpoint."""
    return {
        "/runs/log-batch": log_batch,
        "/runs/log-metric": log_metric,
        "/runs/log-parameter": log_parameter,
        "/runs/set-tag": set_tag,
    }
