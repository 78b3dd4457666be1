"""Rows to entities, and the locked look-ups every registry write starts from."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select, tuple_, update

from loopml.errors import NotFound
from loopml.registry._entities import ModelVersion, RegisteredModel, Stage
from loopml.store import (
    ModelAliasRow,
    ModelVersionRow,
    ModelVersionTagRow,
    RegisteredModelRow,
    RegisteredModelTagRow,
    RegistryAuditRow,
)

__all__ = [
    "VERSION_COLUMNS",
    "aliases_of",
    "load_models",
    "load_versions",
    "model_row",
    "touch_model",
    "version_row",
]

# A version row with its model's name: what every version query selects.
VERSION_COLUMNS = (RegisteredModelRow.name, *ModelVersionRow.__table__.c)


def model_row(conn: Connection, name: str, *, lock: bool = False) -> Row[Any]:
    """The model's row; ``lock`` takes its row lock (PostgreSQL) so that writes to one
    model queue behind each other. SQLite's ``BEGIN IMMEDIATE`` already serialises them.

    Raises:
        NotFound: no model has this name.
    """
    if "\x00" in name:
        # No stored name holds a NUL (check_model_name refuses it), and PostgreSQL refuses
        # one in a query: answer what is true, that there is no such model.
        raise NotFound(f"registered model {name!r} does not exist", details={"name": name})
    q = select(RegisteredModelRow).where(RegisteredModelRow.name == name)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        raise NotFound(f"registered model {name!r} does not exist", details={"name": name})
    return row


def version_row(conn: Connection, model: Row[Any], version: int) -> Row[Any]:
    """The version's row joined with its model's name.

    Raises:
        NotFound: the model has no such version.
    """
    row = conn.execute(
        select(*VERSION_COLUMNS)
        .join(RegisteredModelRow, RegisteredModelRow.model_id == ModelVersionRow.model_id)
        .where(ModelVersionRow.model_id == model.model_id, ModelVersionRow.version == version)
    ).first()
    if row is None:
        # A deleted version's number is never reused, so its delete is the whole story.
        deleted = conn.execute(
            select(RegistryAuditRow.id).where(
                RegistryAuditRow.model_id == model.model_id,
                RegistryAuditRow.version == version,
                RegistryAuditRow.action == "delete_version",
            )
        ).first()
        raise NotFound(
            f"model {model.name!r} has no version {version}"
            + (": it was deleted (see its audit log)" if deleted else ""),
            details={"name": model.name, "version": version, "deleted": deleted is not None},
        )
    return row


def aliases_of(conn: Connection, model: Row[Any], version: int) -> list[str]:
    """The aliases that point at one version, sorted."""
    return list(
        conn.execute(
            select(ModelAliasRow.alias)
            .where(ModelAliasRow.model_id == model.model_id, ModelAliasRow.version == version)
            .order_by(ModelAliasRow.alias)
        ).scalars()
    )


def touch_model(conn: Connection, model_id: int, now: int) -> None:
    """Mark the model changed: every write to it or its versions moves this timestamp."""
    conn.execute(
        update(RegisteredModelRow)
        .where(RegisteredModelRow.model_id == model_id)
        .values(last_updated_timestamp=now)
    )


def load_models(conn: Connection, rows: Sequence[Row[Any]]) -> list[RegisteredModel]:
    """Entities for model rows, with their tags and aliases (two queries for the page)."""
    ids = [r.model_id for r in rows]
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    aliases: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        for t in conn.execute(
            select(RegisteredModelTagRow).where(RegisteredModelTagRow.model_id.in_(ids))
        ):
            tags[t.model_id][t.key] = t.value
        for a in conn.execute(
            select(ModelAliasRow)
            .where(ModelAliasRow.model_id.in_(ids))
            .order_by(ModelAliasRow.alias)
        ):
            aliases[a.model_id][a.alias] = a.version
    return [
        RegisteredModel(
            name=r.name,
            creation_timestamp=r.creation_timestamp,
            last_updated_timestamp=r.last_updated_timestamp,
            user_id=r.user_id,
            description=r.description,
            tags=tags[r.model_id],
            aliases=aliases[r.model_id],
        )
        for r in rows
    ]


def load_versions(conn: Connection, rows: Sequence[Row[Any]]) -> list[ModelVersion]:
    """Entities for rows selected with :data:`VERSION_COLUMNS`, with tags and aliases."""
    keys = [(r.model_id, r.version) for r in rows]
    tags: dict[tuple[int, int], dict[str, str]] = {k: {} for k in keys}
    aliases: dict[tuple[int, int], list[str]] = {k: [] for k in keys}
    if keys:
        pair = tuple_(ModelVersionTagRow.model_id, ModelVersionTagRow.version)
        for t in conn.execute(select(ModelVersionTagRow).where(pair.in_(keys))):
            tags[(t.model_id, t.version)][t.key] = t.value
        alias_pair = tuple_(ModelAliasRow.model_id, ModelAliasRow.version)
        for a in conn.execute(
            select(ModelAliasRow).where(alias_pair.in_(keys)).order_by(ModelAliasRow.alias)
        ):
            aliases[(a.model_id, a.version)].append(a.alias)
    return [
        ModelVersion(
            name=r.name,
            version=r.version,
            creation_timestamp=r.creation_timestamp,
            last_updated_timestamp=r.last_updated_timestamp,
            user_id=r.user_id,
            current_stage=Stage(r.current_stage),
            description=r.description,
            source=r.source,
            run_id=r.run_id,
            status=r.status,
            signature=r.signature,
            tags=tags[(r.model_id, r.version)],
            aliases=tuple(aliases[(r.model_id, r.version)]),
            metrics=json.loads(r.metrics_json),
            datasets=tuple(json.loads(r.datasets_json)),
        )
        for r in rows
    ]
