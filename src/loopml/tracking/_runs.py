"""Runs: create, read, update, delete, batched logging and metric history."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from loopml.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from loopml.ids import new_run_id, now_ms
from loopml.store import (
    LatestMetricRow,
    MetricChunkRow,
    ParamRow,
    RunRow,
    Store,
    TagRow,
    upsert,
)
from loopml.tracking._chunks import chunk_rows, to_metrics
from loopml.tracking._entities import Metric, Run, RunData, RunInfo, RunsPage, RunStatus, ViewType
from loopml.tracking._experiments import Experiments, parse_experiment_id
from loopml.tracking._names import random_run_name
from loopml.tracking._search import (
    MAX_RESULTS,
    decode_page_token,
    encode_page_token,
    search_run_ids_query,
)
from loopml.tracking._validation import (
    check_key,
    check_param_value,
    check_step,
    check_tag_value,
    check_timestamp,
    metric_value,
)

__all__ = ["MAX_BATCH_METRICS", "Runs"]

MAX_BATCH_METRICS = 100_000
MAX_BATCH_PARAMS = 1_000
MAX_BATCH_TAGS = 1_000
RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"


def _check_run_id(run_id: Any) -> str:
    if not isinstance(run_id, str) or not run_id or len(run_id) > 32:
        raise InvalidInput(f"run id must be a string of at most 32 characters, got {run_id!r}")
    return run_id


def _info(row: Any) -> RunInfo:
    return RunInfo(
        run_id=row.run_id,
        run_name=row.run_name,
        experiment_id=str(row.experiment_id),
        user_id=row.user_id,
        status=RunStatus(row.status),
        start_time=row.start_time,
        end_time=row.end_time,
        lifecycle_stage=row.lifecycle_stage,
        artifact_uri=row.artifact_uri,
        parent_run_id=row.parent_run_id,
    )


def _newer(table: Any, excluded: Any) -> Any:
    # The latest value is the one with the highest step, then the latest timestamp.
    return or_(
        excluded.step > table.step,
        and_(excluded.step == table.step, excluded.timestamp >= table.timestamp),
    )


class Runs:
    """Run operations over one store."""

    def __init__(self, store: Store, experiments: Experiments) -> None:
        self.store = store
        self.experiments = experiments

    # -- create / read -------------------------------------------------------------------
    def create(
        self,
        experiment_id: str | int,
        *,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        start_time: int | None = None,
        user_id: str = "",
        parent_run_id: str | None = None,
    ) -> Run:
        """Start a RUNNING run in an active experiment."""
        experiment = self.experiments.get(experiment_id)
        if experiment.lifecycle_stage != "active":
            raise Conflict(
                f"experiment {experiment.name!r} is deleted; restore it before starting runs"
            )
        tag_values = {check_key(k, "tag"): check_tag_value(k, v) for k, v in (tags or {}).items()}
        name = run_name or tag_values.get(RUN_NAME_TAG) or random_run_name()
        if len(name) > 250:
            raise InvalidInput(f"run name is {len(name)} characters; the limit is 250")
        tag_values[RUN_NAME_TAG] = name
        if parent_run_id:
            self.get_info(parent_run_id)
            tag_values[PARENT_TAG] = parent_run_id
        run_id = new_run_id()
        start = check_timestamp(start_time) if start_time is not None else now_ms()
        row = {
            "run_id": run_id,
            "experiment_id": int(experiment.experiment_id),
            "run_name": name,
            "user_id": user_id,
            "status": RunStatus.RUNNING.value,
            "start_time": start,
            "end_time": None,
            "lifecycle_stage": "active",
            "artifact_uri": f"{experiment.artifact_location}/{run_id}/artifacts",
            "parent_run_id": parent_run_id,
        }
        with self.store.write() as conn:
            conn.execute(RunRow.__table__.insert(), [row])
            conn.execute(
                TagRow.__table__.insert(),
                [{"run_id": run_id, "key": k, "value": v} for k, v in tag_values.items()],
            )
        return Run(info=_info(_Row(row)), data=RunData(tags=tag_values))

    def get_info(self, run_id: str) -> RunInfo:
        """A run's attributes, without its data."""
        with self.store.read() as conn:
            row = conn.execute(select(RunRow).where(RunRow.run_id == _check_run_id(run_id))).first()
        if row is None:
            raise NotFound(f"run {run_id!r} does not exist")
        return _info(row)

    def get(self, run_id: str) -> Run:
        """A run with its latest metrics, params and tags (deleted runs included)."""
        runs = self.get_many([_check_run_id(run_id)])
        if not runs:
            raise NotFound(f"run {run_id!r} does not exist")
        return runs[0]

    def get_many(self, run_ids: Sequence[str]) -> list[Run]:
        """Runs in the order of ``run_ids`` (unknown ids are skipped)."""
        if not run_ids:
            return []
        ids = list(run_ids)
        with self.store.read() as conn:
            rows = {r.run_id: r for r in conn.execute(select(RunRow).where(RunRow.run_id.in_(ids)))}
            data = self._data(conn, list(rows))
        return [Run(info=_info(rows[i]), data=data[i]) for i in ids if i in rows]

    @staticmethod
    def _data(conn: Connection, run_ids: list[str]) -> dict[str, RunData]:
        metrics: dict[str, dict[str, float]] = {i: {} for i in run_ids}
        params: dict[str, dict[str, str]] = {i: {} for i in run_ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in run_ids}
        # Chunked so that a page of 50,000 runs stays under every driver's parameter limit.
        for start in range(0, len(run_ids), 5000):
            chunk = run_ids[start : start + 5000]
            lm = LatestMetricRow.__table__.c
            for run_id, key, value, is_nan in conn.execute(
                select(lm.run_id, lm.key, lm.value, lm.is_nan).where(lm.run_id.in_(chunk))
            ):
                metrics[run_id][key] = math.nan if is_nan else value
            for table, out in ((ParamRow.__table__.c, params), (TagRow.__table__.c, tags)):
                for run_id, key, value in conn.execute(
                    select(table.run_id, table.key, table.value).where(table.run_id.in_(chunk))
                ):
                    out[run_id][key] = value
        return {i: RunData(metrics=metrics[i], params=params[i], tags=tags[i]) for i in run_ids}

    # -- update / delete -----------------------------------------------------------------
    def update(
        self,
        run_id: str,
        *,
        status: RunStatus | str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        """Change a run's status, end time or name; a terminal status sets ``end_time``."""
        values: dict[str, Any] = {}
        if status is not None:
            try:
                status = RunStatus(str(status).upper())
            except ValueError:
                raise InvalidInput(
                    f"status {status!r} is not one of {', '.join(s.value for s in RunStatus)}"
                ) from None
            values["status"] = status.value
            if status.is_terminal:
                values["end_time"] = check_timestamp(end_time) if end_time is not None else now_ms()
        elif end_time is not None:
            values["end_time"] = check_timestamp(end_time)
        with self.store.write() as conn:
            if values:
                result = conn.execute(
                    update(RunRow).where(RunRow.run_id == run_id).values(**values)
                )
                if result.rowcount == 0:
                    raise NotFound(f"run {run_id!r} does not exist")
            if run_name is not None:
                if not run_name or len(run_name) > 250:
                    raise InvalidInput("run name must be 1 to 250 characters")
                conn.execute(
                    update(RunRow).where(RunRow.run_id == run_id).values(run_name=run_name)
                )
                upsert(
                    conn,
                    TagRow,
                    [{"run_id": run_id, "key": RUN_NAME_TAG, "value": run_name}],
                    keys=["run_id", "key"],
                    update=["value"],
                )
        return self.get_info(run_id)

    def _set_stage(self, run_id: str, stage: str) -> None:
        with self.store.write() as conn:
            result = conn.execute(
                update(RunRow)
                .where(RunRow.run_id == _check_run_id(run_id))
                .values(lifecycle_stage=stage)
            )
        if result.rowcount == 0:
            raise NotFound(f"run {run_id!r} does not exist")

    def delete(self, run_id: str) -> None:
        """Soft-delete a run (hidden from default searches, refuses new data)."""
        self._set_stage(run_id, "deleted")

    def restore(self, run_id: str) -> None:
        """Undo :meth:`delete`."""
        self._set_stage(run_id, "active")

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run."""
        with self.store.write() as conn:
            self._check_writable(conn, run_id)
            result = conn.execute(delete(TagRow).where(TagRow.run_id == run_id, TagRow.key == key))
        if result.rowcount == 0:
            raise NotFound(f"run {run_id!r} has no tag {key!r}")

    # -- logging -------------------------------------------------------------------------
    @staticmethod
    def _check_writable(conn: Connection, run_id: str) -> None:
        row = conn.execute(
            select(RunRow.status, RunRow.lifecycle_stage).where(
                RunRow.run_id == _check_run_id(run_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"run {run_id!r} does not exist")
        if row.lifecycle_stage != "active":
            raise Conflict(f"run {run_id} is deleted; restore it before logging to it")
        if row.status not in (RunStatus.RUNNING.value, RunStatus.SCHEDULED.value):
            raise Conflict(
                f"run {run_id} is {row.status}; data can only be logged to a RUNNING run"
            )

    def _check_writable_now(self, run_id: str) -> None:
        with self.store.read() as conn:
            self._check_writable(conn, run_id)

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        validated: bool = False,
    ) -> None:
        """Log metrics, params and tags in one transaction: all of them or none.

        Args:
            validated: the caller already checked keys and values (the client's writer did).

        Raises:
            InvalidInput: a key or value is malformed, or a param already has another value.
            Conflict: the run is finished or deleted.
            NotFound: the run does not exist.
        """
        params = params or {}
        tags = tags or {}
        if (
            len(metrics) > MAX_BATCH_METRICS
            or len(params) > MAX_BATCH_PARAMS
            or len(tags) > MAX_BATCH_TAGS
        ):
            raise PayloadTooLarge(
                f"a batch holds at most {MAX_BATCH_METRICS} metrics, {MAX_BATCH_PARAMS} params "
                f"and {MAX_BATCH_TAGS} tags"
            )
        if not validated:
            metrics = [
                Metric(
                    check_key(m.key, "metric"),
                    metric_value(m.key, m.value),
                    check_timestamp(m.timestamp),
                    check_step(m.step),
                )
                for m in metrics
            ]
            params = {check_key(k, "param"): check_param_value(k, v) for k, v in params.items()}
            tags = {check_key(k, "tag"): check_tag_value(k, v) for k, v in tags.items()}
        chunks, latest_rows = chunk_rows(run_id, metrics)
        with self.store.write() as conn:
            self._check_writable(conn, run_id)
            if params:
                self._insert_params(conn, run_id, params)
            if tags:
                upsert(
                    conn,
                    TagRow,
                    [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()],
                    keys=["run_id", "key"],
                    update=["value"],
                )
                if RUN_NAME_TAG in tags:
                    conn.execute(
                        update(RunRow)
                        .where(RunRow.run_id == run_id)
                        .values(run_name=tags[RUN_NAME_TAG])
                    )
            if chunks:
                conn.execute(MetricChunkRow.__table__.insert(), chunks)
                upsert(
                    conn,
                    LatestMetricRow,
                    latest_rows,
                    keys=["run_id", "key"],
                    update=["value", "is_nan", "step", "timestamp"],
                    where=_newer,
                )

    @staticmethod
    def _insert_params(conn: Connection, run_id: str, params: Mapping[str, str]) -> None:
        existing = dict(
            conn.execute(
                select(ParamRow.key, ParamRow.value).where(
                    ParamRow.run_id == run_id, ParamRow.key.in_(list(params))
                )
            ).all()
        )
        for key, value in params.items():
            if key in existing and existing[key] != value:
                raise InvalidInput(
                    f"param {key!r} of run {run_id} is already {existing[key]!r} and cannot be "
                    f"changed to {value!r}: params are immutable; log the new value under "
                    "another key or start a new run",
                    details={"key": key, "old_value": existing[key], "new_value": value},
                )
        new = [
            {"run_id": run_id, "key": k, "value": v} for k, v in params.items() if k not in existing
        ]
        if new:
            try:
                with conn.begin_nested():
                    conn.execute(ParamRow.__table__.insert(), new)
            except IntegrityError:
                # Another writer logged one of these keys between our read and our insert.
                raise InvalidInput(
                    f"a param among {sorted(params)} of run {run_id} was logged concurrently "
                    "with a different value; params are immutable"
                ) from None

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point logged under ``key``, by step then timestamp."""
        self.get_info(run_id)
        c = MetricChunkRow.__table__.c
        q = select(c.count, c.data).where(c.run_id == run_id, c.key == key).order_by(c.id)
        with self.store.read() as conn:
            chunks = [(count, data) for count, data in conn.execute(q)]
        return to_metrics(key, chunks)

    # -- search --------------------------------------------------------------------------
    def search(
        self,
        experiment_ids: Sequence[str | int],
        *,
        filter_string: str | None = None,
        view_type: ViewType | str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> RunsPage:
        """Runs of the given experiments that match ``filter_string``, one page at a time."""
        if (
            isinstance(max_results, bool)
            or not isinstance(max_results, int)
            or not 1 <= max_results <= MAX_RESULTS
        ):
            raise InvalidInput(
                f"max_results must be an integer from 1 to {MAX_RESULTS}, got {max_results!r}"
            )
        try:
            view = ViewType(str(view_type).upper())
        except ValueError:
            raise InvalidInput(
                f"run_view_type {view_type!r} is not ACTIVE_ONLY, DELETED_ONLY or ALL"
            ) from None
        offset = decode_page_token(page_token)
        ids = [parse_experiment_id(e) for e in experiment_ids]
        query = search_run_ids_query(
            experiment_ids=ids,
            filter_string=filter_string,
            view_type=view,
            order_by=order_by,
            offset=offset,
            limit=max_results + 1,
        )
        with self.store.read() as conn:
            run_ids = [r[0] for r in conn.execute(query)]
        more = len(run_ids) > max_results
        runs = self.get_many(run_ids[:max_results])
        return RunsPage(
            runs=runs, next_page_token=encode_page_token(offset + max_results) if more else ""
        )


class _Row:
    """Attribute access over a dict, so that a freshly inserted row converts like a fetched one."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
