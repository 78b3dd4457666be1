"""Logged models as plain frozen dataclasses, with MLflow 3's field names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from loopml.errors import InvalidInput

__all__ = [
    "MODEL_ID",
    "LoggedModel",
    "LoggedModelStatus",
    "LoggedModelsPage",
    "ModelMetric",
    "ModelOrder",
    "ModelOutput",
    "check_model_name",
    "model_status",
]

MAX_MODEL_NAME = 500
_BAD_NAME_CHARS = frozenset("/:.%\"'")
MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")


class LoggedModelStatus(StrEnum):
    """Where a logged model is: created (artifacts uploading), ready, or failed to upload."""

    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class ModelMetric:
    """A metric point logged against a model, with the run and dataset it came from."""

    key: str
    value: float
    timestamp: int
    step: int = 0
    run_id: str | None = None
    dataset_name: str = ""
    dataset_digest: str = ""


@dataclass(frozen=True, slots=True)
class ModelOutput:
    """A model a run produced, at the step it was logged at."""

    model_id: str
    step: int = 0


@dataclass(frozen=True, slots=True)
class ModelOrder:
    """One ordering key of a model search: an attribute (``name``, ``creation_timestamp``...)
    or ``metrics.<key>`` (optionally only the metric's points on one dataset)."""

    field_name: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedModel:
    """A logged model: its attributes, where its artifacts live, params, tags and metrics."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    status: LoggedModelStatus
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str = ""
    source_run_id: str | None = None
    status_message: str = ""
    lifecycle_stage: str = "active"
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: tuple[ModelMetric, ...] = ()


@dataclass(frozen=True, slots=True)
class LoggedModelsPage:
    """One page of a model search and the token that fetches the next ('' on the last)."""

    models: list[LoggedModel]
    next_page_token: str = ""


def check_model_name(name: Any) -> str:
    """A model name: non-empty, at most 500 characters, none of ``/ : . % " '``."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"model name must be a non-empty string, got {name!r}")
    if len(name) > MAX_MODEL_NAME:
        raise InvalidInput(f"model name is {len(name)} characters; the limit is {MAX_MODEL_NAME}")
    if _BAD_NAME_CHARS & set(name) or "\x00" in name:
        raise InvalidInput(f"model name {name!r} may not contain / : . % \" ' or NUL")
    return name


def model_status(value: LoggedModelStatus | str) -> LoggedModelStatus:
    """A status from its name (PENDING, READY, FAILED)."""
    try:
        return LoggedModelStatus(value)
    except ValueError:
        raise InvalidInput(f"invalid model status {value!r}: PENDING, READY or FAILED") from None
