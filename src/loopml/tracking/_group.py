"""Group commit: several runs' batches in one transaction, each in its own savepoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from loopml.errors import Conflict, InvalidInput, LoopMLError
from loopml.store import RunRow, Store
from loopml.tracking._writes import RunBatch, write_batch

__all__ = ["clash", "write_group"]


def clash(conn: Connection, run_id: str, batch: RunBatch) -> LoopMLError:
    """What a unique-constraint failure of ``batch`` means: the run exists already, or a
    param was logged concurrently with another value."""
    if batch.create is not None:
        taken = conn.execute(select(RunRow.run_id).where(RunRow.run_id == run_id)).first()
        if taken is not None:
            return Conflict(f"run {run_id} already exists")
    return InvalidInput(
        f"a param among {sorted(batch.params)} of run {run_id} was logged concurrently "
        "with a different value; params are immutable"
    )


def write_group(
    store: Store, artifact_root: str, items: Sequence[tuple[str, RunBatch, bool]]
) -> list[dict[str, Any] | LoopMLError | None]:
    """Apply ``(run_id, batch, allow_ended)`` writes in ONE transaction: one commit, one fsync.

    Each write runs in a savepoint: one that fails (a param clash, an ended run) is rolled
    back alone and its error is returned in its place, the others commit together. Runs
    are locked in id order, so two concurrent groups never wait on each other in a cycle.
    A failure of the transaction itself (the database unreachable) raises.
    """
    results: list[dict[str, Any] | LoopMLError | None] = [None] * len(items)
    with store.write() as conn:
        for i in sorted(range(len(items)), key=lambda i: items[i][0]):
            run_id, batch, allow_ended = items[i]
            try:
                with conn.begin_nested():
                    results[i] = write_batch(
                        conn, run_id, batch, artifact_root=artifact_root, allow_ended=allow_ended
                    )
            except IntegrityError:
                results[i] = clash(conn, run_id, batch)
            except LoopMLError as exc:
                results[i] = exc
    return results
