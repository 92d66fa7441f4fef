"""callback api version: the wire version a callback was registered through, and v1's echoed credentials

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(sa.Column("api_version", sa.String(8), nullable=False, server_default="v3"))
        batch.add_column(sa.Column("username", sa.String(255), nullable=True))
        batch.add_column(sa.Column("password", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("password")
        batch.drop_column("username")
        batch.drop_column("api_version")
