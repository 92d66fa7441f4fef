"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 21:59:28.397930
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "accounts",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("license_count", sa.Integer(), nullable=False),
        sa.Column("licenses_used", sa.Integer(), nullable=False),
        sa.Column("purchase_type", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "firmware",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("make", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("firmware_from", sa.String(length=128), nullable=False),
        sa.Column("firmware_to", sa.String(length=128), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("release_note", sa.Text(), nullable=False),
        sa.Column("launch_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("image_size", sa.BigInteger(), nullable=True),
        sa.Column("image_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=True),
        sa.Column("device_id", sa.String(length=15), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index("ix_history_campaign", ["campaign_id", "id"], unique=False)
        batch_op.create_index("ix_history_device", ["account_name", "device_id", "id"], unique=False)

    op.create_table(
        "api_clients",
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_name"],
            ["accounts.name"],
        ),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_table(
        "callbacks",
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_name"],
            ["accounts.name"],
        ),
        sa.PrimaryKeyConstraint("account_name"),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("campaign_name", sa.String(length=255), nullable=True),
        sa.Column("firmware_name", sa.String(length=255), nullable=False),
        sa.Column("firmware_from", sa.String(length=128), nullable=False),
        sa.Column("firmware_to", sa.String(length=128), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("make", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("auto_assign_license", sa.Boolean(), nullable=False),
        sa.Column("auto_add_devices", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("next_transition_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_name"],
            ["accounts.name"],
        ),
        sa.ForeignKeyConstraint(
            ["firmware_name"],
            ["firmware.name"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_campaigns_account_status", ["account_name", "status", "id"], unique=False)
        batch_op.create_index(
            "ix_campaigns_auto_add",
            ["account_name", "auto_add_devices", "make", "model", "firmware_from"],
            unique=False,
        )
        batch_op.create_index("ix_campaigns_next_transition", ["next_transition_at"], unique=False)

    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(length=15), nullable=False),
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("mdn", sa.String(length=32), nullable=True),
        sa.Column("make", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("firmware", sa.String(length=128), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("license_assigned", sa.Boolean(), nullable=False),
        sa.Column("license_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("firmware_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_name"],
            ["accounts.name"],
        ),
        sa.PrimaryKeyConstraint("device_id"),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_devices_account_licensed", ["account_name", "license_assigned", "device_id"], unique=False
        )
        batch_op.create_index("ix_devices_account_protocol", ["account_name", "protocol", "device_id"], unique=False)
        batch_op.create_index("ix_devices_match", ["account_name", "make", "model", "firmware"], unique=False)

    op.create_table(
        "firmware_images",
        sa.Column("firmware_name", sa.String(length=255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["firmware_name"],
            ["firmware.name"],
        ),
        sa.PrimaryKeyConstraint("firmware_name"),
    )
    op.create_table(
        "firmware_report_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=15), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_name"],
            ["accounts.name"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("firmware_report_requests", schema=None) as batch_op:
        batch_op.create_index("ix_firmware_report_requests_pending", ["status", "device_id"], unique=False)

    op.create_table(
        "license_cancel_candidates",
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=15), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_name"],
            ["accounts.name"],
        ),
        sa.PrimaryKeyConstraint("account_name", "device_id"),
    )
    op.create_table(
        "tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_name"],
            ["accounts.name"],
        ),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_table(
        "users",
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_name"],
            ["accounts.name"],
        ),
        sa.PrimaryKeyConstraint("account_name", "username"),
    )
    op.create_table(
        "campaign_devices",
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=15), nullable=False),
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recent_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
        ),
        sa.PrimaryKeyConstraint("campaign_id", "device_id"),
    )
    with op.batch_alter_table("campaign_devices", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_devices_campaign_active", ["campaign_id", "active"], unique=False)
        batch_op.create_index("ix_campaign_devices_device_active", ["device_id", "active"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("campaign_devices", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_devices_device_active")
        batch_op.drop_index("ix_campaign_devices_campaign_active")

    op.drop_table("campaign_devices")
    op.drop_table("users")
    op.drop_table("tokens")
    op.drop_table("license_cancel_candidates")
    with op.batch_alter_table("firmware_report_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_firmware_report_requests_pending")

    op.drop_table("firmware_report_requests")
    op.drop_table("firmware_images")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_match")
        batch_op.drop_index("ix_devices_account_protocol")
        batch_op.drop_index("ix_devices_account_licensed")

    op.drop_table("devices")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_next_transition")
        batch_op.drop_index("ix_campaigns_auto_add")
        batch_op.drop_index("ix_campaigns_account_status")

    op.drop_table("campaigns")
    op.drop_table("callbacks")
    op.drop_table("api_clients")
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_device")
        batch_op.drop_index("ix_history_campaign")

    op.drop_table("history")
    op.drop_table("firmware")
    op.drop_table("accounts")
