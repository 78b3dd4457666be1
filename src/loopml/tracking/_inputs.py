"""Dataset inputs of runs: which data (name + digest) a run was trained or evaluated on."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import select

from loopml.errors import InvalidInput, PayloadTooLarge
from loopml.ids import now_ms
from loopml.store import RunInputRow, Store, insert_ignore
from loopml.tracking._entities import DatasetInput
from loopml.tracking._writes import check_writable

__all__ = ["RunInputs"]

# MLflow's limits, so that what its client logs fits and nothing is silently truncated.
_LIMITS = {"name": 500, "digest": 64, "source": 65_535, "schema": 1 << 20, "profile": 16 << 20}


def _check(item: DatasetInput) -> DatasetInput:
    if not item.name or not item.digest:
        raise InvalidInput("a dataset input needs a name and a digest")
    for field_name, limit in _LIMITS.items():
        value = getattr(item, field_name)
        if len(value) > limit:
            raise PayloadTooLarge(
                f"dataset {item.name[:40]!r}: {field_name} is {len(value)} characters; "
                f"the limit is {limit}"
            )
    if len(item.context) > 250 or len(item.source_type) > 250:
        raise InvalidInput(f"dataset {item.name[:40]!r}: context and source_type are 250 at most")
    return item


class RunInputs:
    """Record and read the datasets a run used; logging the same input twice is a no-op."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def log(
        self, run_id: str, inputs: Sequence[DatasetInput], *, allow_ended: bool = False
    ) -> None:
        """Record ``inputs`` for the run in one transaction."""
        checked = [_check(i) for i in inputs]
        now = now_ms()
        with self.store.write() as conn:
            check_writable(conn, run_id, allow_ended=allow_ended)
            insert_ignore(
                conn,
                RunInputRow,
                [
                    {
                        "run_id": run_id,
                        "name": i.name,
                        "digest": i.digest,
                        "context": i.context,
                        "source_type": i.source_type,
                        "source": i.source,
                        "schema": i.schema,
                        "profile": i.profile,
                        "tags_json": orjson.dumps(i.tags).decode(),
                        "created": now,
                    }
                    for i in checked
                ],
            )

    def get(self, run_id: str) -> tuple[DatasetInput, ...]:
        """The run's inputs, in the order they were first logged."""
        q = select(RunInputRow).where(RunInputRow.run_id == run_id).order_by(RunInputRow.id)
        with self.store.read() as conn:
            rows = conn.execute(q).all()
        return tuple(
            DatasetInput(
                name=r.name,
                digest=r.digest,
                source_type=r.source_type,
                source=r.source,
                schema=r.schema,
                profile=r.profile,
                context=r.context,
                tags=orjson.loads(r.tags_json),
            )
            for r in rows
        )
