"""What :func:`~loopml.monitoring.detect_drift` accepts, opened as a stream of column chunks.

A sample is one of: a pandas or polars DataFrame, a pyarrow Table or RecordBatch, a Parquet
file or directory (path or fsspec URL, read ``chunk_rows`` rows at a time), a dataset version
(a :class:`~loopml.data.DatasetVersion` or ``"name@version"``), a ``dask.dataframe``
(reduced partition by partition on its scheduler), or an iterable of any of the in-memory
kinds (a stream of chunks). Opening reads only the column names; the rows are read when the
sample is summarised.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from loopml.data import DatasetVersion
from loopml.errors import ArtifactCorrupted, InvalidInput, LoopMLError, NotFound

if TYPE_CHECKING:
    from loopml.data import DataService

__all__ = ["Chunk", "Source", "chunk_columns", "open_source"]

#: ``(rows, lazily converted (name, values, mixed) columns)``.
Chunk = tuple[int, Iterator[tuple[str, Any, bool]]]
_PARQUET = (".parquet", ".pq", ".parq")


@dataclass
class Source:
    """An opened sample: its column names and how to read the wanted columns.

    Exactly one of ``chunks`` (a function of the wanted columns) and ``dask`` is set.
    """

    what: str
    columns: list[str]
    chunks: Callable[[list[str]], Iterator[Chunk]] | None = None
    dask: Any = None


def open_source(data: Any, *, what: str, chunk_rows: int, service: DataService | None) -> Source:
    """Open ``data`` as a :class:`Source`; ``what`` (reference / current) names it in errors.

    Raises:
        InvalidInput: for an unsupported type, an unreadable file or a malformed reference.
        NotFound: for a missing file or dataset version.
    """
    if _is_dask(data):
        return Source(what, [str(c) for c in data.columns], dask=data)
    if _is_frame(data):
        return Source(what, _names(data), chunks=lambda names: iter([chunk_columns(data, names)]))
    if isinstance(data, DatasetVersion):
        return _version(data, what, chunk_rows, service)
    if isinstance(data, str | os.PathLike):
        text = os.fspath(data)
        if "@" in text and not os.path.exists(text) and "://" not in text:
            return _version(text, what, chunk_rows, service)
        return _parquet(text, what, chunk_rows)
    if isinstance(data, Iterable) and not isinstance(data, bytes | dict):
        return _stream(iter(data), what)
    raise InvalidInput(
        f"the {what} sample is a {type(data).__name__}: expected a pandas or polars DataFrame, "
        "an Arrow table, a Parquet path, a dataset version ('name@version'), a dask "
        "DataFrame, or an iterable of DataFrames / Arrow tables"
    )


def chunk_columns(data: Any, names: list[str]) -> Chunk:
    """One in-memory chunk as ``(rows, columns)``; pandas columns convert one at a time."""
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(data, polars.DataFrame):
        data = data.to_arrow()
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return data.num_rows, ((n, data.column(n), False) for n in names)
    labels = {str(c): c for c in data.columns}  # pandas labels need not be strings
    return len(data), ((n, *_pandas_array(data[labels[n]], n)) for n in names)


# ---------------------------------------------------------------------------- internals
def _is_dask(data: Any) -> bool:
    module = sys.modules.get("dask.dataframe")
    return module is not None and isinstance(data, module.DataFrame)


def _is_frame(data: Any) -> bool:
    polars = sys.modules.get("polars")
    kinds: tuple[type, ...] = (pd.DataFrame, pa.Table, pa.RecordBatch)
    return isinstance(data, kinds) or (polars is not None and isinstance(data, polars.DataFrame))


def _names(data: Any) -> list[str]:
    names = [str(c) for c in (data.column_names if hasattr(data, "column_names") else data.columns)]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidInput(
            f"duplicate column names {duplicated}", details={"column": duplicated[0]}
        )
    return names


def _pandas_array(series: pd.Series, name: str) -> tuple[pa.Array, bool]:
    if isinstance(series, pd.DataFrame):
        raise InvalidInput(f"duplicate column name {name!r}", details={"column": name})
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    try:
        return pa.array(series, from_pandas=True), False
    except (pa.ArrowException, TypeError, ValueError):
        # An object column mixing types (1, "a", 2.5): compared as text rather than refused.
        return pa.array([_text(v) for v in series.tolist()], type=pa.large_string()), True


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    return str(value)


def _stream(chunks: Iterator[Any], what: str) -> Source:
    try:
        first = next(chunks)
    except StopIteration:
        raise InvalidInput(f"the {what} sample is an empty stream: no chunk, no rows") from None
    if not _is_frame(first):
        raise InvalidInput(
            f"the {what} stream yields {type(first).__name__}: expected DataFrames or Arrow "
            "tables / record batches"
        )
    columns = _names(first)

    def read(names: list[str]) -> Iterator[Chunk]:
        for i, chunk in enumerate(itertools.chain([first], chunks)):
            if not _is_frame(chunk) or _names(chunk) != columns:
                raise InvalidInput(
                    f"chunk {i} of the {what} stream differs from the first chunk (columns "
                    f"{columns}); every chunk needs the same columns",
                    details={"chunk": i},
                )
            yield chunk_columns(chunk, names)

    return Source(what, columns, chunks=read)


def _parquet(location: str, what: str, chunk_rows: int) -> Source:
    import fsspec
    import pyarrow.dataset as ds

    if not location.lower().endswith(_PARQUET) and not os.path.isdir(location):
        raise InvalidInput(
            f"the {what} sample {location!r} is neither a Parquet file (.parquet, .pq) nor a "
            "directory of them, nor a dataset version ('name@version')"
        )
    try:
        fs, path = fsspec.core.url_to_fs(location)
        if not fs.exists(path):
            raise NotFound(f"the {what} sample: no file at {location}")
        if fs.isdir(path):
            dataset = ds.dataset(path, format="parquet", filesystem=fs)
            return Source(what, dataset.schema.names, chunks=lambda names: _dataset_chunks(
                dataset, names, chunk_rows))  # fmt: skip
        return _parquet_file(fs.open(path, "rb"), what, chunk_rows)
    except LoopMLError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise InvalidInput(f"the {what} sample: cannot read {location}: {exc}") from None


def _parquet_file(source: Any, what: str, chunk_rows: int) -> Source:
    # A small read buffer rather than whole column chunks: memory stays near one row group.
    file = pq.ParquetFile(source, buffer_size=1 << 20, pre_buffer=False)

    def read(names: list[str]) -> Iterator[Chunk]:
        try:
            # No decoding threads: the read-ahead thread already overlaps decoding with
            # summarising, and each decoding thread's buffers would add to the peak memory.
            batches = file.iter_batches(batch_size=chunk_rows, columns=names, use_threads=False)
            for batch in batches:
                yield _batch_chunk(batch, names)
        finally:
            file.close()

    return Source(what, file.schema_arrow.names, chunks=read)


def _dataset_chunks(dataset: Any, names: list[str], chunk_rows: int) -> Iterator[Chunk]:
    batches = dataset.to_batches(columns=names, batch_size=chunk_rows, batch_readahead=1,
                                 fragment_readahead=1, use_threads=False)  # fmt: skip
    for batch in batches:
        yield _batch_chunk(batch, names)


def _batch_chunk(batch: pa.RecordBatch, names: list[str]) -> Chunk:
    # A list, not a generator over ``batch``: chunks are read ahead on a thread, and a lazy
    # generator would see the loop's next batch by the time it runs.
    return batch.num_rows, iter([(n, batch.column(n), False) for n in names])


def _version(
    ref: str | DatasetVersion, what: str, chunk_rows: int, service: DataService | None
) -> Source:
    """A dataset version, read from its Parquet blob a chunk at a time when the service's
    artifact store is a file system (else from its bytes, decoded a chunk at a time)."""
    from loopml.artifacts import ArtifactStore

    if service is None:
        import loopml.data

        version = loopml.data.version(ref) if isinstance(ref, str) else ref
        return Source(what, version.columns, chunks=lambda names: iter(
            [chunk_columns(loopml.data.get(version, as_="arrow"), names)]))  # fmt: skip
    version = service.version(ref) if isinstance(ref, str) else ref
    blobs = service.blobs
    if isinstance(blobs, ArtifactStore):
        path = blobs.blob_path(version.blob_sha256)
        _verify(blobs.fs, path, version)
        return _parquet_file(blobs.fs.open(path, "rb"), what, chunk_rows)
    return _parquet_file(pa.BufferReader(blobs.get_bytes(version.blob_sha256)), what, chunk_rows)


def _verify(fs: Any, path: str, version: DatasetVersion) -> None:
    """Hash the blob in 1 MiB pieces first: Parquet is read by seeking, so a chunked read
    cannot hash as it goes, and the artifact store's own check reads the blob whole."""
    digest = hashlib.sha256()
    try:
        with fs.open(path, "rb") as fh:
            while piece := fh.read(1 << 20):
                digest.update(piece)
    except FileNotFoundError:
        raise NotFound(f"dataset {version.ref}: its Parquet blob is missing") from None
    if digest.hexdigest() != version.blob_sha256:
        raise ArtifactCorrupted(f"dataset {version.ref}: its Parquet blob is corrupted")
