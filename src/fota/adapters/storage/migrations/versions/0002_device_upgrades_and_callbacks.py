"""device upgrades, registrations, downloads and callback outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 22:18:16.673537
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "callback_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("callback_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_callback_deliveries_account", ["account_name", "id"], unique=False)
        batch_op.create_index("ix_callback_deliveries_event", ["event_id"], unique=False)

    op.create_table(
        "download_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=15), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("firmware_name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("download_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_download_tokens_expires", ["expires_at"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("given_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_account", ["account_name", "id"], unique=False)
        batch_op.create_index("ix_outbox_due", ["next_attempt_at"], unique=False)

    op.create_table(
        "registrations",
        sa.Column("location", sa.String(length=32), nullable=False),
        sa.Column("endpoint", sa.String(length=128), nullable=False),
        sa.Column("device_id", sa.String(length=15), nullable=False),
        sa.Column("lifetime", sa.Integer(), nullable=False),
        sa.Column("lwm2m_version", sa.String(length=8), nullable=False),
        sa.Column("binding", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("objects", sa.Text(), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("location"),
        sa.UniqueConstraint("endpoint"),
    )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_index("ix_registrations_device", ["device_id"], unique=False)
        batch_op.create_index("ix_registrations_expires", ["expires_at"], unique=False)

    op.create_table(
        "unknown_endpoints",
        sa.Column("endpoint", sa.String(length=128), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("last_address", sa.String(length=128), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("endpoint"),
    )
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signing_secret", sa.String(length=64), nullable=True))

    with op.batch_alter_table("campaign_devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("step_deadline", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("delivery", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("update_executed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_campaign_devices_deadline", ["step_deadline"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("campaign_devices", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_devices_deadline")
        batch_op.drop_column("owner")
        batch_op.drop_column("update_executed_at")
        batch_op.drop_column("delivery")
        batch_op.drop_column("attempts")
        batch_op.drop_column("step_deadline")
        batch_op.drop_column("step")

    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.drop_column("signing_secret")

    op.drop_table("unknown_endpoints")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index("ix_registrations_expires")
        batch_op.drop_index("ix_registrations_device")

    op.drop_table("registrations")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")
        batch_op.drop_index("ix_outbox_account")

    op.drop_table("outbox")
    with op.batch_alter_table("download_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_download_tokens_expires")

    op.drop_table("download_tokens")
    with op.batch_alter_table("callback_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_deliveries_event")
        batch_op.drop_index("ix_callback_deliveries_account")

    op.drop_table("callback_deliveries")
