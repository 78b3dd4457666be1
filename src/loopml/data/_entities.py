"""Dataset versions as plain values."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from loopml.errors import InvalidInput
from loopml.tracking._codec import register_type

__all__ = ["DatasetVersion", "check_dataset_name", "parse_ref", "version_from_row"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
QUARANTINE_SUFFIX = ".quarantine"


def check_dataset_name(name: Any) -> str:
    """A dataset name: letters, digits, ``_ . -``, at most 200 characters."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"invalid dataset name {name!r}: use letters, digits, '_', '.', '-' (up to 200 "
            "characters, starting with a letter or digit)"
        )
    return name


def parse_ref(ref: str) -> tuple[str, str]:
    """``name@3`` / ``name@latest`` / ``name@<hash prefix>`` / ``name`` -> (name, selector)."""
    if not isinstance(ref, str) or not ref:
        raise InvalidInput(f"a dataset reference is 'name', 'name@3', 'name@latest' or "
                           f"'name@<hash prefix>', not {ref!r}")  # fmt: skip
    name, _, selector = ref.partition("@")
    return check_dataset_name(name), selector or "latest"


@register_type
@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """One registered version of a dataset.

    Attributes:
        name, version: ``name@version`` names it; versions count from 1.
        hash: sha256 of the content (Arrow IPC form): the same content is the same version.
        schema: the pandera schema it was checked against, as YAML.
        profile: per-column statistics (see :func:`loopml.data.profile_table`), as a dict.
        validation: the validation summary (counts per check, samples), as a dict.
        quarantine: ``name.quarantine@N`` holding the rows that failed validation, if any.
    """

    name: str
    version: int
    hash: str
    num_rows: int
    num_columns: int
    size_bytes: int
    schema: str
    profile: dict[str, Any]
    validation: dict[str, Any]
    source: dict[str, Any]
    created: int
    blob_sha256: str
    run_id: str | None = None
    step: str | None = None
    quarantine: str | None = None
    quarantine_rows: int = 0
    columns: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    def __str__(self) -> str:
        return f"{self.ref} ({self.num_rows:,} rows, {self.hash[:12]})"


def version_from_row(row: Any) -> DatasetVersion:
    """A version from its metadata row (joined with the dataset's name)."""
    v = row
    profile = orjson.loads(v.profile_json or "{}")
    return DatasetVersion(
        name=row.name,
        version=v.version,
        hash=v.content_hash,
        num_rows=v.num_rows,
        num_columns=v.num_columns,
        size_bytes=v.size_bytes,
        schema=v.schema_yaml,
        profile=profile,
        validation=orjson.loads(v.validation_json or "{}"),
        source=orjson.loads(v.source_json or "{}"),
        created=v.created,
        blob_sha256=v.blob_sha256,
        run_id=v.run_id,
        step=v.step,
        quarantine=v.quarantine_ref,
        quarantine_rows=v.quarantine_rows,
        columns=list(profile.get("columns", {})),
    )
