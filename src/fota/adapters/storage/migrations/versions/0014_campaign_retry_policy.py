"""campaign retry policy: v3's retryPolicy stored with the campaign, NULL for the server's own retry rule

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable and without a default: every campaign that exists keeps the server's rule, and adding the column
    # is a catalogue change on PostgreSQL, not a rewrite of the table.
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("retry_policy", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Not a batch, as in 0013: SQLite's table copy would drop `campaigns` under campaign_devices' foreign keys.
    op.drop_column("campaigns", "retry_policy")
