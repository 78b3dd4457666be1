"""Labels from a file (``loopml feedback import``): CSV or Parquet with ``request_id``,
``label`` and optionally ``row``, streamed in chunks into the feedback log.

The file is read twice: once to check every row (so that a bad row 3,000,000 refuses the
whole file, not what follows it), once to write. Memory stays near one chunk either way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loopml.config import Settings
from loopml.errors import InvalidInput, NotFound, Unavailable
from loopml.serving._predlog import FeedbackLog, log_root

__all__ = ["FeedbackImport", "import_feedback"]

_REQUIRED = ("request_id", "label")
_ENDPOINT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Called as progress(rows done, total rows or None, phase: "checking" or "writing").
Progress = Callable[[int, int | None, str], None]


@dataclass(frozen=True)
class FeedbackImport:
    """What an import wrote."""

    endpoint: str
    file: str
    rows: int
    log: str

    def to_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "file": self.file, "rows": self.rows, "log": self.log}


def import_feedback(
    path: str | os.PathLike[str],
    *,
    endpoint: str,
    settings: Settings,
    chunk_rows: int = 131_072,
    progress: Progress | None = None,
) -> FeedbackImport:
    """Record the labels of a CSV or Parquet file for ``endpoint``, in the feedback log of
    the artifact store that ``settings`` name (where serving writes it too).

    Raises:
        NotFound: no such file.  InvalidInput: not CSV or Parquet, a missing column, or a
        bad row (named).  Unavailable: the artifact store could not be written.
    """
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"no file at {file}")
    if not _ENDPOINT.match(endpoint):
        raise InvalidInput(f"{endpoint[:80]!r} is not an endpoint name")
    total = _total(file)
    done = 0
    for batch in _batches(file, chunk_rows):
        _check(batch, done, file)
        done += batch.num_rows
        if progress is not None:
            progress(done, total, "checking")
    if done == 0:
        raise InvalidInput(f"{file} holds no rows")
    from loopml.tracking import artifact_store_from_settings

    root = log_root(settings.resolved_artifacts())
    options = artifact_store_from_settings(settings).storage_options
    log = FeedbackLog(root, storage_options=options, flush_every_s=3600,
                      max_buffered=max(chunk_rows, 1) * 2)  # fmt: skip
    written = 0
    try:
        for batch in _batches(file, chunk_rows):
            rows = batch.column("row").to_pylist() if "row" in batch.schema.names else None
            log.record_columns(
                endpoint,
                batch.column("request_id").cast(pa.string()).to_pylist(),
                batch.column("label").to_pylist(),
                [0 if r is None else int(r) for r in rows] if rows is not None else None,
            )
            failures = log.failed_flushes
            log.flush()
            if log.failed_flushes > failures:
                raise Unavailable(
                    f"could not write the feedback log under {root} after {written} rows; "
                    "the error is in the log above"
                )
            written += batch.num_rows
            if progress is not None:
                progress(written, done, "writing")
    finally:
        log.close()
    return FeedbackImport(endpoint, str(file), written, f"{root}/feedback/endpoint={endpoint}")


def _total(file: Path) -> int | None:
    if file.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(file).metadata.num_rows)
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInput(f"{file} is not a Parquet file: {exc}") from None
    return None  # CSV: unknown until read


def _batches(file: Path, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    suffix = file.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(file)
            _columns(parquet.schema_arrow.names, file)
            wanted = [c for c in (*_REQUIRED, "row") if c in parquet.schema_arrow.names]
            yield from parquet.iter_batches(batch_size=chunk_rows, columns=wanted)
        elif suffix in (".csv", ".txt"):
            from pyarrow import csv

            reader = csv.open_csv(
                file,
                read_options=csv.ReadOptions(block_size=1 << 22),
                convert_options=csv.ConvertOptions(
                    column_types={"request_id": pa.string(), "row": pa.int64()},
                    include_missing_columns=False,
                ),
            )
            _columns(reader.schema.names, file)
            for batch in reader:
                yield from (
                    batch.slice(i, chunk_rows) for i in range(0, batch.num_rows, chunk_rows)
                )
        else:
            raise InvalidInput(f"{file}: give a .csv or .parquet file")
    except pa.ArrowException as exc:  # a value that does not convert, a malformed file
        raise InvalidInput(f"cannot read {file}: {exc}") from None


def _columns(names: list[str], file: Path) -> None:
    missing = [c for c in _REQUIRED if c not in names]
    if missing:
        raise InvalidInput(
            f"{file} has no column(s) {', '.join(missing)}; it has {', '.join(names) or 'none'} "
            "(request_id and label are required, row is optional)",
            details={"missing_columns": missing},
        )


def _check(batch: pa.RecordBatch, offset: int, file: Path) -> None:
    ids = batch.column("request_id").cast(pa.string())
    empty = pc.or_kleene(pc.is_null(ids), pc.equal(pc.utf8_length(ids), 0))
    _refuse_first(empty, offset, file, "request_id is empty")
    too_long = pc.greater(pc.utf8_length(ids), 128)
    _refuse_first(too_long, offset, file, "request_id is longer than 128 characters")
    label = batch.column("label")
    _refuse_first(pc.is_null(label), offset, file, "label is empty")
    if pa.types.is_floating(label.type):
        _refuse_first(pc.invert(pc.is_finite(label)), offset, file, "label is not finite")
    if "row" in batch.schema.names:
        rows = batch.column("row")
        if not pa.types.is_integer(rows.type):
            raise InvalidInput(f"{file}: column row must hold integers, not {rows.type}")
        _refuse_first(pc.less(rows, 0), offset, file, "row is negative")


def _refuse_first(mask: Any, offset: int, file: Path, problem: str) -> None:
    mask = pc.fill_null(mask, False)
    if pc.any(mask).as_py():
        index = int(pc.index(mask, True).as_py())
        raise InvalidInput(
            f"{file}, data row {offset + index + 1}: {problem}",
            details={"row": offset + index + 1},
        )
