"""Recording status changes: every change goes to history and, in the same transaction, becomes a callback event.

Services call `record` instead of writing history directly, so no status change can skip its callback.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from fota.services.ports import DeviceLogEntry, HistoryEntry, OutboxEvent, UnitOfWork

CAMPAIGN_STATUS_CHANGED = "CampaignStatusChanged"
DEVICE_STATUS_CHANGED = "DeviceStatusChanged"


def rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_payload(event_id: str, entry: HistoryEntry, version: str = "v3") -> dict[str, Any]:
    """The callback body of one status change (camelCase, like the rest of the API), in the shape of the API version
    that registered the callback: v2 names the reason `resultReason` and the time `updateTime` (docs/callbacks.md)."""
    assert entry.campaign_id is not None
    payload: dict[str, Any] = {
        "eventId": event_id,
        "eventType": DEVICE_STATUS_CHANGED if entry.device_id is not None else CAMPAIGN_STATUS_CHANGED,
        "accountName": entry.account_name,
        "campaignId": entry.campaign_id,
    }
    if entry.device_id is not None:
        payload["deviceId"] = entry.device_id
    if version == "v2":
        payload.update(status=entry.status, resultReason=entry.reason, updateTime=rfc3339(entry.at))
    else:
        payload.update(status=entry.status, reason=entry.reason, time=rfc3339(entry.at))
    return payload


def _events(entries: list[HistoryEntry], versions: dict[str, str]) -> Iterator[OutboxEvent]:
    for entry in entries:
        # License entries carry no campaign; callbacks are about campaigns and the devices in them.
        if entry.campaign_id is None or entry.account_name not in versions:
            continue
        event_id = str(uuid.uuid4())
        payload = event_payload(event_id, entry, versions[entry.account_name])
        yield OutboxEvent(event_id, entry.account_name, payload["eventType"], payload, entry.at)


def record(uow: UnitOfWork, entries: Iterable[HistoryEntry]) -> None:
    """Appends the entries to history; campaign and per-device status changes also enter the callback outbox.

    Whether an account has a callback is read once per account in the call (callers pass one account's changes),
    in this transaction: a URL registered later does not receive earlier changes.
    """
    batch = list(entries)
    uow.history.append(batch)
    _log_upgrade_steps(uow, batch)
    names = {e.account_name for e in batch if e.campaign_id is not None}
    if not names:
        return
    registered = {name: r.version for name in names if (r := uow.callbacks.registration(name)) is not None}
    if registered:
        uow.outbox.add(_events(batch, registered))


def _log_upgrade_steps(uow: UnitOfWork, batch: list[HistoryEntry]) -> None:
    """Devices with logging enabled (a few per account) get each upgrade step as a SoftwareUpdate log entry."""
    accounts = sorted({e.account_name for e in batch if e.device_id is not None and e.campaign_id is not None})
    if not accounts:
        return
    logging = uow.activity.logging_in(accounts, now=batch[0].at)
    if logging:
        uow.activity.add_logs(
            [
                DeviceLogEntry(e.account_name, e.device_id, e.at, "SoftwareUpdate", f"{e.status}: {e.reason or ''}")
                for e in batch
                if e.device_id is not None and e.device_id in logging and e.campaign_id is not None
            ]
        )
