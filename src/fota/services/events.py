"""Recording status changes: every change goes to history and, in the same transaction, becomes a callback event.

Services call `record` instead of writing history directly, so no status change can skip its callback. An event
takes the shape of the API version the account's callback was registered through (v1's: services/v1_events.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from fota.domain.campaign import Campaign
from fota.services.ports import (
    CallbackRegistration,
    DeviceLogEntry,
    DevicesHistory,
    HistoryEntry,
    OutboxEvent,
    UnitOfWork,
)
from fota.services.v1_events import (
    CONCLUSIONS,
    announcements,
    bounded_tally,
    may_announce,
    progress_message,
    status_message,
)

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


def _events(
    uow: UnitOfWork, entries: list[HistoryEntry], registrations: dict[str, CallbackRegistration]
) -> list[OutboxEvent]:
    events: list[OutboxEvent] = []
    v1_entries: dict[tuple[str, str], list[HistoryEntry]] = {}
    for entry in entries:
        registration = registrations.get(entry.account_name)
        # License entries carry no campaign; callbacks are about campaigns and the devices in them.
        if entry.campaign_id is None or registration is None:
            continue
        if registration.api_version == "v1":
            v1_entries.setdefault((entry.account_name, entry.campaign_id), []).append(entry)
            continue
        event_id = str(uuid.uuid4())
        payload = event_payload(event_id, entry, registration.api_version)
        events.append(OutboxEvent(event_id, entry.account_name, payload["eventType"], payload, entry.at))
    if v1_entries:
        events.extend(_v1_events(uow, v1_entries, registrations))
    return events


def _v1_events(
    uow: UnitOfWork,
    entries: dict[tuple[str, str], list[HistoryEntry]],
    registrations: dict[str, CallbackRegistration],
) -> Iterator[OutboxEvent]:
    """v1 messages name the upgrade's firmware and announce its status, which its devices decide: both are read in
    this transaction, after the changes being recorded."""
    locked: dict[tuple[str, str], Campaign | None] = {}
    for key, batch in entries.items():
        if any(e.device_id is not None and e.status in CONCLUSIONS for e in batch):
            # Two devices concluding at once must not both see the other still active (and so neither announce the
            # end): the campaign's row orders them. No lock cycle forms: a concluded device's row was not pending,
            # and the writers that lock the campaign first (cancel, the end date) update only pending rows.
            locked[key] = uow.campaigns.get_for_update(*key)
    for (account_name, campaign_id), batch in entries.items():
        key = (account_name, campaign_id)
        campaign = locked[key] if key in locked else uow.campaigns.get(account_name, campaign_id)
        if campaign is None:
            continue
        registration = registrations[account_name]
        for entry in batch:
            if entry.device_id is not None:
                event_id = str(uuid.uuid4())
                payload = progress_message(event_id, entry, campaign, registration, rfc3339(entry.at))
                yield OutboxEvent(event_id, account_name, payload["type"], payload, entry.at)
        if not may_announce(batch):
            continue
        tally = bounded_tally(uow, campaign_id, starts=len(batch))
        for entry, status in announcements(campaign, batch, tally):
            event_id = str(uuid.uuid4())
            payload = status_message(event_id, entry, status, campaign, registration, rfc3339(entry.at))
            yield OutboxEvent(event_id, account_name, payload["type"], payload, entry.at)


def record(uow: UnitOfWork, entries: Iterable[HistoryEntry]) -> None:
    """Appends the entries to history; campaign and per-device status changes also enter the callback outbox,
    in the shape of the API version the account's callback was registered through.

    Whether an account has a callback is read in this transaction (callers pass one account's changes), once however
    many calls it makes (the callback repository remembers what it read): a URL registered later does not receive
    earlier changes.
    """
    batch = list(entries)
    uow.history.append(batch)
    _log_upgrade_steps(uow, batch)
    names = {e.account_name for e in batch if e.campaign_id is not None}
    if not names:
        return
    registrations = {name: r for name in names if (r := uow.callbacks.registration(name)) is not None}
    if registrations:
        events = _events(uow, batch, registrations)
        if events:
            uow.outbox.add(events)


def record_devices(uow: UnitOfWork, changes: Sequence[DevicesHistory]) -> None:
    """`record` for the same change of many devices at a time (a fleet's enrolment): history takes each change as a
    set; callbacks and device logs, which are per device, get each entry as `record` gives it."""
    changes = [c for c in changes if c.device_ids]
    if not changes:
        return
    uow.history.append_devices(changes)
    accounts = sorted({c.account_name for c in changes if c.campaign_id is not None})
    if not accounts:
        return
    logging = uow.activity.logging_in(accounts, now=changes[0].at)
    if logging:
        uow.activity.add_logs(
            [
                DeviceLogEntry(c.account_name, d, c.at, "SoftwareUpdate", f"{c.status}: {c.reason or ''}")
                for c in changes
                if c.campaign_id is not None
                for d in c.device_ids
                if d in logging
            ],
            received_at=changes[0].at,
        )
    registrations = {name: r for name in accounts if (r := uow.callbacks.registration(name)) is not None}
    if registrations:
        entries = [e for c in changes if c.account_name in registrations for e in c.entries()]
        events = _events(uow, entries, registrations)
        if events:
            uow.outbox.add(events)


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
            ],
            received_at=batch[0].at,
        )
