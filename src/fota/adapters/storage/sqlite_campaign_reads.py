"""A campaign read by id on SQLite: the driver's row, and one `Campaign` made per distinct stored row.

A `Campaign` is frozen and a pure function of its row. The driver's tuple (JSON and instants as text) is hashable
as it is, so two reads of the same stored bytes can share the campaign made from the first: every read still reads
the row, and a row changed in any column (its `updated_at`, its `device_count`, ...) is a new key (docs/adr/0035).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, Select

from fota.adapters.storage.tables import campaigns
from fota.domain.campaign import Campaign

# Enough for every campaign an account's dashboards poll; a campaign is a few kilobytes.
REMEMBERED = 4096

_NAMES = tuple(column.name for column in campaigns.c)

Processor = Callable[[Any], Any] | None


@lru_cache(maxsize=4)
def _compiled(by_id: Select[Any], dialect: Dialect) -> str:
    """`by_id` (every column of `campaigns`, by `:id` and `:account`) as the driver runs it."""
    assert tuple(column.name for column in by_id.selected_columns) == _NAMES, "every column, in the table's order"
    compiled = by_id.compile(dialect=dialect)
    assert compiled.positiontup == ["id", "account"], compiled.positiontup
    return str(compiled)


@lru_cache(maxsize=4)
def _processors(dialect: Dialect) -> tuple[Processor, ...]:
    """Each column's result processor: what SQLAlchemy applies to a row of `campaigns`."""
    return tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in campaigns.c)


def campaign_by_id(
    connection: Connection,
    by_id: Select[Any],
    account_name: str,
    campaign_id: str,
    make: Callable[[dict[str, Any]], Campaign],
) -> Campaign | None:
    """The campaign `by_id` finds, read on the connection's own transaction; `make` builds it from the row's
    processed values."""
    sql = _compiled(by_id, connection.dialect)
    row = connection.connection.driver_connection.execute(sql, (campaign_id, account_name)).fetchone()  # type: ignore[union-attr]
    if row is None:
        return None
    return _made(connection.dialect, make, tuple(row))


@lru_cache(maxsize=REMEMBERED)
def _made(dialect: Dialect, make: Callable[[dict[str, Any]], Campaign], row: tuple[Any, ...]) -> Campaign:
    values = {
        name: processor(value) if processor is not None and value is not None else value
        for name, processor, value in zip(_NAMES, _processors(dialect), row, strict=True)
    }
    return make(values)
