"""``loopml.data.register(...)`` and friends: the dataset API with the process's settings.

The functions use the same settings as the tracking client, and record the active run (if
any) as the producer of what they register; the client layer supplies both through
:func:`set_context` (this layer may not import it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Literal

import pyarrow as pa

from loopml.config import Settings, load_settings
from loopml.data._entities import DatasetVersion
from loopml.data._registry import DataService, OnInvalid

__all__ = ["get", "list_datasets", "register", "set_context", "version", "versions"]

_lock = threading.Lock()
_settings: Callable[[], Settings] | None = None
_run_id: Callable[[], str | None] | None = None
_opener: Callable[[Settings], DataService] = DataService.from_settings
_services: dict[tuple[str, ...], DataService] = {}


def set_context(
    *,
    settings: Callable[[], Settings] | None,
    run_id: Callable[[], str | None] | None,
    opener: Callable[[Settings], DataService] | None = None,
) -> None:
    """Where the settings, the active run and (for a server) the data service come from;
    the client layer calls this."""
    global _settings, _run_id, _opener
    _settings, _run_id = settings, run_id
    _opener = opener or DataService.from_settings


def service() -> DataService:
    """The data service for the current settings (opened once per store or server)."""
    settings = _settings() if _settings is not None else load_settings()
    if settings.is_remote:
        key: tuple[str, ...] = (str(settings.tracking_uri),)
    else:
        key = (settings.resolved_db_url(), settings.resolved_artifacts())
    with _lock:
        found = _services.get(key)
        if found is None:
            found = _services[key] = _opener(settings)
    return found


def register(
    name: str,
    source: Any,
    *,
    on_invalid: OnInvalid = "fail",
    schema: Any = None,
    sql_url: str | None = None,
    encoding: str = "utf-8",
    step: str | None = None,
    stream: bool | None = None,
) -> DatasetVersion:
    """Register ``source`` as a version of dataset ``name`` (the same content: the same version).

    ``source``: a pandas or polars DataFrame, an Arrow table, a CSV / Parquet / JSON-lines
    path or fsspec URL, a SQL query (with ``sql_url``), or a callable returning one of those.
    The active run, if any, is recorded as its producer. Parquet files of 64 MiB and more
    are read chunk by chunk in bounded memory (``stream=True`` / ``False`` decides).

    Example::

        v = loopml.data.register("churn", "data/churn.csv", on_invalid="quarantine")
        print(v.ref, v.num_rows, v.quarantine_rows)
    """
    run_id = _run_id() if _run_id is not None else None
    return service().register(
        name,
        source,
        on_invalid=on_invalid,
        schema=schema,
        sql_url=sql_url,
        encoding=encoding,
        run_id=run_id,
        step=step,
        stream=stream,
    )


def version(ref: str) -> DatasetVersion:
    """The version ``ref`` names: ``name@3``, ``name@latest`` or ``name@<hash prefix>``."""
    return service().version(ref)


def versions(name: str) -> list[DatasetVersion]:
    """Every version of a dataset, oldest first."""
    return service().versions(name)


def list_datasets() -> list[DatasetVersion]:
    """The latest version of every dataset."""
    return service().list()


def get(ref: str | DatasetVersion, *, as_: Literal["pandas", "arrow", "polars"] = "pandas") -> Any:
    """The data of a version: a pandas DataFrame (or an Arrow table, or a polars frame)."""
    table: pa.Table = service().load(ref)
    if as_ == "arrow":
        return table
    if as_ == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table.to_pandas()
