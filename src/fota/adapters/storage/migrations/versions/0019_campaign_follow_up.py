"""campaign follow-up: the campaign a follow-up was made from, and why each of its devices was carried

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-02 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain nullable columns, added in place on both databases: every existing campaign is no follow-up and every
    # existing device row was not carried. No foreign key on follow_up_of: SQLite could only add one by copying
    # `campaigns` under campaign_devices' foreign keys, and the source campaign is never deleted anyway.
    op.add_column("campaigns", sa.Column("follow_up_of", sa.String(length=36), nullable=True))
    op.add_column("campaign_devices", sa.Column("carried_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    # Not a batch, as in 0013 and 0014: SQLite 3.35+ drops a column in place.
    op.drop_column("campaign_devices", "carried_reason")
    op.drop_column("campaigns", "follow_up_of")
