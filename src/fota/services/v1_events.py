"""The v1 shape of callback events, for accounts whose callback was registered as v1's `Fota` service.

ThingSpace v1 sends one message structure for every callback: `type` names the part that is filled, the other parts
stay empty, and the username and password given at registration are echoed back. Each device change is an
`upgradeProgress` message; the upgrade's own status changes (domain/upgrade_statuses.py) are announced once each,
also when a device change is what moves them (the first device starting, the last one concluding).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fota.domain.campaign import Campaign
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.domain.upgrade import Step
from fota.domain.upgrade_statuses import DeviceTally, UpgradeStatus, upgrade_status
from fota.services.ports import CallbackRegistration, HistoryEntry, UnitOfWork

UPGRADE_SCHEDULED = "upgradeScheduled"  # the upgrade passed its checks and waits for its start
UPGRADE_STATUS = "upgradeStatus"  # any later status of the upgrade as a whole
UPGRADE_PROGRESS = "upgradeProgress"  # one device's status in the upgrade
PARTS = (UPGRADE_SCHEDULED, UPGRADE_STATUS, UPGRADE_PROGRESS)
# Final device statuses a device reaches from an active one by its own change (not by the campaign ending).
CONCLUSIONS = frozenset({DeviceStatus.SUCCESS, DeviceStatus.FAILED, DeviceStatus.REMOVED})
CAMPAIGN_STATUSES = frozenset(CampaignStatus)


def _concludes(entry: HistoryEntry) -> bool:
    # Compared as text: history may hold statuses of other kinds, which move no upgrade.
    return entry.device_id is not None and entry.status in CONCLUSIONS


def _starts(entries: Sequence[HistoryEntry]) -> list[HistoryEntry]:
    """Devices claimed for their upgrade (a retry claims again)."""
    return [e for e in entries if e.status == DeviceStatus.IN_PROGRESS and e.reason == Step.STARTING.reason]


def may_announce(entries: Sequence[HistoryEntry]) -> bool:
    """Whether these entries can move the upgrade's status at all; most device steps cannot, and cost no count."""
    return any(e.device_id is None or _concludes(e) for e in entries) or bool(_starts(entries))


def bounded_tally(uow: UnitOfWork, campaign_id: str, *, starts: int) -> DeviceTally:
    """The campaign's devices as far as `announcements` needs them, each count cut short so that its cost stays small
    however large the campaign: whether any waits, succeeded or failed, and how many run, up to `starts` + 1."""
    count = uow.campaign_devices.count_up_to
    in_progress = count(campaign_id, DeviceStatus.IN_PROGRESS, starts + 1)
    return DeviceTally(
        active=count(campaign_id, DeviceStatus.PENDING, 1) + in_progress,
        in_progress=in_progress,
        succeeded=count(campaign_id, DeviceStatus.SUCCESS, 1),
        failed=count(campaign_id, DeviceStatus.FAILED, 1),
    )


def announcements(
    campaign: Campaign, entries: Sequence[HistoryEntry], tally: DeviceTally
) -> Iterator[tuple[HistoryEntry, UpgradeStatus]]:
    """The upgrade statuses one `record` call's entries of `campaign` make v1 announce, with the entry that
    carries each; `tally` counts the campaign's devices after the entries' changes (see `bounded_tally`)."""
    for entry in entries:
        if entry.device_id is not None or entry.status not in CAMPAIGN_STATUSES:
            continue
        status = CampaignStatus(entry.status)
        upgrade = upgrade_status(status, campaign, entry.at, tally)
        if upgrade is UpgradeStatus.QUEUED and status is not CampaignStatus.QUEUED:
            continue  # being laid out before the start is still `Queued`: already announced
        if status in (CampaignStatus.ENDED, CampaignStatus.ABORTED) and not tally.active and tally.concluded:
            continue  # its last device's conclusion already announced the end
        yield entry, upgrade
    devices = [e for e in entries if e.device_id is not None]
    if not devices or campaign.status.is_final or devices[-1].at < campaign.schedule.starts_at:
        return
    if not tally.active and any(_concludes(e) for e in devices):
        yield devices[-1], upgrade_status(campaign.status, campaign, devices[-1].at, tally)
        return
    starts = _starts(devices)
    if starts and tally.in_progress == len(starts) and not tally.concluded:
        yield starts[0], UpgradeStatus.IN_PROGRESS  # the first devices to start start the upgrade


def _message(
    event_id: str, entry: HistoryEntry, registration: CallbackRegistration, kind: str, part: dict[str, Any]
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventId": event_id,
        "accountName": entry.account_name,
        "participantName": "",
        "type": kind,
        "username": registration.username or "",
        "password": registration.password or "",
        "firmwareList": [],
    }
    payload.update({name: part if name == kind else {} for name in PARTS})
    return payload


def progress_message(
    event_id: str, entry: HistoryEntry, campaign: Campaign, registration: CallbackRegistration, time: str
) -> dict[str, Any]:
    """One device's status change in the upgrade."""
    part = {
        "upgradeId": campaign.id,
        "deviceId": entry.device_id,
        "status": entry.status,
        "reason": entry.reason or "",
        "time": time,
    }
    return _message(event_id, entry, registration, UPGRADE_PROGRESS, part)


def status_message(
    event_id: str,
    entry: HistoryEntry,
    status: UpgradeStatus,
    campaign: Campaign,
    registration: CallbackRegistration,
    time: str,
) -> dict[str, Any]:
    """The upgrade's new status; `entry` is the change that moved it."""
    part = {
        "upgradeId": campaign.id,
        "firmwareName": campaign.firmware_name,
        "firmwareTo": campaign.firmware_to,
        "startDate": campaign.schedule.start_date.isoformat(),
        "status": status.value,
        "reason": entry.reason or "" if entry.device_id is None else f"device {entry.device_id}: {entry.status}",
        "time": time,
    }
    kind = UPGRADE_SCHEDULED if status is UpgradeStatus.QUEUED else UPGRADE_STATUS
    return _message(event_id, entry, registration, kind, part)
