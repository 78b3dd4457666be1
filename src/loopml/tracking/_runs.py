"""Runs: create, read, update, delete, batched logging and metric history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from loopml.artifacts import Blob
from loopml.errors import InvalidInput, LoopMLError, NotFound
from loopml.ids import now_ms
from loopml.store import MetricChunkRow, RunRow, Store, TagRow, upsert
from loopml.tracking._chunks import to_metrics
from loopml.tracking._entities import Metric, Run, RunData, RunInfo, RunsPage, RunStatus, ViewType
from loopml.tracking._experiments import Experiments, parse_experiment_id
from loopml.tracking._group import clash, write_group
from loopml.tracking._search import (
    MAX_RESULTS,
    decode_page_token,
    encode_page_token,
    search_runs_query,
)
from loopml.tracking._snapshot import Snapshot, run_data
from loopml.tracking._validation import check_timestamp
from loopml.tracking._writes import (
    RUN_NAME_TAG,
    NewRun,
    RunBatch,
    check_run_id,
    check_writable,
    new_run,
    validate_batch,
    write_batch,
)

__all__ = ["Runs", "final_status"]


def final_status(status: RunStatus | str, end_time: int | None = None) -> tuple[RunStatus, int]:
    """A terminal status and its end time (now when not given)."""
    try:
        final = RunStatus(str(status).upper())
    except ValueError:
        raise InvalidInput(f"status {status!r} is not a run status") from None
    if not final.is_terminal:
        raise InvalidInput(f"a run ends FINISHED, FAILED or KILLED, not {final.value}")
    return final, check_timestamp(end_time) if end_time is not None else now_ms()


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


_RUN_COLUMNS = (
    RunRow.run_id,
    RunRow.run_name,
    RunRow.experiment_id,
    RunRow.user_id,
    RunRow.status,
    RunRow.start_time,
    RunRow.end_time,
    RunRow.lifecycle_stage,
    RunRow.artifact_uri,
    RunRow.parent_run_id,
)
_DATA_COLUMNS = (RunRow.params_json, RunRow.tags_json, RunRow.metrics_json)
_STATUSES = {s.value: s for s in RunStatus}
_SELECT_RUNS = select(*_RUN_COLUMNS, *_DATA_COLUMNS).where(
    RunRow.run_id.in_(bindparam("ids", expanding=True))
)


def _info_from_tuple(row: Sequence[Any]) -> RunInfo:
    """A RunInfo from a driver tuple of ``_RUN_COLUMNS``."""
    return RunInfo(
        row[0],
        row[1],
        str(row[2]),
        row[3],
        _STATUSES[row[4]],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
    )


def _raw_rows(conn: Connection, stmt: Any, params: dict[str, Any] | None = None) -> list[Any]:
    """The driver's own tuples: for tens of thousands of rows, building SQLAlchemy Row
    objects costs more than the query (values arrive unconverted: booleans may be 0/1)."""
    result = conn.execute(stmt, params)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


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
        artifacts: Mapping[str, Blob] | None = None,
    ) -> Run:
        """Start a RUNNING run in an active experiment, in one transaction.

        Args:
            artifacts: blobs already in the artifact store to record under the run at once
                (the captured environment), keyed by artifact path.
        """
        new = new_run(
            parse_experiment_id(experiment_id),
            run_name=run_name,
            tags=tags,
            start_time=start_time,
            user_id=user_id,
            parent_run_id=parent_run_id,
            artifacts=artifacts,
        )
        row = self.write(new.run_id, RunBatch(create=new))
        assert row is not None
        return Run(info=_info(_Row(row)), data=RunData(tags=dict(new.tags)))

    def write(
        self, run_id: str, batch: RunBatch, *, allow_ended: bool = False
    ) -> dict[str, Any] | None:
        """Apply a validated batch in one transaction (the client's writer calls this).

        Returns:
            the new run's row when the batch created it.
        """
        try:
            with self.store.write() as conn:
                return write_batch(
                    conn,
                    run_id,
                    batch,
                    artifact_root=self.experiments.artifact_root,
                    allow_ended=allow_ended,
                )
        except IntegrityError:
            with self.store.read() as conn:
                raise clash(conn, run_id, batch) from None

    def write_many(
        self, items: Sequence[tuple[str, RunBatch, bool]]
    ) -> list[dict[str, Any] | LoopMLError | None]:
        """Apply several ``(run_id, batch, allow_ended)`` writes in one transaction (see
        :func:`loopml.tracking._group.write_group`)."""
        if len(items) == 1:
            run_id, batch, allow_ended = items[0]
            try:
                return [self.write(run_id, batch, allow_ended=allow_ended)]
            except LoopMLError as exc:
                return [exc]
        return write_group(self.store, self.experiments.artifact_root, items)

    def get_info(self, run_id: str) -> RunInfo:
        """A run's attributes, without its data."""
        with self.store.read() as conn:
            row = conn.execute(select(RunRow).where(RunRow.run_id == check_run_id(run_id))).first()
        if row is None:
            raise NotFound(f"run {run_id!r} does not exist")
        return _info(row)

    def get(self, run_id: str) -> Run:
        """A run with its latest metrics, params and tags (deleted runs included)."""
        runs = self.get_many([check_run_id(run_id)])
        if not runs:
            raise NotFound(f"run {run_id!r} does not exist")
        return runs[0]

    def get_many(self, run_ids: Sequence[str]) -> list[Run]:
        """Runs in the order of ``run_ids`` (unknown ids are skipped): one row per run."""
        if not run_ids:
            return []
        ids = list(run_ids)
        runs: dict[str, Run] = {}
        with self.store.read() as conn:
            # Chunked so that 50,000 ids stay under every driver's parameter limit.
            for start in range(0, len(ids), 5000):
                chunk = ids[start : start + 5000]
                for row in _raw_rows(conn, _SELECT_RUNS, {"ids": chunk}):
                    runs[row[0]] = Run(info=_info_from_tuple(row), data=run_data(*row[-3:]))
        return [runs[i] for i in ids if i in runs]

    def find_twin(
        self, new: NewRun, *, tags: Mapping[str, str], name_given: bool = True
    ) -> Run | None:
        """An active run that ``new`` would duplicate: same experiment, start time (to the
        millisecond), user, name (if ``name_given``; not a generated one), and the
        requested ``tags``.

        A client that retries a create whose answer was lost gets the first run back
        instead of a second one (the MLflow adapter asks this).
        """
        with self.store.read() as conn:
            ids = conn.execute(
                select(RunRow.run_id).where(
                    RunRow.experiment_id == new.experiment_id,
                    RunRow.start_time == new.start_time,
                    RunRow.user_id == new.user_id,
                    RunRow.lifecycle_stage == "active",
                )
            ).scalars()
            candidates = self.get_many(list(ids))
        for run in candidates:
            same_tags = all(run.data.tags.get(k) == v for k, v in tags.items())
            if same_tags and (not name_given or run.info.run_name == new.run_name):
                return run
        return None

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
                current = conn.execute(
                    select(RunRow.tags_json).where(RunRow.run_id == run_id).with_for_update()
                ).scalar()
                if current is None:
                    raise NotFound(f"run {run_id!r} does not exist")
                snapshot = Snapshot.load(None, current, None)
                snapshot.tags[RUN_NAME_TAG] = run_name
                conn.execute(
                    update(RunRow)
                    .where(RunRow.run_id == run_id)
                    .values(run_name=run_name, tags_json=snapshot.columns()["tags_json"])
                )
                upsert(
                    conn,
                    TagRow,
                    [{"run_id": run_id, "key": RUN_NAME_TAG, "value": run_name}],
                    keys=["run_id", "key"],
                    update=["value"],
                )
        return self.get_info(run_id)

    def finish(
        self,
        run_id: str,
        *,
        status: RunStatus | str = RunStatus.FINISHED,
        end_time: int | None = None,
        metrics: Sequence[Metric] = (),
    ) -> None:
        """End a run, writing its last (validated) points in the same transaction."""
        self.write(run_id, RunBatch(metrics=list(metrics), finish=final_status(status, end_time)))

    def _set_stage(self, run_id: str, stage: str) -> None:
        with self.store.write() as conn:
            result = conn.execute(
                update(RunRow)
                .where(RunRow.run_id == check_run_id(run_id))
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
            snapshot = check_writable(conn, run_id, lock=True)
            result = conn.execute(delete(TagRow).where(TagRow.run_id == run_id, TagRow.key == key))
            if result.rowcount == 0:
                raise NotFound(f"run {run_id!r} has no tag {key!r}")
            snapshot.tags.pop(key, None)
            conn.execute(
                update(RunRow)
                .where(RunRow.run_id == run_id)
                .values(tags_json=snapshot.columns()["tags_json"])
            )

    # -- logging -------------------------------------------------------------------------
    def check_writable(self, run_id: str) -> None:
        """Raise unless the run exists, is not deleted and is RUNNING."""
        with self.store.read() as conn:
            check_writable(conn, run_id)

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Log metrics, params and tags in one transaction: all of them or none.

        Raises:
            InvalidInput: a key or value is malformed, or a param already has another value.
            Conflict: the run is finished or deleted.
            NotFound: the run does not exist.
        """
        checked, params_, tags_ = validate_batch(metrics, params or {}, tags or {})
        self.write(run_id, RunBatch(metrics=checked, params=params_, tags=tags_))

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
        query = search_runs_query(
            experiment_ids=ids,
            filter_string=filter_string,
            view_type=view,
            order_by=order_by,
            columns=(*_RUN_COLUMNS, *_DATA_COLUMNS),
        )
        # One query: the page's runs with their data snapshots, in order.
        with self.store.read() as conn:
            rows = _raw_rows(conn, query, {"offset": offset, "limit": max_results + 1})
        more = len(rows) > max_results
        runs = [
            Run(info=_info_from_tuple(row), data=run_data(*row[-3:])) for row in rows[:max_results]
        ]
        return RunsPage(
            runs=runs, next_page_token=encode_page_token(offset + max_results) if more else ""
        )


class _Row:
    """Attribute access over a dict, so that a freshly inserted row converts like a fetched one."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
