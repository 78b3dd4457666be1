"""The tracking service over HTTP: what ``LOOPML_TRACKING_URI=http://host:port`` selects.

``RemoteService`` has the embedded ``TrackingService``'s shape (``experiments``, ``runs``,
``inputs``, ``artifacts``, ``blobs``) and forwards each call to ``loopml server``'s own API,
so everything above it (``Client``, the fluent API, the CLI, the background writer and its
batching) works unchanged against a server.

Retries: a request that could not be sent (connection refused or reset before sending) is
:class:`~loopml.errors.Unavailable`, which the writer retries; a request sent without an
answer is not retried, since it may have taken effect.
"""

from __future__ import annotations

import builtins
import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import httpx

from loopml.artifacts import Blob, normalize_artifact_path
from loopml.config import Settings
from loopml.data import DatasetCatalog
from loopml.errors import LoopMLError, NotFound, Unavailable, error_from_code
from loopml.tracking import ArtifactInfo
from loopml.tracking._codec import NATIVE_API, decode, encode
from loopml.tracking._experiments import Experiments
from loopml.tracking._inputs import RunInputs
from loopml.tracking._logged_models import LoggedModels
from loopml.tracking._runs import Runs

__all__ = ["RemoteService"]

_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


class RemoteService:
    """The tracking service of a ``loopml server`` (see the module docstring).

    Args:
        settings: ``tracking_uri`` names the server.
    """

    def __init__(self, settings: Settings) -> None:
        self.url = str(settings.tracking_uri).rstrip("/")
        self._http = self._connect()
        # Close the pool with the service, whoever forgets to call close().
        self._pools = [self._http]
        weakref.finalize(self, _close_all, self._pools)
        ref = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (m := ref()) and m())
        # Typed as the embedded classes: the server runs exactly those methods.
        self.experiments = cast(Experiments, _Area(self, "experiments"))
        self.runs = cast(Runs, _Area(self, "runs"))
        self.inputs = cast(RunInputs, _Area(self, "inputs"))
        self.logged_models = cast(LoggedModels, _Area(self, "logged_models"))
        self.datasets = cast(DatasetCatalog, _Area(self, "datasets"))
        self.artifacts = RemoteArtifacts(self)
        self.model_artifacts = RemoteModelArtifacts(self)
        self.blobs = RemoteBlobs(self)

    def _connect(self) -> httpx.Client:
        return httpx.Client(base_url=self.url + NATIVE_API, timeout=_TIMEOUT)

    def _after_fork(self) -> None:
        # A child must not share the parent's sockets.
        self._http = self._connect()
        self._pools.append(self._http)

    def close(self) -> None:
        """Close the connection pool."""
        _close_all(self._pools)

    # -- transport -----------------------------------------------------------------------
    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; errors come back as the server raised them (same class, message)."""
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unavailable(
                f"cannot reach the loopml server at {self.url} ({exc}); is `loopml server` "
                "running there? (LOOPML_TRACKING_URI)"
            ) from None
        except httpx.TransportError as exc:
            raise LoopMLError(
                f"the loopml server at {self.url} did not answer {method} {path} ({exc!r}); "
                "the call may or may not have taken effect"
            ) from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def call(self, area: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``service.<area>.<method>(*args, **kwargs)`` on the server."""
        body = {"args": encode(list(args)), "kwargs": encode(kwargs)}
        response = self.send("POST", f"/call/{area}/{method}", json=body)
        return decode(response.json()["result"])


def _close_all(pools: list[httpx.Client]) -> None:
    for pool in pools:
        pool.close()
    pools.clear()


def _error(response: httpx.Response) -> LoopMLError:
    try:
        error = response.json()["error"]
        return error_from_code(error["code"], error["message"], error.get("details") or {})
    except (ValueError, KeyError, TypeError):
        if response.status_code in (502, 503, 504):
            return Unavailable(f"the loopml server answered {response.status_code}; retry later")
        return LoopMLError(
            f"unexpected answer {response.status_code} from {response.url}: "
            f"{response.text[:300]!r} (is LOOPML_TRACKING_URI a loopml server?)"
        )


class _Area:
    """``service.runs`` and its kind: every attribute is a method run on the server."""

    def __init__(self, remote: RemoteService, area: str) -> None:
        self._remote = remote
        self._area = area

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._remote.call(self._area, method, args, kwargs)

        call.__name__ = method
        return call


def _url_path(path: str) -> str:
    return quote(normalize_artifact_path(path), safe="/")


