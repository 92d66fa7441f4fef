"""A campaign read by id on SQLite: the driver's row, and one `Campaign` made per distinct stored row.

A `Campaign` is frozen and a pure function of its row. The driver's tuple (JSON and instants as text) is hashable
as it is, so two reads of the same stored bytes can share the campaign made from the first: every read still reads
the row, and a row changed in any column (its `updated_at`, its `device_count`, ...) is a new key (docs/adr/0035).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, bindparam, select

from fota.adapters.storage.tables import campaigns
from fota.domain.campaign import Campaign

# Enough for every campaign an account's dashboards poll; a campaign is a few kilobytes.
REMEMBERED = 4096

_BY_ID = select(campaigns).where(campaigns.c.id == bindparam("id"), campaigns.c.account_name == bindparam("account"))
_NAMES = tuple(column.name for column in campaigns.c)

Processor = Callable[[Any], Any] | None


@lru_cache(maxsize=4)
def _statement(dialect: Dialect) -> tuple[str, tuple[Processor, ...]]:
    """The SELECT as the driver runs it, and each column's result processor (what SQLAlchemy applies to a row)."""
    compiled = _BY_ID.compile(dialect=dialect)
    assert compiled.positiontup == ["id", "account"], compiled.positiontup
    processors = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in campaigns.c)
    return str(compiled), processors


def campaign_by_id(
    connection: Connection, account_name: str, campaign_id: str, make: Callable[[dict[str, Any]], Campaign]
) -> Campaign | None:
    """The campaign, read on the connection's own transaction; `make` builds it from the row's processed values."""
    sql, _ = _statement(connection.dialect)
    row = connection.connection.driver_connection.execute(sql, (campaign_id, account_name)).fetchone()  # type: ignore[union-attr]
    if row is None:
        return None
    return _made(connection.dialect, make, tuple(row))


@lru_cache(maxsize=REMEMBERED)
def _made(dialect: Dialect, make: Callable[[dict[str, Any]], Campaign], row: tuple[Any, ...]) -> Campaign:
    _, processors = _statement(dialect)
    values = {
        name: processor(value) if processor is not None and value is not None else value
        for name, processor, value in zip(_NAMES, processors, row, strict=True)
    }
    return make(values)
