"""Campaign use cases: create (a v3 campaign or a v1 upgrade), read, change dates, add or remove devices, cancel."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from fota.clock import Clock
from fota.domain.bandwidth import BandwidthBudget
from fota.domain.blackouts import BlackoutCalendar, parse_blackouts
from fota.domain.campaign import Campaign, check_firmware_matches, check_flags, check_schedule
from fota.domain.errors import InvalidRequest, InvalidState, NotFound
from fota.domain.phases import NO_PHASES, Phases, check_phases, check_windows_kept
from fota.domain.protocols import Protocol
from fota.domain.rollout import RolloutSpec
from fota.domain.statuses import PENDING_DEVICES_ON_FINAL, CampaignStatus, DeviceStatus
from fota.domain.upgrade import RetryPolicy
from fota.domain.windows import Schedule, TimeWindow
from fota.domain.zones import WindowZone
from fota.services import events, rollouts
from fota.services.enrolment import EnrolmentResult, enrol
from fota.services.ports import CampaignDeviceRow, HistoryEntry, UnitOfWork
from fota.services.signing import check_campaign_firmware


@dataclass(frozen=True)
class CampaignCreate:
    firmware_name: str
    firmware_from: str
    firmware_to: str
    protocol: str
    start_date: date
    end_date: date
    device_ids: Sequence[str]
    auto_assign_license: bool
    auto_add_devices: bool
    campaign_name: str | None = None
    windows: Sequence[TimeWindow] = ()
    time_zone: str | None = None
    phases: Phases = NO_PHASES  # v2 download/install after-dates and install windows
    package_kind: str = "firmware"  # "file": `firmware_name` names one of the account's configuration files
    retry_policy: RetryPolicy | None = None  # v3's retryPolicy, checked by RetryPolicy.from_plain
    window_zone: WindowZone | None = None  # v3's windowZone, checked by parse_window_zone; None: not given
    blackouts: object = None  # v3's blackouts as given: parsed here, in the campaign's zone (parse_blackouts)
    bandwidth: BandwidthBudget | None = None  # v3's bandwidth, checked by BandwidthBudget.from_plain
    rollout: RolloutSpec | None = None  # v3's rollout, checked by parse_rollout


@dataclass(frozen=True)
class DeviceChange:
    device_id: str
    succeeded: bool
    status: str
    reason: str


def record_campaign_status(uow: UnitOfWork, campaign: Campaign, *, now: datetime) -> None:
    events.record(
        uow,
        [HistoryEntry(campaign.account_name, campaign.id, None, campaign.status.value, campaign.status_reason, now)],
    )


def checked_campaign(
    uow: UnitOfWork, *, now: datetime, account_name: str, request: CampaignCreate, signing_required: bool
) -> Campaign:
    """Every creation check (flags, dates, windows, firmware and versions, protocol, a trusted signature where the
    deployment (`signing_required`) or the account requires one), inside an open unit of work; returns the campaign
    as it would be created. Shared by creation and its dry run."""
    protocol = Protocol.parse(request.protocol)
    check_flags(request.auto_assign_license, request.auto_add_devices)
    schedule = check_schedule(
        Schedule(request.start_date, request.end_date, tuple(request.windows), request.time_zone or "UTC"), now
    )
    firmware = uow.firmware.get(request.firmware_name)
    if request.package_kind == "file":
        if firmware is None or firmware.kind != "file" or firmware.owner_account != account_name:
            raise InvalidRequest(f"file {request.firmware_name!r} does not exist: see GET /files/{{account}}")
        # A file has a version but upgrades nothing "from", and any protocol can carry it: only the version counts.
        version = request.firmware_to or firmware.firmware_to
        check_firmware_matches(firmware, firmware.firmware_from, version, firmware.protocol)
    else:
        if firmware is None or firmware.kind != "firmware":
            raise InvalidRequest(f"firmware {request.firmware_name!r} does not exist: see GET /firmware/{{account}}")
        check_firmware_matches(firmware, request.firmware_from, request.firmware_to, protocol)
        check_campaign_firmware(uow, account_name=account_name, firmware=firmware, deployment=signing_required)
    phases = check_phases(request.phases, schedule)
    blackouts = parse_blackouts(request.blackouts, schedule.zone)
    return Campaign(
        id=str(uuid.uuid4()),
        account_name=account_name,
        name=request.campaign_name,
        firmware_name=firmware.name,
        firmware_from=firmware.firmware_from,
        firmware_to=firmware.firmware_to,
        protocol=protocol,
        make=firmware.make,
        model=firmware.model,
        schedule=schedule,
        auto_assign_license=request.auto_assign_license,
        auto_add_devices=request.auto_add_devices,
        status=CampaignStatus.QUEUED,
        status_reason="campaign checks passed; waiting to be scheduled",
        package_kind=firmware.kind,
        phases=phases,
        retry_policy=request.retry_policy,
        window_zone=request.window_zone,
        blackouts=BlackoutCalendar(blackouts) if blackouts else None,
        bandwidth=request.bandwidth,
        rollout=request.rollout,
        rollout_state=rollouts.initial_rollout(request.rollout),
    )


def create_campaign(
    *, uow: UnitOfWork, clock: Clock, account_name: str, request: CampaignCreate, signing_required: bool
) -> Campaign:
    now = clock.now()
    with uow:
        uow.accounts.lock(account_name)  # the license pool is taken first, in the same order everywhere
        campaign = _created(uow, now, account_name, request, signing_required=signing_required)
        uow.commit()
    return campaign


def _created(
    uow: UnitOfWork, now: datetime, account_name: str, request: CampaignCreate, *, signing_required: bool
) -> Campaign:
    campaign = checked_campaign(
        uow, now=now, account_name=account_name, request=request, signing_required=signing_required
    )
    uow.campaigns.add(campaign, at=now)
    record_campaign_status(uow, campaign, now=now)
    enrol(uow, campaign, list(request.device_ids), now=now)
    if rollouts.planned(campaign):
        rollouts.plan_members(uow, campaign)
    return campaign


def create_upgrade(
    *,
    uow: UnitOfWork,
    clock: Clock,
    account_name: str,
    firmware_name: str,
    firmware_to: str,
    start_date: date,
    end_date: date,
    device_ids: Sequence[str],
    signing_required: bool,
) -> Campaign:
    """v1's upgrade: a campaign whose `firmwareFrom` and protocol are the firmware's own, open at any hour,
    licensing nobody automatically (v1 has neither windows nor flags); every other check is the campaign's."""
    now = clock.now()
    with uow:
        uow.accounts.lock(account_name)
        firmware = uow.firmware.get(firmware_name)
        if firmware is None:
            raise InvalidRequest(f"firmware {firmware_name!r} does not exist: see GET /firmware/{{account}}")
        request = CampaignCreate(
            firmware_name=firmware.name,
            firmware_from=firmware.firmware_from,
            firmware_to=firmware_to,
            protocol=firmware.protocol.value,
            start_date=start_date,
            end_date=end_date,
            device_ids=device_ids,
            auto_assign_license=False,
            auto_add_devices=False,
        )
        campaign = _created(uow, now, account_name, request, signing_required=signing_required)
        uow.commit()
    return campaign


