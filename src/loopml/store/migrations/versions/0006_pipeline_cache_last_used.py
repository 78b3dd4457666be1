"""pipeline cache: when each entry was last used, for expiry

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 21:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "pipeline_cache",
        sa.Column("last_used", sa.BigInteger(), nullable=False, server_default="0"),
    )
    # Entries made before this revision count as last used when they were made.
    op.execute("UPDATE pipeline_cache SET last_used = created")


def downgrade() -> None:
    op.drop_column("pipeline_cache", "last_used")
