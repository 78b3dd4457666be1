"""The MLflow REST API 2.0 adapter: wire format in, tracking service calls, wire format out."""

from fastapi import APIRouter

from loopml.server.mlflow._artifacts import router as artifacts_router
from loopml.server.mlflow._experiments import router as _experiments
from loopml.server.mlflow._history import router as _history
from loopml.server.mlflow._logged_models import router as _logged_models
from loopml.server.mlflow._runs import router as _runs

__all__ = ["artifacts_router", "router"]

router = APIRouter()
router.include_router(_experiments)
router.include_router(_runs)
router.include_router(_logged_models)
router.include_router(_history)
