"""A page of the v2/v3 license summary, its `deviceList` items written as JSON by the database itself.

Each item is `LicenseDeviceRead` as pydantic writes it: `{"deviceId":...,"assignmentTime":...}`, the instant as
`presenters.rfc3339` spells it (UTC, milliseconds, truncated). The same approach as the device report's
(device_report_json.py, docs/adr/0034); tests/storage/test_license_page_json.py holds the two spellings together.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from fota.services.ports import WrittenItems


def _instant(dialect: str) -> str:
    if dialect == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (types.UTCDateTime); the first three digits of the fraction, as
        # Python's isoformat truncates. strftime's %f would round.
        return (
            "replace(substr(assigned_at, 1, 19), ' ', 'T') || '.' || substr(substr(assigned_at, 21) || '000', 1, 3)"
            " || 'Z'"
        )
    # Sessions run in UTC (database.make_engine); MS truncates.
    return 'to_char(assigned_at, \'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\')'


def _page_statement(dialect: str) -> str:
    quoted = "json_quote(device_id)" if dialect == "sqlite" else "to_json(device_id)::text"
    item = f"'{{\"deviceId\":' || {quoted} || ',\"assignmentTime\":\"' || {_instant(dialect)} || '\"}}'"
    # As the device report's: SQLite's group_concat reads the inner query's rows in its ORDER BY.
    aggregate = "group_concat(item, ',')" if dialect == "sqlite" else "string_agg(item, ',' ORDER BY device_id)"
    # Only this module's constants go into the text; every value is a bound parameter.
    return (
        f"SELECT count(*), max(device_id), {aggregate} FROM ("  # noqa: S608
        f"SELECT device_id, {item} AS item FROM device_licenses"
        " WHERE account_name = :account AND device_id > :after ORDER BY device_id LIMIT :limit) AS page"
    )


_PAGE = {dialect: text(_page_statement(dialect)) for dialect in ("sqlite", "postgresql")}
_MORE = text("SELECT 1 FROM device_licenses WHERE account_name = :account AND device_id > :after LIMIT 1")


def licensed_items(connection: Connection, account_name: str, *, after: str | None, limit: int) -> WrittenItems:
    count, last, items = connection.execute(
        _PAGE[connection.dialect.name], {"account": account_name, "after": after or "", "limit": limit}
    ).one()
    has_more = (
        last is not None and connection.execute(_MORE, {"account": account_name, "after": last}).first() is not None
    )
    return WrittenItems(items or "", int(count), last, has_more)
