"""device bootstrap: LwM2M bootstrap credentials and the management account handed out

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_bootstrap",
        sa.Column("device_id", sa.String(length=15), nullable=False),
        sa.Column("bootstrap_mode", sa.String(length=8), nullable=False),
        sa.Column("bootstrap_psk_identity", sa.String(length=128), nullable=True),
        sa.Column("bootstrap_psk_key_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("server_uri", sa.String(length=255), nullable=True),
        sa.Column("security_mode", sa.String(length=8), nullable=False),
        sa.Column("short_server_id", sa.Integer(), nullable=False),
        sa.Column("lifetime", sa.Integer(), nullable=False),
        sa.Column("binding", sa.String(length=4), nullable=False),
        sa.Column("disable_timeout", sa.Integer(), nullable=False),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("retry_timer", sa.Integer(), nullable=False),
        sa.Column("sequence_delay", sa.Integer(), nullable=False),
        sa.Column("sequence_retry_count", sa.Integer(), nullable=False),
        sa.Column("bootstraps", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_bootstrap_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"]),
        sa.PrimaryKeyConstraint("device_id"),
    )
    op.create_index("ix_device_bootstrap_identity", "device_bootstrap", ["bootstrap_psk_identity"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_device_bootstrap_identity", table_name="device_bootstrap")
    op.drop_table("device_bootstrap")
