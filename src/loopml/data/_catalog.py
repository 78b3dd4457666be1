"""The dataset catalog: versions' metadata in the store (what the server serves remotely)."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from loopml.data._entities import DatasetVersion, check_dataset_name, parse_ref, version_from_row
from loopml.errors import InvalidInput, NotFound
from loopml.ids import now_ms
from loopml.store import DatasetRow, DatasetVersionRow, Store

__all__ = ["DatasetCatalog"]


class DatasetCatalog:
    """Dataset versions' metadata over one store. Data and reports live in the artifact
    store; a version row is written last, in one transaction, so it is never partial."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def latest_schema(self, name: str) -> str | None:
        """The schema YAML of the dataset's latest version (None for a new dataset)."""
        with self.store.read() as conn:
            row = conn.execute(
                select(DatasetVersionRow.schema_yaml)
                .join(DatasetRow, DatasetRow.dataset_id == DatasetVersionRow.dataset_id)
                .where(DatasetRow.name == name)
                .order_by(DatasetVersionRow.version.desc())
                .limit(1)
            ).first()
        return row.schema_yaml if row is not None and row.schema_yaml else None

    def add_version(self, name: str, values: dict[str, Any]) -> DatasetVersion:
        """Insert the next version of ``name`` (or answer the one with the same content)."""
        check_dataset_name(name)
        digest = values["content_hash"]
        try:
            with self.store.write() as conn:
                dataset_id = _dataset_id(conn, name)
                version = 1 + int(
                    conn.execute(
                        select(func.coalesce(func.max(DatasetVersionRow.version), 0)).where(
                            DatasetVersionRow.dataset_id == dataset_id
                        )
                    ).scalar_one()
                )
                conn.execute(
                    insert(DatasetVersionRow).values(
                        dataset_id=dataset_id, version=version, created=now_ms(), **values
                    )
                )
        except IntegrityError:
            # Registered concurrently: the same content by another writer is this version.
            existing = self.by_hash(name, digest)
            if existing is None:
                raise
            return existing
        return self.version(f"{name}@{version}")

    def _select(self) -> Any:
        return select(*DatasetVersionRow.__table__.c, DatasetRow.name).join(
            DatasetRow, DatasetRow.dataset_id == DatasetVersionRow.dataset_id
        )

    def by_hash(self, name: str, digest: str) -> DatasetVersion | None:
        """The version of ``name`` with this content hash, if any."""
        with self.store.read() as conn:
            row = conn.execute(
                self._select().where(
                    DatasetRow.name == name, DatasetVersionRow.content_hash == digest
                )
            ).first()
        return None if row is None else version_from_row(row)

    def version(self, ref: str) -> DatasetVersion:
        """The version that ``ref`` names: ``name@3``, ``name@latest``, ``name@<hash prefix>``."""
        name, selector = parse_ref(ref)
        q = self._select().where(DatasetRow.name == name)
        if selector == "latest":
            q = q.order_by(DatasetVersionRow.version.desc())
        elif selector.isdigit() and len(selector) < 8:
            q = q.where(DatasetVersionRow.version == int(selector))
        elif all(c in "0123456789abcdef" for c in selector.lower()) and len(selector) >= 4:
            q = q.where(DatasetVersionRow.content_hash.startswith(selector.lower()))
        else:
            raise InvalidInput(
                f"dataset reference {ref!r}: after '@' give a version number, 'latest' or at "
                "least 4 hex digits of the content hash"
            )
        with self.store.read() as conn:
            rows = conn.execute(q.limit(1 if selector == "latest" else 2)).all()
        if not rows:
            raise NotFound(f"dataset {ref!r} does not exist")
        if len(rows) > 1:
            raise InvalidInput(f"dataset reference {ref!r} is ambiguous: give more hash digits")
        return version_from_row(rows[0])

    def versions(self, name: str) -> builtins.list[DatasetVersion]:
        """Every version of ``name``, oldest first."""
        check_dataset_name(name)
        with self.store.read() as conn:
            rows = conn.execute(
                self._select().where(DatasetRow.name == name).order_by(DatasetVersionRow.version)
            ).all()
        if not rows:
            raise NotFound(f"dataset {name!r} does not exist")
        return [version_from_row(r) for r in rows]

    def list(self) -> builtins.list[DatasetVersion]:
        """The latest version of every dataset, by name."""
        latest = (
            select(DatasetVersionRow.dataset_id, func.max(DatasetVersionRow.version).label("v"))
            .group_by(DatasetVersionRow.dataset_id)
            .subquery()
        )
        q = (
            self._select()
            .join(
                latest,
                (latest.c.dataset_id == DatasetVersionRow.dataset_id)
                & (latest.c.v == DatasetVersionRow.version),
            )
            .order_by(DatasetRow.name)
        )
        with self.store.read() as conn:
            return [version_from_row(r) for r in conn.execute(q).all()]


def _dataset_id(conn: Any, name: str) -> int:
    found = conn.execute(select(DatasetRow.dataset_id).where(DatasetRow.name == name)).first()
    if found is not None:
        return int(found.dataset_id)
    result = conn.execute(insert(DatasetRow).values(name=name, description="", created=now_ms()))
    return int(result.inserted_primary_key[0])
