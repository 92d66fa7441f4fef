"""Recording status changes: every change goes to history and, in the same transaction, becomes a callback event.

Services call `record` instead of writing history directly, so no status change can skip its callback.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from fota.domain.campaign import Campaign
from fota.services.ports import CallbackRegistration, HistoryEntry, OutboxEvent, UnitOfWork
from fota.services.v1_events import v1_payload

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


def _events(
    uow: UnitOfWork, entries: list[HistoryEntry], registrations: dict[str, CallbackRegistration]
) -> list[OutboxEvent]:
    events: list[OutboxEvent] = []
    campaigns: dict[str, Campaign | None] = {}
    for entry in entries:
        registration = registrations.get(entry.account_name)
        # License entries carry no campaign; callbacks are about campaigns and the devices in them.
        if entry.campaign_id is None or registration is None:
            continue
        event_id = str(uuid.uuid4())
        payload: dict[str, Any] | None
        if registration.api_version == "v1":
            if entry.campaign_id not in campaigns:  # v1 messages name the upgrade's firmware: read it once
                campaigns[entry.campaign_id] = uow.campaigns.get(entry.account_name, entry.campaign_id)
            campaign = campaigns[entry.campaign_id]
            payload = v1_payload(event_id, entry, campaign, registration, rfc3339(entry.at)) if campaign else None
            kind = payload["type"] if payload else ""
        else:
            payload = event_payload(event_id, entry)
            kind = payload["eventType"]
        if payload is not None:
            events.append(OutboxEvent(event_id, entry.account_name, kind, payload, entry.at))
    return events


def record(uow: UnitOfWork, entries: Iterable[HistoryEntry]) -> None:
    """Appends the entries to history; campaign and per-device status changes also enter the callback outbox,
    in the shape of the API version the account's callback was registered through.

    Whether an account has a callback is read once per account in the call (callers pass one account's changes),
    in this transaction: a URL registered later does not receive earlier changes.
    """
    batch = list(entries)
    uow.history.append(batch)
    names = {e.account_name for e in batch if e.campaign_id is not None}
    if not names:
        return
    registrations = {name: r for name in names if (r := uow.callbacks.registration(name)) is not None}
    if registrations:
        events = _events(uow, batch, registrations)
        if events:
            uow.outbox.add(events)
