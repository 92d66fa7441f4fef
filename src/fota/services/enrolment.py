"""Putting devices into a campaign: eligibility, license auto-assignment and history, for many devices at once.

Shared by campaign creation, add-devices, the engine's layout step and auto-add on device changes.
The caller holds the account row (`uow.accounts.lock`, taken before any campaign row) so the license pool cannot
over-commit; enrolment only reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fota.domain.campaign import Campaign
from fota.domain.devices import ineligibility_reason
from fota.domain.statuses import DeviceStatus
from fota.services import events
from fota.services.ports import CampaignDeviceRow, HistoryEntry, UnitOfWork
from fota.services.rollouts import OFFERED_REASON, late_member

ENROLLED_REASON = OFFERED_REASON
ADD_SUCCEEDED_REASON = "Device added Successfully"
REENROLLABLE = frozenset({DeviceStatus.REJECTED, DeviceStatus.REMOVED})
# Read once: an enum member's `.value` is a slow attribute in a loop over a whole fleet.
STATUS_TEXT = {status: status.value for status in DeviceStatus}


@dataclass(frozen=True, slots=True)
class EnrolmentResult:
    device_id: str
    enrolled: bool
    reason: str


def enrol(
    uow: UnitOfWork,
    campaign: Campaign,
    device_ids: Sequence[str],
    *,
    now: datetime,
    record_rejections: bool = True,
    carried: Mapping[str, str] | None = None,
) -> list[EnrolmentResult]:
    """Enrols the eligible devices; rejected ones get a `DeviceRejected` row (unless told not to) and a reason.

    A device already active in this campaign counts as enrolled and is left alone; only rejected or removed
    devices are evaluated again. `carried`: a follow-up campaign's reason per device, kept on its row.
    """
    unique_ids = list(dict.fromkeys(device_ids))
    devices = uow.devices.get_many(unique_ids)
    existing = uow.campaign_devices.get_many(campaign.id, unique_ids)
    busy = uow.campaign_devices.active_elsewhere(unique_ids, campaign.id)
    account = uow.accounts.get(campaign.account_name) if campaign.auto_assign_license else None
    licenses_free = account.licenses_free if account else 0

    late = late_member(campaign)
    results: list[EnrolmentResult] = []
    to_license: list[str] = []
    new_rows: list[CampaignDeviceRow] = []
    changed_rows: list[CampaignDeviceRow] = []
    entries: list[HistoryEntry] = []
    for device_id in unique_ids:
        current = existing.get(device_id)
        if current is not None and current.status not in REENROLLABLE:
            # Pending or in progress: already enrolled. Upgraded or failed: its outcome stays on record.
            results.append(
                EnrolmentResult(
                    device_id, current.status.is_active, f"Device is already in this campaign ({current.status.value})"
                )
            )
            continue
        device = devices.get(device_id)
        if device is not None and device.account_name != campaign.account_name:
            device = None  # another account's device is indistinguishable from an unknown one
        reason = ineligibility_reason(
            device, campaign, in_other_live_campaign=device_id in busy, license_obtainable=licenses_free > 0
        )
        if reason is None:
            assert device is not None
            if not device.license_assigned:
                to_license.append(device_id)
                licenses_free -= 1
            status, row_reason = DeviceStatus.PENDING, ENROLLED_REASON if late is None else late[1]
        else:
            status, row_reason = DeviceStatus.REJECTED, reason
        results.append(EnrolmentResult(device_id, reason is None, reason or ADD_SUCCEEDED_REASON))
        if reason is not None and not record_rejections:
            continue
        # A device enrolled after the rollout's plan joins the last wave (`rollouts.late_member`).
        wave = late[0] if late is not None and reason is None else None
        row = CampaignDeviceRow(
            campaign.id,
            device_id,
            campaign.account_name,
            status,
            row_reason,
            now,
            carried_reason=carried.get(device_id) if carried is not None else None,
            wave=wave,
        )
        (changed_rows if current is not None else new_rows).append(row)
        entries.append(
            HistoryEntry(campaign.account_name, campaign.id, device_id, STATUS_TEXT[status], row_reason, now)
        )

    if to_license:
        uow.devices.set_licensed(to_license, True, at=now)
        uow.accounts.add_licenses_used(campaign.account_name, len(to_license), at=now)
        reason = f"auto-assigned for campaign {campaign.id}"
        entries.extend(HistoryEntry(campaign.account_name, None, d, "LicenseAssigned", reason, now) for d in to_license)
    uow.campaign_devices.insert(new_rows)
    uow.campaign_devices.update(changed_rows)
    events.record(uow, entries)
    return results


def enrol_in_auto_add_campaigns(uow: UnitOfWork, device_ids: Sequence[str], *, now: datetime) -> None:
    """After devices appear or change firmware: join the oldest live auto-add campaign each one matches."""
    devices = uow.devices.get_many(list(device_ids))
    by_kind: dict[tuple[str, str, str, str, str], list[str]] = {}
    for device in devices.values():
        key = (device.account_name, device.make, device.model, device.firmware, device.protocol.value)
        by_kind.setdefault(key, []).append(device.device_id)
    for (account_name, make, model, firmware, _), ids in by_kind.items():
        protocol = devices[ids[0]].protocol
        targets = uow.campaigns.auto_add_targets(
            account_name, make=make, model=model, firmware_from=firmware, protocol=protocol
        )
        remaining = ids
        if any(campaign.is_live(now) for campaign in targets):
            uow.accounts.lock(account_name)
        for campaign in targets:
            if not campaign.is_live(now) or not remaining:
                continue
            results = enrol(uow, campaign, remaining, now=now, record_rejections=False)
            remaining = [r.device_id for r in results if not r.enrolled]