def get_campaign(*, uow: UnitOfWork, account_name: str, campaign_id: str) -> Campaign:
    with uow:
        campaign = uow.campaigns.get(account_name, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found in account {account_name}")
    return campaign


def _locked_campaign(uow: UnitOfWork, account_name: str, campaign_id: str) -> Campaign:
    campaign = uow.campaigns.get_for_update(account_name, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found in account {account_name}")
    return campaign


def change_dates(
    *,
    uow: UnitOfWork,
    clock: Clock,
    account_name: str,
    campaign_id: str,
    start_date: date,
    end_date: date,
    windows: Sequence[TimeWindow] | None,
    phases: Phases | None = None,
    keep_windows: bool = False,
) -> Campaign:
    """New dates and windows (v3 replaces them). v2 (`phases` given, `keep_windows`) may add windows but not remove
    them, and sets its after-dates and install windows too."""
    now = clock.now()
    with uow:
        campaign = _locked_campaign(uow, account_name, campaign_id)
        new_windows = tuple(windows) if windows is not None else ()
        if keep_windows:
            new_windows = new_windows or campaign.schedule.windows
            check_windows_kept(campaign.schedule.windows, new_windows, "download")
            if phases is not None and campaign.phases.install_windows:
                kept = phases.install_windows or campaign.phases.install_windows
                check_windows_kept(campaign.phases.install_windows, kept, "install")
                phases = replace(phases, install_windows=kept)
        proposed = Schedule(start_date, end_date, new_windows, campaign.schedule.time_zone)
        changed = campaign.with_new_schedule(proposed, now)
        if phases is not None:
            changed = replace(changed, phases=check_phases(phases, changed.schedule))
        windows_text = ", ".join(f"{w.start_hour}-{w.end_hour}" for w in changed.schedule.windows) or "any hour"
        uow.campaigns.update(changed, at=now)
        events.record(
            uow,
            [
                HistoryEntry(
                    account_name,
                    campaign_id,
                    None,
                    changed.status.value,
                    f"dates changed to {start_date.isoformat()}..{end_date.isoformat()}, windows {windows_text}",
                    now,
                )
            ],
        )
        uow.commit()
    return changed


def add_devices(
    *, uow: UnitOfWork, clock: Clock, account_name: str, campaign_id: str, device_ids: Sequence[str]
) -> list[DeviceChange]:
    now = clock.now()
    with uow:
        campaign = _locked_campaign(uow, account_name, campaign_id)
        if not campaign.is_live(now):
            raise InvalidState(f"campaign {campaign_id} is {campaign.status.value}; devices can no longer be added")
        uow.accounts.lock(account_name)
        results = enrol(uow, campaign, device_ids, now=now)
        uow.commit()
    return [_added(r) for r in results]


def _added(result: EnrolmentResult) -> DeviceChange:
    if result.enrolled:
        return DeviceChange(result.device_id, True, "AddDeviceSucceed", result.reason)
    return DeviceChange(result.device_id, False, "AddDeviceFailed", result.reason)


def remove_devices(
    *, uow: UnitOfWork, clock: Clock, account_name: str, campaign_id: str, device_ids: Sequence[str]
) -> list[DeviceChange]:
    now = clock.now()
    unique_ids = list(dict.fromkeys(device_ids))
    with uow:
        campaign = _locked_campaign(uow, account_name, campaign_id)
        if campaign.status.is_final:
            raise InvalidState(f"campaign {campaign_id} is {campaign.status.value}; devices can no longer be removed")
        rows = uow.campaign_devices.get_many(campaign_id, unique_ids)
        changes: list[DeviceChange] = []
        removed: list[CampaignDeviceRow] = []
        for device_id in unique_ids:
            row = rows.get(device_id)
            if row is None or row.status in (DeviceStatus.REMOVED, DeviceStatus.REJECTED):
                changes.append(DeviceChange(device_id, False, "RemoveDeviceFailed", "Device is not in this campaign"))
            elif row.status is DeviceStatus.PENDING:
                removed.append(
                    replace(row, status=DeviceStatus.REMOVED, reason="Removed from the campaign", updated_at=now)
                )
                changes.append(DeviceChange(device_id, True, "RemoveDeviceSucceed", "Device removed Successfully"))
            else:
                changes.append(
                    DeviceChange(
                        device_id,
                        False,
                        "RemoveDeviceFailed",
                        f"Device is {row.status.value}; only devices waiting for their upgrade can be removed",
                    )
                )
        uow.campaign_devices.update(removed)
        events.record(
            uow, [HistoryEntry(account_name, campaign_id, r.device_id, r.status.value, r.reason, now) for r in removed]
        )
        uow.commit()
    return changes


def finish_campaign(
    uow: UnitOfWork, campaign: Campaign, status: CampaignStatus, reason: str, *, now: datetime
) -> Campaign:
    """Moves a campaign to a final status and its pending devices with it, with history for each."""
    finished = replace(campaign, status=status, status_reason=reason)
    uow.campaigns.update(finished, at=now)
    record_campaign_status(uow, finished, now=now)
    device_status = PENDING_DEVICES_ON_FINAL[status]
    device_reason = f"campaign {status.value.removeprefix('Campaign').lower()} before the device upgraded"
    moved = uow.campaign_devices.finish_pending(campaign.id, device_status, device_reason, at=now)
    events.record(
        uow,
        [HistoryEntry(campaign.account_name, campaign.id, d, device_status.value, device_reason, now) for d in moved],
    )
    return finished


def cancel_campaign(*, uow: UnitOfWork, clock: Clock, account_name: str, campaign_id: str) -> Campaign:
    now = clock.now()
    with uow:
        campaign = _locked_campaign(uow, account_name, campaign_id)
        status = campaign.status_after_delete(now)
        reason = "cancelled before its start date" if status is CampaignStatus.CANCELLED else "aborted after its start"
        finished = finish_campaign(uow, campaign, status, reason, now=now)
        uow.commit()
    return finished
