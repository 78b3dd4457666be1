"""MLflow REST: runs, logging, search and metric history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from loopml.errors import InvalidInput
from loopml.ids import now_ms
from loopml.server._wire import Fields, read_fields, reply
from loopml.server.mlflow._convert import metric_json, run_info_json, run_json
from loopml.server.mlflow._experiments import _service, _tags
from loopml.server.mlflow._fields import FieldsIn
from loopml.tracking import (
    DatasetInput,
    Metric,
    ModelMetric,
    RunBatch,
    RunStatus,
    TrackingService,
    new_run,
)
from loopml.tracking._experiments import parse_experiment_id
from loopml.tracking._writes import metrics_from_dicts, validate_batch

__all__ = ["router"]

router = APIRouter()
_MAX_BATCH = 1000
_RETRY_AFTER_MS = 1000


def _run_id(f: Fields) -> str:
    # The client sends run_id and, on some calls, the legacy run_uuid with the same value.
    if f.has("run_id"):
        return f.string("run_id")
    if f.has("run_uuid"):
        return f.string("run_uuid")
    raise InvalidInput("Missing value for required parameter 'run_id'.")


def _metric(item: Any) -> Metric:
    if type(item) is dict:
        # What MLflow's client sends (string key, float value, int timestamp and step) is
        # taken as is; anything else goes through the field checks that name the problem.
        key, value, stamp = item.get("key"), item.get("value"), item.get("timestamp")
        step = item.get("step", 0)
        if type(key) is str and type(value) is float and type(stamp) is int and type(step) is int:
            return Metric(key, value, stamp, step)
    if not isinstance(item, dict):
        raise InvalidInput(f"Invalid metric {item!r}: expected an object.")
    f = Fields(item)
    return Metric(
        f.string("key"),
        f.number("value"),
        f.integer("timestamp", required=True),
        f.integer("step", default=0),
    )


async def _log(
    request: Request, run_id: str, raw_metrics: Sequence[Any] = (), **parts: Any
) -> None:
    model_metrics = _model_metrics(run_id, raw_metrics)
    fast = None if model_metrics else metrics_from_dicts(raw_metrics)
    run_metrics = fast if fast is not None else [_metric(m) for m in raw_metrics]
    service = _service(request)
    if model_metrics:  # MLflow 3's log_model: reads, off the loop
        run_metrics = await run_in_threadpool(
            _not_logged_yet, service, run_id, run_metrics, raw_metrics, model_metrics
        )
    metrics, params, tags = validate_batch(
        [] if fast is not None else run_metrics, parts.get("params", {}), parts.get("tags", {})
    )
    if fast is not None:
        metrics = fast
    # MLflow lets data reach ended (not deleted) runs; its clients rely on that.
    await request.app.state.commits.write(
        run_id, RunBatch(metrics=metrics, params=params, tags=tags), allow_ended=True
    )
    for model_id, points in model_metrics.items():
        await run_in_threadpool(service.logged_models.log_metrics, model_id, points)


def _model_metrics(run_id: str, raw: Sequence[Any]) -> dict[str, list[ModelMetric]]:
    """MLflow 3 metrics that name a model (``model_id``) go to that model as well."""
    out: dict[str, list[ModelMetric]] = {}
    for item in raw:
        if isinstance(item, dict) and item.get("model_id"):
            f = Fields(item)
            out.setdefault(f.string("model_id"), []).append(
                ModelMetric(
                    f.string("key"),
                    f.number("value"),
                    f.integer("timestamp", required=True),
                    f.integer("step", default=0),
                    run_id=run_id,
                    dataset_name=f.string("dataset_name", required=False, default=""),
                    dataset_digest=f.string("dataset_digest", required=False, default=""),
                )
            )
    return out


def _not_logged_yet(
    service: TrackingService,
    run_id: str,
    metrics: list[Metric],
    raw: Sequence[Any],
    model_metrics: dict[str, list[ModelMetric]],
) -> list[Metric]:
    """Drop model metrics that the run already has: ``log_model`` re-sends the run's
    points of its step with the model's id, and they must not appear twice in the history.

    Raises:
        NotFound: a model named there does not exist (the whole batch fails).
    """
    for model_id in model_metrics:
        service.logged_models.get(model_id)
    keys = {m.key for m, r in zip(metrics, raw, strict=True) if r.get("model_id")}
    seen = {
        (p.key, p.step, p.timestamp, p.value)
        for key in keys
        for p in service.runs.metric_history(run_id, key)
    }
    return [
        m
        for m, r in zip(metrics, raw, strict=True)
        if not (r.get("model_id") and (m.key, m.step, m.timestamp, m.value) in seen)
    ]


@router.post("/runs/create")
def create(request: Request, f: FieldsIn) -> Response:
    tags = _tags(f.items("tags"))
    service = _service(request)
    new = new_run(
        parse_experiment_id(f.string("experiment_id", required=False, default="0")),
        run_name=f.string("run_name", required=False) or None,
        tags=tags,
        start_time=f.integer("start_time"),
        user_id=f.string("user_id", required=False, default="") or tags.get("mlflow.user", ""),
        parent_run_id=tags.get("mlflow.parentRunId") or None,
    )
    # MLflow's client retries a request whose answer it lost (up to 7 times, POSTs too).
    # A retried create carries the client's start time, so it arrives late; a fresh create
    # arrives within a second of it and never pays for the lookup.
    if now_ms() - new.start_time >= _RETRY_AFTER_MS:
        twin = service.runs.find_twin(
            new, tags=tags, name_given=bool(f.string("run_name", required=False))
        )
        if twin is not None:
            return reply({"run": run_json(twin)})
    service.runs.write(new.run_id, RunBatch(create=new))
    return reply({"run": run_json(service.runs.get(new.run_id))})


@router.get("/runs/get")
def get(request: Request, f: FieldsIn) -> Response:
    service = _service(request)
    run = service.runs.get(_run_id(f))
    run_id = run.info.run_id
    return reply(
        {
            "run": run_json(
                run,
                service.inputs.get(run_id),
                model_inputs=service.logged_models.inputs(run_id),
                model_outputs=service.logged_models.outputs(run_id),
            )
        }
    )


@router.post("/runs/log-inputs")
def log_inputs(request: Request, f: FieldsIn) -> Response:
    inputs = []
    for item in f.items("datasets"):
        if not isinstance(item, dict) or not isinstance(item.get("dataset"), dict):
            raise InvalidInput(
                f"Invalid dataset input {str(item)[:80]!r}: expected {{dataset, tags}}."
            )
        d = Fields(item["dataset"])
        tags = _tags(item.get("tags") or [])
        context = tags.pop("mlflow.data.context", "")
        inputs.append(
            DatasetInput(
                name=d.string("name"),
                digest=d.string("digest"),
                source_type=d.string("source_type", required=False, default=""),
                source=d.string("source", required=False, default=""),
                schema=d.string("schema", required=False, default=""),
                profile=d.string("profile", required=False, default=""),
                context=context,
                tags=tags,
            )
        )
    model_ids = []
    for item in f.items("models"):
        if not isinstance(item, dict):
            raise InvalidInput(f"Invalid model input {str(item)[:80]!r}: expected {{model_id}}.")
        model_ids.append(Fields(item).string("model_id"))
    service = _service(request)
    service.inputs.log(_run_id(f), inputs, allow_ended=True)
    if model_ids:
        service.logged_models.log_inputs(_run_id(f), model_ids)
    return reply({})


@router.post("/runs/update")
def update(request: Request, f: FieldsIn) -> Response:
    status = f.string("status", required=False)
    if status is not None and status not in RunStatus.__members__:
        raise InvalidInput(f"Invalid value {status!r} for parameter 'status'.")
    info = _service(request).runs.update(
        _run_id(f),
        status=status,
        end_time=f.integer("end_time"),
        run_name=f.string("run_name", required=False),
    )
    return reply({"run_info": run_info_json(info)})


@router.post("/runs/delete")
def delete(request: Request, f: FieldsIn) -> Response:
    _service(request).runs.delete(_run_id(f))
    return reply({})


@router.post("/runs/restore")
def restore(request: Request, f: FieldsIn) -> Response:
    _service(request).runs.restore(_run_id(f))
    return reply({})


@router.post("/runs/log-metric")
async def log_metric(request: Request) -> Response:
    f = await read_fields(request)
    await _log(request, _run_id(f), [f.data])
    return reply({})


@router.post("/runs/log-parameter")
async def log_parameter(request: Request) -> Response:
    f = await read_fields(request)
    await _log(
        request, _run_id(f), params={f.string("key"): f.string("value", required=False, default="")}
    )
    return reply({})


@router.post("/runs/set-tag")
async def set_tag(request: Request) -> Response:
    f = await read_fields(request)
    await _log(
        request, _run_id(f), tags={f.string("key"): f.string("value", required=False, default="")}
    )
    return reply({})


@router.post("/runs/delete-tag")
def delete_tag(request: Request, f: FieldsIn) -> Response:
    _service(request).runs.delete_tag(_run_id(f), f.string("key"))
    return reply({})


@router.post("/runs/log-batch")
async def log_batch(request: Request) -> Response:
    f = await read_fields(request)
    metrics = f.items("metrics")
    params = _tags(f.items("params"))
    tags = _tags(f.items("tags"))
    if len(metrics) > _MAX_BATCH or len(params) > 100 or len(tags) > 100:
        raise InvalidInput(
            "A batch holds at most 1000 metrics, 100 params and 100 tags "
            f"(got {len(metrics)}, {len(params)}, {len(tags)})."
        )
    await _log(request, _run_id(f), metrics, params=params, tags=tags)
    return reply({})


@router.api_route("/runs/search", methods=["GET", "POST"])
def search(request: Request, f: FieldsIn) -> Response:
    experiment_ids = [str(e) for e in f.items("experiment_ids")]
    if not experiment_ids:
        raise InvalidInput("Missing value for required parameter 'experiment_ids'.")
    page = _service(request).runs.search(
        experiment_ids,
        filter_string=f.string("filter", required=False),
        view_type=f.string("run_view_type", required=False, default="ACTIVE_ONLY"),
        max_results=f.integer("max_results", default=1000),
        order_by=[str(o) for o in f.items("order_by")],
        page_token=f.string("page_token", required=False),
    )
    out: dict[str, Any] = {"runs": [run_json(r) for r in page.runs]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return reply(out)


@router.get("/metrics/get-history")
def get_history(request: Request, f: FieldsIn) -> Response:
    history = _service(request).runs.metric_history(_run_id(f), f.string("metric_key"))
    max_results = f.integer("max_results", default=None)
    token = f.string("page_token", required=False) or "0"
    if not token.isdigit():
        raise InvalidInput(f"Invalid page_token {token[:40]!r}.")
    start = int(token)
    end = len(history) if max_results is None else start + max(1, max_results)
    out: dict[str, Any] = {"metrics": [metric_json(m) for m in history[start:end]]}
    if end < len(history):
        out["next_page_token"] = str(end)
    return reply(out)
