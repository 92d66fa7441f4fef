"""device licenses: a row per licensed device instead of two columns on every device

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_licenses",
        sa.Column("device_id", sa.String(length=15), nullable=False),
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"]),
        sa.PrimaryKeyConstraint("device_id"),
    )
    op.create_index("ix_device_licenses_account", "device_licenses", ["account_name", "device_id"])
    # A licensed device without an assignment time (none are written so) takes its last update's.
    op.execute(
        "INSERT INTO device_licenses (device_id, account_name, assigned_at) "
        "SELECT device_id, account_name, COALESCE(license_assigned_at, updated_at) FROM devices "
        "WHERE license_assigned"
    )
    op.drop_index("ix_devices_account_licensed", table_name="devices")
    # Plain DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch copy of `devices` would have to drop the tables that
    # reference it first.
    op.drop_column("devices", "license_assigned_at")
    op.drop_column("devices", "license_assigned")


def downgrade() -> None:
    op.add_column("devices", sa.Column("license_assigned", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("devices", sa.Column("license_assigned_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE devices SET license_assigned = TRUE, license_assigned_at = "
        "(SELECT assigned_at FROM device_licenses l WHERE l.device_id = devices.device_id) "
        "WHERE device_id IN (SELECT device_id FROM device_licenses)"
    )
    op.create_index("ix_devices_account_licensed", "devices", ["account_name", "license_assigned", "device_id"])
    op.drop_index("ix_device_licenses_account", table_name="device_licenses")
    op.drop_table("device_licenses")
