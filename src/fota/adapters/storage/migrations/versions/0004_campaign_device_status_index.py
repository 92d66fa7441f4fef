"""index campaign devices by campaign, status and device

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 23:25:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign_devices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaign_devices_campaign_status", ["campaign_id", "status", "device_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("campaign_devices", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_devices_campaign_status")
