"""Recording status changes: every change goes to history and, in the same transaction, becomes a callback event.

Services call `record` instead of writing history directly, so no status change can skip its callback.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from fota.services.ports import HistoryEntry, OutboxEvent, UnitOfWork

CAMPAIGN_STATUS_CHANGED = "CampaignStatusChanged"
DEVICE_STATUS_CHANGED = "DeviceStatusChanged"


def rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_payload(event_id: str, entry: HistoryEntry) -> dict[str, Any]:
    """The callback body of one status change (camelCase, like the rest of the API)."""
    assert entry.campaign_id is not None
    payload: dict[str, Any] = {
        "eventId": event_id,
        "eventType": DEVICE_STATUS_CHANGED if entry.device_id is not None else CAMPAIGN_STATUS_CHANGED,
        "accountName": entry.account_name,
        "campaignId": entry.campaign_id,
    }
    if entry.device_id is not None:
        payload["deviceId"] = entry.device_id
    payload.update(status=entry.status, reason=entry.reason, time=rfc3339(entry.at))
    return payload


def _events(entries: list[HistoryEntry], accounts: set[str]) -> Iterator[OutboxEvent]:
    for entry in entries:
        # License entries carry no campaign; callbacks are about campaigns and the devices in them.
        if entry.campaign_id is None or entry.account_name not in accounts:
            continue
        event_id = str(uuid.uuid4())
        payload = event_payload(event_id, entry)
        yield OutboxEvent(event_id, entry.account_name, payload["eventType"], payload, entry.at)


def record(uow: UnitOfWork, entries: Iterable[HistoryEntry]) -> None:
    """Appends the entries to history; campaign and per-device status changes also enter the callback outbox.

    Whether an account has a callback is read once per account in the call (callers pass one account's changes),
    in this transaction: a URL registered later does not receive earlier changes.
    """
    batch = list(entries)
    uow.history.append(batch)
    names = {e.account_name for e in batch if e.campaign_id is not None}
    if not names:
        return
    registered = {name for name in names if uow.callbacks.get(name) is not None}
    if registered:
        uow.outbox.add(_events(batch, registered))
