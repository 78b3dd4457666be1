"""Lineage of a model version: version ← run ← dataset versions ← producing steps ← commits.

Every link is already on record (a version names its run and the dataset versions it was
trained on, a dataset version names the run and step that produced it, a step's run names
its pipeline run, and runs carry their git commit), so lineage is a query: it follows those
records and reports a link it cannot follow instead of failing.
"""

from __future__ import annotations

from typing import Any

from loopml.errors import LoopMLError
from loopml.registry._entities import ModelVersion
from loopml.tracking import Run, TrackingService

__all__ = ["lineage", "model_uri"]

_COMMIT, _DIRTY = "loopml.git.commit", "loopml.git.dirty"
_STEP, _PIPELINE = "loopml.pipeline.step", "loopml.pipeline"
_PARENT = "mlflow.parentRunId"  # MLflow's tag, which nested runs and pipeline steps carry


def model_uri(ref: str) -> str:
    """``models:/`` form of ``name@alias``, ``name/3``, ``name`` (latest) or a models URI."""
    if ref.startswith("models:/"):
        return ref
    if "@" in ref or "/" in ref:
        return f"models:/{ref}"
    return f"models:/{ref}/latest"


def lineage(registry: Any, tracking: TrackingService, datasets: Any, ref: str) -> dict[str, Any]:
    """The lineage of the version ``ref`` names, as a JSON-able tree.

    Args:
        registry: a :class:`~loopml.registry.ModelRegistry`.
        tracking: the tracking service of the same store.
        datasets: a dataset catalog (``version(ref)``) of the same store.
        ref: ``name@alias``, ``name/3``, ``name`` or a ``models:/`` URI.
    """
    version: ModelVersion = registry.resolve(model_uri(ref))
    return {
        "model": version.name,
        "version": version.version,
        "aliases": list(version.aliases),
        "stage": version.current_stage.value,
        "source": version.source,
        "metrics": version.metrics,
        "created": version.creation_timestamp,
        "user": version.user_id,
        "run": _run_node(tracking, version.run_id),
        "datasets": [_dataset_node(tracking, datasets, d) for d in version.datasets],
    }


def _run_node(tracking: TrackingService, run_id: str | None) -> dict[str, Any] | None:
    if not run_id:
        return None
    try:
        run: Run = tracking.runs.get(run_id)
    except LoopMLError as exc:
        return {"run_id": run_id, "missing": str(exc)}
    tags = run.data.tags
    node: dict[str, Any] = {
        "run_id": run_id,
        "name": run.info.run_name,
        "experiment_id": run.info.experiment_id,
        "status": run.info.status.value,
        "git_commit": tags.get(_COMMIT, ""),
        "git_dirty": tags.get(_DIRTY) == "true" if _DIRTY in tags else None,
    }
    if _STEP in tags:  # a pipeline step: its pipeline run carries the whole run's commit
        node["step"] = tags[_STEP]
        node["pipeline_run"] = _run_node(tracking, tags.get(_PARENT))
    elif _PIPELINE in tags:
        node["pipeline"] = tags[_PIPELINE]
    return node


def _dataset_node(tracking: TrackingService, datasets: Any, ref: str) -> dict[str, Any]:
    try:
        version = datasets.version(ref)
    except LoopMLError as exc:
        return {"ref": ref, "missing": str(exc)}
    return {
        "ref": version.ref,
        "hash": version.hash,
        "rows": version.num_rows,
        "step": version.step,
        "produced_by": _run_node(tracking, version.run_id),
    }
