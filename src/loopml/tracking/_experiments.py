"""Experiments: create, read, search, rename, delete (soft) and restore, with tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from loopml.errors import AlreadyExists, InvalidInput, NotFound, PayloadTooLarge
from loopml.ids import now_ms
from loopml.store import ExperimentRow, ExperimentTagRow, Store, upsert
from loopml.tracking._entities import Experiment, ViewType
from loopml.tracking._validation import check_experiment_name, check_key

__all__ = ["DEFAULT_EXPERIMENT_ID", "Experiments", "parse_experiment_id"]

DEFAULT_EXPERIMENT_ID = "0"
_MAX_EXPERIMENT_TAG = 20_000


def parse_experiment_id(experiment_id: Any) -> int:
    """The integer behind an experiment id given as ``"3"`` or ``3``."""
    if isinstance(experiment_id, bool):
        raise InvalidInput(f"experiment id must be an integer string, got {experiment_id!r}")
    try:
        value = int(str(experiment_id))
    except (TypeError, ValueError):
        raise InvalidInput(
            f"experiment id must be an integer string, got {experiment_id!r}"
        ) from None
    if not 0 <= value < 2**63:
        raise InvalidInput(f"experiment id {experiment_id!r} is out of range")
    return value


class Experiments:
    """Experiment operations over one store.

    Args:
        store: the metadata store.
        artifact_root: the URI prefix that experiments' ``artifact_location`` defaults to.
    """

    def __init__(self, store: Store, *, artifact_root: str) -> None:
        self.store = store
        self.artifact_root = artifact_root.rstrip("/")

    def _to_entity(self, row: Any, tags: Mapping[str, str]) -> Experiment:
        location = row.artifact_location or f"{self.artifact_root}/{row.experiment_id}"
        return Experiment(
            experiment_id=str(row.experiment_id),
            name=row.name,
            artifact_location=location,
            lifecycle_stage=row.lifecycle_stage,
            creation_time=row.creation_time,
            last_update_time=row.last_update_time,
            tags=dict(tags),
        )

    def _tags(self, conn: Connection, ids: list[int]) -> dict[int, dict[str, str]]:
        out: dict[int, dict[str, str]] = {i: {} for i in ids}
        if ids:
            q = select(ExperimentTagRow).where(ExperimentTagRow.experiment_id.in_(ids))
            for t in conn.execute(q):
                out[t.experiment_id][t.key] = t.value
        return out

    def create(
        self,
        name: str,
        *,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create an experiment and return its id.

        Raises:
            AlreadyExists: the name is taken (deleted experiments keep their name).
        """
        name = check_experiment_name(name)
        tag_rows = self._tag_rows(tags or {})
        now = now_ms()
        try:
            with self.store.write() as conn:
                result = conn.execute(
                    insert(ExperimentRow).values(
                        name=name,
                        artifact_location=artifact_location or "",
                        lifecycle_stage="active",
                        creation_time=now,
                        last_update_time=now,
                    )
                )
                experiment_id = int(result.inserted_primary_key[0])  # type: ignore[index]
                if tag_rows:
                    conn.execute(
                        insert(ExperimentTagRow),
                        [{"experiment_id": experiment_id, **t} for t in tag_rows],
                    )
        except IntegrityError:
            raise AlreadyExists(
                f"experiment {name!r} already exists (a deleted experiment keeps its name "
                "until it is restored or renamed)",
                details={"name": name},
            ) from None
        return str(experiment_id)

    @staticmethod
    def _tag_rows(tags: Mapping[str, Any]) -> list[dict[str, str]]:
        rows = []
        for key, value in tags.items():
            check_key(key, "experiment tag")
            text = value if isinstance(value, str) else str(value)
            if len(text) > _MAX_EXPERIMENT_TAG:
                raise PayloadTooLarge(
                    f"experiment tag {key!r} is {len(text)} characters; the limit is "
                    f"{_MAX_EXPERIMENT_TAG}"
                )
            rows.append({"key": key, "value": text})
        return rows

    def get(self, experiment_id: str | int) -> Experiment:
        """The experiment with this id (deleted ones included)."""
        eid = parse_experiment_id(experiment_id)
        with self.store.read() as conn:
            row = conn.execute(
                select(ExperimentRow).where(ExperimentRow.experiment_id == eid)
            ).first()
            if row is None:
                raise NotFound(f"experiment {experiment_id!r} does not exist")
            return self._to_entity(row, self._tags(conn, [eid])[eid])

    def get_by_name(self, name: str) -> Experiment:
        """The experiment with this name (deleted ones included)."""
        with self.store.read() as conn:
            row = conn.execute(select(ExperimentRow).where(ExperimentRow.name == name)).first()
            if row is None:
                raise NotFound(f"experiment {name!r} does not exist")
            return self._to_entity(row, self._tags(conn, [row.experiment_id])[row.experiment_id])

    def search(
        self,
        *,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        name_like: str | None = None,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        offset: int = 0,
    ) -> list[Experiment]:
        """Experiments, oldest first unless ``order_by`` says otherwise.

        Args:
            name_like: a SQL LIKE pattern on the name.
            filter_string: MLflow's experiment filter (``name LIKE 'churn%' AND
                tags.team = 'growth'``, ``creation_time > 1700000000000``), plus OR and
                parentheses.
            order_by: e.g. ``["last_update_time DESC", "name"]``.
        """
        from loopml.tracking._experiment_search import experiment_filter, experiment_order

        if not 1 <= max_results <= 50_000:
            raise InvalidInput(f"max_results must be between 1 and 50000, got {max_results}")
        q = select(ExperimentRow)
        if view_type == ViewType.ACTIVE_ONLY:
            q = q.where(ExperimentRow.lifecycle_stage == "active")
        elif view_type == ViewType.DELETED_ONLY:
            q = q.where(ExperimentRow.lifecycle_stage == "deleted")
        if name_like:
            q = q.where(ExperimentRow.name.like(name_like))
        where = experiment_filter(filter_string)
        if where is not None:
            q = q.where(where)
        q = q.order_by(*experiment_order(order_by)).offset(offset).limit(max_results)
        with self.store.read() as conn:
            rows = conn.execute(q).all()
            tags = self._tags(conn, [r.experiment_id for r in rows])
        return [self._to_entity(r, tags[r.experiment_id]) for r in rows]

    def count_runs(self, experiment_id: str | int) -> int:
        """How many runs (any stage) the experiment holds."""
        from loopml.store import RunRow

        eid = parse_experiment_id(experiment_id)
        with self.store.read() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(RunRow).where(RunRow.experiment_id == eid)
                ).scalar_one()
            )

    def _set_stage(self, experiment_id: str | int, stage: str) -> None:
        eid = parse_experiment_id(experiment_id)
        with self.store.write() as conn:
            result = conn.execute(
                update(ExperimentRow)
                .where(ExperimentRow.experiment_id == eid)
                .values(lifecycle_stage=stage, last_update_time=now_ms())
            )
            if result.rowcount == 0:
                raise NotFound(f"experiment {experiment_id!r} does not exist")

    def delete(self, experiment_id: str | int) -> None:
        """Soft-delete: the experiment and its runs are hidden from default searches."""
        if str(experiment_id) == DEFAULT_EXPERIMENT_ID:
            raise InvalidInput("the Default experiment (id 0) cannot be deleted")
        self._set_stage(experiment_id, "deleted")

    def restore(self, experiment_id: str | int) -> None:
        """Undo :meth:`delete`."""
        self._set_stage(experiment_id, "active")

    def rename(self, experiment_id: str | int, new_name: str) -> None:
        """Give the experiment a new (unique) name."""
        new_name = check_experiment_name(new_name)
        eid = parse_experiment_id(experiment_id)
        try:
            with self.store.write() as conn:
                result = conn.execute(
                    update(ExperimentRow)
                    .where(ExperimentRow.experiment_id == eid)
                    .values(name=new_name, last_update_time=now_ms())
                )
                if result.rowcount == 0:
                    raise NotFound(f"experiment {experiment_id!r} does not exist")
        except IntegrityError:
            raise AlreadyExists(f"experiment {new_name!r} already exists") from None

    def set_tag(self, experiment_id: str | int, key: str, value: str) -> None:
        """Set (or overwrite) an experiment tag."""
        eid = parse_experiment_id(experiment_id)
        rows = self._tag_rows({key: value})
        self.get(eid)
        with self.store.write() as conn:
            upsert(
                conn,
                ExperimentTagRow,
                [{"experiment_id": eid, **r} for r in rows],
                keys=["experiment_id", "key"],
                update=["value"],
            )
