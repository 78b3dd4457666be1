"""logged models: MLflow 3's models apart from runs, their params, tags, metrics, artifacts
and the runs that produced or used them

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 18:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _model_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["model_id"], ["logged_models.model_id"], ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "logged_models",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("experiment_id", _BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("model_type", sa.String(length=500), nullable=False),
        sa.Column("source_run_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=False),
        sa.Column("artifact_location", sa.Text(), nullable=False),
        sa.Column("lifecycle_stage", sa.String(length=32), nullable=False),
        sa.Column("creation_timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_timestamp_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
        sa.PrimaryKeyConstraint("model_id"),
    )
    op.create_index(
        "ix_logged_models_experiment_created",
        "logged_models",
        ["experiment_id", "creation_timestamp_ms"],
    )
    op.create_index("ix_logged_models_source_run", "logged_models", ["source_run_id"])
    for table in ("logged_model_params", "logged_model_tags"):
        op.create_table(
            table,
            sa.Column("model_id", sa.String(length=64), nullable=False),
            sa.Column("key", sa.String(length=250), nullable=False),
            sa.Column("value", sa.Text(), nullable=False),
            _model_fk(),
            sa.PrimaryKeyConstraint("model_id", "key"),
            sqlite_with_rowid=False,
        )
    op.create_table(
        "logged_model_metrics",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("is_nan", sa.Boolean(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("dataset_name", sa.String(length=500), nullable=False),
        sa.Column("dataset_digest", sa.String(length=64), nullable=False),
        _model_fk(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_logged_model_metrics_model_key", "logged_model_metrics", ["model_id", "key"]
    )
    op.create_table(
        "logged_model_artifacts",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        _model_fk(),
        sa.PrimaryKeyConstraint("model_id", "path"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "run_model_links",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], ondelete="CASCADE"),
        _model_fk(),
        sa.PrimaryKeyConstraint("run_id", "model_id", "direction"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for table in (
        "run_model_links",
        "logged_model_artifacts",
        "logged_model_metrics",
        "logged_model_tags",
        "logged_model_params",
        "logged_models",
    ):
        op.drop_table(table)
