"""A page of the v2/v3 license summary, its `deviceList` items written as JSON by the database itself.

Each item is `LicenseDeviceRead` as pydantic writes it: `{"deviceId":...,"assignmentTime":...}`, the instant as
`presenters.rfc3339` spells it (UTC, milliseconds, truncated). The same approach as the device report's
(device_report_json.py, docs/adr/0034); tests/storage/test_license_page_json.py holds the two spellings together.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from fota.adapters.storage.written_pages import page_statement, written_page
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


def _item(dialect: str) -> str:
    quoted = "json_quote(device_id)" if dialect == "sqlite" else "to_json(device_id)::text"
    return f"'{{\"deviceId\":' || {quoted} || ',\"assignmentTime\":\"' || {_instant(dialect)} || '\"}}'"


_PAGE = {
    dialect: page_statement(dialect, item=_item(dialect), rows="FROM device_licenses WHERE account_name = :account")
    for dialect in ("sqlite", "postgresql")
}
_MORE = text("SELECT 1 FROM device_licenses WHERE account_name = :account AND device_id > :after LIMIT 1")


def licensed_items(connection: Connection, account_name: str, *, after: str | None, limit: int) -> WrittenItems:
    parameters = {"account": account_name, "limit": limit}
    return written_page(connection, _PAGE[connection.dialect.name], _MORE, parameters, after=after)
