"""Experiment tracking: experiments, runs, metrics, params, tags, artifacts and run search."""

from loopml.tracking._capture import Environment, capture_environment
from loopml.tracking._entities import (
    ArtifactInfo,
    DatasetInput,
    Experiment,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunsPage,
    RunStatus,
    ViewType,
)
from loopml.tracking._experiments import DEFAULT_EXPERIMENT_ID
from loopml.tracking._filter import parse_filter, parse_order_by
from loopml.tracking._logged_models import LoggedModels
from loopml.tracking._model_entities import (
    LoggedModel,
    LoggedModelsPage,
    LoggedModelStatus,
    ModelMetric,
    ModelOrder,
    ModelOutput,
)
from loopml.tracking._runs import final_status
from loopml.tracking._service import TrackingService, artifact_store_from_settings
from loopml.tracking._validation import (
    check_key,
    check_param_value,
    check_step,
    check_tag_value,
    check_timestamp,
    metric_value,
)
from loopml.tracking._writes import NewRun, RunBatch, new_run

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "ArtifactInfo",
    "DatasetInput",
    "Environment",
    "Experiment",
    "LoggedModel",
    "LoggedModelStatus",
    "LoggedModels",
    "LoggedModelsPage",
    "Metric",
    "ModelMetric",
    "ModelOrder",
    "ModelOutput",
    "NewRun",
    "Run",
    "RunBatch",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunsPage",
    "TrackingService",
    "ViewType",
    "artifact_store_from_settings",
    "capture_environment",
    "check_key",
    "check_param_value",
    "check_step",
    "check_tag_value",
    "check_timestamp",
    "final_status",
    "metric_value",
    "new_run",
    "parse_filter",
    "parse_order_by",
]
