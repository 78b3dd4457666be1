"""The Python client: ``Client`` (explicit run ids) and the module-level fluent API."""

from typing import cast

from loopml.client._client import Client, open_service
from loopml.client._fluent import (
    ActiveRun,
    active_run,
    end_run,
    flush,
    get_client,
    set_client,
    set_experiment,
    start_run,
)
from loopml.client._logging import (
    get_metric_history,
    get_run,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    search_runs,
    set_tag,
    set_tags,
)
from loopml.client._models import (
    load_model,
    log_model,
    model_registry,
    register_model,
    set_model_alias,
)
from loopml.client._remote import RemoteService, _Area
from loopml.client._retrain import (
    RetrainOutcome,
    conclude_canary,
    pipeline_retrain_handler,
    retrain,
)
from loopml.client._seed import current_seed, seed_everything
from loopml.client._writer import MetricWriter
from loopml.config import Settings
from loopml.data import DataService
from loopml.data import _api as _data_api
from loopml.pipeline import CacheIndex
from loopml.pipeline import _stores as _pipeline_stores
from loopml.pipeline._stores import PipelineStores

__all__ = [
    "ActiveRun",
    "Client",
    "MetricWriter",
    "RemoteService",
    "RetrainOutcome",
    "active_run",
    "conclude_canary",
    "current_seed",
    "end_run",
    "flush",
    "get_client",
    "get_metric_history",
    "get_run",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "model_registry",
    "open_service",
    "pipeline_retrain_handler",
    "register_model",
    "retrain",
    "search_runs",
    "seed_everything",
    "set_client",
    "set_experiment",
    "set_model_alias",
    "set_tag",
    "set_tags",
    "start_run",
]


def _active_run_id() -> str | None:
    from loopml.client._fluent import _stack

    return _stack[-1].run_id if _stack else None


# Datasets registered through loopml.data use this client's settings and record the
# active run as their producer.
def _open_data(settings: Settings) -> DataService:
    if not settings.is_remote:
        return DataService.from_settings(settings)
    remote = RemoteService(settings)  # datasets go through the server's API and blob routes
    return DataService(remote.datasets, remote.blobs, s3_endpoint_url=settings.s3_endpoint_url)


_data_api.set_context(
    settings=lambda: get_client().settings, run_id=_active_run_id, opener=_open_data
)


# Pipelines run their steps here and keep their records on the server.
def _open_pipeline_stores(settings: Settings) -> PipelineStores:
    remote = RemoteService(settings)
    return PipelineStores(
        remote,
        cast(CacheIndex, _Area(remote, "pipeline_cache")),
        DataService(remote.datasets, remote.blobs, s3_endpoint_url=settings.s3_endpoint_url),
    )


_pipeline_stores.set_context(_open_pipeline_stores)
