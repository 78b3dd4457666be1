"""SQLAlchemy models of the metadata store: one table per concept, MLflow's field names."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "DatasetRow",
    "DatasetVersionRow",
    "ExperimentRow",
    "ExperimentTagRow",
    "LatestMetricRow",
    "LoggedModelArtifactRow",
    "LoggedModelMetricRow",
    "LoggedModelParamRow",
    "LoggedModelRow",
    "LoggedModelTagRow",
    "MetricChunkRow",
    "ModelAliasRow",
    "ModelVersionRow",
    "ModelVersionTagRow",
    "ParamRow",
    "PipelineCacheRow",
    "RegisteredModelRow",
    "RegisteredModelTagRow",
    "RegistryAuditRow",
    "RunArtifactRow",
    "RunInputRow",
    "RunModelLinkRow",
    "RunRow",
    "TagRow",
]

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for big tables.
_BigId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    """Declarative base holding the metadata that Alembic migrates."""


class ExperimentRow(Base):
    __tablename__ = "experiments"

    experiment_id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(500), unique=True)
    artifact_location: Mapped[str] = mapped_column(Text, default="")
    lifecycle_stage: Mapped[str] = mapped_column(String(32), default="active")
    creation_time: Mapped[int] = mapped_column(BigInteger)
    last_update_time: Mapped[int] = mapped_column(BigInteger)


# Key-value tables are stored WITHOUT ROWID on SQLite: the primary key is the table, so
# each write touches one B-tree instead of two (fewer pages to fsync per commit).
_NO_ROWID = {"sqlite_with_rowid": False}


class ExperimentTagRow(Base):
    __tablename__ = "experiment_tags"
    __table_args__ = _NO_ROWID

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunRow(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.experiment_id"))
    run_name: Mapped[str] = mapped_column(String(250), default="")
    user_id: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[str] = mapped_column(String(20))
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    lifecycle_stage: Mapped[str] = mapped_column(String(32), default="active")
    artifact_uri: Mapped[str] = mapped_column(Text, default="")
    parent_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # A snapshot of the run's params, tags and latest metrics as JSON, kept in step with
    # their tables by every write: reading 1,000 runs is then 1,000 rows, not 30,000.
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    tags_json: Mapped[str] = mapped_column(Text, default="{}")
    metrics_json: Mapped[str] = mapped_column(Text, default="{}")

    __table_args__ = (
        Index("ix_runs_experiment_start", "experiment_id", "start_time"),
        Index("ix_runs_parent", "parent_run_id"),
    )


class ParamRow(Base):
    __tablename__ = "params"
    __table_args__ = _NO_ROWID

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class TagRow(Base):
    __tablename__ = "tags"
    __table_args__ = _NO_ROWID

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MetricChunkRow(Base):
    """Logged points of one metric of one run, stored as a columnar chunk.

    ``data`` holds three little-endian arrays back to back: int64 steps, int64 timestamps
    (ms) and float64 values (NaN and ±inf kept as they are). One chunk per key per write
    batch: 100,000 points cost one row instead of 100,000 rows and their index entries,
    which is what makes logging durable at memory speed and keeps the table small.
    """

    __tablename__ = "metric_chunks"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(250))
    count: Mapped[int] = mapped_column(Integer)
    step_min: Mapped[int] = mapped_column(BigInteger)
    step_max: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_metric_chunks_run_key", "run_id", "key"),)


class LatestMetricRow(Base):
    """The latest point per (run, key): highest step, then latest timestamp. Search reads this."""

    __tablename__ = "latest_metrics"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[float] = mapped_column(Double)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int] = mapped_column(BigInteger, default=0)
    timestamp: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = _NO_ROWID


class RunArtifactRow(Base):
    """A run's artifact path pointing at a content-addressed blob (sha256) in the store."""

    __tablename__ = "run_artifacts"
    __table_args__ = _NO_ROWID

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1000), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created: Mapped[int] = mapped_column(BigInteger)


