"""Reading a large Parquet source chunk by chunk, so registering it takes bounded memory.

A version's hash is :func:`content_hash` of the whole table. Arrow's IPC stream form depends
on where batches are cut, so :class:`ChunkHasher` re-cuts the stream into exactly the batches
``content_hash`` writes (``HASH_ROWS`` rows each): a streamed registration and an in-memory
one of the same data give the same hash, hence the same version.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from loopml.data._registry import VersionRecord, parquet_tempfile, validation_failed
from loopml.data._sources import HASH_ROWS, HashSink, compact
from loopml.data._validate import ValidationResult
from loopml.errors import InvalidInput, LoopMLError, NotFound

if TYPE_CHECKING:
    from loopml.data._entities import DatasetVersion
    from loopml.data._registry import DataService

__all__ = [
    "CHUNK_ROWS",
    "STREAM_MIN_BYTES",
    "ChunkHasher",
    "ParquetSource",
    "check_streamed",
    "inference_sample",
    "merge_validations",
    "open_parquet_source",
    "register_streamed",
    "validated_chunks",
]

log = logging.getLogger("loopml.data")

# Parquet files at least this big (compressed) are streamed unless the caller decides.
STREAM_MIN_BYTES = 64 * 2**20
# Rows validated and profiled at a time: big enough that pandera's per-call cost is spread
# thin, small enough that a chunk of 25 columns stays in the tens of megabytes.
CHUNK_ROWS = 2 * HASH_ROWS


class ChunkHasher:
    """``content_hash`` of a table fed as record batches of any sizes."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self._sink = HashSink()
        self._writer = pa.ipc.new_stream(pa.PythonFile(self._sink, mode="w"), schema)
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        """Add rows; whole ``HASH_ROWS`` batches are hashed as soon as they are complete."""
        if batch.num_rows == 0:
            return
        if not self._pending and batch.num_rows == HASH_ROWS:  # already cut right
            self._writer.write_batch(compact(batch))
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= HASH_ROWS:
            self._drain(final=False)

    def _drain(self, *, final: bool) -> None:
        table = pa.Table.from_batches(self._pending, schema=self.schema).combine_chunks()
        whole = table.num_rows if final else table.num_rows - table.num_rows % HASH_ROWS
        for batch in table.slice(0, whole).to_batches(max_chunksize=HASH_ROWS):
            self._writer.write_batch(compact(batch))
        rest = table.slice(whole)
        self._pending = rest.to_batches() if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def hexdigest(self) -> str:
        """The hash of everything written; the hasher is finished afterwards."""
        if self._pending_rows:
            self._drain(final=True)
        self._writer.close()
        return self._sink.digest.hexdigest()


@dataclass
class ParquetSource:
    """An opened Parquet file: its schema (metadata stripped) and what a first pass found."""

    location: str
    file: pq.ParquetFile
    schema: pa.Schema
    num_rows: int
    hash: str = ""
    null_columns: set[str] = field(default_factory=set)

    def batches(self, rows: int = CHUNK_ROWS) -> Iterator[pa.RecordBatch]:
        """The rows in order, ``rows`` at a time, each batch carrying :attr:`schema`."""
        for batch in self.file.iter_batches(batch_size=rows):
            yield pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)

    def scan(self, progress: Callable[[int], None] | None = None) -> None:
        """First pass: the content hash, and which columns hold a null anywhere."""
        hasher = ChunkHasher(self.schema)
        done = 0
        for batch in self.batches(HASH_ROWS):  # mostly whole hash batches: no re-cutting
            hasher.write(batch)
            done += batch.num_rows
            if progress is not None:
                progress(done)
            self.null_columns.update(
                name for name, col in zip(batch.schema.names, batch.columns, strict=True)
                if col.null_count
            )  # fmt: skip
        self.hash = hasher.hexdigest()

    def close(self) -> None:
        """Close the file."""
        self.file.close()


