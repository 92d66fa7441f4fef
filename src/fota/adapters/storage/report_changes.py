"""The device report's version: the sum that migration 0021's triggers add to with every change to a campaign's
rows, and the fold that keeps PostgreSQL's rows of it few (docs/adr/0043)."""

from __future__ import annotations

from sqlalchemy import Connection, text

from fota.services.ports import ReportVersion

_VERSION = text(
    "SELECT (SELECT device_count FROM campaigns WHERE id = :campaign_id),"
    " (SELECT coalesce(sum(changes), 0) FROM campaign_report_changes WHERE campaign_id = :campaign_id)"
)

# One statement, so the rows deleted and the row written in their place become visible together: a reader sums
# either all the old rows or the new one. Rows committed after the statement's snapshot are neither deleted nor
# folded, and are summed beside the new row.
_FOLD = text(
    "WITH folded AS (DELETE FROM campaign_report_changes WHERE campaign_id IN"
    " (SELECT campaign_id FROM campaign_report_changes GROUP BY campaign_id HAVING count(*) > 1)"
    " RETURNING campaign_id, changes)"
    " INSERT INTO campaign_report_changes (campaign_id, changes)"
    " SELECT campaign_id, sum(changes) FROM folded GROUP BY campaign_id"
    " RETURNING (SELECT count(*) FROM folded)"
)


def report_version(connection: Connection, campaign_id: str) -> ReportVersion:
    devices, changes = connection.execute(_VERSION, {"campaign_id": campaign_id}).one()
    return ReportVersion(changes=int(changes), devices=int(devices or 0))


def fold_report_changes(connection: Connection) -> int:
    """The rows removed (a campaign's n rows become one: n - 1 removed each)."""
    if connection.dialect.name != "postgresql":
        return 0  # SQLite's triggers keep one row per campaign already
    written = connection.execute(_FOLD).scalars().all()
    return int(written[0]) - len(written) if written else 0