class RunInputRow(Base):
    """A dataset a run used (MLflow's ``log-inputs``): what it is, where from, its digest."""

    __tablename__ = "run_inputs"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(500))
    digest: Mapped[str] = mapped_column(String(64))
    context: Mapped[str] = mapped_column(String(250), default="")
    source_type: Mapped[str] = mapped_column(String(250), default="")
    source: Mapped[str] = mapped_column(Text, default="")
    schema: Mapped[str] = mapped_column(Text, default="")
    profile: Mapped[str] = mapped_column(Text, default="")
    tags_json: Mapped[str] = mapped_column(Text, default="{}")
    created: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("run_id", "name", "digest", "context", name="uq_run_inputs"),
    )


class LoggedModelRow(Base):
    """An MLflow 3 logged model: a model's own record, apart from the run that made it."""

    __tablename__ = "logged_models"

    model_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.experiment_id"))
    name: Mapped[str] = mapped_column(String(500))
    model_type: Mapped[str] = mapped_column(String(500), default="")
    source_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    status_message: Mapped[str] = mapped_column(Text, default="")
    artifact_location: Mapped[str] = mapped_column(Text)
    lifecycle_stage: Mapped[str] = mapped_column(String(32), default="active")
    creation_timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    last_updated_timestamp_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_logged_models_experiment_created", "experiment_id", "creation_timestamp_ms"),
        Index("ix_logged_models_source_run", "source_run_id"),
    )


