"""SQL repository of the status history: every change of a campaign or a device, appended in order, never changed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from fota.adapters.storage.bulk import GROUP_FROM, insert_keyed, insert_rows
from fota.adapters.storage.tables import history
from fota.services.ports import DevicesHistory, HistoryEntry


def _entry(row: Any) -> HistoryEntry:
    r = row._mapping
    return HistoryEntry(r["account_name"], r["campaign_id"], r["device_id"], r["status"], r["reason"], r["at"])


class SqlHistoryRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def append(self, entries: Iterable[HistoryEntry]) -> None:
        insert_rows(
            self.c,
            history,
            (
                {
                    "account_name": e.account_name,
                    "campaign_id": e.campaign_id,
                    "device_id": e.device_id,
                    "status": e.status,
                    "reason": e.reason,
                    "at": e.at,
                }
                for e in entries
            ),
        )

    def append_devices(self, changes: Sequence[DevicesHistory]) -> None:
        # A large change is one `INSERT ... SELECT` from its device ids; entries before it are written first, so
        # ids keep the order of the changes.
        pending: list[HistoryEntry] = []
        for change in changes:
            if len(change.device_ids) < GROUP_FROM:
                pending.extend(change.entries())
                continue
            self.append(pending)
            pending = []
            shared = {
                "account_name": change.account_name,
                "campaign_id": change.campaign_id,
                "status": change.status,
                "reason": change.reason,
                "at": change.at,
            }
            insert_keyed(self.c, history, "device_id", change.device_ids, shared)
        self.append(pending)

    def for_device(self, account_name: str, device_id: str) -> list[HistoryEntry]:
        query = select(history).where(history.c.account_name == account_name, history.c.device_id == device_id)
        return [_entry(r) for r in self.c.execute(query.order_by(history.c.id))]

    def for_campaign(self, campaign_id: str) -> list[HistoryEntry]:
        query = select(history).where(history.c.campaign_id == campaign_id, history.c.device_id.is_(None))
        return [_entry(r) for r in self.c.execute(query.order_by(history.c.id))]
