"""The dataset registry: register a source as a content-addressed, validated, profiled version.

A version becomes visible in one transaction, after its Parquet blob and its report are in
the artifact store: a failure anywhere before (bad source, validation under ``fail``, a
crash) leaves no partial version behind, only unreferenced blobs.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from loopml.artifacts import Blob
from loopml.config import Settings
from loopml.data._catalog import DatasetCatalog
from loopml.data._entities import (
    QUARANTINE_SUFFIX,
    DatasetVersion,
    check_dataset_name,
)
from loopml.data._sources import content_hash, location_of, quarantine_table, read_source
from loopml.errors import InvalidInput, NotFound
from loopml.store import open_store
from loopml.tracking import artifact_store_from_settings

__all__ = [
    "Blobs",
    "DataService",
    "OnInvalid",
    "ValidationFailed",
    "VersionRecord",
    "parquet_tempfile",
    "validation_failed",
]

log = logging.getLogger("loopml.data")
OnInvalid = Literal["fail", "quarantine", "warn"]
Progress = Callable[[str, int, int], None]


class Blobs(Protocol):
    """Where a version's Parquet and report go: the artifact store, or a server's."""

    def put_bytes(self, data: bytes) -> Blob: ...
    def put_file(self, local_path: str | os.PathLike[str]) -> Blob: ...
    def get_bytes(self, sha256: str) -> bytes: ...


class ValidationFailed(InvalidInput):
    """The data broke its schema and the policy is ``fail``: nothing was registered.

    ``details`` holds the validation summary (counts per check, sample failing rows).
    """

    code = "VALIDATION_FAILED"


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """What a version records besides its data: schema, validation summary, source, and
    the producing run and step (and its quarantine version, if rows were set aside)."""

    schema_yaml: str
    validation: dict[str, Any]
    source: dict[str, Any]
    run_id: str | None
    step: str | None
    quarantine: DatasetVersion | None = None


@contextlib.contextmanager
def parquet_tempfile() -> Iterator[str]:
    """A temporary file path for a version's Parquet, removed afterwards."""
    fd, tmp = tempfile.mkstemp(prefix="loopml-dataset-", suffix=".parquet")
    os.close(fd)
    try:
        yield tmp
    finally:
        os.unlink(tmp)


def validation_failed(what: str, result: Any) -> ValidationFailed:
    """The error for data that broke its schema under a policy that refuses it."""
    validation = result.to_dict()
    return ValidationFailed(
        f"{what} failed validation ({result.num_invalid:,} of {result.num_rows:,} rows; "
        f"{_summary(validation)}); nothing was registered",
        details=validation,
    )


def _summary(validation: dict[str, Any]) -> str:
    checks = validation.get("checks", [])
    parts = [f"{c.get('column')}: {c.get('check')} x{c.get('failed')}" for c in checks[:5]]
    parts += validation.get("schema_errors", [])[:5]
    return "; ".join(str(p) for p in parts) or "see the report"


