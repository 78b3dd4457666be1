"""Step cache keys, and the cache index (key -> output manifest) in the metadata store."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from loopml.artifacts import ArtifactStore
from loopml.errors import InvalidInput
from loopml.store import PipelineCacheRow, Store, insert_ignore
from loopml.tracking._codec import register_type

__all__ = ["CacheIndex", "OutputManifest", "cache_key", "canonical_json"]

# Bump when the key's recipe changes, so that old entries stop matching instead of lying.
_KEY_VERSION = "loopml.pipeline.v1"


def canonical_json(value: Any, *, what: str) -> str:
    """``value`` as canonical JSON (sorted keys, no spaces).

    Raises:
        InvalidInput: ``value`` is not JSON-able; a key must never be built from a partial
            or lossy representation.
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"{what} must be JSON-able to be part of the cache key: {exc}",
            details={"type": type(value).__name__},
        ) from None


def cache_key(
    *, step: str, fingerprint: str, params: Mapping[str, Any], inputs: Mapping[str, str]
) -> str:
    """sha256 of the step name, its code fingerprint, its params and its inputs' hashes.

    Args:
        step: the step's name.
        fingerprint: :meth:`Step.fingerprint`.
        params: the param values the step takes (only those).
        inputs: input name -> content hash of the upstream output.
    """
    for name, value in params.items():
        canonical_json(value, what=f"param {name!r} of step {step!r}")  # names the culprit
    body = {
        "version": _KEY_VERSION,
        "step": step,
        "code": fingerprint,
        "params": dict(params),
        "inputs": dict(inputs),
    }
    return hashlib.sha256(canonical_json(body, what="cache key").encode()).hexdigest()


@register_type  # it crosses the wire to a remote cache index
@dataclass(frozen=True, slots=True)
class OutputManifest:
    """Where a step's output is stored and what it is.

    Attributes:
        kind: the serialisation (see :func:`loopml.pipeline._outputs.encode_output`).
        blob: sha256 of the stored bytes in the artifact store.
        content_hash: sha256 of the canonical content (what downstream keys use).
        size: bytes stored.
    """

    kind: str
    blob: str
    content_hash: str
    size: int

    def to_json(self) -> str:
        """The manifest as the JSON kept in the cache index."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OutputManifest:
        """Read a manifest written by :meth:`to_json`."""
        return cls(**json.loads(text))


class CacheIndex:
    """Cache key -> output manifest, kept in the metadata store, its blobs in the artifact store.

    An entry is only a hit when its blob is still in the artifact store: a garbage-collected
    or lost blob makes the step run again instead of failing the pipeline.
    """

    def __init__(self, store: Store, blobs: ArtifactStore) -> None:
        self.store = store
        self.blobs = blobs

    def get(self, key: str) -> OutputManifest | None:
        """The manifest stored under ``key``, if any and if its blob still exists."""
        with self.store.read() as conn:
            text = conn.execute(
                select(PipelineCacheRow.manifest_json).where(PipelineCacheRow.cache_key == key)
            ).scalar()
        if text is None:
            return None
        manifest = OutputManifest.from_json(text)
        return manifest if self.blobs.exists(manifest.blob) else None

    def put(self, key: str, *, step: str, manifest: OutputManifest, run_id: str | None) -> None:
        """Record ``key`` -> ``manifest`` (an existing entry for the key is kept: same key,
        same inputs, and a deterministic step gives the same output)."""
        now = int(time.time() * 1000)
        row = {
            "cache_key": key,
            "step": step,
            "manifest_json": manifest.to_json(),
            "run_id": run_id,
            "created": now,
            "last_used": now,
        }
        with self.store.write() as conn:
            existing = conn.execute(
                select(PipelineCacheRow.manifest_json).where(PipelineCacheRow.cache_key == key)
            ).scalar()
            if existing is not None and existing != row["manifest_json"]:
                # The old entry points at a lost blob (or the step is not deterministic):
                # the fresh output wins.
                conn.execute(
                    update(PipelineCacheRow)
                    .where(PipelineCacheRow.cache_key == key)
                    .values(manifest_json=row["manifest_json"], run_id=run_id, last_used=now)
                )
            elif existing is not None:
                self._mark_used(conn, [key], now)
            else:
                insert_ignore(conn, PipelineCacheRow, [row])

    def touch(self, keys: Iterable[str]) -> None:
        """Mark the entries of ``keys`` as used now (what cache expiry goes by).

        A run calls this once at its end for all its cache hits: one write, not one per hit.
        """
        keys = sorted(set(keys))
        if keys:
            with self.store.write() as conn:
                self._mark_used(conn, keys, int(time.time() * 1000))

    @staticmethod
    def _mark_used(conn: Connection, keys: list[str], now: int) -> None:
        for i in range(0, len(keys), 500):  # bounded IN lists
            conn.execute(
                update(PipelineCacheRow)
                .where(PipelineCacheRow.cache_key.in_(keys[i : i + 500]))
                .values(last_used=now)
            )
