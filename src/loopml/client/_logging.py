"""The module-level logging and reading functions (``loopml.log_metric``, ``search_runs``...).

They act on the innermost active run (starting one when none is active, as MLflow does) or
on ``run_id`` where given; :mod:`loopml.client._fluent` keeps the run stack.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from loopml.client import _fluent
from loopml.client._fluent import _current, _resolve_experiment, get_client
from loopml.client._frames import runs_to_frame
from loopml.data._entities import DatasetVersion
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.tracking import ArtifactInfo, DatasetInput, Metric, Run, ViewType

if TYPE_CHECKING:
    import pandas as pd


__all__ = [
    "get_metric_history",
    "get_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "search_runs",
    "set_tag",
    "set_tags",
]


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    timestamp: int | None = None,
    *,
    run_id: str | None = None,
) -> None:
    """Log a metric point; returns in microseconds, durable at flush / run end / exit."""
    if run_id is not None:
        get_client().log_metric(run_id, key, value, step, timestamp)
        return
    stack = _fluent._stack
    run = stack[-1] if stack else _current()
    if run._ended:
        raise Conflict(f"run {run.run_id} has ended; start a new run to log more")
    run._client.log_metric(run.info.run_id, key, value, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, *, run_id: str | None = None
) -> None:
    """Log several metric points at one step."""
    for key, value in metrics.items():
        log_metric(key, value, step, run_id=run_id)


def log_param(key: str, value: Any, *, run_id: str | None = None) -> Any:
    """Log a param (immutable once logged); returns ``value``."""
    return get_client().log_param(run_id or _current().run_id, key, value)


def log_params(params: Mapping[str, Any], *, run_id: str | None = None) -> None:
    """Log several params in one transaction."""
    get_client().log_batch(run_id or _current().run_id, params=params)


def set_tag(key: str, value: Any, *, run_id: str | None = None) -> None:
    """Set a tag on the active run."""
    get_client().set_tag(run_id or _current().run_id, key, value)


def set_tags(tags: Mapping[str, Any], *, run_id: str | None = None) -> None:
    """Set several tags in one transaction."""
    get_client().log_batch(run_id or _current().run_id, tags=tags)


def log_artifact(
    local_path: str | os.PathLike[str], artifact_path: str | None = None
) -> ArtifactInfo:
    """Store a file among the active run's artifacts."""
    return get_client().log_artifact(_current().run_id, local_path, artifact_path)


def log_artifacts(
    local_dir: str | os.PathLike[str], artifact_path: str | None = None
) -> list[ArtifactInfo]:
    """Store a directory tree among the active run's artifacts."""
    return get_client().log_artifacts(_current().run_id, local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> ArtifactInfo:
    """Store text as an artifact file."""
    return get_client().log_text(_current().run_id, text, artifact_file)


def log_dict(dictionary: Mapping[str, Any], artifact_file: str) -> ArtifactInfo:
    """Store a dict as a JSON (or YAML) artifact file."""
    return get_client().log_dict(_current().run_id, dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> ArtifactInfo:
    """Store a matplotlib figure as an image artifact."""
    return get_client().log_figure(_current().run_id, figure, artifact_file)


def log_input(
    dataset: DatasetVersion, *, context: str = "training", run_id: str | None = None
) -> None:
    """Record that the active run (or ``run_id``) used this dataset version.

    Example::

        train = loopml.data.register("churn", frame)
        with loopml.start_run():
            loopml.log_input(train, context="training")
    """
    target = run_id or _current().run_id
    get_client().log_inputs(target, [dataset_input(dataset, context)])


def dataset_input(dataset: DatasetVersion, context: str) -> DatasetInput:
    """How a run records a dataset version it used (MLflow's dataset input, filled in)."""
    if not isinstance(dataset, DatasetVersion):
        raise InvalidInput(
            f"log_input takes a dataset version (loopml.data.register / version), "
            f"got {type(dataset).__name__}"
        )
    return DatasetInput(
        name=dataset.name,
        digest=dataset.hash,
        source_type="loopml",
        source=f"loopml-dataset:{dataset.ref}",
        schema=dataset.schema,
        profile=json.dumps({"num_rows": dataset.num_rows, "num_columns": dataset.num_columns}),
        context=context,
        tags={"loopml.dataset.version": str(dataset.version)},
    )


def get_run(run_id: str) -> Run:
    """A run with its latest metrics, params and tags."""
    return get_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    """Every point of one metric of a run."""
    return get_client().get_metric_history(run_id, key)


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
    max_results: int = 100_000,
    order_by: list[str] | None = None,
    output_format: Literal["pandas", "list"] = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
    page_token: str | None = None,
) -> pd.DataFrame | list[Run]:
    """Search runs with MLflow's filter grammar, plus ``OR`` and parentheses.

    Example::

        loopml.search_runs(
            experiment_names=["churn"],
            filter_string="metrics.acc > 0.9 and (params.model = 'rf' or tags.team LIKE 'ml%')",
            order_by=["metrics.acc DESC"],
        )

    Returns:
        a DataFrame with ``run_id``, ``status``, ``metrics.*``, ``params.*``, ``tags.*``
        columns, or a list of :class:`Run` with ``output_format="list"``.
    """
    client = get_client()
    ids = [str(e) for e in experiment_ids or []]
    for name in experiment_names or []:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise NotFound(f"experiment {name!r} does not exist")
        ids.append(experiment.experiment_id)
    if search_all_experiments and not ids:
        ids = [
            e.experiment_id
            for e in client.search_experiments(view_type=ViewType.ALL, max_results=50_000)
        ]
    if not ids and not experiment_names:
        ids = [_resolve_experiment(None, None)]
    if output_format not in ("pandas", "list"):
        raise InvalidInput(f"output_format must be 'pandas' or 'list', got {output_format!r}")
    runs: list[Run] = []
    token = page_token
    while len(runs) < max_results:
        page = client.search_runs(
            ids,
            filter_string,
            run_view_type=run_view_type,
            max_results=min(50_000, max_results - len(runs)),
            order_by=order_by,
            page_token=token,
        )
        runs.extend(page.runs)
        token = page.next_page_token
        if not token:
            break
    return runs if output_format == "list" else runs_to_frame(runs)
