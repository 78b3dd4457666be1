"""loopml entities as MLflow's REST objects (field names, enums, ms timestamps)."""

from __future__ import annotations

import math
from typing import Any

from loopml.tracking import (
    DatasetInput,
    Experiment,
    LoggedModel,
    LoggedModelStatus,
    Metric,
    ModelOutput,
    Run,
    RunInfo,
)

__all__ = [
    "MODEL_STATUS_FROM_WIRE",
    "experiment_json",
    "logged_model_json",
    "metric_json",
    "run_info_json",
    "run_json",
    "value_json",
]

_MODEL_STATUS = {
    LoggedModelStatus.PENDING: "LOGGED_MODEL_PENDING",
    LoggedModelStatus.READY: "LOGGED_MODEL_READY",
    LoggedModelStatus.FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
}
# MLflow's enum by name (as its JSON writes it) or by number (as proto JSON may).
MODEL_STATUS_FROM_WIRE: dict[object, LoggedModelStatus] = {
    **{wire: status for status, wire in _MODEL_STATUS.items()},
    1: LoggedModelStatus.PENDING,
    2: LoggedModelStatus.READY,
    3: LoggedModelStatus.FAILED,
}


def value_json(value: float) -> float | str:
    """A double as proto JSON writes it: NaN and ±inf as strings."""
    if math.isfinite(value):
        return value
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def experiment_json(e: Experiment) -> dict[str, Any]:
    """MLflow's Experiment."""
    return {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage,
        "creation_time": e.creation_time,
        "last_update_time": e.last_update_time,
        "tags": [{"key": k, "value": v} for k, v in e.tags.items()],
    }


def run_info_json(info: RunInfo) -> dict[str, Any]:
    """MLflow's RunInfo, with both ``run_id`` and ``run_uuid``."""
    out: dict[str, Any] = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id,
        "status": info.status.value,
        "start_time": info.start_time,
        "artifact_uri": info.artifact_uri,
        "lifecycle_stage": info.lifecycle_stage,
    }
    if info.end_time is not None:
        out["end_time"] = info.end_time
    return out


def dataset_input_json(d: DatasetInput) -> dict[str, Any]:
    """MLflow's DatasetInput (the context travels as tag ``mlflow.data.context``)."""
    tags = dict(d.tags)
    if d.context:
        tags["mlflow.data.context"] = d.context
    return {
        "dataset": {
            "name": d.name,
            "digest": d.digest,
            "source_type": d.source_type,
            "source": d.source,
            "schema": d.schema,
            "profile": d.profile,
        },
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
    }


def run_json(
    run: Run,
    inputs: tuple[DatasetInput, ...] = (),
    *,
    model_inputs: list[str] | None = None,
    model_outputs: list[ModelOutput] | None = None,
) -> dict[str, Any]:
    """MLflow's Run: info, data (latest metrics with their step and time), inputs, outputs."""
    metrics = []
    for key, (value, step, timestamp) in run.data.latest.items():
        metrics.append({"key": key, "value": value, "timestamp": timestamp, "step": step})
    return {
        "info": run_info_json(run.info),
        "data": {
            "metrics": metrics,
            "params": [{"key": k, "value": v} for k, v in run.data.params.items()],
            "tags": [{"key": k, "value": v} for k, v in run.data.tags.items()],
        },
        "inputs": _inputs_json(inputs, model_inputs or []),
        "outputs": (
            {"model_outputs": [{"model_id": o.model_id, "step": o.step} for o in model_outputs]}
            if model_outputs
            else {}
        ),
    }


def _inputs_json(inputs: tuple[DatasetInput, ...], models: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if inputs:
        out["dataset_inputs"] = [dataset_input_json(d) for d in inputs]
    if models:
        out["model_inputs"] = [{"model_id": m} for m in models]
    return out


def logged_model_json(m: LoggedModel) -> dict[str, Any]:
    """MLflow 3's LoggedModel: ``info`` (attributes, tags) and ``data`` (params, metrics)."""
    info: dict[str, Any] = {
        "model_id": m.model_id,
        "experiment_id": m.experiment_id,
        "name": m.name,
        "creation_timestamp_ms": m.creation_timestamp,
        "last_updated_timestamp_ms": m.last_updated_timestamp,
        "artifact_uri": m.artifact_location,
        "status": _MODEL_STATUS[m.status],
        "model_type": m.model_type,
        "status_message": m.status_message,
        "tags": [{"key": k, "value": v} for k, v in m.tags.items()],
    }
    if m.source_run_id:
        info["source_run_id"] = m.source_run_id
    metrics = []
    for p in m.metrics:
        point: dict[str, Any] = {
            "key": p.key,
            "value": value_json(p.value),
            "timestamp": p.timestamp,
            "step": p.step,
            "model_id": m.model_id,
        }
        if p.run_id:
            point["run_id"] = p.run_id
        if p.dataset_name:
            point["dataset_name"] = p.dataset_name
            point["dataset_digest"] = p.dataset_digest
        metrics.append(point)
    return {
        "info": info,
        "data": {
            "params": [{"key": k, "value": v} for k, v in m.params.items()],
            "metrics": metrics,
        },
    }


def metric_json(m: Metric) -> dict[str, Any]:
    """MLflow's Metric."""
    return {"key": m.key, "value": value_json(m.value), "timestamp": m.timestamp, "step": m.step}
