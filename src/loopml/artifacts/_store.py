"""A content-addressed blob store over fsspec: sha256-named, deduplicated, verified on read."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from loopml.errors import ArtifactCorrupted, InvalidInput, NotFound, Unavailable

__all__ = ["ArtifactStore", "Blob"]

_CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Blob:
    """A stored piece of content: its sha256 (hex) and its size in bytes."""

    sha256: str
    size: int


class ArtifactStore:
    """Blobs named by their sha256 under one fsspec root.

    The same bytes are stored once however often they are logged. Every read hashes what it
    reads and refuses bytes that no longer match their name, so a tampered or half-written
    file is an :class:`~loopml.errors.ArtifactCorrupted` error, never a silently wrong model.

    Args:
        url: a local directory or an fsspec URL (``s3://bucket/prefix``).
        storage_options: passed to fsspec (for S3: ``key``, ``secret``, ``client_kwargs``).
    """

    def __init__(self, url: str, *, storage_options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.storage_options = dict(storage_options or {})
        self._fs: fsspec.AbstractFileSystem | None = None
        self._root = ""
        self._known: set[str] = set()

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        """The fsspec filesystem (built on first use)."""
        if self._fs is None:
            fs, root = fsspec.core.url_to_fs(self.url, **self.storage_options)
            self._fs, self._root = fs, root.rstrip("/")
        return self._fs

    @property
    def is_local(self) -> bool:
        """True when blobs live on this machine's file system."""
        return isinstance(self.fs, LocalFileSystem)

    def blob_path(self, sha256: str) -> str:
        """Where the blob named ``sha256`` lives (a path inside the store's filesystem)."""
        if not _SHA256.match(sha256):
            raise InvalidInput(f"{sha256!r} is not a sha256 hex digest")
        _ = self.fs
        return f"{self._root}/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    # -- writing -------------------------------------------------------------------------
    def put_file(self, local_path: str | os.PathLike[str]) -> Blob:
        """Store a local file; returns its blob (already stored content is not copied again)."""
        path = Path(local_path)
        if not path.is_file():
            raise NotFound(f"no file at {path}")
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        blob = Blob(digest.hexdigest(), size)
        if not self.exists(blob.sha256):
            with path.open("rb") as fh:
                self._write(blob.sha256, fh)
        return blob

    def put_bytes(self, data: bytes) -> Blob:
        """Store ``data``; returns its blob."""
        blob = Blob(hashlib.sha256(data).hexdigest(), len(data))
        if not self.exists(blob.sha256):
            import io

            self._write(blob.sha256, io.BytesIO(data))
        return blob

    def _write(self, sha256: str, source: IO[bytes]) -> None:
        self._known.discard(sha256)
        target = self.blob_path(sha256)
        try:
            if self.is_local:
                _write_local_atomic(Path(target), source)
            else:
                # An object-store PUT is atomic: readers see the whole object or none.
                with self.fs.open(target, "wb") as out:
                    while chunk := source.read(_CHUNK):
                        out.write(chunk)
        except OSError as exc:
            raise Unavailable(f"could not write artifact blob {sha256[:12]}: {exc}") from exc
        self._remember(sha256)

    # -- reading -------------------------------------------------------------------------
    def exists(self, sha256: str) -> bool:
        """True when the blob is stored."""
        if sha256 in self._known:
            return True
        try:
            found = bool(self.fs.exists(self.blob_path(sha256)))
        except OSError as exc:
            raise Unavailable(f"artifact store unreachable: {exc}") from exc
        if found:
            self._remember(sha256)
        return found

    def _remember(self, sha256: str) -> None:
        # Blobs are immutable and only deleted through delete(): what this process has seen
        # stored need not be asked for again (a run's environment files, logged per run).
        if len(self._known) > 100_000:
            self._known.clear()
        self._known.add(sha256)

    def get_bytes(self, sha256: str) -> bytes:
        """The blob's content, verified against its sha256."""
        try:
            with self.fs.open(self.blob_path(sha256), "rb") as fh:
                data = fh.read()
        except FileNotFoundError as exc:
            raise NotFound(f"artifact blob {sha256} is missing from {self.url}") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise _corrupted(sha256, self.url)
        return data

    def download(self, sha256: str, dest: str | os.PathLike[str]) -> Path:
        """Copy the blob to ``dest``, verified; a corrupt blob leaves nothing at ``dest``."""
        dest_path = Path(dest)
        dest_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest_path.with_name(f".{dest_path.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.sha256()
        try:
            with self.fs.open(self.blob_path(sha256), "rb") as src, tmp.open("wb") as out:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        except FileNotFoundError as exc:
            tmp.unlink(missing_ok=True)
            raise NotFound(f"artifact blob {sha256} is missing from {self.url}") from exc
        if digest.hexdigest() != sha256:
            tmp.unlink(missing_ok=True)
            raise _corrupted(sha256, self.url)
        os.replace(tmp, dest_path)
        return dest_path

    def verify(self, sha256: str) -> bool:
        """True when the stored bytes still hash to ``sha256``."""
        try:
            self.get_bytes(sha256)
        except ArtifactCorrupted:
            return False
        return True

    def delete(self, sha256: str) -> None:
        """Remove a blob (callers make sure no artifact row points at it any more)."""
        path = self.blob_path(sha256)
        self._known.discard(sha256)
        if self.fs.exists(path):
            self.fs.rm(path)


def _corrupted(sha256: str, url: str) -> ArtifactCorrupted:
    return ArtifactCorrupted(
        f"artifact blob {sha256[:12]}… in {url} does not match its sha256: it was modified or "
        "damaged after it was stored; refusing to use it. Re-log the artifact to repair it.",
        details={"sha256": sha256},
    )


def _write_local_atomic(target: Path, source: IO[bytes]) -> None:
    # temp -> fsync -> rename -> fsync dir: a crash leaves either the whole blob or none.
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as out:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