class DataService:
    """Datasets over one metadata store and one artifact store."""

    def __init__(
        self, catalog: DatasetCatalog, blobs: Blobs, *, s3_endpoint_url: str | None = None
    ) -> None:
        self.catalog = catalog
        self.blobs = blobs
        self.s3_endpoint_url = s3_endpoint_url

    def _options(self, source: Any) -> dict[str, Any]:
        # s3:// sources use the same S3-compatible endpoint as the artifact store.
        if isinstance(source, str) and source.startswith("s3://") and self.s3_endpoint_url:
            return {"client_kwargs": {"endpoint_url": self.s3_endpoint_url}}
        return {}

    @classmethod
    def from_settings(cls, settings: Settings) -> DataService:
        """Open (and migrate) the stores that ``settings`` name."""
        if settings.is_remote:
            raise InvalidInput(
                "a remote data service is opened by the client (loopml.data does it for you)"
            )
        store = open_store(
            settings.resolved_db_url(), sqlite_synchronous=settings.sqlite_synchronous
        )
        blobs = artifact_store_from_settings(settings)
        return cls(DatasetCatalog(store), blobs, s3_endpoint_url=settings.s3_endpoint_url)

    # -- register ------------------------------------------------------------------------
    def register(
        self,
        name: str,
        source: Any,
        *,
        on_invalid: OnInvalid = "fail",
        schema: Any = None,
        sql_url: str | None = None,
        encoding: str = "utf-8",
        run_id: str | None = None,
        step: str | None = None,
        stream: bool | None = None,
        progress: Progress | None = None,
    ) -> DatasetVersion:
        """Read, validate, profile and store ``source`` as a version of dataset ``name``.

        Args:
            on_invalid: ``fail`` raises :class:`ValidationFailed` and registers nothing;
                ``quarantine`` registers the good rows and sends the bad ones, each with its
                reason, to ``<name>.quarantine``; ``warn`` registers everything and reports.
            schema: a pandera ``DataFrameSchema``, or the path or text of its YAML; by
                default the latest version's schema, inferred from the data the first time.
            stream: read a Parquet file chunk by chunk, in bounded memory: None (the
                default) streams Parquet files of 64 MiB and more. The version is the same
                either way.
            progress: called as ``progress(phase, rows_done, rows_total)`` while a stream
                is read (phases ``hashing``, then ``validating``).
        """
        if on_invalid not in ("fail", "quarantine", "warn"):
            raise InvalidInput(f"on_invalid must be fail, quarantine or warn, not {on_invalid!r}")
        what = f"dataset {name!r}"
        check_dataset_name(name)
        parquet = self._streamable(source, what, stream) if sql_url is None else None
        if stream and parquet is None:
            raise InvalidInput(
                f"{what}: stream=True needs a Parquet file (path or URL) without dictionary "
                "columns; other sources are read whole"
            )
        if parquet is not None:
            from loopml.data._stream import register_streamed

            with contextlib.closing(parquet):
                return register_streamed(
                    self, name, parquet, on_invalid=on_invalid, schema=schema, run_id=run_id,
                    step=step, progress=progress,
                )  # fmt: skip
        table, described, result, checked_against = self._read_validated(
            name, source, schema=schema, sql_url=sql_url, encoding=encoding, nonempty=True
        )
        from loopml.data._schema import schema_to_yaml

        schema_yaml = schema_to_yaml(checked_against)
        digest = content_hash(table)
        existing = self.same_version(name, digest, schema_yaml)
        if existing is not None:
            return existing
        validation = result.to_dict()
        if not result.ok and (
            on_invalid == "fail" or (bool(result.schema_errors) and on_invalid != "warn")
        ):
            raise validation_failed(what, result)
        quarantine: DatasetVersion | None = None
        if not result.ok and on_invalid == "quarantine" and result.num_invalid:
            keep = np.ones(table.num_rows, dtype=bool)
            keep[result.invalid["_row"].to_numpy(dtype=np.int64)] = False
            quarantine = self.store_quarantine(name, result, run_id=run_id, step=step)
            table = table.filter(pa.array(keep))
        elif not result.ok:
            log.warning("%s registered with validation failures: %s", what, _summary(validation))
        validation["report_sha256"] = self.store_report(result, name)
        return self._store_version(
            name, table, VersionRecord(schema_yaml, validation, described, run_id, step, quarantine)
        )

    def _streamable(self, source: Any, what: str, stream: bool | None) -> Any:
        from loopml.data._stream import STREAM_MIN_BYTES, open_parquet_source

        location = location_of(source) if stream is not False else None
        if location is None:
            return None
        return open_parquet_source(
            location,
            what=what,
            storage_options=self._options(source),
            min_bytes=None if stream else STREAM_MIN_BYTES,
        )

    def same_version(self, name: str, digest: str, schema_yaml: str) -> DatasetVersion | None:
        """The version that already holds this content under this schema: registering it
        again answers it without validating again (it passed under the same schema)."""
        existing = self.catalog.by_hash(name, digest)
        return existing if existing is not None and existing.schema == schema_yaml else None

    def store_quarantine(
        self, name: str, result: Any, *, run_id: str | None, step: str | None
    ) -> DatasetVersion:
        """Store the failing rows (each with ``_row`` and ``_reasons``) as the next version
        of ``<name>.quarantine``; raises when no row is left to register."""
        quarantine = self._store_version(
            name + QUARANTINE_SUFFIX,
            quarantine_table(result.invalid),
            VersionRecord("", {}, {"kind": "quarantine", "of": name}, run_id, step),
        )
        if result.num_valid == 0:
            raise ValidationFailed(
                f"dataset {name!r}: every row failed validation; they are in {quarantine.ref}",
                details=result.to_dict(),
            )
        return quarantine

    def check(
        self,
        name: str,
        source: Any,
        *,
        schema: Any = None,
        sql_url: str | None = None,
        encoding: str = "utf-8",
        stream: bool | None = None,
    ) -> tuple[Any, Any]:
        """Validate ``source`` as a next version of ``name`` would be, storing nothing.

        Returns:
            ``(ValidationResult, schema)``; a Parquet file of 64 MiB or more (or any, with
            ``stream=True``) is checked chunk by chunk, and then the result's ``valid`` holds
            no rows (only their count).
        """
        check_dataset_name(name)
        what = f"dataset {name!r}"
        parquet = self._streamable(source, what, stream) if sql_url is None else None
        if stream and parquet is None:
            raise InvalidInput(f"{what}: stream=True needs a Parquet file (path or URL)")
        if parquet is not None:
            from loopml.data._stream import check_streamed

            with contextlib.closing(parquet):
                return check_streamed(self, name, parquet, schema=schema)
        _, _, result, checked_against = self._read_validated(
            name, source, schema=schema, sql_url=sql_url, encoding=encoding, nonempty=False
        )
        return result, checked_against

    def _read_validated(
        self,
        name: str,
        source: Any,
        *,
        schema: Any,
        sql_url: str | None,
        encoding: str,
        nonempty: bool,
    ) -> tuple[pa.Table, dict[str, Any], Any, Any]:
        """Read ``source`` and validate it against ``name``'s schema: ``(table, source
        description, ValidationResult, schema)``."""
        from loopml.data._validate import validate

        check_dataset_name(name)
        what = f"dataset {name!r}"
        table, described = read_source(
            source,
            what=what,
            sql_url=sql_url,
            encoding=encoding,
            storage_options=self._options(source),
        )
        table = table.replace_schema_metadata(None)
        if nonempty and table.num_rows == 0:
            raise InvalidInput(f"{what}: the source has no rows")
        frame = table.to_pandas()
        checked_against = self.schema_for(name, schema, lambda: frame)
        return table, described, validate(frame, checked_against), checked_against

    def schema_for(self, name: str, schema: Any, sample: Callable[[], Any]) -> Any:
        """The schema to check a new version of ``name`` against: ``schema`` if given, else
        the latest version's, else one inferred from the frame that ``sample`` returns."""
        from loopml.data._schema import infer_schema, schema_from_yaml

        if schema is None:
            latest = self.catalog.latest_schema(name)
            return schema_from_yaml(latest) if latest else infer_schema(sample(), name=name)
        if isinstance(schema, str | os.PathLike):
            text = os.fspath(schema)
            if "\n" not in text and os.path.isfile(text):
                with open(text, encoding="utf-8") as f:
                    text = f.read()
            return schema_from_yaml(text)
        return schema

    def store_report(self, result: Any, name: str) -> str:
        """Store the HTML validation report; its sha256."""
        from loopml.data._report import render_html

        html = render_html(result, title=f"Validation of {name}")
        return self.blobs.put_bytes(html.encode("utf-8")).sha256

    def _store_version(self, name: str, table: pa.Table, record: VersionRecord) -> DatasetVersion:
        from loopml.data._profile import profile_table

        digest = content_hash(table)
        existing = self.catalog.by_hash(name, digest)
        if existing is not None:
            return existing
        profile = profile_table(table).to_dict()
        with parquet_tempfile() as tmp:
            pq.write_table(table, tmp, compression="zstd")
            shape = (table.num_rows, table.num_columns)
            return self.add_version(name, tmp, digest, shape, profile, record)

    def add_version(
        self,
        name: str,
        parquet_path: str,
        digest: str,
        shape: tuple[int, int],
        profile: dict[str, Any],
        record: VersionRecord,
    ) -> DatasetVersion:
        """Store a written Parquet file, then make it visible as the next version."""
        blob = self.blobs.put_file(parquet_path)
        quarantine = record.quarantine
        values = {
            "content_hash": digest,
            "blob_sha256": blob.sha256,
            "size_bytes": blob.size,
            "num_rows": shape[0],
            "num_columns": shape[1],
            "schema_yaml": record.schema_yaml,
            "profile_json": json.dumps(profile, allow_nan=False),
            "validation_json": json.dumps(record.validation, allow_nan=False, default=str),
            "source_json": json.dumps(record.source, default=str),
            "run_id": record.run_id,
            "step": record.step,
            "quarantine_ref": quarantine.ref if quarantine else None,
            "quarantine_rows": quarantine.num_rows if quarantine else 0,
        }
        return self.catalog.add_version(name, values)

    # -- read ----------------------------------------------------------------------------
    def version(self, ref: str) -> DatasetVersion:
        """The version that ``ref`` names: ``name@3``, ``name@latest``, ``name@<hash prefix>``."""
        return self.catalog.version(ref)

    def versions(self, name: str) -> builtins.list[DatasetVersion]:
        """Every version of ``name``, oldest first."""
        return self.catalog.versions(name)

    def list(self) -> builtins.list[DatasetVersion]:
        """The latest version of every dataset, by name."""
        return self.catalog.list()

    def load(self, ref: str | DatasetVersion) -> pa.Table:
        """The data of a version as an Arrow table (verified against its sha256)."""
        version = ref if isinstance(ref, DatasetVersion) else self.version(ref)
        data = self.blobs.get_bytes(version.blob_sha256)
        return pq.read_table(pa.BufferReader(data))

    def report_html(self, ref: str) -> str:
        """The HTML validation report stored with a version."""
        version = self.version(ref)
        sha = version.validation.get("report_sha256")
        if not sha:
            raise NotFound(f"dataset {version.ref} has no validation report")
        return self.blobs.get_bytes(sha).decode("utf-8")
