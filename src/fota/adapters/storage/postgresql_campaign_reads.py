"""A campaign read by id on PostgreSQL from the event loop: an autocommit SELECT of the row's text on an async
psycopg connection, and one `Campaign` made per distinct stored row (docs/adr/0036).

The row's text (`campaigns::text`, every column in its output form) is the key, as the driver's tuple is on SQLite
(ADR 35): the same stored bytes give the same object, and a row changed in any column is a new key. Only a row
not seen before is read again with its columns typed, on the thread pool, through SQLAlchemy's own result
processing; that read returns its own text beside the columns, so the key and the campaign always agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, cast

import anyio.to_thread
import psycopg
from sqlalchemy import Engine, String, bindparam, literal_column, select

from fota.adapters.storage.tables import campaigns
from fota.domain.campaign import Campaign
from fota.services.ports import ReportVersion

APPLICATION_NAME = "fota-campaign-reads"  # how its connection shows in pg_stat_activity
# A read that takes longer fails its requests over to the full route, and the connection is made again: a silently
# dropped connection would otherwise hold every GET campaign until the kernel gives up on it, many minutes later.
READ_TIMEOUT_SECONDS = 5.0
# Enough for every campaign an account's dashboards poll; a campaign is a few kilobytes, its text as much again.
REMEMBERED = 4096

_ID_LENGTH = cast(String, campaigns.c.id.type).length or 0
# With the device report's version (docs/adr/0043): an index probe beside the row, so that a cached report page is
# answered from the loop as well.
_ROW_TEXTS = (
    "SELECT id, account_name, campaigns::text, device_count,"
    " (SELECT coalesce(sum(changes), 0) FROM campaign_report_changes WHERE campaign_id = campaigns.id)"
    " FROM campaigns WHERE id = ANY(%s)"
)
_TYPED = select(literal_column("campaigns::text").label("row_text"), campaigns).where(
    campaigns.c.id == bindparam("id"), campaigns.c.account_name == bindparam("account")
)


_Read = tuple[str, ReportVersion]  # the row's text, and its device report's version


class LoopCampaignReads:
    """Reads campaigns by id without leaving the event loop, on one connection this object keeps.

    Reads asked for while one is on the wire go together in the next: one round trip answers every request waiting,
    and each request's answer comes from a read sent after it arrived (so a caller sees its own earlier writes).
    The connection is made on first use, in the loop that uses it, and made again after an error or when another
    loop asks (tests run apps in several).
    """

    def __init__(self, engine: Engine, make: Callable[[Mapping[str, Any]], Campaign]) -> None:
        self._engine = engine
        self._make = make
        url = engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._connection: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[tuple[str, str], asyncio.Future[_Read | None]] = {}
        self._reading: asyncio.Task[None] | None = None
        self._made: dict[str, Campaign] = {}

    async def campaign(self, account_name: str, campaign_id: str) -> Campaign | None:
        found = await self.campaign_and_report(account_name, campaign_id)
        return None if found is None else found[0]

    async def campaign_and_report(self, account_name: str, campaign_id: str) -> tuple[Campaign, ReportVersion] | None:
        """The campaign, and its device report's version as read in the same statement."""
        if len(campaign_id) > _ID_LENGTH or "\x00" in campaign_id or "\x00" in account_name:
            return None  # no such row, and a NUL would fail the whole batch's statement
        read = await asyncio.shield(self._row_text(account_name, campaign_id))
        if read is None:
            return None
        text, version = read
        made = self._made.get(text)
        if made is None:
            made = await anyio.to_thread.run_sync(self._read_typed, account_name, campaign_id)
        return None if made is None else (made, version)

    async def close(self) -> None:
        reading, self._reading = self._reading, None
        if reading is not None:
            reading.cancel()
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            future.cancel()
        await self._close_connection()

    def _row_text(self, account_name: str, campaign_id: str) -> asyncio.Future[_Read | None]:
        """The row's text, from the next read sent."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Made in a loop that is gone (or going): closed without that loop's help, its requests cancelled.
            self._drop_connection()
            for waiting in self._waiting.values():
                waiting.cancel()
            self._loop, self._waiting, self._reading = loop, {}, None
        key = (campaign_id, account_name)
        future = self._waiting.get(key)
        if future is None:
            future = self._waiting[key] = loop.create_future()
        if self._reading is None:
            self._reading = loop.create_task(self._read_while_waiting())
        return future

    async def _read_while_waiting(self) -> None:
        batch: dict[tuple[str, str], asyncio.Future[_Read | None]] = {}
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                try:
                    ids = list({campaign_id for campaign_id, _ in batch})
                    found = await asyncio.wait_for(self._read(ids), READ_TIMEOUT_SECONDS)
                except Exception as error:
                    self._drop_connection()  # made again by the next read
                    for future in batch.values():
                        if not future.done():
                            future.set_exception(error)
                    continue
                for key, future in batch.items():
                    if not future.done():
                        future.set_result(found.get(key))
        finally:
            if self._reading is asyncio.current_task():
                self._reading = None
            for future in batch.values():  # when closed mid-read: its requests are not left waiting
                future.cancel()

    async def _read(self, campaign_ids: list[str]) -> dict[tuple[str, str], _Read]:
        if self._connection is None or self._connection.closed:
            # As the engine's sessions (database.make_engine): the row's text must be the typed read's, in UTC.
            self._connection = await psycopg.AsyncConnection.connect(
                self._conninfo,
                autocommit=True,
                # The server's own limit, behind the client's: bounds a read the client gave up on.
                options=f"-c TimeZone=UTC -c statement_timeout={int(READ_TIMEOUT_SECONDS * 2000)}",
                connect_timeout=10,
                application_name=APPLICATION_NAME,
                # A peer that vanished is noticed within seconds, not at the kernel's retransmission limit.
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
            )
        cursor = await self._connection.execute(_ROW_TEXTS, (campaign_ids,), prepare=True)
        return {
            (campaign_id, account_name): (text, ReportVersion(changes=int(changes), devices=int(devices)))
            for campaign_id, account_name, text, devices, changes in await cursor.fetchall()
        }

    async def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    def _drop_connection(self) -> None:
        """Closes the connection's socket at once, whatever state a failed or abandoned read left it in."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.pgconn.finish()

    def _read_typed(self, account_name: str, campaign_id: str) -> Campaign | None:
        with self._engine.connect() as connection:
            row = connection.execute(_TYPED, {"id": campaign_id, "account": account_name}).first()
        if row is None:
            return None
        if len(self._made) >= REMEMBERED:
            self._made.clear()
        # Two first reads of a row at once both make it; both are given the one kept.
        return self._made.setdefault(row.row_text, self._make(cast(Mapping[str, Any], row._mapping)))
