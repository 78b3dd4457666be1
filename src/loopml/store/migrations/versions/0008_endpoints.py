"""serving endpoints and the history of their configurations

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "endpoint_configs",
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(length=256), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["name"], ["endpoints.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("name", "generation"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("endpoint_configs")
    op.drop_table("endpoints")
