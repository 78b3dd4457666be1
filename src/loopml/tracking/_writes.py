"""The write path of runs: everything a batch can hold, applied in one transaction.

A :class:`RunBatch` may create the run, log metrics, params and tags, and end the run. The
client's writer sends a short run as a single batch (create + data + end: one commit), a
long one as one batch per flush interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select, update

from loopml.artifacts import Blob, normalize_artifact_path
from loopml.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from loopml.ids import new_run_id, now_ms
from loopml.store import (
    ExperimentRow,
    LatestMetricRow,
    MetricChunkRow,
    ParamRow,
    RunArtifactRow,
    RunRow,
    TagRow,
    insert_rows,
    upsert,
)
from loopml.tracking._chunks import chunk_rows
from loopml.tracking._entities import Metric, RunStatus
from loopml.tracking._names import random_run_name
from loopml.tracking._snapshot import Snapshot
from loopml.tracking._validation import (
    _valid_keys,
    check_key,
    check_param_value,
    check_step,
    check_tag_value,
    check_timestamp,
    metric_value,
)

__all__ = [
    "MAX_BATCH_METRICS",
    "PARENT_TAG",
    "RUN_NAME_TAG",
    "NewRun",
    "RunBatch",
    "check_params",
    "check_run_id",
    "check_writable",
    "new_run",
    "validate_batch",
    "write_batch",
]

MAX_BATCH_METRICS = 100_000
MAX_BATCH_PARAMS = 1_000
MAX_BATCH_TAGS = 1_000
RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"


# Statements built once: constructing them per call costs more than running them.
_SELECT_EXPERIMENT = select(ExperimentRow.lifecycle_stage, ExperimentRow.artifact_location).where(
    ExperimentRow.experiment_id == bindparam("eid")
)
_SELECT_RUN_ID = select(RunRow.run_id).where(RunRow.run_id == bindparam("rid"))
_SELECT_RUN_STATE = select(
    RunRow.status,
    RunRow.lifecycle_stage,
    RunRow.params_json,
    RunRow.tags_json,
    RunRow.metrics_json,
).where(RunRow.run_id == bindparam("rid"))
_SELECT_RUN_STATE_FOR_UPDATE = _SELECT_RUN_STATE.with_for_update()
_KV = ("run_id", "key", "value")


@dataclass(slots=True)
class NewRun:
    """A run to create: validated, with its id already chosen (by the client or server)."""

    run_id: str
    experiment_id: int
    run_name: str
    tags: dict[str, str]
    start_time: int
    user_id: str = ""
    parent_run_id: str | None = None
    artifacts: dict[str, Blob] = field(default_factory=dict)


@dataclass(slots=True)
class RunBatch:
    """What one transaction does to one run. ``metrics`` holds Metric-shaped tuples."""

    create: NewRun | None = None
    metrics: list[Any] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    finish: tuple[RunStatus, int] | None = None

    def without_params(self) -> RunBatch:
        """The same batch minus its params (to save the rest when a param conflicts)."""
        return replace(self, params={})


def check_run_id(run_id: Any) -> str:
    """A run id: a non-empty string of at most 32 characters."""
    if not isinstance(run_id, str) or not run_id or len(run_id) > 32:
        raise InvalidInput(f"run id must be a string of at most 32 characters, got {run_id!r}")
    return run_id


def new_run(
    experiment_id: int,
    *,
    run_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    start_time: int | None = None,
    user_id: str = "",
    parent_run_id: str | None = None,
    artifacts: Mapping[str, Blob] | None = None,
    run_id: str | None = None,
) -> NewRun:
    """Validate the parts of a new run and choose its id and name."""
    tag_values = {check_key(k, "tag"): check_tag_value(k, v) for k, v in (tags or {}).items()}
    name = run_name or tag_values.get(RUN_NAME_TAG) or random_run_name()
    if len(name) > 250:
        raise InvalidInput(f"run name is {len(name)} characters; the limit is 250")
    tag_values[RUN_NAME_TAG] = name
    if parent_run_id:
        tag_values[PARENT_TAG] = check_run_id(parent_run_id)
    return NewRun(
        run_id=check_run_id(run_id) if run_id else new_run_id(),
        experiment_id=experiment_id,
        run_name=name,
        tags=tag_values,
        start_time=check_timestamp(start_time) if start_time is not None else now_ms(),
        user_id=user_id,
        parent_run_id=parent_run_id or None,
        artifacts={normalize_artifact_path(p): b for p, b in (artifacts or {}).items()},
    )


_INT64_END = 2**63


def metrics_from_dicts(items: Sequence[Any]) -> list[Metric] | None:
    """Metrics from MLflow-shaped dicts (``key``, float ``value``, int ``timestamp`` and
    ``step``) when every one is well-formed and its key already known good: the common case,
    checked in one pass. None otherwise: the caller then takes the checks that name what is
    wrong."""
    try:
        out = [Metric(d["key"], d["value"], d["timestamp"], d.get("step", 0)) for d in items]
    except (KeyError, TypeError, AttributeError):
        return None
    if len(out) <= MAX_BATCH_METRICS and all(map(_well_formed, out)):
        return out
    return None


def _well_formed(m: Any) -> bool:
    """A metric whose key is known good and whose fields have the exact wire types."""
    return (
        type(m[0]) is str  # first: an unhashable key must not reach the set look-up
        and m[0] in _valid_keys
        and type(m[1]) is float
        and type(m[2]) is int
        and 0 <= m[2] < _INT64_END
        and type(m[3]) is int
        and -_INT64_END <= m[3] < _INT64_END
    )


def validate_batch(
    metrics: Sequence[Any], params: Mapping[str, Any], tags: Mapping[str, Any]
) -> tuple[list[Metric], dict[str, str], dict[str, str]]:
    """Check every key and value of a batch; raise :class:`InvalidInput` on the first bad one."""
    if (
        len(metrics) > MAX_BATCH_METRICS
        or len(params) > MAX_BATCH_PARAMS
        or len(tags) > MAX_BATCH_TAGS
    ):
        raise PayloadTooLarge(
            f"a batch holds at most {MAX_BATCH_METRICS} metrics, {MAX_BATCH_PARAMS} params "
            f"and {MAX_BATCH_TAGS} tags"
        )
    checked = [
        # The common case costs a few type checks; anything unusual takes the full checks,
        # which name what is wrong.
        Metric(*m)
        if _well_formed(m)
        else Metric(
            check_key(m[0], "metric"),
            metric_value(m[0], m[1]),
            check_timestamp(m[2]),
            check_step(m[3]),
        )
        for m in metrics
    ]
    return (
        checked,
        {check_key(k, "param"): check_param_value(k, v) for k, v in params.items()},
        {check_key(k, "tag"): check_tag_value(k, v) for k, v in tags.items()},
    )


def check_writable(
    conn: Connection, run_id: str, *, lock: bool = False, allow_ended: bool = False
) -> Snapshot:
    """Raise unless the run exists, is not deleted, and is RUNNING (or SCHEDULED).

    Returns:
        the run's data snapshot. With ``lock`` the run's row stays locked until the
        transaction ends (PostgreSQL; SQLite writers are serialised anyway), so that
        concurrent writers to one run cannot lose each other's snapshot updates.
    """
    stmt = _SELECT_RUN_STATE_FOR_UPDATE if lock else _SELECT_RUN_STATE
    row = conn.execute(stmt, {"rid": check_run_id(run_id)}).first()
    if row is None:
        raise NotFound(f"run {run_id!r} does not exist")
    if row.lifecycle_stage != "active":
        raise Conflict(f"run {run_id} is deleted; restore it before logging to it")
    if not allow_ended and row.status not in (RunStatus.RUNNING.value, RunStatus.SCHEDULED.value):
        raise Conflict(f"run {run_id} is {row.status}; data can only be logged to a RUNNING run")
    return Snapshot.load(row.params_json, row.tags_json, row.metrics_json)


def write_batch(
    conn: Connection,
    run_id: str,
    batch: RunBatch,
    *,
    artifact_root: str,
    allow_ended: bool = False,
) -> dict[str, Any] | None:
    """Apply ``batch`` inside the caller's transaction; returns the new run's row if created.

    ``allow_ended`` lets data reach a FINISHED/FAILED/KILLED run (MLflow's REST API allows
    it; loopml's own API does not). Deleted runs never accept data.
    """
    new = batch.create
    if new is not None:
        snapshot = Snapshot(tags=dict(new.tags))
    else:
        snapshot = check_writable(conn, run_id, lock=True, allow_ended=allow_ended)
    check_params(run_id, batch.params, snapshot.params)
    new_params = {k: v for k, v in batch.params.items() if k not in snapshot.params}
    snapshot.params.update(new_params)
    snapshot.tags.update(batch.tags)
    chunks: list[dict[str, Any]] = []
    latest: list[dict[str, Any]] = []
    if batch.metrics:
        chunks, latest = chunk_rows(run_id, batch.metrics)
        snapshot.merge_latest(latest)
    row = None
    if new is not None:
        # The run's row first: its data rows refer to it.
        row = _insert_run(
            conn, new, artifact_root=artifact_root, finish=batch.finish, snapshot=snapshot
        )
    insert_rows(conn, ParamRow, _KV, [(run_id, k, v) for k, v in new_params.items()])
    if batch.tags:
        if new is not None:
            extra = {k: v for k, v in batch.tags.items() if k not in new.tags}
            insert_rows(conn, TagRow, _KV, [(run_id, k, v) for k, v in extra.items()])
            overwritten = {k: v for k, v in batch.tags.items() if k in new.tags}
        else:
            overwritten = batch.tags
        rows = [{"run_id": run_id, "key": k, "value": v} for k, v in overwritten.items()]
        upsert(conn, TagRow, rows, keys=["run_id", "key"], update=["value"])
    if chunks:
        insert_rows(conn, MetricChunkRow, list(chunks[0]), [tuple(c.values()) for c in chunks])
        if new is not None:
            insert_rows(conn, LatestMetricRow, list(latest[0]), [tuple(r.values()) for r in latest])
        else:
            upsert(
                conn,
                LatestMetricRow,
                latest,
                keys=["run_id", "key"],
                update=["value", "is_nan", "step", "timestamp"],
                where=_newer,
            )
    if new is None:
        values: dict[str, Any] = {}
        if new_params:
            values["params_json"] = snapshot.columns()["params_json"]
        if batch.tags:
            values["tags_json"] = snapshot.columns()["tags_json"]
            if RUN_NAME_TAG in batch.tags:
                values["run_name"] = batch.tags[RUN_NAME_TAG]
        if latest:
            values["metrics_json"] = snapshot.columns()["metrics_json"]
        if batch.finish is not None:
            values["status"], values["end_time"] = batch.finish[0].value, batch.finish[1]
        if values:
            conn.execute(_update_run(tuple(sorted(values))), {"rid": run_id, **values})
    return row


@lru_cache(maxsize=64)
def _update_run(columns: tuple[str, ...]) -> Any:
    """``UPDATE runs SET <columns> WHERE run_id = :rid``, built once per set of columns."""
    return (
        update(RunRow)
        .where(RunRow.run_id == bindparam("rid"))
        .values({c: bindparam(c) for c in columns})
    )


def check_params(run_id: str, params: Mapping[str, str], existing: Mapping[str, str]) -> None:
    """Raise :class:`InvalidInput` if a param would change a value already logged."""
    for key, value in params.items():
        old = existing.get(key)
        if old is not None and old != value:
            raise InvalidInput(
                f"param {key!r} of run {run_id} is already {old!r} and cannot be "
                f"changed to {value!r}: params are immutable; log the new value under "
                "another key or start a new run",
                details={"key": key, "old_value": old, "new_value": value},
            )


def _newer(table: Any, excluded: Any) -> Any:
    # The latest value is the one with the highest step, then the latest timestamp.
    return or_(
        excluded.step > table.step,
        and_(excluded.step == table.step, excluded.timestamp >= table.timestamp),
    )


def _insert_run(
    conn: Connection,
    new: NewRun,
    *,
    artifact_root: str,
    finish: tuple[RunStatus, int] | None,
    snapshot: Snapshot,
) -> dict[str, Any]:
    experiment = conn.execute(_SELECT_EXPERIMENT, {"eid": new.experiment_id}).first()
    if experiment is None:
        raise NotFound(f"experiment {str(new.experiment_id)!r} does not exist")
    if experiment.lifecycle_stage != "active":
        raise Conflict(
            f"experiment {str(new.experiment_id)!r} is deleted; restore it before starting runs"
        )
    if (
        new.parent_run_id
        and conn.execute(_SELECT_RUN_ID, {"rid": new.parent_run_id}).first() is None
    ):
        raise NotFound(f"parent run {new.parent_run_id!r} does not exist")
    location = experiment.artifact_location or f"{artifact_root}/{new.experiment_id}"
    row = {
        "run_id": new.run_id,
        "experiment_id": new.experiment_id,
        "run_name": new.run_name,
        "user_id": new.user_id,
        # A short run is created and ended by one batch: one INSERT, no UPDATE.
        "status": finish[0].value if finish else RunStatus.RUNNING.value,
        "start_time": new.start_time,
        "end_time": finish[1] if finish else None,
        "lifecycle_stage": "active",
        "artifact_uri": f"{location}/{new.run_id}/artifacts",
        "parent_run_id": new.parent_run_id,
        **snapshot.columns(),
    }
    insert_rows(conn, RunRow, list(row), [tuple(row.values())])
    insert_rows(conn, TagRow, _KV, [(new.run_id, k, v) for k, v in new.tags.items()])
    insert_rows(
        conn,
        RunArtifactRow,
        ("run_id", "path", "sha256", "size", "created"),
        [
            (new.run_id, path, blob.sha256, blob.size, new.start_time)
            for path, blob in new.artifacts.items()
        ],
    )
    return row
