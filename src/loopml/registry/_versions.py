"""Model versions: create (with the retry rule of ``_retries.py``), read, describe, tag and
search. Stages, archiving and deletion are in ``_stages.py``."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from loopml.errors import InvalidInput, NotFound
from loopml.ids import now_ms
from loopml.registry._audit import record
from loopml.registry._entities import ModelVersion, ModelVersionsPage, Stage
from loopml.registry._retries import check_retry_window, find_retried
from loopml.registry._rows import (
    VERSION_COLUMNS,
    load_versions,
    model_row,
    touch_model,
    version_row,
)
from loopml.registry._search import fetch_page, version_filter, version_order
from loopml.registry._sources import canonical_source
from loopml.registry._validation import (
    check_dataset_refs,
    check_description,
    check_model_name,
    check_tags,
    check_text,
    check_user,
    check_version,
)
from loopml.store import (
    ModelVersionRow,
    ModelVersionTagRow,
    RegisteredModelRow,
    Store,
    upsert,
)
from loopml.tracking import check_key

__all__ = ["MAX_VERSION_RESULTS", "VersionOps"]

MAX_VERSION_RESULTS = 200_000
MAX_SIGNATURE = 1_000_000
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def _check_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        check_key(key, "metric")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"metric {key!r} must be a number, got {value!r}")
        if not math.isfinite(value):
            # JSON has no NaN: a snapshot that cannot be read back is refused up front.
            raise InvalidInput(f"metric {key!r} is {value}; a snapshot holds finite numbers")
        out[key] = float(value)
    return out


class VersionOps:
    """Version operations; :class:`ModelRegistry` inherits them and supplies the store.

    The other per-version mixins (stages, approvals) build on this one for ``_who``.
    """

    store: Store
    user: str | None

    def _who(self, user: str | None) -> str:
        return check_user(user if user is not None else self.user)

    def create_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        metrics: Mapping[str, float] | None = None,
        datasets: Iterable[str] | None = None,
        signature: str = "",
        user: str | None = None,
        reason: str | None = None,
        retry_window_ms: int = 0,
    ) -> ModelVersion:
        """Register a new version of ``name``, READY at once, numbered one past the last.

        Args:
            source: ``runs:/<run_id>/<path>`` or an ``mlflow-artifacts:/`` URI inside the
                artifact root of the run (or logged model) that made the model.
            run_id: the producing run; inferred from ``source`` when omitted.
            metrics: a snapshot of the metrics the version is judged by.
            datasets: dataset-version references (``name@N``) it was trained/evaluated on.
            signature: the model signature as text.
            retry_window_ms: treat this call as a possible retry of a create whose answer
                was lost: when the model's newest version (never deleted, none registered
                after it) was created at most this long ago from an identical request
                (same source, run, user, description, tags, metrics, datasets, signature),
                answer that version and register nothing. 0, the default, registers a new
                version on every call, as MLflow's own registry does. The MLflow route
                passes :data:`RETRY_WINDOW_MS`, which covers the MLflow client's whole
                retry schedule. The trade-off: a deliberate identical re-registration
                within the window also gets the same version back. The check holds the
                model's row lock, so concurrent identical creates make one version.

        Raises:
            NotFound: no such model.
            InvalidInput: a bad source (see :func:`canonical_source`), run id, tag, metric
                or retry window.
        """
        values = {
            "description": check_description(description),
            "signature": check_text(signature, "signature", MAX_SIGNATURE),
            "metrics_json": json.dumps(_check_metrics(metrics), sort_keys=True),
            "datasets_json": json.dumps(list(check_dataset_refs(datasets))),
        }
        tag_values = check_tags(tags)
        if run_id is not None and (not isinstance(run_id, str) or not _RUN_ID.match(run_id)):
            raise InvalidInput(f"run_id {run_id!r} is not a 32-character hex run id")
        window, who, now = check_retry_window(retry_window_ms), self._who(user), now_ms()
        with self.store.write() as conn:
            model = model_row(conn, check_model_name(name), lock=True)
            canonical, owner = canonical_source(conn, source, run_id)
            retried = find_retried(
                conn, model, tags=tag_values, window_ms=window, now=now,
                fields={**values, "source": canonical, "run_id": owner, "user_id": who},
            )  # fmt: skip
            if retried is not None:
                return load_versions(conn, [version_row(conn, model, retried)])[0]
            # The counter lives on the (locked) model row and only grows: two writers can
            # never draw the same number, and a deleted version's number is not reused.
            number = conn.execute(
                update(RegisteredModelRow)
                .where(RegisteredModelRow.model_id == model.model_id)
                .values(
                    last_version=RegisteredModelRow.last_version + 1, last_updated_timestamp=now
                )
                .returning(RegisteredModelRow.last_version)
            ).scalar_one()
            conn.execute(
                insert(ModelVersionRow).values(
                    model_id=model.model_id,
                    version=number,
                    user_id=who,
                    creation_timestamp=now,
                    last_updated_timestamp=now,
                    current_stage=Stage.NONE.value,
                    source=canonical,
                    run_id=owner,
                    status="READY",
                    **values,
                )
            )
            if tag_values:
                conn.execute(
                    insert(ModelVersionTagRow),
                    [
                        {"model_id": model.model_id, "version": number, "key": k, "value": v}
                        for k, v in tag_values.items()
                    ],
                )
            record(
                conn, user=who, action="create_version", entity="version",
                model_id=model.model_id, name=model.name, version=number, reason=reason,
                after={"source": canonical, "run_id": owner, "tags": tag_values},
            )  # fmt: skip
            return load_versions(conn, [version_row(conn, model, number)])[0]

    def get_version(self, name: str, version: int | str) -> ModelVersion:
        """One version, with its tags and aliases.

        Raises:
            NotFound: naming the model or the version.
        """
        number = check_version(version)
        with self.store.read() as conn:
            return load_versions(conn, [version_row(conn, model_row(conn, name), number)])[0]

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of one model (deleted ones are gone), oldest first.

        Raises:
            NotFound: no model has this name.
        """
        with self.store.read() as conn:
            model = model_row(conn, name)
            rows = conn.execute(
                select(*VERSION_COLUMNS)
                .join(RegisteredModelRow, RegisteredModelRow.model_id == ModelVersionRow.model_id)
                .where(ModelVersionRow.model_id == model.model_id)
                .order_by(ModelVersionRow.version)
            ).all()
            return load_versions(conn, rows)

    def _change_version(
        self,
        name: str,
        version: int | str,
        *,
        action: str,
        values: dict[str, Any],
        user: str | None,
        reason: str | None,
    ) -> ModelVersion:
        number, who, now = check_version(version), self._who(user), now_ms()
        with self.store.write() as conn:
            model = model_row(conn, name, lock=True)
            row = version_row(conn, model, number)
            before = {k: getattr(row, k) for k in values}
            if before != values:
                conn.execute(
                    update(ModelVersionRow)
                    .where(ModelVersionRow.model_id == model.model_id)
                    .where(ModelVersionRow.version == number)
                    .values(**values, last_updated_timestamp=now)
                )
                touch_model(conn, model.model_id, now)
                record(
                    conn, user=who, action=action, entity="version", model_id=model.model_id,
                    name=model.name, version=number, before=before, after=values, reason=reason,
                )  # fmt: skip
            return load_versions(conn, [version_row(conn, model, number)])[0]

    def update_version(
        self,
        name: str,
        version: int | str,
        *,
        description: str,
        user: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Change a version's description (the only mutable field besides tags and stage)."""
        return self._change_version(
            name,
            version,
            action="update_version",
            values={"description": check_description(description)},
            user=user,
            reason=reason,
        )

    def set_version_tag(
        self,
        name: str,
        version: int | str,
        key: str,
        value: str,
        *,
        user: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Set (or overwrite) a tag on a version."""
        self._version_tag(name, version, key, check_tags({key: value})[key], user, reason)

    def delete_version_tag(
        self,
        name: str,
        version: int | str,
        key: str,
        *,
        user: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Remove a tag from a version.

        Raises:
            NotFound: the version has no such tag.
        """
        self._version_tag(name, version, key, None, user, reason)

    def _version_tag(
        self,
        name: str,
        version: int | str,
        key: str,
        value: str | None,
        user: str | None,
        reason: str | None,
    ) -> None:
        check_key(key, "registry tag")  # deletes too: a key no tag can have is a bad request
        number, who, now = check_version(version), self._who(user), now_ms()
        action = "set_version_tag" if value is not None else "delete_version_tag"
        with self.store.write() as conn:
            model = model_row(conn, name, lock=True)
            version_row(conn, model, number)
            where = (
                ModelVersionTagRow.model_id == model.model_id,
                ModelVersionTagRow.version == number,
                ModelVersionTagRow.key == key,
            )
            old = conn.execute(select(ModelVersionTagRow.value).where(*where)).scalar()
            if value is None:
                if old is None:
                    raise NotFound(f"version {number} of {name!r} has no tag {key!r}")
                conn.execute(delete(ModelVersionTagRow).where(*where))
            else:
                row = {"model_id": model.model_id, "version": number, "key": key, "value": value}
                upsert(conn, ModelVersionTagRow, [row], keys=list(row)[:3], update=["value"])
            touch_model(conn, model.model_id, now)
            record(
                conn, user=who, action=action,
                entity="version", model_id=model.model_id, name=model.name, version=number,
                before=None if old is None else {key: old},
                after=None if value is None else {key: value}, reason=reason,
            )  # fmt: skip

    def search_versions(
        self,
        filter_string: str | None = None,
        *,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> ModelVersionsPage:
        """Versions matching MLflow's version filter (``name``, ``run_id``, ``source_path``,
        ``version_number``, ``tags.<k>``), plus OR and parentheses.

        Raises:
            InvalidInput: a bad filter, order key, token, or ``max_results`` out of range.
        """
        q = select(*VERSION_COLUMNS).join(
            RegisteredModelRow, RegisteredModelRow.model_id == ModelVersionRow.model_id
        )
        where = version_filter(filter_string)
        if where is not None:
            q = q.where(where)
        q = q.order_by(*version_order(order_by))
        with self.store.read() as conn:
            rows, token = fetch_page(conn, q, max_results, MAX_VERSION_RESULTS, page_token)
            return ModelVersionsPage(load_versions(conn, rows), token)

    def get_latest_versions(
        self, name: str, stages: Iterable[str | Stage] | None = None
    ) -> list[ModelVersion]:
        """The newest version in each of ``stages`` (every stage when omitted), as MLflow's
        ``get-latest-versions``; ordered by version."""
        wanted = [Stage.parse(s).value for s in stages] if stages else [s.value for s in Stage]
        with self.store.read() as conn:
            model = model_row(conn, name)
            newest = (
                select(func.max(ModelVersionRow.version))
                .where(ModelVersionRow.model_id == model.model_id)
                .where(ModelVersionRow.current_stage.in_(wanted))
                .group_by(ModelVersionRow.current_stage)
            )
            rows: list[Row[Any]] = list(
                conn.execute(
                    select(*VERSION_COLUMNS)
                    .join(
                        RegisteredModelRow, RegisteredModelRow.model_id == ModelVersionRow.model_id
                    )
                    .where(ModelVersionRow.model_id == model.model_id)
                    .where(ModelVersionRow.version.in_(newest))
                    .order_by(ModelVersionRow.version)
                ).all()
            )
            return load_versions(conn, rows)
