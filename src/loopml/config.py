"""Typed settings, every one a ``LOOPML_*`` environment variable, read when asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """loopml's settings. Construct one (or call :func:`load_settings`) when an app or client
    starts and pass it down; nothing reads the environment at import time.

    Attributes:
        home: where the embedded store lives (``LOOPML_HOME``, default ``./.loopml``).
        db_url: SQLAlchemy URL of the metadata store (``LOOPML_DB_URL``); default
            ``sqlite:///<home>/loopml.db``. PostgreSQL: ``postgresql+psycopg://user@host/db``.
        artifacts: fsspec URL or directory of the artifact store (``LOOPML_ARTIFACTS``);
            default ``<home>/artifacts``. S3: ``s3://bucket/prefix``.
        tracking_uri: ``http(s)://host:port`` of a ``loopml server`` to talk to
            (``LOOPML_TRACKING_URI``); unset means embedded (direct to the store).
        async_logging: ``log_metric`` enqueues and returns; a background writer makes the
            points durable (``LOOPML_ASYNC_LOGGING``, default true).
        flush_interval: seconds the background writer waits for more points before it writes.
        sqlite_synchronous: ``FULL`` (default: an acknowledged write survives power loss) or
            ``NORMAL`` (faster; survives a crashed process but not a crashed machine).
        s3_endpoint_url: endpoint of an S3-compatible store (``LOOPML_S3_ENDPOINT_URL``).
        capture_environment: record git state, packages, command line on each run.
        max_upload_mb: the largest artifact one request may upload to the server (413 above).
        serve_targets: the model URIs or directories ``loopml serve`` loads
            (``LOOPML_SERVE_TARGETS``, a JSON list), e.g. ``["models:/fraud@production"]``.
        serve_allow_pickle: let ``loopml serve`` load pickled (pyfunc) weights.
        serve_backend: ``auto`` (default: a scikit-learn model's checked ONNX export, run
            by onnxruntime, when the model has one: far less time per call; else the
            flavor's own library), ``native`` or ``onnx``.
        serve_batching: coalesce concurrent requests to a model into one predict call.
        serve_max_batch_size: the most rows one coalesced predict call takes.
        serve_max_wait_ms: the longest a request waits for companions while the model is busy
            (only with ``serve_threads`` > 1; an idle model always answers at once).
        serve_threads: predict threads per model.
        serve_max_body_mb: the largest request body (413 above).
        serve_max_rows: the most rows one request may hold (413 above).
        serve_poll_s: seconds between the serving watcher's polls of the store (stored
            endpoints' generations, aliases and stages): how soon a hot swap starts.
        serve_log: record predictions (and accept ``POST /feedback``) under the artifact
            store's ``logs/``.
        serve_log_sample: the share of requests recorded, for targets given directly (a
            stored endpoint says its own).
        serve_log_flush_s: seconds between writes of the logs' buffered rows.
        serve_log_max_rows: the most log rows buffered; more are dropped and counted.
        serve_shadow_queue: shadow calls waiting at most; more are dropped and counted.
        monitors_schedule: ``loopml server`` runs due monitors in a background thread
            (``LOOPML_MONITORS_SCHEDULE``, default true; every replica may: a due monitor is
            claimed by exactly one).
        monitors_poll_s: seconds between the monitor scheduler's looks at the store.
        monitors_retrain_handler: ``module:function`` that ``loopml server`` hands monitors'
            retrain triggers to (empty: none; a handler installed with
            ``set_retrain_handler`` wins).
    """

    model_config = SettingsConfigDict(env_prefix="LOOPML_", extra="ignore")

    home: Path = Field(default=Path(".loopml"))
    db_url: str | None = None
    artifacts: str | None = None
    tracking_uri: str | None = None
    async_logging: bool = True
    flush_interval: float = Field(default=0.1, gt=0, le=60)
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    s3_endpoint_url: str | None = None
    capture_environment: bool = True
    max_upload_mb: int = Field(default=2048, ge=1)
    serve_targets: list[str] = Field(default_factory=list)
    serve_allow_pickle: bool = False
    serve_backend: Literal["native", "onnx", "auto"] = "auto"
    serve_batching: bool = True
    serve_max_batch_size: int = Field(default=256, ge=1)
    serve_max_wait_ms: float = Field(default=2.0, ge=0, le=10_000)
    serve_threads: int = Field(default=1, ge=1, le=64)
    serve_max_body_mb: float = Field(default=32.0, gt=0)
    serve_max_rows: int = Field(default=100_000, ge=1)
    serve_poll_s: float = Field(default=2.0, gt=0, le=3600)
    serve_log: bool = True
    serve_log_sample: float = Field(default=1.0, ge=0, le=1)
    serve_log_flush_s: float = Field(default=2.0, gt=0, le=3600)
    serve_log_max_rows: int = Field(default=200_000, ge=1)
    serve_shadow_queue: int = Field(default=1000, ge=1)
    monitors_schedule: bool = True
    monitors_poll_s: float = Field(default=15.0, gt=0, le=3600)
    monitors_retrain_handler: str = "loopml.client:pipeline_retrain_handler"

    def resolved_db_url(self) -> str:
        """The metadata store URL, defaulting to SQLite under ``home``."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.home / 'loopml.db').resolve()}"

    def resolved_artifacts(self) -> str:
        """The artifact store location, defaulting to ``<home>/artifacts``."""
        if self.artifacts:
            return self.artifacts
        return str((self.home / "artifacts").resolve())

    @property
    def is_remote(self) -> bool:
        """True when a tracking server, not the local store, is the target."""
        return bool(self.tracking_uri) and str(self.tracking_uri).startswith(
            ("http://", "https://")
        )


def load_settings(**overrides: object) -> Settings:
    """Read the environment now, with explicit ``overrides`` winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
