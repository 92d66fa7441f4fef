"""shared throttles and signed firmware: throttle charges, CoAP refusal counts, publisher signing keys, image
signatures, and the account's signed-firmware requirement

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "throttle_charges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("charged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_throttle_charges_key", "throttle_charges", ["key_hash", "charged_at"])
    op.create_index("ix_throttle_charges_charged_at", "throttle_charges", ["charged_at"])
    op.create_table(
        "coap_refusals",
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("window_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("refusals", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address", "window_start"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )
    with op.batch_alter_table("firmware") as batch_op:
        batch_op.add_column(sa.Column("image_signature", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("image_key_id", sa.String(128), nullable=True))
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(
            sa.Column("require_signed_firmware", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("require_signed_firmware")
    with op.batch_alter_table("firmware") as batch_op:
        batch_op.drop_column("image_key_id")
        batch_op.drop_column("image_signature")
    op.drop_table("signing_keys")
    op.drop_table("coap_refusals")
    op.drop_index("ix_throttle_charges_charged_at", table_name="throttle_charges")
    op.drop_index("ix_throttle_charges_key", table_name="throttle_charges")
    op.drop_table("throttle_charges")
