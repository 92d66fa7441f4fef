"""campaign rollout: v3's rollout and its state on the campaign, each member's wave and health, the campaign audit

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CAMPAIGN_COLUMNS = (
    ("rollout", sa.JSON()),
    ("rollout_status", sa.String(length=16)),
    ("rollout_wave", sa.Integer()),
    ("rollout_paused_reason", sa.Text()),
    ("rollout_excused", sa.Integer()),
    ("rollout_check_at", sa.DateTime(timezone=True)),
)
DEVICE_COLUMNS = (
    ("wave", sa.Integer()),
    ("succeeded_at", sa.DateTime(timezone=True)),
    ("health_lifetime", sa.Integer()),
    ("health", sa.String(length=16)),
)
SOAKING = "succeeded_at IS NOT NULL AND health IS NULL"


def upgrade() -> None:
    # Plain nullable columns: catalogue changes on PostgreSQL and in-place on SQLite (no copy of `campaigns` or
    # `campaign_devices` under the foreign keys that point at them); every existing campaign has no rollout.
    for name, kind in CAMPAIGN_COLUMNS:
        op.add_column("campaigns", sa.Column(name, kind, nullable=True))
    for name, kind in DEVICE_COLUMNS:
        op.add_column("campaign_devices", sa.Column(name, kind, nullable=True))
    op.create_index("ix_campaigns_rollout_check", "campaigns", ["rollout_check_at"])
    op.create_index("ix_campaign_devices_campaign_wave", "campaign_devices", ["campaign_id", "wave", "status"])
    op.create_index(
        "ix_campaign_devices_soaking",
        "campaign_devices",
        ["device_id"],
        postgresql_where=sa.text(SOAKING),
        sqlite_where=sa.text(SOAKING),
    )
    op.create_table(
        "campaign_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(length=36), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("account_name", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    op.create_index("ix_campaign_audit_campaign", "campaign_audit", ["campaign_id", "id"])


def downgrade() -> None:
    # Not batches, as in 0013-0015: SQLite's table copy would drop tables under the foreign keys that point at them.
    op.drop_index("ix_campaign_audit_campaign", table_name="campaign_audit")
    op.drop_table("campaign_audit")
    op.drop_index("ix_campaign_devices_soaking", table_name="campaign_devices")
    op.drop_index("ix_campaign_devices_campaign_wave", table_name="campaign_devices")
    op.drop_index("ix_campaigns_rollout_check", table_name="campaigns")
    for name, _ in reversed(DEVICE_COLUMNS):
        op.drop_column("campaign_devices", name)
    for name, _ in reversed(CAMPAIGN_COLUMNS):
        op.drop_column("campaigns", name)