class LoggedModelParamRow(Base):
    """A logged model's parameter (immutable once set, as a run's)."""

    __tablename__ = "logged_model_params"
    __table_args__ = _NO_ROWID

    model_id: Mapped[str] = mapped_column(
        ForeignKey("logged_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LoggedModelTagRow(Base):
    """A logged model's tag."""

    __tablename__ = "logged_model_tags"
    __table_args__ = _NO_ROWID

    model_id: Mapped[str] = mapped_column(
        ForeignKey("logged_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LoggedModelMetricRow(Base):
    """A metric point logged against a model (MLflow's ``Metric.model_id``)."""

    __tablename__ = "logged_model_metrics"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("logged_models.model_id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(250))
    value: Mapped[float] = mapped_column(Double)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int] = mapped_column(BigInteger, default=0)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dataset_name: Mapped[str] = mapped_column(String(500), default="")
    dataset_digest: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (Index("ix_logged_model_metrics_model_key", "model_id", "key"),)


class LoggedModelArtifactRow(Base):
    """A logged model's artifact path pointing at a content-addressed blob (sha256)."""

    __tablename__ = "logged_model_artifacts"
    __table_args__ = _NO_ROWID

    model_id: Mapped[str] = mapped_column(
        ForeignKey("logged_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1000), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created: Mapped[int] = mapped_column(BigInteger)


class RunModelLinkRow(Base):
    """A run's link to a logged model: an output it produced or an input it used."""

    __tablename__ = "run_model_links"
    __table_args__ = _NO_ROWID

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    model_id: Mapped[str] = mapped_column(
        ForeignKey("logged_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    direction: Mapped[str] = mapped_column(String(8), primary_key=True)  # "output" / "input"
    step: Mapped[int] = mapped_column(BigInteger, default=0)
    created: Mapped[int] = mapped_column(BigInteger)


class DatasetRow(Base):
    """A named dataset; its versions are content-addressed snapshots."""

    __tablename__ = "datasets"

    dataset_id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[int] = mapped_column(BigInteger)


class DatasetVersionRow(Base):
    """One version of a dataset: a Parquet blob named by the hash of its content."""

    __tablename__ = "dataset_versions"

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.dataset_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    blob_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    num_rows: Mapped[int] = mapped_column(BigInteger)
    num_columns: Mapped[int] = mapped_column(Integer)
    schema_yaml: Mapped[str] = mapped_column(Text, default="")
    profile_json: Mapped[str] = mapped_column(Text, default="{}")
    validation_json: Mapped[str] = mapped_column(Text, default="{}")
    source_json: Mapped[str] = mapped_column(Text, default="{}")
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    step: Mapped[str | None] = mapped_column(String(256), nullable=True)
    quarantine_ref: Mapped[str | None] = mapped_column(String(300), nullable=True)
    quarantine_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    created: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("dataset_id", "content_hash", name="uq_dataset_versions_hash"),
        Index("ix_dataset_versions_hash", "content_hash"),
    )


class PipelineCacheRow(Base):
    """One entry of the pipeline step cache: a cache key and the outputs it produced.

    Many entries per step (one per key, as DVC's run cache), so changing a param back
    finds the earlier outputs again. ``last_used`` (ms) is when a run last stored or reused
    the entry: what ``loopml pipeline gc`` expires entries by.
    """

    __tablename__ = "pipeline_cache"
    __table_args__ = _NO_ROWID

    cache_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[str] = mapped_column(String(256))
    manifest_json: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created: Mapped[int] = mapped_column(BigInteger)
    last_used: Mapped[int] = mapped_column(BigInteger, server_default="0")


class RegisteredModelRow(Base):
    """A registered model. A surrogate id keeps renames to one row (versions point at it);
    ``last_version`` is the counter new version numbers are taken from, under the row lock,
    so numbers are never handed out twice nor reused after a delete."""

    __tablename__ = "registered_models"
    # AUTOINCREMENT: SQLite would otherwise hand a deleted model's id to the next model,
    # and the audit log (which follows models by id) would mix the two histories.
    __table_args__ = {"sqlite_autoincrement": True}

    model_id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[str] = mapped_column(String(256), default="")
    creation_timestamp: Mapped[int] = mapped_column(BigInteger)
    last_updated_timestamp: Mapped[int] = mapped_column(BigInteger)
    last_version: Mapped[int] = mapped_column(Integer, default=0)


class RegisteredModelTagRow(Base):
    """A registered model's tag."""

    __tablename__ = "registered_model_tags"
    __table_args__ = _NO_ROWID

    model_id: Mapped[int] = mapped_column(
        _BigId, ForeignKey("registered_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ModelVersionRow(Base):
    """A numbered, immutable pointer at a run's (or logged model's) model artifact."""

    __tablename__ = "model_versions"

    model_id: Mapped[int] = mapped_column(
        _BigId, ForeignKey("registered_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(256), default="")
    creation_timestamp: Mapped[int] = mapped_column(BigInteger)
    last_updated_timestamp: Mapped[int] = mapped_column(BigInteger)
    current_stage: Mapped[str] = mapped_column(String(20), default="None")
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(32), default="READY")
    signature: Mapped[str] = mapped_column(Text, default="")
    metrics_json: Mapped[str] = mapped_column(Text, default="{}")
    datasets_json: Mapped[str] = mapped_column(Text, default="[]")

    __table_args__ = (Index("ix_model_versions_run_id", "run_id"),)


class ModelVersionTagRow(Base):
    """A model version's tag."""

    __tablename__ = "model_version_tags"

    model_id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            ondelete="CASCADE",
        ),
        {"sqlite_with_rowid": False},
    )


class ModelAliasRow(Base):
    """``name@alias`` → version; the primary key makes an alias unique per model."""

    __tablename__ = "model_aliases"

    model_id: Mapped[int] = mapped_column(
        _BigId, ForeignKey("registered_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            ondelete="CASCADE",
        ),
        {"sqlite_with_rowid": False},
    )


class RegistryAuditRow(Base):
    """One registry change, append-only: no code path updates or deletes these rows.

    No foreign keys on purpose: the history of a deleted model must outlive the model.
    ``model_id`` follows a model across renames; ``name`` is its name at the time.
    """

    __tablename__ = "registry_audit"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    name: Mapped[str] = mapped_column(String(256))
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    alias: Mapped[str | None] = mapped_column(String(255), nullable=True)
    from_json: Mapped[str] = mapped_column(Text, default="null")
    to_json: Mapped[str] = mapped_column(Text, default="null")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_registry_audit_name", "name"),
        Index("ix_registry_audit_model_id", "model_id"),
    )
