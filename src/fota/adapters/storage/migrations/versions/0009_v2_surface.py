"""v2 surface: download/install phases of campaigns, configuration files in the catalogue,
device logging and check-in history

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("package_kind", sa.String(16), nullable=False, server_default="firmware"))
        batch.add_column(sa.Column("download_after", sa.Date(), nullable=True))
        batch.add_column(sa.Column("install_after", sa.Date(), nullable=True))
        batch.add_column(sa.Column("install_windows", sa.JSON(), nullable=True))
    with op.batch_alter_table("firmware") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="firmware"))
        batch.add_column(sa.Column("owner_account", sa.String(64), nullable=True))
        batch.add_column(sa.Column("local_target_path", sa.Text(), nullable=True))
    op.create_index("ix_firmware_owner_kind", "firmware", ["owner_account", "kind", "name"])
    op.create_table(
        "device_logging",
        sa.Column("device_id", sa.String(15), sa.ForeignKey("devices.device_id"), primary_key=True),
        sa.Column("account_name", sa.String(64), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_device_logging_account", "device_logging", ["account_name", "device_id"])
    op.create_table(
        "device_logs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("account_name", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(15), nullable=False),
        sa.Column("log_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("log_type", sa.String(32), nullable=False),
        sa.Column("event_log", sa.Text(), nullable=False),
        sa.Column("binary_log_file_base64", sa.Text(), nullable=False),
        sa.Column("binary_log_filename", sa.String(255), nullable=False),
    )
    op.create_index("ix_device_logs_device", "device_logs", ["account_name", "device_id", "id"])
    op.create_index("ix_device_logs_time", "device_logs", ["log_time"])
    op.create_table(
        "check_ins",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(15), nullable=False),
        sa.Column("client_type", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("failure_type", sa.String(64), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_check_ins_device", "check_ins", ["device_id", "id"])
    op.create_index("ix_check_ins_completed", "check_ins", ["completed_at"])


def downgrade() -> None:
    op.drop_index("ix_check_ins_completed", table_name="check_ins")
    op.drop_index("ix_check_ins_device", table_name="check_ins")
    op.drop_table("check_ins")
    op.drop_index("ix_device_logs_time", table_name="device_logs")
    op.drop_index("ix_device_logs_device", table_name="device_logs")
    op.drop_table("device_logs")
    op.drop_index("ix_device_logging_account", table_name="device_logging")
    op.drop_table("device_logging")
    op.drop_index("ix_firmware_owner_kind", table_name="firmware")
    with op.batch_alter_table("firmware") as batch:
        batch.drop_column("local_target_path")
        batch.drop_column("owner_account")
        batch.drop_column("kind")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("install_windows")
        batch.drop_column("install_after")
        batch.drop_column("download_after")
        batch.drop_column("package_kind")
