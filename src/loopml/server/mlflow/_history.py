"""MLflow REST: the metric-history routes the MLflow UI charts with (many runs at once).

``metrics/get-history-bulk-interval`` samples each run's steps down to ``max_results``,
keeping the first and last step of the range, as MLflow's own server does, so a chart of a
million-step run costs a few thousand points.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from loopml.errors import InvalidInput
from loopml.server._wire import Fields, reply
from loopml.server.mlflow._convert import metric_json
from loopml.server.mlflow._experiments import _service
from loopml.server.mlflow._fields import FieldsIn
from loopml.tracking import Metric

__all__ = ["router"]

router = APIRouter()
_MAX_RUNS = 100  # MLflow's limits for these routes
_MAX_PER_RUN = 2500
_MAX_BULK = 25_000


def _run_ids(f: Fields, name: str) -> list[str]:
    run_ids = [str(r) for r in f.items(name)]
    if not run_ids:
        raise InvalidInput(f"Missing value for required parameter '{name}'.")
    if len(run_ids) > _MAX_RUNS:
        raise InvalidInput(f"At most {_MAX_RUNS} run ids per request; got {len(run_ids)}.")
    return run_ids


def _with_run(run_id: str, points: list[Metric]) -> list[dict[str, Any]]:
    return [{**metric_json(m), "run_id": run_id} for m in points]


@router.get("/metrics/get-history-bulk")
def get_history_bulk(request: Request, f: FieldsIn) -> Response:
    run_ids = _run_ids(f, "run_id")
    key = f.string("metric_key")
    limit = min(f.integer("max_results", default=_MAX_BULK), _MAX_BULK)
    if limit < 1:
        raise InvalidInput(f"max_results must be positive, got {limit}.")
    runs = _service(request).runs
    out: list[dict[str, Any]] = []
    for run_id in sorted(run_ids):
        history = sorted(runs.metric_history(run_id, key), key=lambda m: (m.timestamp, m.step))
        out.extend(_with_run(run_id, history))
    return reply({"metrics": out[:limit]})


def _sample(steps: list[int], limit: int) -> set[int]:
    """At most ``limit`` steps, evenly spread, the first and the last always among them."""
    if len(steps) <= limit:
        return set(steps)
    if limit == 1:
        return {steps[0]}
    stride = (len(steps) - 1) / (limit - 1)
    return {steps[round(i * stride)] for i in range(limit)}


@router.get("/metrics/get-history-bulk-interval")
def get_history_bulk_interval(request: Request, f: FieldsIn) -> Response:
    run_ids = _run_ids(f, "run_ids")
    key = f.string("metric_key")
    limit = f.integer("max_results", default=_MAX_PER_RUN)
    if not 1 <= limit <= _MAX_PER_RUN:
        raise InvalidInput(f"max_results must be between 1 and {_MAX_PER_RUN}.")
    start, end = f.integer("start_step"), f.integer("end_step")
    if (start is None) != (end is None):
        raise InvalidInput("If either start step or end step are specified, both must be.")
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"end_step must be >= start_step (got {start} and {end}).")
    runs = _service(request).runs
    out: list[dict[str, Any]] = []
    for run_id in run_ids:
        history = runs.metric_history(run_id, key)
        if start is not None:
            history = [m for m in history if start <= m.step <= end]
        keep = _sample(sorted({m.step for m in history}), limit)
        out.extend(_with_run(run_id, [m for m in history if m.step in keep]))
    return reply({"metrics": out})
