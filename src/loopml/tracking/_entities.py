"""Tracking results as plain frozen dataclasses, named as MLflow users know them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

__all__ = [
    "ArtifactInfo",
    "DatasetInput",
    "Experiment",
    "Metric",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunsPage",
    "ViewType",
]


class RunStatus(StrEnum):
    """Where a run is in its life. Only RUNNING and SCHEDULED runs accept new data."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        """True for FINISHED, FAILED and KILLED."""
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


class ViewType(StrEnum):
    """Which lifecycle stages a search returns."""

    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"


class Metric(NamedTuple):
    """One logged point. ``value`` may be NaN or ±inf; ``timestamp`` is in milliseconds.

    A named tuple rather than a dataclass: a training loop makes one per ``log_metric``
    call, and a tuple is built several times faster.
    """

    key: str
    value: float
    timestamp: int
    step: int = 0


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of runs."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run's attributes (what MLflow calls ``run.info``)."""

    run_id: str
    run_name: str
    experiment_id: str
    user_id: str
    status: RunStatus
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    parent_run_id: str | None = None

    @property
    def run_uuid(self) -> str:
        """Alias of ``run_id`` kept for MLflow clients."""
        return self.run_id


@dataclass(frozen=True, slots=True)
class RunData:
    """A run's latest metric values, its params and its tags.

    ``latest`` has, per metric key, the latest point as ``[value, step, timestamp]``
    (NaN and ±inf as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``), for the
    protocols that report more than the value.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    latest: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DatasetInput:
    """A dataset a run used: its name and content digest, where it came from, and how it
    was used (``context``: training, evaluation, ...)."""

    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    schema: str = ""
    profile: str = ""
    context: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Run:
    """A run: ``info`` (attributes), ``data`` (metrics, params, tags) and ``inputs``
    (the datasets it used; filled by ``get``, not by searches)."""

    info: RunInfo
    data: RunData
    inputs: tuple[DatasetInput, ...] = ()


@dataclass(frozen=True, slots=True)
class RunsPage:
    """One page of a run search and the token that fetches the next ('' on the last)."""

    runs: list[Run]
    next_page_token: str = ""


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """A file or directory among a run's artifacts."""

    path: str
    is_dir: bool
    file_size: int | None = None
    sha256: str | None = None
