"""A page of the v3 campaign device report, its items written as JSON by the database itself.

Each item is `DeviceStatusRead` as `model_dump_json(exclude_none=True)` writes it: the same keys in the same order,
absent where the column is NULL, instants as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`. Building the text in SQL costs the
database a few microseconds a row where Python's rows, dataclasses and models cost forty (docs/adr/0034).
tests/storage/test_device_report_json.py holds the two spellings to each other.
A column added to the items must be counted by the report's triggers as well (migration 0021's REPORTED, in a new
migration), or a cached page outlives its change (docs/adr/0043).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, text

from fota.adapters.storage.written_pages import page_statement, written_page
from fota.services.ports import WrittenItems


def _sqlite_instant(column: str) -> str:
    # SQLAlchemy stores an instant as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (types.UTCDateTime); pydantic leaves out a
    # zero fraction.
    return (
        f"replace(CASE WHEN substr({column}, 20) = '.000000' THEN substr({column}, 1, 19) ELSE {column} END, ' ', 'T')"
        " || 'Z'"
    )


def _postgresql_instant(column: str) -> str:
    # Sessions run in UTC (database.make_engine), so to_char writes the UTC wall time. One to_char and a replace cost
    # half of two to_char calls; to_json would drop a fraction's trailing zeros, which pydantic keeps.
    return f"replace(to_char({column}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '.000000Z', 'Z')"


def _item(dialect: str) -> str:
    quote = "json_quote" if dialect == "sqlite" else "to_json"
    cast = "" if dialect == "sqlite" else "::text"
    instant = _sqlite_instant if dialect == "sqlite" else _postgresql_instant

    def string(column: str) -> str:
        return f"{quote}({column}){cast}"

    def optional(key: str, column: str, value: str) -> str:
        return f"CASE WHEN {column} IS NULL THEN '' ELSE ',\"{key}\":' || {value} END"

    return " || ".join(
        [
            "'{\"deviceId\":' || " + string("device_id"),
            "',\"status\":' || " + string("status"),
            optional("resultReason", "reason", string("reason")),
            optional("updatedTime", "updated_at", "'\"' || " + instant("updated_at") + " || '\"'"),
            optional("recentAttemptTime", "recent_attempt_at", "'\"' || " + instant("recent_attempt_at") + " || '\"'"),
            # A pending device with no back-off of its own next tries at the campaign's next opening, one value for
            # the whole page.
            'CASE WHEN next_attempt_at IS NOT NULL THEN \',"nextAttemptTime":"\' || '
            + instant("next_attempt_at")
            + " || '\"' WHEN status = 'UpgradePending' THEN :next_opening ELSE '' END",
            optional("carriedReason", "carried_reason", string("carried_reason")),
            "'}'",
        ]
    )


_PAGE = {
    dialect: page_statement(dialect, item=_item(dialect), rows="FROM campaign_devices WHERE campaign_id = :campaign_id")
    for dialect in ("sqlite", "postgresql")
}
_MORE = text("SELECT 1 FROM campaign_devices WHERE campaign_id = :campaign_id AND device_id > :after LIMIT 1")


def _instant_text(instant: datetime) -> str:
    utc = instant.astimezone(UTC)
    wall = utc.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{wall}.{utc.microsecond:06d}Z" if utc.microsecond else f"{wall}Z"


def report_items(
    connection: Connection, campaign_id: str, *, after: str | None, limit: int, next_opening: datetime | None
) -> WrittenItems:
    opening = f',"nextAttemptTime":"{_instant_text(next_opening)}"' if next_opening is not None else ""
    parameters = {"campaign_id": campaign_id, "limit": limit, "next_opening": opening}
    return written_page(connection, _PAGE[connection.dialect.name], _MORE, parameters, after=after)
