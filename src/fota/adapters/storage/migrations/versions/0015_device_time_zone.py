"""device time zone: the IANA zone of a device and where it came from (the administration or the device's report)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain nullable columns: SQLite adds them in place, without copying `devices` under its foreign keys.
    op.add_column("devices", sa.Column("time_zone", sa.String(length=64), nullable=True))
    op.add_column("devices", sa.Column("time_zone_source", sa.String(length=8), nullable=True))


def downgrade() -> None:
    # Not a batch: SQLite's table copy would drop `devices` under the foreign keys that point at it; SQLite 3.35+
    # drops a column in place.
    op.drop_column("devices", "time_zone_source")
    op.drop_column("devices", "time_zone")
