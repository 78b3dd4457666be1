"""monitors, their runs and the alerts they raised

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("endpoint", sa.String(length=256), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("next_run_at", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=True),
        sa.Column("state_json", sa.Text(), nullable=False),
        sa.Column("baseline_start", sa.BigInteger(), nullable=True),
        sa.Column("baseline_end", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_monitors_endpoint", "monitors", ["endpoint"])
    op.create_index("ix_monitors_next_run_at", "monitors", ["next_run_at"])
    op.create_table(
        "monitor_runs",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("monitor", sa.String(length=256), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("finished", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("labelled", sa.Integer(), nullable=False),
        sa.Column("checks_json", sa.Text(), nullable=False),
        sa.Column("figures_json", sa.Text(), nullable=False),
        sa.Column("report_sha256", sa.String(length=64), nullable=True),
        sa.Column("json_sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["monitor"], ["monitors.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_monitor_runs_monitor_window", "monitor_runs", ["monitor", "window_end"])
    op.create_table(
        "alert_events",
        sa.Column("alert_id", sa.String(length=32), nullable=False),
        sa.Column("monitor", sa.String(length=256), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("figures_json", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("deliveries_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["monitor"], ["monitors.name"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["monitor_runs.run_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alert_id"),
    )
    op.create_index("ix_alert_events_monitor_timestamp", "alert_events", ["monitor", "timestamp"])


def downgrade() -> None:
    op.drop_index("ix_alert_events_monitor_timestamp", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_index("ix_monitor_runs_monitor_window", table_name="monitor_runs")
    op.drop_table("monitor_runs")
    op.drop_index("ix_monitors_next_run_at", table_name="monitors")
    op.drop_index("ix_monitors_endpoint", table_name="monitors")
    op.drop_table("monitors")
