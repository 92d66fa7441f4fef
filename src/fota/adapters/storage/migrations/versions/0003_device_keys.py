"""device keys for the HTTP device protocol

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 22:24:05.947790
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "device_keys",
        sa.Column("device_id", sa.String(length=15), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
        ),
        sa.PrimaryKeyConstraint("device_id"),
    )


def downgrade() -> None:

    op.drop_table("device_keys")
