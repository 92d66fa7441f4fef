"""campaign device count: how many devices a campaign holds, kept with every insert (its report's totalDevice)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("device_count", sa.Integer, nullable=False, server_default="0"))
    op.execute(
        "UPDATE campaigns SET device_count = "
        "(SELECT count(*) FROM campaign_devices WHERE campaign_devices.campaign_id = campaigns.id)"
    )


def downgrade() -> None:
    # Not a batch: SQLite's table copy would drop `campaigns` under campaign_devices' foreign keys; SQLite 3.35+
    # drops a column in place.
    op.drop_column("campaigns", "device_count")
