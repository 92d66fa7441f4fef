"""device security: LwM2M security mode and encrypted DTLS pre-shared keys

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_security",
        sa.Column("device_id", sa.String(length=15), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("psk_identity", sa.String(length=128), nullable=True),
        sa.Column("psk_key_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"]),
        sa.PrimaryKeyConstraint("device_id"),
    )
    op.create_index("ix_device_security_identity", "device_security", ["psk_identity"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_device_security_identity", table_name="device_security")
    op.drop_table("device_security")
