"""Reading pipeline runs back: the parent runs tagged as pipelines, and their step runs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.pipeline._results import PIPELINE_TAG, STEP_TAG
from loopml.pipeline._stores import open_stores
from loopml.tracking import Run, TrackingService

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = ["PipelineRun", "get_pipeline_run", "list_pipeline_runs"]


@dataclass(frozen=True, slots=True)
class PipelineRun:
    """A recorded pipeline run: the parent run and, from ``get_pipeline_run``, its steps.

    Attributes:
        target: the pipeline as ``module:attribute`` ("" when it was built in a function).
        git_commit: the commit of the working directory the run started in ("" outside
            git); ``git_dirty`` whether tracked files differed from it (the diff is the
            run's artifact ``_loopml/git.diff``; None outside git).
        steps: one dict per step run (name, status, run id, code fingerprint, cache key,
            output hash, seconds, attempts, error), oldest first.
    """

    run_id: str
    pipeline: str
    status: str
    executor: str
    start_time: int
    end_time: int | None
    params: dict[str, str]
    metrics: dict[str, float]
    target: str = ""
    git_commit: str = ""
    git_dirty: bool | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "status": self.status,
            "executor": self.executor,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "params": self.params,
            "metrics": self.metrics,
            "target": self.target,
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "steps": self.steps,
        }


def _service(settings: Settings | None) -> TrackingService:
    if settings is None:
        from loopml.config import load_settings

        settings = load_settings()
    return open_stores(settings).service


def _summary(run: Run, steps: list[dict[str, Any]] | None = None) -> PipelineRun:
    tags = run.data.tags
    dirty = tags.get("loopml.git.dirty")
    return PipelineRun(
        run_id=run.info.run_id,
        pipeline=tags.get(PIPELINE_TAG, ""),
        status=run.info.status.value,
        executor=tags.get(f"{PIPELINE_TAG}.executor", ""),
        start_time=run.info.start_time,
        end_time=run.info.end_time,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        target=tags.get(f"{PIPELINE_TAG}.target", ""),
        git_commit=tags.get("loopml.git.commit", ""),
        git_dirty=None if dirty is None else dirty == "true",
        steps=steps or [],
    )


def list_pipeline_runs(
    *, pipeline: str | None = None, max_results: int = 100, settings: Settings | None = None
) -> list[PipelineRun]:
    """Pipeline runs, newest first.

    Args:
        pipeline: only runs of this pipeline.
        max_results: at most this many.
        settings: the stores; default :func:`loopml.config.load_settings`.
    """
    service = _service(settings)
    experiment_ids = [e.experiment_id for e in service.experiments.search()]
    if not experiment_ids:
        return []
    if pipeline is None:
        where = f"tags.`{PIPELINE_TAG}` IS NOT NULL"
    else:
        where = f"tags.`{PIPELINE_TAG}` = '{pipeline.replace(chr(39), chr(39) * 2)}'"
    page = service.runs.search(
        experiment_ids,
        filter_string=where,
        order_by=["start_time DESC"],
        max_results=max_results,
    )
    return [_summary(run) for run in page.runs]


def get_pipeline_run(run_id: str, *, settings: Settings | None = None) -> PipelineRun:
    """A pipeline run with its step runs.

    Raises:
        NotFound: no such run.
        InvalidInput: the run is not a pipeline run.
    """
    service = _service(settings)
    run = service.runs.get(run_id)
    if PIPELINE_TAG not in run.data.tags:
        raise InvalidInput(f"run {run_id!r} is not a pipeline run (no {PIPELINE_TAG} tag)")
    page = service.runs.search(
        [run.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'",
        order_by=["start_time ASC"],
        max_results=1000,
    )
    steps = []
    for child in page.runs:
        tags = child.data.tags
        steps.append(
            {
                "name": tags.get(STEP_TAG, child.info.run_name),
                "status": tags.get(f"{PIPELINE_TAG}.status", child.info.status.value.lower()),
                "run_id": child.info.run_id,
                "code": tags.get(f"{PIPELINE_TAG}.code"),
                "cache_key": tags.get(f"{PIPELINE_TAG}.cache_key"),
                "inputs": json.loads(tags.get(f"{PIPELINE_TAG}.inputs", "{}")),
                "output_hash": tags.get(f"{PIPELINE_TAG}.output_hash"),
                "seconds": child.data.metrics.get("duration_s"),
                "attempts": int(child.data.metrics.get("attempts", 0)),
                "error": tags.get(f"{PIPELINE_TAG}.error"),
            }
        )
    return _summary(run, steps)
