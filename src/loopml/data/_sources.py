"""Reading a dataset's source into one Arrow table, with a clear error for each way it fails.

Sources: a pandas or polars DataFrame, an Arrow table, a CSV / Parquet / JSON-lines path or
fsspec URL, a SQL query (with a SQLAlchemy URL), or a Python callable returning any of
those. Each read also says where the data came from, for the version's record.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from loopml.errors import InvalidInput, LoopMLError, NotFound

__all__ = [
    "HASH_ROWS",
    "HashSink",
    "compact",
    "content_hash",
    "location_of",
    "quarantine_table",
    "read_source",
    "to_arrow",
]

_CSV = (".csv", ".csv.gz", ".tsv")
_PARQUET = (".parquet", ".pq")
_JSONL = (".jsonl", ".json", ".ndjson", ".jsonl.gz")
# content_hash writes batches of this many rows: the hashed form must not depend on how the
# table happens to be chunked (see data/_stream.py, which re-cuts a stream to match).
HASH_ROWS = 65_536


def to_arrow(data: Any, *, what: str) -> pa.Table:
    """A table from an in-memory frame (pandas, polars, Arrow); InvalidInput otherwise."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            frame = data
            if not all(isinstance(c, str) for c in frame.columns):
                frame = frame.rename(columns=str)
            try:
                return pa.Table.from_pandas(frame, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise InvalidInput(f"{what}: a column cannot be stored as Parquet: {exc}") from None
    if module.startswith("polars"):
        return data.to_arrow()
    raise InvalidInput(
        f"{what}: expected a DataFrame (pandas or polars), an Arrow table, a file path or URL, "
        f"a SQL query with sql_url=, or a callable returning one; got {type(data).__name__}"
    )


def _read_file(
    location: str, *, what: str, encoding: str, storage_options: dict[str, Any]
) -> pa.Table:
    import fsspec
    import pandas as pd

    lower = location.lower()
    try:
        fs, path = fsspec.core.url_to_fs(location, **storage_options)
        if not fs.exists(path):
            raise NotFound(f"{what}: no file at {location}")
        if lower.endswith(_PARQUET):
            import pyarrow.parquet as pq

            with fs.open(path, "rb") as f:
                return pq.read_table(f)
        with fs.open(path, "rb", compression="infer") as f:
            if lower.endswith(_CSV):
                sep = "\t" if lower.endswith(".tsv") else ","
                frame = pd.read_csv(f, sep=sep, encoding=encoding)
            elif lower.endswith(_JSONL):
                frame = pd.read_json(f, lines=True, encoding=encoding)
            else:
                raise InvalidInput(
                    f"{what}: cannot tell the format of {location}: name it .csv, .tsv, "
                    ".parquet or .jsonl"
                )
    except LoopMLError:
        raise
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{what}: {location} is not {encoding} text (byte {exc.start}: {exc.reason}); "
            "pass encoding=, e.g. encoding='latin-1'"
        ) from None
    except pd.errors.EmptyDataError:
        raise InvalidInput(f"{what}: {location} is empty") from None
    except (pd.errors.ParserError, ValueError, pa.ArrowInvalid) as exc:
        raise InvalidInput(f"{what}: cannot read {location}: {exc}") from None
    return to_arrow(frame, what=what)


def _read_sql(query: str, url: str, *, what: str) -> pa.Table:
    import pandas as pd
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                frame = pd.read_sql(text(query), conn)
        finally:
            engine.dispose()
    except (SQLAlchemyError, pd.errors.DatabaseError) as exc:
        first = str(exc).splitlines()[0]
        raise InvalidInput(f"{what}: the SQL source failed: {first}") from None
    return to_arrow(frame, what=what)


def read_source(
    source: Any,
    *,
    what: str,
    sql_url: str | None = None,
    encoding: str = "utf-8",
    storage_options: dict[str, Any] | None = None,
) -> tuple[pa.Table, dict[str, Any]]:
    """The source's data as an Arrow table, and a description of the source to record.

    ``storage_options`` go to fsspec for URLs (an S3 endpoint, credentials).
    """
    options = storage_options or {}
    if callable(source) and not isinstance(source, str | os.PathLike):
        fn: Callable[[], Any] = source
        name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
        data = fn()
        table, inner = read_source(
            data, what=what, sql_url=sql_url, encoding=encoding, storage_options=options
        )
        return table, {"kind": "callable", "callable": name, "returned": inner}
    if sql_url is not None:
        if not isinstance(source, str):
            raise InvalidInput(f"{what}: with sql_url=, the source must be a SQL query string")
        from sqlalchemy.engine import make_url

        safe = make_url(sql_url).render_as_string(hide_password=True)
        return _read_sql(source, sql_url, what=what), {"kind": "sql", "url": safe, "query": source}
    location = location_of(source)
    if location is not None:
        table = _read_file(location, what=what, encoding=encoding, storage_options=options)
        return table, {"kind": "file", "uri": location}
    return to_arrow(source, what=what), {"kind": "dataframe", "type": type(source).__name__}


def location_of(source: Any) -> str | None:
    """The file a path or URL source names (a local path made absolute), or None for a
    source that is not a path or URL."""
    if not isinstance(source, str | os.PathLike):
        return None
    location = os.fspath(source)
    if "://" not in location:
        location = str(Path(location).expanduser().resolve())
    return location


class HashSink:
    """A file-like object that only hashes what is written to it."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.digest.update(view)
        return view.nbytes

    def flush(self) -> None:
        pass


def content_hash(table: pa.Table) -> str:
    """sha256 of the table's content in Arrow's IPC stream form (schema, then the data).

    The same columns, types and values give the same hash however they were read; rows
    are hashed in order, so a reordered table is another version.
    """
    sink = HashSink()
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), table.schema) as writer:
        for batch in table.combine_chunks().to_batches(max_chunksize=HASH_ROWS):
            writer.write_batch(compact(batch))
    return sink.digest.hexdigest()


def compact(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with every column copied to fresh buffers that start at its first row.

    Arrow's IPC writer writes a sliced variable-width column (strings, lists) differently
    from the same values in fresh buffers, so without this the hashed bytes would depend on
    where the batch was cut from, not only on its content.
    """
    columns = [pa.concat_arrays([column]) for column in batch.columns]
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def quarantine_table(frame: Any) -> pa.Table:
    """The quarantined rows as a table: a column may mix types (``-3`` beside ``"abc"``,
    as they arrived), so object columns are kept as their text."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda x: None if x is None else str(x))
    return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
