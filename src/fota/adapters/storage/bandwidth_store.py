"""The bandwidth budget's counters (`campaign_bandwidth`): the ADR's one conditional upsert per reservation, the
same statement on SQLite and PostgreSQL, so every process of a deployment shares one counter per campaign and hour."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from fota.adapters.storage.tables import campaign_bandwidth


class SqlBandwidthRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def reserve(self, campaign_id: str, hour: datetime, wanted: int, *, bytes_per_hour: int) -> bool:
        # On PostgreSQL the conflicting row is locked and the WHERE evaluated on its latest version: two processes
        # cannot both pass the hour's last bytes. SQLite has one writer at a time anyway.
        dialect_insert = postgresql_insert if self.c.dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(campaign_bandwidth).values(campaign_id=campaign_id, hour=hour, bytes=wanted)
        statement = statement.on_conflict_do_update(
            index_elements=["campaign_id", "hour"],
            set_={"bytes": campaign_bandwidth.c.bytes + statement.excluded.bytes},
            where=campaign_bandwidth.c.bytes + statement.excluded.bytes <= bytes_per_hour,
        )
        # RETURNING, not the row count: an upsert's count is not reported alike by every driver.
        return self.c.execute(statement.returning(campaign_bandwidth.c.bytes)).first() is not None

    def give_back(self, campaign_id: str, hour: datetime, amount: int) -> None:
        self.c.execute(
            update(campaign_bandwidth)
            .where(campaign_bandwidth.c.campaign_id == campaign_id, campaign_bandwidth.c.hour == hour)
            .values(bytes=campaign_bandwidth.c.bytes - amount)
        )

    def reserved(self, campaign_id: str, hour: datetime) -> int:
        found = self.c.execute(
            select(campaign_bandwidth.c.bytes).where(
                campaign_bandwidth.c.campaign_id == campaign_id, campaign_bandwidth.c.hour == hour
            )
        ).scalar()
        return int(found or 0)

    def prune(self, before: datetime) -> int:
        return self.c.execute(delete(campaign_bandwidth).where(campaign_bandwidth.c.hour < before)).rowcount
