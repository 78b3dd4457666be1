"""The model registry service: registered models, aliases, URIs and the audit log.

Per-version operations are mixins (``_versions.py``, ``_stages.py``, ``_approvals.py``);
every write here and there runs in one transaction with its audit row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from loopml.errors import AlreadyExists, InvalidInput, NotFound
from loopml.ids import now_ms
from loopml.registry._approvals import ApprovalOps
from loopml.registry._audit import read_audit, record
from loopml.registry._entities import (
    AuditEntry,
    ModelVersion,
    RegisteredModel,
    RegisteredModelsPage,
    Stage,
)
from loopml.registry._rows import load_models, load_versions, model_row, version_row
from loopml.registry._search import fetch_page, model_filter, model_order
from loopml.registry._stages import StageOps
from loopml.registry._validation import (
    check_alias,
    check_description,
    check_model_name,
    check_tags,
    check_version,
)
from loopml.store import (
    ModelAliasRow,
    ModelVersionRow,
    RegisteredModelRow,
    RegisteredModelTagRow,
    Store,
    upsert,
)
from loopml.tracking import check_key

__all__ = ["MAX_MODEL_RESULTS", "ModelRegistry"]

MAX_MODEL_RESULTS = 1000
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<ref>[^/@]+)|@(?P<alias>[^/@]+))$")


class ModelRegistry(StageOps, ApprovalOps):
    """Registered models, their versions, aliases and legacy stages, over one store.

    Every change appends a row to the audit log in the same transaction: who (``user``,
    else the registry's default user, else the OS user), when, what, from → to, and why
    (``reason``).

    Args:
        store: the metadata store (migrated).
        user: who changes are attributed to when a call does not say.
    """

    def __init__(self, store: Store, *, user: str | None = None) -> None:
        self.store = store
        self.user = user

    # --- registered models ---

    def create_model(
        self,
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        user: str | None = None,
        reason: str | None = None,
    ) -> RegisteredModel:
        """Register a model name.

        Raises:
            InvalidInput: a bad name (see :func:`check_model_name`), description or tag.
            AlreadyExists: the name is taken.
        """
        name = check_model_name(name)
        description, tag_values, who, now = (
            check_description(description), check_tags(tags), self._who(user), now_ms()
        )  # fmt: skip
        try:
            with self.store.write() as conn:
                model_id = conn.execute(
                    insert(RegisteredModelRow)
                    .values(
                        name=name,
                        description=description,
                        user_id=who,
                        creation_timestamp=now,
                        last_updated_timestamp=now,
                        last_version=0,
                    )
                    .returning(RegisteredModelRow.model_id)
                ).scalar_one()
                if tag_values:
                    conn.execute(
                        insert(RegisteredModelTagRow),
                        [
                            {"model_id": model_id, "key": k, "value": v}
                            for k, v in tag_values.items()
                        ],
                    )
                record(
                    conn, user=who, action="create_model", entity="model", model_id=model_id,
                    name=name, after={"description": description, "tags": tag_values},
                    reason=reason,
                )  # fmt: skip
                return load_models(conn, [model_row(conn, name)])[0]
        except IntegrityError:
            raise AlreadyExists(
                f"registered model {name!r} already exists", details={"name": name}
            ) from None

    def get_model(self, name: str) -> RegisteredModel:
        """The model with its tags and aliases.

        Raises:
            NotFound: no model has this name.
        """
        with self.store.read() as conn:
            return load_models(conn, [model_row(conn, name)])[0]

    def rename_model(
        self, name: str, new_name: str, *, user: str | None = None, reason: str | None = None
    ) -> RegisteredModel:
        """Give a model a new unique name; versions, aliases and history follow it.

        Raises:
            NotFound: no model ``name``.  AlreadyExists: ``new_name`` is taken.
        """
        new_name = check_model_name(new_name)
        who, now = self._who(user), now_ms()
        if new_name == name:
            return self.get_model(name)
        try:
            with self.store.write() as conn:
                model = model_row(conn, name, lock=True)
                conn.execute(
                    update(RegisteredModelRow)
                    .where(RegisteredModelRow.model_id == model.model_id)
                    .values(name=new_name, last_updated_timestamp=now)
                )
                record(
                    conn, user=who, action="rename_model", entity="model",
                    model_id=model.model_id, name=name, before={"name": name},
                    after={"name": new_name}, reason=reason,
                )  # fmt: skip
                return load_models(conn, [model_row(conn, new_name)])[0]
        except IntegrityError:
            raise AlreadyExists(
                f"registered model {new_name!r} already exists", details={"name": new_name}
            ) from None

    def update_model(
        self,
        name: str,
        *,
        description: str,
        user: str | None = None,
        reason: str | None = None,
    ) -> RegisteredModel:
        """Change a model's description."""
        description, who, now = check_description(description), self._who(user), now_ms()
        with self.store.write() as conn:
            model = model_row(conn, name, lock=True)
            if model.description != description:
                conn.execute(
                    update(RegisteredModelRow)
                    .where(RegisteredModelRow.model_id == model.model_id)
                    .values(description=description, last_updated_timestamp=now)
                )
                record(
                    conn, user=who, action="update_model", entity="model",
                    model_id=model.model_id, name=name,
                    before={"description": model.description},
                    after={"description": description}, reason=reason,
                )  # fmt: skip
            return load_models(conn, [model_row(conn, name)])[0]

    def delete_model(
        self, name: str, *, user: str | None = None, reason: str | None = None
    ) -> None:
        """Delete a model with all its versions, tags and aliases (the audit log stays)."""
        who = self._who(user)
        with self.store.write() as conn:
            model = model_row(conn, name, lock=True)
            entity = load_models(conn, [model])[0]
            versions = conn.execute(
                select(ModelVersionRow.version).where(ModelVersionRow.model_id == model.model_id)
            ).scalars()
            record(
                conn, user=who, action="delete_model", entity="model", model_id=model.model_id,
                name=name, after=None, reason=reason,
                before={
                    "description": entity.description, "tags": entity.tags,
                    "aliases": entity.aliases, "versions": sorted(versions),
                },
            )  # fmt: skip
            # The foreign keys cascade to versions, tags and aliases.
            conn.execute(
                delete(RegisteredModelRow).where(RegisteredModelRow.model_id == model.model_id)
            )

    def set_model_tag(
        self, name: str, key: str, value: str, *, user: str | None = None, reason: str | None = None
    ) -> None:
        """Set (or overwrite) a tag on a model."""
        self._model_tag(name, key, check_tags({key: value})[key], user, reason)

    def delete_model_tag(
        self, name: str, key: str, *, user: str | None = None, reason: str | None = None
    ) -> None:
        """Remove a tag from a model.

        Raises:
            NotFound: the model has no such tag.
        """
        self._model_tag(name, key, None, user, reason)

    def _model_tag(
        self, name: str, key: str, value: str | None, user: str | None, reason: str | None
    ) -> None:
        check_key(key, "registry tag")  # deletes too: a key no tag can have is a bad request
        who, now = self._who(user), now_ms()
        with self.store.write() as conn:
            model = model_row(conn, name, lock=True)
            where = (
                RegisteredModelTagRow.model_id == model.model_id,
                RegisteredModelTagRow.key == key,
            )
            old = conn.execute(select(RegisteredModelTagRow.value).where(*where)).scalar()
            if value is None:
                if old is None:
                    raise NotFound(f"registered model {name!r} has no tag {key!r}")
                conn.execute(delete(RegisteredModelTagRow).where(*where))
            else:
                row = {"model_id": model.model_id, "key": key, "value": value}
                upsert(
                    conn, RegisteredModelTagRow, [row], keys=["model_id", "key"], update=["value"]
                )
            conn.execute(
                update(RegisteredModelRow)
                .where(RegisteredModelRow.model_id == model.model_id)
                .values(last_updated_timestamp=now)
            )
            record(
                conn, user=who, action="set_model_tag" if value is not None else "delete_model_tag",
                entity="model", model_id=model.model_id, name=name,
                before=None if old is None else {key: old},
                after=None if value is None else {key: value}, reason=reason,
            )  # fmt: skip

    def search_models(
        self,
        filter_string: str | None = None,
        *,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> RegisteredModelsPage:
        """Models matching MLflow's model filter (``name = / != / LIKE / ILIKE / IN``,
        ``tags.<k>``, ``tag.<k>``), plus OR and parentheses, ordered by ``order_by``
        (``name``, ``creation_timestamp``, ``last_updated_timestamp``; name breaks ties).

        Raises:
            InvalidInput: a bad filter, order key, token, or ``max_results`` out of range.
        """
        q = select(RegisteredModelRow)
        where = model_filter(filter_string)
        if where is not None:
            q = q.where(where)
        q = q.order_by(*model_order(order_by))
        with self.store.read() as conn:
            rows, token = fetch_page(conn, q, max_results, MAX_MODEL_RESULTS, page_token)
            return RegisteredModelsPage(load_models(conn, rows), token)

    # --- aliases ---

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        user: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Point ``name@alias`` at ``version``, moving it if it pointed elsewhere.

        Raises:
            NotFound: no such model or version.  InvalidInput: a bad or reserved alias.
        """
        alias, number, who, now = (
            check_alias(alias),
            check_version(version),
            self._who(user),
            now_ms(),
        )
        with self.store.write() as conn:
            model = model_row(conn, name, lock=True)
            version_row(conn, model, number)
            where = (ModelAliasRow.model_id == model.model_id, ModelAliasRow.alias == alias)
            old = conn.execute(select(ModelAliasRow.version).where(*where)).scalar()
            if old == number:
                return
            if old is None:
                conn.execute(
                    insert(ModelAliasRow).values(
                        model_id=model.model_id, alias=alias, version=number
                    )
                )
            else:
                conn.execute(update(ModelAliasRow).where(*where).values(version=number))
            conn.execute(
                update(RegisteredModelRow)
                .where(RegisteredModelRow.model_id == model.model_id)
                .values(last_updated_timestamp=now)
            )
            record(
                conn, user=who, action="set_alias" if old is None else "move_alias",
                entity="alias", model_id=model.model_id, name=name, version=number, alias=alias,
                before=None if old is None else {"version": old}, after={"version": number},
                reason=reason,
            )  # fmt: skip

    def delete_alias(
        self, name: str, alias: str, *, user: str | None = None, reason: str | None = None
    ) -> None:
        """Remove ``name@alias``.

        Raises:
            NotFound: no such model or alias.
        """
        alias, who = check_alias(alias), self._who(user)
        with self.store.write() as conn:
            model = model_row(conn, name, lock=True)
            where = (ModelAliasRow.model_id == model.model_id, ModelAliasRow.alias == alias)
            old = conn.execute(select(ModelAliasRow.version).where(*where)).scalar()
            if old is None:
                raise NotFound(f"model {name!r} has no alias {alias!r}", details={"alias": alias})
            conn.execute(delete(ModelAliasRow).where(*where))
            record(
                conn, user=who, action="delete_alias", entity="alias", model_id=model.model_id,
                name=name, version=old, alias=alias, before={"version": old}, after=None,
                reason=reason,
            )  # fmt: skip

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version ``name@alias`` points at.

        Raises:
            NotFound: no such model or alias.
        """
        alias = check_alias(alias)  # every stored alias passed it; NUL would upset PostgreSQL
        with self.store.read() as conn:
            model = model_row(conn, name)
            number = conn.execute(
                select(ModelAliasRow.version).where(
                    ModelAliasRow.model_id == model.model_id, ModelAliasRow.alias == alias
                )
            ).scalar()
            if number is None:
                raise NotFound(f"model {name!r} has no alias {alias!r}", details={"alias": alias})
            return load_versions(conn, [version_row(conn, model, number)])[0]

    # --- URIs and history ---

    def resolve(self, uri: str) -> ModelVersion:
        """The version a ``models:/`` URI names: ``models:/name/3``, ``models:/name@alias``,
        ``models:/name/<Stage>`` (newest version in the stage) or ``models:/name/latest``.

        Raises:
            InvalidInput: not a ``models:/`` URI.  NotFound: naming what is missing.
        """
        match = _MODELS_URI.match(uri) if isinstance(uri, str) else None
        if match is None:
            raise InvalidInput(
                f"model URI {str(uri)[:200]!r} is not models:/<name>/<version|stage|latest> "
                "or models:/<name>@<alias>",
                details={"uri": str(uri)[:300]},
            )
        name, ref, alias = check_model_name(match["name"]), match["ref"], match["alias"]
        if alias is not None:
            return self.get_version_by_alias(name, alias)
        if ref.isdigit():
            return self.get_version(name, ref)
        if ref.lower() == "latest":
            newest = self.get_latest_versions(name)
        else:
            stage = Stage.parse(ref)
            newest = self.get_latest_versions(name, [stage])
            if not newest:
                raise NotFound(f"model {name!r} has no version in stage {stage.value}")
        if not newest:
            raise NotFound(f"model {name!r} has no versions")
        return max(newest, key=lambda v: v.version)

    def audit(self, name: str | None = None, *, limit: int = 100) -> list[AuditEntry]:
        """The audit log, newest first: every change to ``name`` (across its renames and
        after its deletion) or to the whole registry."""
        with self.store.read() as conn:
            return read_audit(conn, name, limit)
