"""Domain objects to wire bodies: one function per response shape, spelled as the contract spells it."""

from __future__ import annotations

from datetime import UTC, datetime

from fota.adapters.http.schemas import (
    AccountDeviceRead,
    BlackoutOverrideRead,
    CampaignRead,
    DeviceStatusRead,
    FirmwareCampaignRead,
    FirmwarePackageRead,
    SoftwareInfoRead,
    TimeWindowRead,
)
from fota.domain.blackouts import RecordedOverride
from fota.domain.campaign import Campaign, Firmware
from fota.domain.devices import Device
from fota.domain.protocols import Protocol
from fota.domain.rollout import RolloutView
from fota.domain.wall_clock import format_local_minute
from fota.services.ports import CampaignDeviceRow

MAX_PAGE_SIZE = 1000
NEVER_UPGRADED = "01/01/1900 0:0:0"


def rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _windows(campaign: Campaign) -> list[TimeWindowRead]:
    return [TimeWindowRead(start_time=w.start_hour, end_time=w.end_hour) for w in campaign.schedule.windows]


def rollout_object(campaign: Campaign, view: RolloutView | None) -> dict[str, object] | None:
    """The response's `rollout`: the field as set, every default filled in, merged with its state (§3); each wave
    keeps the `percent` it was given and shows its members as `devices`."""
    if campaign.rollout is None:
        return None
    echoed = campaign.rollout.as_dict()
    if view is None:
        return echoed
    waves = [{**given, **shown.as_dict()} for given, shown in zip(echoed["waves"], view.waves, strict=True)]
    return {**echoed, **view.as_dict(), "waves": waves}


def firmware_campaign(campaign: Campaign, view: RolloutView | None = None) -> FirmwareCampaignRead:
    return FirmwareCampaignRead(
        id=campaign.id,
        account_name=campaign.account_name,
        campaign_name=campaign.name,
        firmware_name=campaign.firmware_name,
        firmware_from=campaign.firmware_from,
        firmware_to=campaign.firmware_to,
        protocol=campaign.protocol.firmware_spelling,
        make=campaign.make,
        model=campaign.model,
        start_date=campaign.schedule.start_date,
        end_date=campaign.schedule.end_date,
        campaign_time_window_list=_windows(campaign),
        status=campaign.status.value,
        time_zone=campaign.schedule.time_zone if campaign.schedule.time_zone != "UTC" else None,
        retry_policy=campaign.retry_policy.to_plain() if campaign.retry_policy is not None else None,
        follow_up_of=campaign.follow_up_of,
        bandwidth=campaign.bandwidth.to_plain() if campaign.bandwidth is not None else None,
        window_zone=campaign.window_zone.value if campaign.window_zone is not None else None,
        blackouts=[b.local_fields for b in campaign.blackouts.blackouts] if campaign.blackouts is not None else None,
        blackout_override=blackout_override(campaign.blackout_override) if campaign.blackout_override else None,
        rollout=rollout_object(campaign, view),
    )


def blackout_override(recorded: RecordedOverride) -> BlackoutOverrideRead:
    return BlackoutOverrideRead(
        until=format_local_minute(recorded.override.local_until),
        reason=recorded.override.reason,
        by=recorded.by,
        at=recorded.at,
    )


def campaign_read(campaign: Campaign, view: RolloutView | None = None) -> CampaignRead:
    base = firmware_campaign(campaign, view).model_dump()
    return CampaignRead(
        **base,
        auto_assign_license_flag=campaign.auto_assign_license,
        auto_add_devices_flag=campaign.auto_add_devices,
        time_window_list=_windows(campaign),
    )


def device_status(row: CampaignDeviceRow, *, next_attempt: datetime | None) -> DeviceStatusRead:
    return DeviceStatusRead(
        device_id=row.device_id,
        status=row.status.value,
        result_reason=row.reason,
        updated_time=row.updated_at,
        recent_attempt_time=row.recent_attempt_at,
        next_attempt_time=next_attempt,
        carried_reason=row.carried_reason,
    )


def firmware_package(firmware: Firmware) -> FirmwarePackageRead:
    return FirmwarePackageRead(
        firmware_name=firmware.name,
        firmware_from=firmware.firmware_from,
        firmware_to=firmware.firmware_to,
        launch_date=firmware.launch_date,
        release_note=firmware.release_note,
        model=firmware.model,
        make=firmware.make,
        protocol=firmware.protocol.firmware_spelling,
    )


def account_device(device: Device, upgradable: set[tuple[str, str, str, Protocol]]) -> AccountDeviceRead:
    upgraded = rfc3339(device.firmware_updated_at) if device.firmware_updated_at else NEVER_UPGRADED
    return AccountDeviceRead(
        device_id=device.device_id,
        mdn=device.mdn or "",
        model=device.model,
        make=device.make,
        firmware=device.firmware,
        fota_eligible=(device.make, device.model, device.firmware, device.protocol) in upgradable,
        status="Active",
        license_assigned=device.license_assigned,
        protocol=device.protocol.value,
        software_list=[SoftwareInfoRead(name=device.firmware, version=device.firmware, upgrade_time=upgraded)],
        create_time=rfc3339(device.created_at),
        upgrade_time=upgraded,
        update_time=rfc3339(device.updated_at),
        refresh_time=rfc3339(device.last_seen_at) if device.last_seen_at else None,
    )
