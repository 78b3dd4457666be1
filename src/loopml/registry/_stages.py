"""A version's life after registration: legacy stages, archiving and deletion."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, select, update

from loopml.errors import Conflict, InvalidInput
from loopml.ids import now_ms
from loopml.registry._audit import record
from loopml.registry._entities import ModelVersion, Stage
from loopml.registry._rows import aliases_of, load_versions, model_row, touch_model, version_row
from loopml.registry._validation import check_version
from loopml.registry._versions import VersionOps
from loopml.store import ModelVersionRow

__all__ = ["StageOps"]


def _set_stage(conn: Connection, model: Row[Any], version: int, stage: Stage, now: int) -> None:
    conn.execute(
        update(ModelVersionRow)
        .where(ModelVersionRow.model_id == model.model_id, ModelVersionRow.version == version)
        .values(current_stage=stage.value, last_updated_timestamp=now)
    )


class StageOps(VersionOps):
    """Stage, archive and delete operations; :class:`ModelRegistry` inherits them."""

    def transition_stage(
        self,
        name: str,
        version: int | str,
        stage: str | Stage,
        *,
        archive_existing_versions: bool = False,
        user: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Move a version to a legacy stage (MLflow's ``transition-stage``).

        Unlike :meth:`archive_version`, this moves a version to Archived even when an alias
        points at it, as MLflow does: stages and aliases are independent there.

        Args:
            archive_existing_versions: also move every other version in the target stage
                to Archived (only for Staging and Production, as MLflow).
        """
        target = Stage.parse(stage)
        if archive_existing_versions and target not in (Stage.STAGING, Stage.PRODUCTION):
            raise InvalidInput(
                f"archive_existing_versions only applies to Staging and Production, not {target}"
            )
        number, who, now = check_version(version), self._who(user), now_ms()
        with self.store.write() as conn:
            model = model_row(conn, name, lock=True)
            row = version_row(conn, model, number)
            moves = [] if row.current_stage == target.value else [(number, row.current_stage)]
            if archive_existing_versions:
                others = conn.execute(
                    select(ModelVersionRow.version, ModelVersionRow.current_stage).where(
                        ModelVersionRow.model_id == model.model_id,
                        ModelVersionRow.version != number,
                        ModelVersionRow.current_stage == target.value,
                    )
                ).all()
                moves += [(o.version, o.current_stage) for o in others]
            for moved, old in moves:
                new = target if moved == number else Stage.ARCHIVED
                _set_stage(conn, model, moved, new, now)
                why = reason if moved == number else f"version {number} moved to {target}"
                record(
                    conn, user=who, action="transition_stage", entity="version",
                    model_id=model.model_id, name=model.name, version=moved,
                    before={"stage": old}, after={"stage": new.value}, reason=why,
                )  # fmt: skip
            if moves:
                touch_model(conn, model.model_id, now)
            return load_versions(conn, [version_row(conn, model, number)])[0]

    def archive_version(
        self,
        name: str,
        version: int | str,
        *,
        force: bool = False,
        user: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Retire a version: move it to the legacy stage Archived (audited as
        ``archive_version``). It stays loadable by number; an archived version is left
        as it is.

        A version an alias points at is refused: archiving what ``name@champion`` serves is
        almost always a mistake, so move the alias first. ``force`` archives it anyway and
        leaves the aliases where they are (archiving changes the stage only, never what an
        alias serves); the audit row lists them.

        Raises:
            NotFound: no such model or version.
            Conflict: aliases point at the version and ``force`` is off; the message and
                ``details["aliases"]`` name them.
        """
        number, who, now = check_version(version), self._who(user), now_ms()
        with self.store.write() as conn:
            model = model_row(conn, name, lock=True)
            row = version_row(conn, model, number)
            if row.current_stage != Stage.ARCHIVED.value:
                aliases = aliases_of(conn, model, number)
                if aliases and not force:
                    named = ", ".join(f"{model.name}@{a}" for a in aliases)
                    raise Conflict(
                        f"version {number} of {model.name!r} is served by {named}: move "
                        f"{'that alias' if len(aliases) == 1 else 'those aliases'} first, or "
                        "archive it anyway with force (--force), which leaves them in place",
                        details={"name": model.name, "version": number, "aliases": aliases},
                    )
                _set_stage(conn, model, number, Stage.ARCHIVED, now)
                touch_model(conn, model.model_id, now)
                after: dict[str, object] = {"stage": Stage.ARCHIVED.value}
                if aliases:
                    after["aliases"] = aliases
                record(
                    conn, user=who, action="archive_version", entity="version",
                    model_id=model.model_id, name=model.name, version=number,
                    before={"stage": row.current_stage}, after=after, reason=reason,
                )  # fmt: skip
            return load_versions(conn, [version_row(conn, model, number)])[0]

    def delete_version(
        self, name: str, version: int | str, *, user: str | None = None, reason: str | None = None
    ) -> None:
        """Delete a version, its tags and the aliases that point at it (each alias audited).

        Its number is never handed out again; its approvals and history stay in the audit log.
        """
        number, who, now = check_version(version), self._who(user), now_ms()
        with self.store.write() as conn:
            model = model_row(conn, name, lock=True)
            row = version_row(conn, model, number)
            for alias in aliases_of(conn, model, number):
                record(
                    conn, user=who, action="delete_alias", entity="alias",
                    model_id=model.model_id, name=model.name, version=number, alias=alias,
                    before={"version": number}, after=None, reason=f"version {number} deleted",
                )  # fmt: skip
            conn.execute(
                delete(ModelVersionRow).where(
                    ModelVersionRow.model_id == model.model_id, ModelVersionRow.version == number
                )
            )
            touch_model(conn, model.model_id, now)
            record(
                conn, user=who, action="delete_version", entity="version",
                model_id=model.model_id, name=model.name, version=number, reason=reason,
                before={"source": row.source, "run_id": row.run_id, "stage": row.current_stage},
            )  # fmt: skip
