"""loopml: the whole ML lifecycle in one package, closed as a loop.

Tracking, as MLflow users know it::

    import loopml

    with loopml.start_run(experiment="churn", run_name="rf-baseline") as run:
        loopml.log_params({"model": "rf", "n_estimators": 200})
        for step, loss in enumerate(losses):
            loopml.log_metric("loss", loss, step=step)
"""

from loopml import data
from loopml.client import (
    ActiveRun,
    Client,
    active_run,
    end_run,
    flush,
    get_metric_history,
    get_run,
    load_model,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_model,
    log_param,
    log_params,
    log_text,
    model_registry,
    register_model,
    search_runs,
    seed_everything,
    set_experiment,
    set_model_alias,
    set_tag,
    set_tags,
    start_run,
)
from loopml.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    LoopMLError,
    NotFound,
)
from loopml.pipeline import Pipeline, step
from loopml.tracking import Experiment, Metric, Run, RunStatus, ViewType

__version__ = "0.1.0"

__all__ = [
    "ActiveRun",
    "AlreadyExists",
    "Client",
    "Conflict",
    "Experiment",
    "InvalidInput",
    "LoopMLError",
    "Metric",
    "NotFound",
    "Pipeline",
    "Run",
    "RunStatus",
    "ViewType",
    "__version__",
    "active_run",
    "data",
    "end_run",
    "flush",
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
    "register_model",
    "search_runs",
    "seed_everything",
    "set_experiment",
    "set_model_alias",
    "set_tag",
    "set_tags",
    "start_run",
    "step",
]
