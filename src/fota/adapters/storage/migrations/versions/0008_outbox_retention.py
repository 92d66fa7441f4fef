"""outbox retention: partial indexes on when events finished, so old ones are found without scanning the outbox

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("delivered_at", "given_up_at"):
        finished = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            f"ix_outbox_{column.removesuffix('_at')}",
            "outbox",
            [column],
            postgresql_where=finished,
            sqlite_where=finished,
        )


def downgrade() -> None:
    op.drop_index("ix_outbox_given_up", table_name="outbox")
    op.drop_index("ix_outbox_delivered", table_name="outbox")