class _RemoteFiles:
    """Reading the files of an owner (a run, a logged model) on a server."""

    _area = "artifacts"  # the native API area that lists them
    _route = "runs"  # and the byte route: /<route>/<owner>/artifacts/<path>
    _kind = "run"

    def __init__(self, remote: RemoteService) -> None:
        self._remote = remote

    def list(self, owner: str, path: str = "") -> builtins.list[ArtifactInfo]:
        """The files and directories directly under ``path`` (``""`` is the root)."""
        found = self._remote.call(self._area, "list", (owner, path), {})
        return cast(builtins.list[ArtifactInfo], found)

    def read_bytes(self, owner: str, path: str) -> bytes:
        """The content of one artifact file (the server verified it against its sha256)."""
        url = f"/{self._route}/{quote(owner, safe='')}/artifacts/{_url_path(path)}"
        return self._remote.send("GET", url).content

    def _files(self, owner: str, base: str) -> builtins.list[str]:
        files: builtins.list[str] = []
        for entry in self.list(owner, base):
            files.extend(self._files(owner, entry.path) if entry.is_dir else [entry.path])
        return files

    def download(
        self, owner: str, path: str = "", dst: str | os.PathLike[str] | None = None
    ) -> Path:
        """Copy an artifact file, or a directory recursively, to ``dst``; returns the local path."""
        import tempfile

        base = normalize_artifact_path(path, allow_empty=True)
        files = self._files(owner, base)
        if not files and base:
            # Not a directory: maybe a file (listing a file answers nothing).
            parent = base.rpartition("/")[0]
            files = [e.path for e in self.list(owner, parent) if e.path == base and not e.is_dir]
        if not files:
            raise NotFound(f"{self._kind} {owner} has no artifact {base!r}")
        dst_root = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="loopml-"))
        top = dst_root / Path(base).name if base else dst_root
        for file in files:
            rel = file[len(base) :].lstrip("/") if base else file
            target = top / rel if rel else top
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.read_bytes(owner, file))
        return top


class RemoteModelArtifacts(_RemoteFiles):
    """The files of logged models on a server (read-only: MLflow's client writes them)."""

    _area = "model_artifacts"
    _route = "models"
    _kind = "logged model"


class RemoteArtifacts(_RemoteFiles):
    """Run artifacts on a server: bytes stream as request bodies, never through JSON."""

    def _put(self, run_id: str, target: str, content: Any) -> ArtifactInfo:
        response = self._remote.send(
            "PUT",
            f"/runs/{quote(run_id, safe='')}/artifacts/{_url_path(target)}",
            params={"allow_ended": "false"},
            content=content,
        )
        return cast(ArtifactInfo, decode(response.json()["result"]))

    def log_file(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> ArtifactInfo:
        """Upload a file as ``<artifact_path>/<file name>`` among the run's artifacts."""
        path = Path(local_path)
        if not path.is_file():
            raise NotFound(f"no file at {path} to log as an artifact")
        base = normalize_artifact_path(artifact_path or "", allow_empty=True)
        with path.open("rb") as f:
            return self._put(run_id, f"{base}/{path.name}" if base else path.name, f)

    def log_dir(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> builtins.list[ArtifactInfo]:
        """Upload every file under ``local_dir``, keeping the tree, under ``artifact_path``."""
        root = Path(local_dir)
        if not root.is_dir():
            raise NotFound(f"no directory at {root} to log as artifacts")
        base = normalize_artifact_path(artifact_path or "", allow_empty=True)
        out = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = file.relative_to(root).as_posix()
            with file.open("rb") as f:
                out.append(self._put(run_id, f"{base}/{rel}" if base else rel, f))
        return out

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> ArtifactInfo:
        """Store ``data`` at the artifact path ``artifact_file``."""
        return self._put(run_id, artifact_file, data)

    def delete(self, run_id: str, path: str, *, allow_ended: bool = False) -> int:
        """Forget an artifact file or directory; returns how many files were removed."""
        kwargs = {"allow_ended": allow_ended}
        return cast(int, self._remote.call("artifacts", "delete", (run_id, path), kwargs))


class RemoteBlobs:
    """Content-addressed uploads (the files a new run is created with)."""

    def __init__(self, remote: RemoteService) -> None:
        self._remote = remote

    def put_bytes(self, data: bytes) -> Blob:
        """Store ``data``; returns its Blob (sha256, size)."""
        return cast(Blob, decode(self._remote.send("PUT", "/blobs", content=data).json()["result"]))

    def get_bytes(self, sha256: str) -> bytes:
        """A blob's content (the server verified it against its sha256)."""
        return self._remote.send("GET", f"/blobs/{quote(sha256, safe='')}").content

    def put_file(self, local_path: str | os.PathLike[str]) -> Blob:
        """Store a local file's content; returns its Blob."""
        with Path(local_path).open("rb") as f:
            response = self._remote.send("PUT", "/blobs", content=f)
        return cast(Blob, decode(response.json()["result"]))
