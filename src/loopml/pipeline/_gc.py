"""Cache expiry: drop the step cache entries that no run has used since a cutoff.

Only index entries are removed; a step whose entry is gone simply runs again. Output blobs
stay in the artifact store. It is content-addressed and shared: the same bytes may be a
dataset version, a run or model artifact, another cache entry, or be referenced from places
this module cannot enumerate (run tags, validation reports, a concurrent run that has just
stored them and not yet recorded them). Deleting a blob safely needs a store-wide sweep
that sees every reference; here the bytes that no known reference holds are only reported.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, select

from loopml.errors import InvalidInput
from loopml.ids import now_ms
from loopml.pipeline._cache import OutputManifest
from loopml.store import (
    DatasetVersionRow,
    ExperimentRow,
    LoggedModelArtifactRow,
    PipelineCacheRow,
    RunArtifactRow,
    RunRow,
)
from loopml.tracking import TrackingService

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = ["CacheEntry", "CacheGcResult", "delete_cache_entries", "parse_age"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CHUNK = 500  # keys per IN list


def _local_service(settings: Settings | None) -> TrackingService:
    from loopml.config import load_settings

    settings = settings or load_settings()
    if settings.is_remote:
        # gc reads and deletes index rows in SQL, in one transaction: it runs on the stores.
        raise InvalidInput(
            "pipeline gc works on the stores themselves, not through a server: run it where "
            "the server's database is reachable (LOOPML_DB_URL, without LOOPML_TRACKING_URI)"
        )
    return TrackingService.from_settings(settings)


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s`` or ``2w`` as a :class:`~datetime.timedelta`.

    Raises:
        InvalidInput: anything else.
    """
    match = _AGE.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            f"{text!r} is not an age: use a number and a unit (s, m, h, d or w), e.g. 30d or 12h",
            details={"older_than": str(text)},
        )
    return timedelta(**{_UNIT[match[2]]: float(match[1])})


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A step cache entry.

    Attributes:
        pipeline: the pipeline of the run that stored it (None when that run is gone).
        last_used: when a run last stored or reused it (ms since the epoch).
        blob: sha256 of its output in the artifact store; ``size`` its bytes.
    """

    cache_key: str
    step: str
    pipeline: str | None
    last_used: int
    blob: str
    size: int


@dataclass(frozen=True, slots=True)
class CacheGcResult:
    """What :func:`delete_cache_entries` removed (or, with ``dry_run``, would remove).

    Attributes:
        cutoff: entries last used before this time (ms) were removed.
        entries: the removed entries, least recently used first.
        reclaimable_bytes: bytes of the removed entries' output blobs that are still stored
            and that no remaining cache entry, run or model artifact or dataset version
            points at (``reclaimable_blobs`` of them). Nothing is deleted from the
            artifact store.
    """

    cutoff: int
    pipeline: str | None
    dry_run: bool
    entries: list[CacheEntry] = field(default_factory=list)
    reclaimable_bytes: int = 0
    reclaimable_blobs: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def delete_cache_entries(
    *,
    older_than: timedelta | str,
    pipeline: str | None = None,
    dry_run: bool = False,
    settings: Settings | None = None,
) -> CacheGcResult:
    """Remove the step cache entries that no run has stored or reused for ``older_than``.

    The Python side of ``loopml pipeline gc``. The next run of a pipeline recomputes the
    steps whose entries were removed (with the same output hashes, for deterministic steps).

    Args:
        older_than: a :class:`~datetime.timedelta` or an age such as ``30d`` or ``12h``.
        pipeline: only entries stored by runs of this pipeline.
        dry_run: report what would be removed, remove nothing.
        settings: the stores; default :func:`loopml.config.load_settings`.

    Returns:
        a :class:`CacheGcResult`.

    Raises:
        InvalidInput: ``older_than`` is not an age, or is negative.
    """
    age = older_than if isinstance(older_than, timedelta) else parse_age(older_than)
    if age < timedelta(0):
        raise InvalidInput(f"older_than must not be negative, got {age}")
    service = _local_service(settings)
    cutoff = now_ms() - int(age.total_seconds() * 1000)
    query = (
        select(
            PipelineCacheRow.cache_key,
            PipelineCacheRow.step,
            PipelineCacheRow.manifest_json,
            PipelineCacheRow.last_used,
            ExperimentRow.name,
        )
        .select_from(PipelineCacheRow)
        # A run's experiment is named after its pipeline (see the driver).
        .outerjoin(RunRow, RunRow.run_id == PipelineCacheRow.run_id)
        .outerjoin(ExperimentRow, ExperimentRow.experiment_id == RunRow.experiment_id)
        .where(PipelineCacheRow.last_used < cutoff)
        .order_by(PipelineCacheRow.last_used, PipelineCacheRow.cache_key)
    )
    if pipeline is not None:
        query = query.where(ExperimentRow.name == pipeline)
    with service.store.read() if dry_run else service.store.write() as conn:
        entries = [_entry(*row) for row in conn.execute(query)]
        if not dry_run and entries:
            entries = _delete(conn, entries, cutoff)
    with service.store.read() as conn:
        held = _held(conn, entries)
    # Outside any transaction: on S3 each look-up is a request.
    sizes = {e.blob: e.size for e in entries if e.blob not in held}
    reclaimable = {b: n for b, n in sizes.items() if service.blobs.exists(b)}
    return CacheGcResult(
        cutoff=cutoff,
        pipeline=pipeline,
        dry_run=dry_run,
        entries=entries,
        reclaimable_bytes=sum(reclaimable.values()),
        reclaimable_blobs=len(reclaimable),
    )


def _entry(key: str, step: str, manifest_json: str, last_used: int, pipe: str | None) -> CacheEntry:
    manifest = OutputManifest.from_json(manifest_json)
    return CacheEntry(key, step, pipe, last_used, manifest.blob, manifest.size)


def _delete(conn: Connection, entries: list[CacheEntry], cutoff: int) -> list[CacheEntry]:
    removed: set[str] = set()
    keys = [e.cache_key for e in entries]
    for i in range(0, len(keys), _CHUNK):
        # Still unused at the cutoff: an entry that a run reused meanwhile stays.
        statement = (
            delete(PipelineCacheRow)
            .where(PipelineCacheRow.cache_key.in_(keys[i : i + _CHUNK]))
            .where(PipelineCacheRow.last_used < cutoff)
            .returning(PipelineCacheRow.cache_key)
        )
        removed.update(conn.execute(statement).scalars())
    return [e for e in entries if e.cache_key in removed]


def _held(conn: Connection, entries: list[CacheEntry]) -> set[str]:
    """The entries' blobs that another cache entry, an artifact or a dataset points at."""
    gone = {e.cache_key for e in entries}
    held = {
        OutputManifest.from_json(text).blob
        for key, text in conn.execute(
            select(PipelineCacheRow.cache_key, PipelineCacheRow.manifest_json)
        )
        if key not in gone  # in a dry run the entries are still there
    }
    candidates = sorted({e.blob for e in entries} - held)
    for column in (RunArtifactRow.sha256, LoggedModelArtifactRow.sha256,
                   DatasetVersionRow.blob_sha256):  # fmt: skip
        for i in range(0, len(candidates), _CHUNK):
            chunk = candidates[i : i + _CHUNK]
            held.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
    return held
