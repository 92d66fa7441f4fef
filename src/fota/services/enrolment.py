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
from fota.domain.devices import DeviceKind, ineligibility_reason
from fota.domain.statuses import DeviceStatus
from fota.services import events
from fota.services.ports import CampaignDeviceRow, DevicesHistory, NewCampaignDevices, UnitOfWork
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
    The rule is decided once per kind of device (`DeviceKind`), and new rows and history go as groups of devices
    that share everything else: a fleet of 100 000 is a few groups, not 100 000 rows built here.
    """
    unique_ids = list(dict.fromkeys(device_ids))
    kinds = uow.devices.kinds(unique_ids)
    existing = uow.campaign_devices.get_many(campaign.id, unique_ids)
    busy = uow.campaign_devices.active_elsewhere(unique_ids, campaign.id)
    account = uow.accounts.get(campaign.account_name) if campaign.auto_assign_license else None
    licenses_free = account.licenses_free if account else 0

    late = late_member(campaign)
    # A device enrolled after the rollout's plan joins the last wave (`rollouts.late_member`).
    enrolled_reason, enrolled_wave = (ENROLLED_REASON, None) if late is None else (late[1], late[0])
    decided: dict[tuple[DeviceKind | None, bool, bool], str | None] = {}
    results: list[EnrolmentResult] = []
    to_license: list[str] = []
    new_rows: dict[tuple[DeviceStatus, str, str | None, int | None], list[str]] = {}
    changed_rows: list[CampaignDeviceRow] = []
    changes: dict[tuple[DeviceStatus, str], list[str]] = {}
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
        kind = kinds.get(device_id)
        if kind is not None and kind.account_name != campaign.account_name:
            kind = None  # another account's device is indistinguishable from an unknown one
        case = (kind, device_id in busy, licenses_free > 0)
        if case in decided:
            reason = decided[case]
        else:
            reason = decided[case] = ineligibility_reason(
                kind, campaign, in_other_live_campaign=case[1], license_obtainable=case[2]
            )
        if reason is None:
            assert kind is not None
            if not kind.license_assigned:
                to_license.append(device_id)
                licenses_free -= 1
            status, row_reason, wave = DeviceStatus.PENDING, enrolled_reason, enrolled_wave
        else:
            status, row_reason, wave = DeviceStatus.REJECTED, reason, None
        results.append(EnrolmentResult(device_id, reason is None, reason or ADD_SUCCEEDED_REASON))
        if reason is not None and not record_rejections:
            continue
        carried_reason = carried.get(device_id) if carried is not None else None
        if current is None:
            new_rows.setdefault((status, row_reason, carried_reason, wave), []).append(device_id)
        else:
            changed_rows.append(
                CampaignDeviceRow(
                    campaign.id,
                    device_id,
                    campaign.account_name,
                    status,
                    row_reason,
                    now,
                    carried_reason=carried_reason,
                    wave=wave,
                )
            )
        changes.setdefault((status, row_reason), []).append(device_id)

    account_name = campaign.account_name
    history = [
        DevicesHistory(account_name, campaign.id, STATUS_TEXT[status], reason, now, ids)
        for (status, reason), ids in changes.items()
    ]
    if to_license:
        uow.devices.set_licensed(account_name, to_license, True, at=now)
        uow.accounts.add_licenses_used(account_name, len(to_license), at=now)
        reason = f"auto-assigned for campaign {campaign.id}"
        history.append(DevicesHistory(account_name, None, "LicenseAssigned", reason, now, to_license))
    uow.campaign_devices.insert_groups(
        NewCampaignDevices(campaign.id, account_name, status, reason, now, ids, carried_reason, wave)
        for (status, reason, carried_reason, wave), ids in new_rows.items()
    )
    uow.campaign_devices.update(changed_rows)
    events.record_devices(uow, history)
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