def open_parquet_source(
    location: str, *, what: str, storage_options: dict[str, Any], min_bytes: int | None
) -> ParquetSource | None:
    """The Parquet file at ``location`` opened for streaming, or None when it should be read
    whole: not Parquet, smaller than ``min_bytes`` (None: always stream), or with dictionary
    columns (their dictionaries may differ from chunk to chunk)."""
    import fsspec

    if not location.lower().endswith((".parquet", ".pq")):
        return None
    try:
        fs, path = fsspec.core.url_to_fs(location, **storage_options)
        if not fs.exists(path):
            raise NotFound(f"{what}: no file at {location}")
        if min_bytes is not None and fs.size(path) < min_bytes:
            return None
        from fsspec.implementations.local import LocalFileSystem

        # A local path lets Arrow read the file natively (no Python file object in between).
        source = path if isinstance(fs, LocalFileSystem) else fs.open(path, "rb")
        # A read buffer, not the whole column chunk: memory stays near one row group.
        file = pq.ParquetFile(source, buffer_size=1 << 20, pre_buffer=False)
    except LoopMLError:
        raise
    except (OSError, pa.ArrowInvalid) as exc:
        raise InvalidInput(f"{what}: cannot read {location}: {exc}") from None
    schema = file.schema_arrow.remove_metadata()
    if any(pa.types.is_dictionary(f.type) for f in schema):
        return None
    return ParquetSource(location, file, schema, file.metadata.num_rows)


def inference_sample(first: pa.RecordBatch, null_columns: set[str]) -> pd.DataFrame:
    """The first chunk as the frame to infer a schema from, with the whole file's nullability.

    pandas turns an integer column with nulls into float64. Inferring from a chunk without
    the column's nulls would type it int64 and non-nullable, and quarantine every later row
    with a null: so a null row is added, for inference only, to each column that has nulls
    elsewhere in the file but not in the first chunk.
    """
    missing = [n for n in null_columns if first.column(n).null_count == 0]
    table = pa.Table.from_batches([first])
    if missing:
        nulls = {
            name: pa.nulls(1, table.schema.field(name).type)
            if name in missing
            else table.column(name).slice(0, 1)
            for name in table.schema.names
        }
        table = pa.concat_tables([table, pa.table(nulls, schema=table.schema)])
    return table.to_pandas()


def merge_validations(parts: list[tuple[int, ValidationResult]], *, sample: int = 10) -> Any:
    """One :class:`ValidationResult` for chunks validated apart; ``parts`` pairs each
    chunk's first row with its result. Failing rows keep their positions in the whole source.

    The merged result's ``valid`` is empty (the valid rows were streamed to storage); its
    count is carried in ``num_valid_rows``.
    """
    checks: dict[tuple[Any, str], dict[str, Any]] = {}
    schema_errors: list[str] = []
    invalid: list[pd.DataFrame] = []
    num_rows = num_valid = 0
    for offset, part in parts:
        num_rows += part.num_rows
        num_valid += part.num_valid
        for error in part.schema_errors:
            if error not in schema_errors:
                schema_errors.append(error)
        for check in part.checks:
            key = (check["column"], check["check"])
            into = checks.setdefault(key, {**check, "failed": 0, "samples": []})
            into["failed"] += check["failed"]
            room = sample - len(into["samples"])
            into["samples"] += [{**s, "row": s["row"] + offset} for s in check["samples"][:room]]
        if part.num_invalid:
            rows = part.invalid.copy()
            rows["_row"] = rows["_row"].to_numpy(dtype=np.int64) + offset
            invalid.append(rows)
    first = parts[0][1] if parts else None
    empty = first.invalid.iloc[0:0].copy() if first is not None else pd.DataFrame()
    return ValidationResult(
        num_rows=num_rows,
        valid=first.valid.iloc[0:0].copy() if first is not None else pd.DataFrame(),
        invalid=pd.concat(invalid, ignore_index=True) if invalid else empty,
        checks=sorted(checks.values(), key=lambda c: -c["failed"]),
        schema_errors=schema_errors,
        num_valid_rows=0 if schema_errors else num_valid,
    )


def _write_and_hash(writer: pq.ParquetWriter, hasher: ChunkHasher, batch: pa.RecordBatch) -> None:
    writer.write_batch(batch)
    hasher.write(batch)


def validated_chunks(
    src: ParquetSource,
    schema: Any,
    parts: list[tuple[int, ValidationResult]],
    report: Callable[[str, int, int], None],
) -> Iterator[tuple[pa.RecordBatch, ValidationResult]]:
    """Each chunk with its validation; ``parts`` collects (first row, result) for
    :func:`merge_validations`."""
    from loopml.data._validate import validate

    offset = 0
    for batch in src.batches():
        result = validate(batch.to_pandas(), schema)
        # Keep the chunk's findings, not its coerced valid rows: memory must not grow.
        # (A copy: an empty slice of a frame would still hold all of the frame's data.)
        valid, result.valid = result.valid, result.valid.iloc[0:0].copy()
        result.num_valid_rows = len(valid)
        del valid
        parts.append((offset, result))
        offset += batch.num_rows
        report("validating", offset, src.num_rows)
        yield batch, result


