"""campaign windows and blackouts: v3's windowZone and blackouts and the blackout override, NULL when not set

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain nullable columns, as in 0014 and 0015: every campaign that exists keeps its download windows, and
    # adding them changes no row (SQLite adds them in place, PostgreSQL in its catalogue).
    op.add_column("campaigns", sa.Column("window_zone", sa.String(length=16), nullable=True))
    op.add_column("campaigns", sa.Column("blackouts", sa.JSON(), nullable=True))
    op.add_column("campaigns", sa.Column("blackout_override", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Not a batch: SQLite's table copy would drop `campaigns` under campaign_devices' foreign keys.
    op.drop_column("campaigns", "blackout_override")
    op.drop_column("campaigns", "blackouts")
    op.drop_column("campaigns", "window_zone")
