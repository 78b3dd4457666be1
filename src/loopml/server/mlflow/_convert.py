"""loopml entities as MLflow's REST objects (field names, enums, ms timestamps)."""

from __future__ import annotations

import math
from typing import Any

from loopml.tracking import DatasetInput, Experiment, Metric, Run, RunInfo

__all__ = ["experiment_json", "metric_json", "run_info_json", "run_json", "value_json"]


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


def run_json(run: Run, inputs: tuple[DatasetInput, ...] = ()) -> dict[str, Any]:
    """MLflow's Run: info, data (latest metrics with their step and time), inputs."""
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
        "inputs": {"dataset_inputs": [dataset_input_json(d) for d in inputs]} if inputs else {},
    }


def metric_json(m: Metric) -> dict[str, Any]:
    """MLflow's Metric."""
    return {"key": m.key, "value": value_json(m.value), "timestamp": m.timestamp, "step": m.step}
