"""Logged models (MLflow 3): a model's own record with params, tags, metrics and status, apart
from the run that produced it, plus the links between runs and the models they made or used.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.ids import now_ms
from loopml.store import (
    LoggedModelMetricRow,
    LoggedModelParamRow,
    LoggedModelRow,
    LoggedModelTagRow,
    RunModelLinkRow,
    RunRow,
    Store,
    insert_ignore,
    upsert,
)
from loopml.tracking._experiments import Experiments, parse_experiment_id
from loopml.tracking._filter import parse_filter
from loopml.tracking._model_entities import (
    MAX_MODEL_NAME,
    MODEL_ID,
    LoggedModel,
    LoggedModelsPage,
    LoggedModelStatus,
    ModelMetric,
    ModelOrder,
    ModelOutput,
    check_model_name,
    model_status,
)
from loopml.tracking._model_search import matches, sort_models
from loopml.tracking._names import random_run_name
from loopml.tracking._search import decode_page_token, encode_page_token
from loopml.tracking._validation import (
    check_key,
    check_param_value,
    check_step,
    check_tag_value,
    check_timestamp,
    metric_value,
)
from loopml.tracking._writes import check_run_id, check_writable

__all__ = ["LoggedModels"]


class LoggedModels:
    """Create, read, search, tag, finalize and delete logged models; link them to runs.

    Args:
        store: the metadata store.
        experiments: the experiments the models belong to (for their artifact location).
    """

    def __init__(self, store: Store, experiments: Experiments) -> None:
        self.store = store
        self.experiments = experiments

    # -- create / read --------------------------------------------------------------------
    def create(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        model_type: str = "",
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> LoggedModel:
        """Create a PENDING model in an active experiment; its id is ``m-<32 hex>``.

        Raises:
            NotFound: the experiment or the source run does not exist.
            Conflict: the experiment is deleted.
            InvalidInput: a bad name, key or value.
        """
        experiment = self.experiments.get(str(parse_experiment_id(experiment_id)))
        if experiment.lifecycle_stage != "active":
            raise Conflict(f"experiment {experiment_id} is deleted; restore it first")
        name = check_model_name(name) if name is not None else random_run_name()
        if not isinstance(model_type, str) or len(model_type) > MAX_MODEL_NAME:
            raise InvalidInput("model_type must be a string of at most 500 characters")
        checked_params = self._params(params or {})
        checked_tags = self._tags(tags or {})
        model_id = f"m-{uuid.uuid4().hex}"
        now = now_ms()
        with self.store.write() as conn:
            if source_run_id:
                exists = conn.execute(
                    select(RunRow.run_id).where(RunRow.run_id == check_run_id(source_run_id))
                ).first()
                if exists is None:
                    raise NotFound(f"run {source_run_id!r} does not exist")
            conn.execute(
                insert(LoggedModelRow).values(
                    model_id=model_id,
                    experiment_id=int(experiment.experiment_id),
                    name=name,
                    model_type=model_type,
                    source_run_id=source_run_id or None,
                    status=LoggedModelStatus.PENDING.value,
                    status_message="",
                    artifact_location=(
                        f"{experiment.artifact_location.rstrip('/')}/models/{model_id}/artifacts"
                    ),
                    lifecycle_stage="active",
                    creation_timestamp_ms=now,
                    last_updated_timestamp_ms=now,
                )
            )
            self._write_kv(conn, LoggedModelParamRow, model_id, checked_params)
            self._write_kv(conn, LoggedModelTagRow, model_id, checked_tags)
        return self.get(model_id)

    def get(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
        """The model with its params, tags and metrics.

        Raises:
            NotFound: no such model (or it is deleted and ``allow_deleted`` is false).
        """
        with self.store.read() as conn:
            row = self.check_exists(conn, model_id, allow_deleted=allow_deleted)
            return self._load(conn, [row])[0]

    def check_exists(self, conn: Connection, model_id: str, *, allow_deleted: bool = False) -> Any:
        """The model's row inside ``conn``'s transaction.

        Raises:
            NotFound: no such model, or it is deleted and ``allow_deleted`` is false.
        """
        row = None
        if isinstance(model_id, str) and MODEL_ID.match(model_id):
            row = conn.execute(
                select(LoggedModelRow).where(LoggedModelRow.model_id == model_id)
            ).first()
        if row is None or (row.lifecycle_stage != "active" and not allow_deleted):
            raise NotFound(f"logged model {str(model_id)[:80]!r} does not exist")
        return row

    def _load(self, conn: Connection, rows: Sequence[Any]) -> list[LoggedModel]:
        ids = [r.model_id for r in rows]
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, list[ModelMetric]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for table, out in ((LoggedModelParamRow, params), (LoggedModelTagRow, tags)):
                for kv in conn.execute(select(table).where(table.model_id.in_(chunk))):
                    out[kv.model_id][kv.key] = kv.value
            q = (
                select(LoggedModelMetricRow)
                .where(LoggedModelMetricRow.model_id.in_(chunk))
                .order_by(LoggedModelMetricRow.id)
            )
            for m in conn.execute(q):
                metrics[m.model_id].append(
                    ModelMetric(
                        m.key,
                        math.nan if m.is_nan else m.value,
                        m.timestamp,
                        m.step,
                        m.run_id,
                        m.dataset_name,
                        m.dataset_digest,
                    )
                )
        return [
            LoggedModel(
                model_id=r.model_id,
                experiment_id=str(r.experiment_id),
                name=r.name,
                artifact_location=r.artifact_location,
                status=LoggedModelStatus(r.status),
                creation_timestamp=r.creation_timestamp_ms,
                last_updated_timestamp=r.last_updated_timestamp_ms,
                model_type=r.model_type,
                source_run_id=r.source_run_id,
                status_message=r.status_message,
                lifecycle_stage=r.lifecycle_stage,
                params=params[r.model_id],
                tags=tags[r.model_id],
                metrics=tuple(metrics[r.model_id]),
            )
            for r in rows
        ]

    def search(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        datasets: Sequence[Mapping[str, str]] | None = None,
        order_by: Sequence[ModelOrder] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> LoggedModelsPage:
        """Active models of the experiments that match ``filter_string``, ordered and paged.

        The filter is the run-search grammar over ``name``, ``model_id``, ``model_type``,
        ``status``, ``source_run_id``, ``creation_timestamp``, ``last_updated_timestamp``,
        ``metrics.<key>`` (latest point; only points on ``datasets`` when given),
        ``params.<key>`` and ``tags.<key>``. Default order: newest first, then model id.
        """
        ids = [parse_experiment_id(e) for e in experiment_ids]
        if not ids:
            raise InvalidInput("give at least one experiment id to search models in")
        if not 1 <= max_results <= 10_000:
            raise InvalidInput(f"max_results must be between 1 and 10000, got {max_results}")
        offset = decode_page_token(page_token)
        tree = parse_filter(filter_string)
        q = select(LoggedModelRow).where(
            LoggedModelRow.experiment_id.in_(ids), LoggedModelRow.lifecycle_stage == "active"
        )
        with self.store.read() as conn:
            models = self._load(conn, conn.execute(q).all())
        found = [m for m in models if tree is None or matches(m, tree, datasets or ())]
        found = sort_models(found, list(order_by or ()))
        page = found[offset : offset + max_results]
        more = offset + max_results < len(found)
        return LoggedModelsPage(page, encode_page_token(offset + max_results) if more else "")

    # -- changes --------------------------------------------------------------------------
    def finalize(self, model_id: str, status: LoggedModelStatus | str) -> LoggedModel:
        """Set the model's final status (READY once its artifacts are uploaded, or FAILED)."""
        final = model_status(status)
        if final is LoggedModelStatus.PENDING:
            raise InvalidInput("a model is finalized as READY or FAILED, not PENDING")
        with self.store.write() as conn:
            self.check_exists(conn, model_id)
            conn.execute(
                update(LoggedModelRow)
                .where(LoggedModelRow.model_id == model_id)
                .values(status=final.value, last_updated_timestamp_ms=now_ms())
            )
        return self.get(model_id)

    def set_tags(self, model_id: str, tags: Mapping[str, str]) -> LoggedModel:
        """Set (or overwrite) tags on the model."""
        checked = self._tags(tags)
        with self.store.write() as conn:
            self.check_exists(conn, model_id)
            self._write_kv(conn, LoggedModelTagRow, model_id, checked)
            self._touch(conn, model_id)
        return self.get(model_id)

    def delete_tag(self, model_id: str, key: str) -> None:
        """Remove one tag. Raises NotFound when the model has no such tag."""
        with self.store.write() as conn:
            self.check_exists(conn, model_id)
            result = conn.execute(
                delete(LoggedModelTagRow).where(
                    LoggedModelTagRow.model_id == model_id, LoggedModelTagRow.key == key
                )
            )
            if result.rowcount == 0:
                raise NotFound(f"logged model {model_id} has no tag {str(key)[:250]!r}")
            self._touch(conn, model_id)

    def log_params(self, model_id: str, params: Mapping[str, str]) -> None:
        """Add params; a param once set keeps its value (re-logging the same value is fine).

        Raises:
            InvalidInput: a param would change its value.
        """
        checked = self._params(params)
        with self.store.write() as conn:
            self.check_exists(conn, model_id)
            existing = {
                r.key: r.value
                for r in conn.execute(
                    select(LoggedModelParamRow).where(LoggedModelParamRow.model_id == model_id)
                )
            }
            for key, value in checked.items():
                if key in existing and existing[key] != value:
                    raise InvalidInput(
                        f"param {key!r} of model {model_id} is {existing[key][:100]!r}; "
                        f"it cannot change to {value[:100]!r}"
                    )
            self._write_kv(conn, LoggedModelParamRow, model_id, checked)
            self._touch(conn, model_id)

    def log_metrics(self, model_id: str, metrics: Sequence[ModelMetric]) -> None:
        """Append metric points to the model (NaN and ±inf kept)."""
        rows = []
        for m in metrics:
            value = metric_value(m.key, m.value)
            rows.append(
                {
                    "model_id": model_id,
                    "key": check_key(m.key, "metric"),
                    "value": 0.0 if math.isnan(value) else value,
                    "is_nan": math.isnan(value),
                    "step": check_step(m.step),
                    "timestamp": check_timestamp(m.timestamp),
                    "run_id": m.run_id,
                    "dataset_name": str(m.dataset_name or "")[:500],
                    "dataset_digest": str(m.dataset_digest or "")[:64],
                }
            )
        if not rows:
            return
        with self.store.write() as conn:
            self.check_exists(conn, model_id)
            conn.execute(insert(LoggedModelMetricRow), rows)

    def delete(self, model_id: str) -> None:
        """Mark the model deleted: it leaves searches and ``get`` (its rows stay)."""
        with self.store.write() as conn:
            self.check_exists(conn, model_id)
            conn.execute(
                update(LoggedModelRow)
                .where(LoggedModelRow.model_id == model_id)
                .values(lifecycle_stage="deleted", last_updated_timestamp_ms=now_ms())
            )

    # -- runs and models ------------------------------------------------------------------
    def log_outputs(self, run_id: str, outputs: Sequence[ModelOutput]) -> None:
        """Record models as outputs of a run (ended runs too, as MLflow's API allows)."""
        self._link(run_id, [(o.model_id, check_step(o.step)) for o in outputs], "output")

    def log_inputs(self, run_id: str, model_ids: Sequence[str]) -> None:
        """Record models as inputs a run used."""
        self._link(run_id, [(m, 0) for m in model_ids], "input")

    def _link(self, run_id: str, items: list[tuple[str, int]], direction: str) -> None:
        now = now_ms()
        with self.store.write() as conn:
            check_writable(conn, run_id, allow_ended=True)
            for model_id, _ in items:
                self.check_exists(conn, model_id)
            insert_ignore(
                conn,
                RunModelLinkRow,
                [
                    {
                        "run_id": run_id,
                        "model_id": m,
                        "direction": direction,
                        "step": s,
                        "created": now,
                    }
                    for m, s in items
                ],
            )

    def outputs(self, run_id: str) -> list[ModelOutput]:
        """The models a run produced, in the order they were logged."""
        return [ModelOutput(m, s) for m, s in self._links(run_id, "output")]

    def inputs(self, run_id: str) -> list[str]:
        """The ids of the models a run used."""
        return [m for m, _ in self._links(run_id, "input")]

    def _links(self, run_id: str, direction: str) -> list[tuple[str, int]]:
        q = (
            select(RunModelLinkRow.model_id, RunModelLinkRow.step)
            .where(RunModelLinkRow.run_id == run_id, RunModelLinkRow.direction == direction)
            .order_by(RunModelLinkRow.created, RunModelLinkRow.model_id)
        )
        with self.store.read() as conn:
            return [(r.model_id, r.step) for r in conn.execute(q)]

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _params(params: Mapping[str, str]) -> dict[str, str]:
        return {check_key(k, "param"): check_param_value(k, v) for k, v in params.items()}

    @staticmethod
    def _tags(tags: Mapping[str, str]) -> dict[str, str]:
        return {check_key(k, "tag"): check_tag_value(k, v) for k, v in tags.items()}

    @staticmethod
    def _write_kv(conn: Connection, table: Any, model_id: str, values: Mapping[str, str]) -> None:
        upsert(
            conn,
            table,
            [{"model_id": model_id, "key": k, "value": v} for k, v in values.items()],
            keys=["model_id", "key"],
            update=["value"],
        )

    @staticmethod
    def _touch(conn: Connection, model_id: str) -> None:
        conn.execute(
            update(LoggedModelRow)
            .where(LoggedModelRow.model_id == model_id)
            .values(last_updated_timestamp_ms=now_ms())
        )
