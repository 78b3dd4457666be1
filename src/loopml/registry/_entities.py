"""Registry results as frozen dataclasses, named and shaped as MLflow users know them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from loopml.errors import InvalidInput
from loopml.tracking._codec import register_type

__all__ = [
    "Approval",
    "AuditEntry",
    "ModelVersion",
    "ModelVersionsPage",
    "RegisteredModel",
    "RegisteredModelsPage",
    "Stage",
]


@register_type  # registry results cross the wire to loopml's remote client
class Stage(StrEnum):
    """MLflow's legacy stages (deprecated there in favour of aliases, still resolved)."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    @classmethod
    def parse(cls, text: Any) -> Stage:
        """The stage named by ``text``, case-insensitively (MLflow accepts ``production``).

        Raises:
            InvalidInput: not one of None, Staging, Production, Archived.
        """
        if isinstance(text, str):
            for stage in cls:
                if stage.value.lower() == text.strip().lower():
                    return stage
        raise InvalidInput(
            f"stage {text!r} is not one of None, Staging, Production, Archived",
            details={"stage": str(text)},
        )


@register_type
@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A named model; ``aliases`` maps each alias to the version it points at."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str
    description: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)


@register_type
@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One numbered, immutable snapshot of a registered model.

    Attributes:
        source: the canonical URI of the model artifact (``runs:/<run_id>/<path>`` or the
            ``mlflow-artifacts:/`` root of the run or logged model that holds it).
        metrics: the metrics snapshot the caller registered with the version.
        datasets: dataset-version references (``name@N``) the model was trained or
            evaluated on.
        signature: the model signature as text (JSON or YAML, as the caller gave it).
    """

    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str
    current_stage: Stage
    description: str
    source: str
    run_id: str | None
    status: str
    signature: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()


@register_type
@dataclass(frozen=True, slots=True)
class RegisteredModelsPage:
    """One page of a model search; ``next_page_token`` is None on the last page."""

    models: list[RegisteredModel]
    next_page_token: str | None


@register_type
@dataclass(frozen=True, slots=True)
class ModelVersionsPage:
    """One page of a version search; ``next_page_token`` is None on the last page."""

    versions: list[ModelVersion]
    next_page_token: str | None


@register_type
@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the append-only registry audit log.

    Attributes:
        action: e.g. ``create_model``, ``rename_model``, ``set_alias``, ``move_alias``,
            ``transition_stage``, ``set_version_tag``.
        entity: ``model``, ``version`` or ``alias``.
        name: the model's name when the change was made.
        before, after: the changed fields before and after (None when there was none).
    """

    id: int
    timestamp: int
    user: str
    action: str
    entity: str
    name: str
    version: int | None
    alias: str | None
    before: Any
    after: Any
    reason: str | None


@register_type
@dataclass(frozen=True, slots=True)
class Approval:
    """One user's approval of one model version (kept in the audit log).

    Attributes:
        name: the model's current name.
        user: who approved; a user's repeated approvals of a version are one approval.
        timestamp: when they first approved it (milliseconds since the epoch).
        reason: what they said when approving, if anything.
    """

    name: str
    version: int
    user: str
    timestamp: int
    reason: str | None = None
