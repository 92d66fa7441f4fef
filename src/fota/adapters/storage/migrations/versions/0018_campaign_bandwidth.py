"""campaign bandwidth: v3's bandwidth.bytesPerHour with the campaign, the start grant's hour with each device's
upgrade, and the per-hour counter of reserved image bytes

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain nullable columns: a catalogue change on PostgreSQL, added in place on SQLite (no copy of tables that
    # foreign keys point at); every existing campaign stays unbudgeted.
    op.add_column("campaigns", sa.Column("bandwidth_bytes_per_hour", sa.BigInteger(), nullable=True))
    op.add_column("campaign_devices", sa.Column("bandwidth_hour", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "campaign_bandwidth",
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "hour"),
    )


def downgrade() -> None:
    op.drop_table("campaign_bandwidth")
    # Not a batch, as in 0014 and 0015: SQLite 3.35+ drops a column in place.
    op.drop_column("campaign_devices", "bandwidth_hour")
    op.drop_column("campaigns", "bandwidth_bytes_per_hour")
