"""device log retention counts from when fota stored an entry, not from the device's own clock

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing entries keep their device time as their arrival: the best that is known of it, and what they were
    # pruned by until now.
    with op.batch_alter_table("device_logs") as batch:
        batch.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE device_logs SET received_at = log_time")
    with op.batch_alter_table("device_logs") as batch:
        batch.alter_column("received_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_index("ix_device_logs_time")
        batch.create_index("ix_device_logs_received", ["received_at"])


def downgrade() -> None:
    with op.batch_alter_table("device_logs") as batch:
        batch.drop_index("ix_device_logs_received")
        batch.create_index("ix_device_logs_time", ["log_time"])
        batch.drop_column("received_at")