def check_streamed(service: DataService, name: str, src: ParquetSource, *, schema: Any) -> Any:
    """Validate a Parquet file chunk by chunk as :meth:`DataService.check` does:
    ``(ValidationResult, schema)``. The result's ``valid`` is empty (its count is kept)."""
    if schema is None and service.catalog.latest_schema(name) is None:
        src.scan()  # inference needs the whole file's nullability
    checked_against = service.schema_for(
        name, schema, lambda: inference_sample(next(src.batches()), src.null_columns)
    )
    parts: list[tuple[int, ValidationResult]] = []
    for _ in validated_chunks(src, checked_against, parts, lambda *_: None):
        pass
    return merge_validations(parts), checked_against


def register_streamed(
    service: DataService,
    name: str,
    src: ParquetSource,
    *,
    on_invalid: str,
    schema: Any,
    run_id: str | None,
    step: str | None,
    progress: Callable[[str, int, int], None] | None = None,
) -> DatasetVersion:
    """Register a Parquet file as :meth:`DataService.register` does, a chunk at a time.

    Two passes over the file: the first hashes it (content already registered under the
    same schema is answered at once) and finds the columns with nulls; the second validates
    each chunk, and writes, hashes and profiles the rows kept. Held in memory: one chunk, the
    sketches, and the failing rows (for the quarantine).
    """
    from loopml.data._profile import profile_batches
    from loopml.data._schema import schema_to_yaml

    what = f"dataset {name!r}"
    if src.num_rows == 0:
        raise InvalidInput(f"{what}: the source has no rows")
    report = progress or (lambda _phase, _done, _total: None)
    src.scan(lambda done: report("hashing", done, src.num_rows))
    checked_against = service.schema_for(
        name, schema, lambda: inference_sample(next(src.batches()), src.null_columns)
    )
    schema_yaml = schema_to_yaml(checked_against)
    existing = service.same_version(name, src.hash, schema_yaml)
    if existing is not None:
        return existing

    parts: list[tuple[int, ValidationResult]] = []
    hasher = ChunkHasher(src.schema)
    refused = False  # a failure that registers nothing was found: keep validating, stop writing

    def kept(writer: pq.ParquetWriter, pool: cf.ThreadPoolExecutor) -> Iterator[pa.RecordBatch]:
        nonlocal refused
        pending: cf.Future[None] | None = None
        for batch, result in validated_chunks(src, checked_against, parts, report):
            if result.schema_errors and on_invalid != "warn":
                # A table-level error is the same in every chunk: no need to read on.
                raise validation_failed(what, merge_validations(parts))
            refused = refused or (not result.ok and on_invalid == "fail")
            if refused:
                continue
            if on_invalid == "quarantine" and result.num_invalid:
                keep = np.ones(batch.num_rows, dtype=bool)
                keep[result.invalid["_row"].to_numpy(dtype=np.int64)] = False
                batch = batch.filter(pa.array(keep))
            # Compressing and hashing release the GIL: they run on a thread while the next
            # chunk is validated. One chunk in flight at most keeps memory bounded.
            if pending is not None:
                pending.result()
            pending = pool.submit(_write_and_hash, writer, hasher, batch)
            yield batch
        if pending is not None:
            pending.result()

    with parquet_tempfile() as tmp:
        with (
            pq.ParquetWriter(tmp, src.schema, compression="zstd") as writer,
            cf.ThreadPoolExecutor(1, thread_name_prefix="loopml-dataset-writer") as pool,
        ):
            profile = profile_batches(kept(writer, pool)).to_dict()
        result = merge_validations(parts)
        if refused:
            raise validation_failed(what, result)
        quarantine = None
        if on_invalid == "quarantine" and result.num_invalid:
            quarantine = service.store_quarantine(name, result, run_id=run_id, step=step)
        elif not result.ok:
            log.warning("%s registered with %s rows failing validation", what, result.num_invalid)
        validation = result.to_dict()
        validation["report_sha256"] = service.store_report(result, name)
        source = {"kind": "file", "uri": src.location, "streamed": True}
        record = VersionRecord(schema_yaml, validation, source, run_id, step, quarantine)
        shape = (result.num_valid, len(src.schema))
        return service.add_version(name, tmp, hasher.hexdigest(), shape, profile, record)
