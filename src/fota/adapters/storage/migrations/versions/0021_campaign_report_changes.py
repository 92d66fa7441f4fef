"""campaign report changes: a sum per campaign that grows with every change to its device report's rows

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 15:00:00

Triggers keep it, so that no writer can forget to (docs/adr/0043). On SQLite a later migration that rebuilds
campaign_devices with `batch_alter_table` drops them and must create them again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns the device report shows (adapters/storage/device_report_json.py): a change to any other column, an
# upgrade's step or deadline, leaves the report as it was and costs nothing here.
REPORTED = ("status", "reason", "updated_at", "recent_attempt_at", "next_attempt_at", "carried_reason")


def _changed(distinct: str) -> str:
    return " OR ".join(f"OLD.{column} {distinct} NEW.{column}" for column in REPORTED)


def _sqlite_add(row: str) -> str:
    # One row per campaign: SQLite has a single writer, so an update in place waits on no one. Only the module's
    # constants go into the text.
    return (
        f"UPDATE campaign_report_changes SET changes = changes + 1 WHERE campaign_id = {row}.campaign_id; "  # noqa: S608
        f"INSERT INTO campaign_report_changes (campaign_id, changes) SELECT {row}.campaign_id, 1 "
        f"WHERE NOT EXISTS (SELECT 1 FROM campaign_report_changes WHERE campaign_id = {row}.campaign_id);"
    )


_POSTGRESQL_ROW_FUNCTION = """
CREATE FUNCTION fota_report_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    campaign text;
    noted text;
BEGIN
    -- One row per campaign and transaction: the campaigns this transaction already counted are remembered in a
    -- setting local to it, undone with it (or with its savepoint) as the row is.
    FOREACH campaign IN ARRAY ARRAY[OLD.campaign_id, NEW.campaign_id] LOOP
        noted := coalesce(nullif(current_setting('fota.report_changes', true), ''), ' ');
        IF strpos(noted, ' ' || campaign || ' ') = 0 THEN
            PERFORM set_config('fota.report_changes', noted || campaign || ' ', true);
            INSERT INTO campaign_report_changes (campaign_id, changes) VALUES (campaign, 1);
        END IF;
    END LOOP;
    RETURN NULL;
END $$
"""

_POSTGRESQL_STATEMENT_FUNCTION = """
CREATE FUNCTION fota_report_rows_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A whole statement's rows at once: a fleet enrolled by one INSERT adds one row per campaign, not per device.
    INSERT INTO campaign_report_changes (campaign_id, changes) SELECT DISTINCT campaign_id, 1 FROM touched;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "campaign_report_changes",
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("changes", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_campaign_report_changes_campaign", "campaign_report_changes", ["campaign_id"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER campaign_devices_report_insert AFTER INSERT ON campaign_devices "
            f"BEGIN {_sqlite_add('NEW')} END"
        )
        op.execute(
            "CREATE TRIGGER campaign_devices_report_update AFTER UPDATE ON campaign_devices "
            "WHEN OLD.campaign_id IS NOT NEW.campaign_id OR OLD.device_id IS NOT NEW.device_id "
            f"OR {_changed('IS NOT')} "
            f"BEGIN {_sqlite_add('NEW')} END"
        )
        op.execute(
            "CREATE TRIGGER campaign_devices_report_move AFTER UPDATE OF campaign_id ON campaign_devices "
            f"WHEN OLD.campaign_id IS NOT NEW.campaign_id BEGIN {_sqlite_add('OLD')} END"
        )
        op.execute(
            "CREATE TRIGGER campaign_devices_report_delete AFTER DELETE ON campaign_devices "
            f"BEGIN {_sqlite_add('OLD')} END"
        )
        return
    op.execute(_POSTGRESQL_ROW_FUNCTION)
    op.execute(_POSTGRESQL_STATEMENT_FUNCTION)
    op.execute(
        "CREATE TRIGGER campaign_devices_report_insert AFTER INSERT ON campaign_devices "
        "REFERENCING NEW TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION fota_report_rows_changed()"
    )
    # Row by row, so that the many updates that change no reported column fire nothing at all.
    op.execute(
        "CREATE TRIGGER campaign_devices_report_update AFTER UPDATE ON campaign_devices FOR EACH ROW "
        f"WHEN (OLD.campaign_id IS DISTINCT FROM NEW.campaign_id OR OLD.device_id IS DISTINCT FROM NEW.device_id "
        f"OR {_changed('IS DISTINCT FROM')}) EXECUTE FUNCTION fota_report_changed()"
    )
    op.execute(
        "CREATE TRIGGER campaign_devices_report_delete AFTER DELETE ON campaign_devices "
        "REFERENCING OLD TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION fota_report_rows_changed()"
    )


def downgrade() -> None:
    for trigger in ("insert", "update", "delete") + (("move",) if _sqlite() else ()):
        op.execute(f"DROP TRIGGER campaign_devices_report_{trigger}" + ("" if _sqlite() else " ON campaign_devices"))
    if not _sqlite():
        op.execute("DROP FUNCTION fota_report_changed()")
        op.execute("DROP FUNCTION fota_report_rows_changed()")
    op.drop_index("ix_campaign_report_changes_campaign", "campaign_report_changes")
    op.drop_table("campaign_report_changes")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"
