"""``Client``: the explicit, run-id-based API (what ``MlflowClient`` is to MLflow)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

from loopml.client._artifacts import ArtifactMethods
from loopml.client._remote import RemoteService
from loopml.client._writer import MetricWriter
from loopml.config import Settings, load_settings
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.tracking import (
    DEFAULT_EXPERIMENT_ID,
    DatasetInput,
    Experiment,
    Metric,
    Run,
    RunBatch,
    RunData,
    RunInfo,
    RunsPage,
    RunStatus,
    TrackingService,
    ViewType,
    check_key,
    check_step,
    check_timestamp,
    final_status,
    metric_value,
    new_run,
)
from loopml.tracking._experiments import parse_experiment_id
from loopml.tracking._validation import _valid_keys as _VALID_KEYS
from loopml.tracking._writes import check_params, validate_batch

__all__ = ["Client", "open_service"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def open_service(settings: Settings) -> TrackingService | RemoteService:
    """The tracking service that ``settings`` name: a server's, or the embedded store's."""
    if settings.is_remote:
        return RemoteService(settings)
    return TrackingService.from_settings(settings)


class Client(ArtifactMethods):
    """Talks to the tracking store: embedded (default), or a ``loopml server`` when
    ``LOOPML_TRACKING_URI`` is ``http(s)://host:port``.

    Args:
        settings: explicit settings; by default read from ``LOOPML_*`` now.

    Example::

        client = loopml.Client()
        run = client.create_run(client.create_experiment("churn"))
        client.log_metric(run.info.run_id, "auc", 0.91, step=3)
        client.set_terminated(run.info.run_id)
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self._service: TrackingService | RemoteService | None = None
        self._writer: MetricWriter | None = None
        self._writable: set[str] = set()
        self._params: dict[str, dict[str, str]] = {}
        self._experiments: dict[str, str] = {}
        self._async = self.settings.async_logging

    # -- plumbing ------------------------------------------------------------------------
    @property
    def service(self) -> TrackingService | RemoteService:
        """The tracking service: the embedded store (opened and migrated on first use), or
        the ``loopml server`` that ``LOOPML_TRACKING_URI`` names."""
        if self._service is None:
            self._service = open_service(self.settings)
        return self._service

    @property
    def writer(self) -> MetricWriter:
        """The background writer of metrics, params, tags and new runs."""
        if self._writer is None:
            runs = self.service.runs

            def sink(run_id: str, batch: RunBatch) -> None:
                runs.write(run_id, batch)

            self._writer = MetricWriter(sink, interval=self.settings.flush_interval)
        return self._writer

    def flush(self) -> None:
        """Make every queued metric durable; raise any error met while writing them."""
        if self._writer is not None:
            self._writer.flush()

    # -- experiments ---------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        *,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an experiment; returns its id."""
        return self.service.experiments.create(name, artifact_location=artifact_location, tags=tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id."""
        return self.service.experiments.get(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        try:
            return self.service.experiments.get_by_name(name)
        except NotFound:
            return None

    def search_experiments(
        self,
        *,
        view_type: ViewType | str = ViewType.ACTIVE_ONLY,
        name_like: str | None = None,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
    ) -> list[Experiment]:
        """Experiments, oldest first; ``name_like`` is a SQL LIKE pattern, ``filter_string``
        MLflow's experiment filter (``tags.team = 'growth' OR name LIKE 'churn%'``)."""
        return self.service.experiments.search(
            view_type=ViewType(str(view_type).upper()),
            name_like=name_like,
            filter_string=filter_string,
            order_by=order_by,
            max_results=max_results,
        )

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete an experiment."""
        self.service.experiments.delete(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`."""
        self.service.experiments.restore(experiment_id)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an experiment."""
        self.service.experiments.rename(experiment_id, new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set a tag on an experiment."""
        self.service.experiments.set_tag(experiment_id, key, value)

    # -- runs ----------------------------------------------------------------------------
    def _experiment_location(self, experiment_id: str) -> str:
        """The artifact location of an active experiment (checked once per client)."""
        location = self._experiments.get(experiment_id)
        if location is None:
            experiment = self.service.experiments.get(experiment_id)
            if experiment.lifecycle_stage != "active":
                raise Conflict(
                    f"experiment {experiment.name!r} is deleted; restore it before starting runs"
                )
            location = self._experiments[experiment_id] = experiment.artifact_location
        return location

    def create_run(
        self,
        experiment_id: str = DEFAULT_EXPERIMENT_ID,
        *,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        start_time: int | None = None,
        parent_run_id: str | None = None,
        files: Mapping[str, bytes] | None = None,
    ) -> Run:
        """Start a RUNNING run; ``files`` (artifact path -> bytes) are stored with it.

        With asynchronous logging the run is written with its first batch (at the latest
        when it ends or at the next flush), so a short run costs one transaction.
        """
        location = self._experiment_location(str(experiment_id))
        if parent_run_id and parent_run_id not in self._writable:
            self.flush()
            self.service.runs.get_info(parent_run_id)
        blobs = {path: self.service.blobs.put_bytes(data) for path, data in (files or {}).items()}
        new = new_run(
            parse_experiment_id(experiment_id),
            run_name=run_name,
            tags=tags,
            start_time=start_time,
            user_id=str((tags or {}).get("mlflow.user", "")),
            parent_run_id=parent_run_id,
            artifacts=blobs,
        )
        if self._async:
            (self._writer or self.writer).add_op(new.run_id, "create", new)
        else:
            self.service.runs.write(new.run_id, RunBatch(create=new))
        self._writable.add(new.run_id)
        self._params[new.run_id] = {}
        info = RunInfo(
            run_id=new.run_id,
            run_name=new.run_name,
            experiment_id=str(experiment_id),
            user_id=new.user_id,
            status=RunStatus.RUNNING,
            start_time=new.start_time,
            end_time=None,
            lifecycle_stage="active",
            artifact_uri=f"{location}/{new.run_id}/artifacts",
            parent_run_id=new.parent_run_id,
        )
        return Run(info=info, data=RunData(tags=dict(new.tags)))

    def resume_run(self, run_id: str, *, tags: Mapping[str, Any] | None = None) -> Run:
        """Make an ended run RUNNING again so that more can be logged to it."""
        run = self.get_run(run_id)
        if run.info.lifecycle_stage != "active":
            raise Conflict(f"run {run_id} is deleted; restore it before resuming it")
        if run.info.status != RunStatus.RUNNING:
            self.service.runs.update(run_id, status=RunStatus.RUNNING)
        self._writable.add(run_id)
        # Params logged before are immutable too: check new ones against them at the call.
        self._params[run_id] = dict(run.data.params)
        if tags:
            self.log_batch(run_id, tags=tags)
        return self.get_run(run_id)

    def get_run(self, run_id: str) -> Run:
        """A run with its latest metrics, params and tags (after flushing queued metrics)."""
        self.flush()
        run = self.service.runs.get(run_id)
        inputs = self.service.inputs.get(run_id)
        return dataclasses.replace(run, inputs=tuple(inputs)) if inputs else run

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | str | None = None,
        end_time: int | None = None,
        name: str | None = None,
    ) -> RunInfo:
        """Change a run's status, end time or name."""
        self.flush()  # the run may still be on its way to the store
        return self.service.runs.update(run_id, status=status, end_time=end_time, run_name=name)

    def set_terminated(
        self,
        run_id: str,
        status: RunStatus | str = RunStatus.FINISHED,
        end_time: int | None = None,
    ) -> None:
        """End a run: its queued data and its final status are written in one transaction."""
        finish_as = final_status(status, end_time)
        self._writable.discard(run_id)
        self._params.pop(run_id, None)
        runs = self.service.runs

        def finish(batch: RunBatch) -> None:
            batch.finish = finish_as
            try:
                runs.write(run_id, batch)
            except InvalidInput:
                if not batch.params:
                    raise
                # A param clashed with one logged elsewhere: end the run with everything
                # else, then report the clash.
                runs.write(run_id, batch.without_params())
                raise

        if self._writer is None:
            finish(RunBatch())
        else:
            self._writer.flush(finish={run_id: finish})

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run."""
        self._writable.discard(run_id)
        self.flush()  # the run may still be on its way to the store
        self.service.runs.delete(run_id)

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""
        self.flush()  # the run may still be on its way to the store
        self.service.runs.restore(run_id)

    # -- logging -------------------------------------------------------------------------
    def _check_writable(self, run_id: str) -> None:
        if run_id not in self._writable:
            self.flush()
            self.service.runs.check_writable(run_id)
            self._writable.add(run_id)

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        step: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Log one point; returns as soon as it is queued (see the durability note)."""
        # The hot path of every training loop: cheap type checks first, full checks on miss.
        if key not in _VALID_KEYS:
            check_key(key, "metric")
        if type(value) is not float:
            value = metric_value(key, value)
        if step is None:
            step = 0
        elif type(step) is not int or not _INT64_MIN <= step <= _INT64_MAX:
            step = check_step(step)
        timestamp = time.time_ns() // 1_000_000 if timestamp is None else check_timestamp(timestamp)
        if run_id not in self._writable:
            self._check_writable(run_id)
        if self._async:
            (self._writer or self.writer).add(run_id, key, value, timestamp, step)
        else:
            self.service.runs.write(run_id, RunBatch(metrics=[(key, value, timestamp, step)]))

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Log metrics, params and tags together (queued like ``log_metric``)."""
        checked, params_, tags_ = validate_batch(metrics, params or {}, tags or {})
        if not self._async:
            self.service.runs.write(run_id, RunBatch(metrics=checked, params=params_, tags=tags_))
            return
        self._check_writable(run_id)
        if params_:
            self._check_params(run_id, params_)
        writer = self._writer or self.writer
        for m in checked:
            writer.add(run_id, *m)
        if params_:
            writer.add_op(run_id, "params", params_)
        if tags_:
            writer.add_op(run_id, "tags", tags_)

    def _check_params(self, run_id: str, params: Mapping[str, str]) -> None:
        # Params are immutable: a clash with a value this client logged is reported at the
        # call; one with a value logged elsewhere, when the batch is written.
        known = self._params.setdefault(run_id, {})
        check_params(run_id, params, known)
        known.update(params)

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a param (immutable: the same value again is fine, another value is an error)."""
        self.log_batch(run_id, params={key: value})
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set (or overwrite) a run tag."""
        self.log_batch(run_id, tags={key: value})

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a run tag."""
        self.flush()
        self.service.runs.delete_tag(run_id, key)

    def log_inputs(self, run_id: str, inputs: Sequence[DatasetInput]) -> None:
        """Record the datasets a run used (the run's queued data is written first)."""
        self.flush()
        self.service.inputs.log(run_id, list(inputs))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, by step then time."""
        self.flush()
        return self.service.runs.metric_history(run_id, key)

    # -- search --------------------------------------------------------------------------
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        *,
        run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> RunsPage:
        """One page of runs matching ``filter_string`` (see :mod:`loopml.tracking` grammar)."""
        self.flush()
        return self.service.runs.search(
            list(experiment_ids),
            filter_string=filter_string,
            view_type=run_view_type,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )
