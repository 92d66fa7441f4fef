"""Domain objects to ThingSpace v2 bodies: campaigns under software names, windows as v2 spells them."""

from __future__ import annotations

from datetime import date

from fota.adapters.http.presenters import NEVER_UPGRADED, rfc3339
from fota.adapters.http.schemas import TimeWindowRead
from fota.adapters.http.v2.schemas import (
    AccountDeviceRead,
    AvailableFileRead,
    DeviceStatusRead,
    ScheduledFileCampaignRead,
    SoftwareCampaignRead,
    SoftwareInfoRead,
    SoftwarePackageRead,
    TextWindowRead,
)
from fota.domain.campaign import Campaign, Firmware
from fota.domain.devices import Device
from fota.domain.protocols import Protocol
from fota.domain.windows import TimeWindow
from fota.services.ports import CampaignDeviceRow

DEVICE_PLATFORM = "IoT"


def _windows(windows: tuple[TimeWindow, ...] | None) -> list[TimeWindowRead] | None:
    if not windows:
        return None
    return [TimeWindowRead(start_time=w.start_hour, end_time=w.end_hour) for w in windows]


def _text_windows(windows: tuple[TimeWindow, ...] | None) -> list[TextWindowRead] | None:
    if not windows:
        return None
    return [TextWindowRead(start_time=str(w.start_hour), end_time=str(w.end_hour)) for w in windows]


def software_campaign(campaign: Campaign) -> SoftwareCampaignRead:
    return SoftwareCampaignRead(
        id=campaign.id,
        account_name=campaign.account_name,
        campaign_name=campaign.name,
        software_name=campaign.firmware_name,
        distribution_type=campaign.protocol.firmware_spelling,
        make=campaign.make,
        model=campaign.model,
        software_from=campaign.firmware_from,
        software_to=campaign.firmware_to,
        start_date=campaign.schedule.start_date,
        end_date=campaign.schedule.end_date,
        download_after_date=campaign.phases.download_after,
        download_time_window_list=_windows(campaign.schedule.windows),
        install_after_date=campaign.phases.install_after,
        install_time_window_list=_windows(campaign.phases.install_windows),
        status=campaign.status.value,
    )


def _text_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def scheduled_campaign(campaign: Campaign, device_ids: list[str]) -> ScheduledFileCampaignRead:
    """The answer of the file and HTTP-software campaign calls, every scalar a string."""
    is_file = campaign.package_kind == "file"
    return ScheduledFileCampaignRead(
        id=campaign.id,
        account_name=campaign.account_name,
        campaign_name=campaign.name,
        software_name=None if is_file else campaign.firmware_name,
        software_from=None if is_file else campaign.firmware_from,
        software_to=None if is_file else campaign.firmware_to,
        file_name=campaign.firmware_name if is_file else None,
        file_version=campaign.firmware_to if is_file else None,
        distribution_type=campaign.protocol.firmware_spelling,
        make=campaign.make,
        model=campaign.model,
        start_date=campaign.schedule.start_date.isoformat(),
        end_date=campaign.schedule.end_date.isoformat(),
        download_after_date=_text_date(campaign.phases.download_after),
        download_time_window_list=_text_windows(campaign.schedule.windows),
        install_after_date=_text_date(campaign.phases.install_after),
        install_time_window_list=_text_windows(campaign.phases.install_windows),
        device_list=device_ids,
        status=campaign.status.value,
    )


def device_status(row: CampaignDeviceRow) -> DeviceStatusRead:
    return DeviceStatusRead(device_id=row.device_id, status=row.status.value, result_reason=row.reason)


def software_package(firmware: Firmware) -> SoftwarePackageRead:
    return SoftwarePackageRead(
        software_name=firmware.name,
        launch_date=firmware.launch_date.date(),
        release_note=firmware.release_note or None,
        model=firmware.model,
        make=firmware.make,
        distribution_type=firmware.protocol.firmware_spelling,
        device_platform_id=DEVICE_PLATFORM,
    )


def available_file(entry: Firmware) -> AvailableFileRead:
    return AvailableFileRead(
        file_name=entry.name,
        file_version=entry.firmware_to,
        release_note=entry.release_note or None,
        make=entry.make,
        model=entry.model,
        local_target_path=entry.local_target_path,
        distribution_type=entry.protocol.firmware_spelling,
        device_platform_id=DEVICE_PLATFORM,
    )


def account_device(device: Device, upgradable: set[tuple[str, str, str, Protocol]]) -> AccountDeviceRead:
    upgraded = rfc3339(device.firmware_updated_at) if device.firmware_updated_at else NEVER_UPGRADED
    eligible = (device.make, device.model, device.firmware, device.protocol) in upgradable
    return AccountDeviceRead(
        device_id=device.device_id,
        mdn=device.mdn or "",
        model=device.model,
        make=device.make,
        fota_eligible=eligible,
        app_fota_eligible=eligible,
        license_assigned=device.license_assigned,
        distribution_type=device.protocol.firmware_spelling,
        software_list=[SoftwareInfoRead(name=device.firmware, version=device.firmware, upgrade_time=upgraded)],
        create_time=rfc3339(device.created_at),
        upgrade_time=upgraded,
        update_time=rfc3339(device.updated_at),
        refresh_time=rfc3339(device.last_seen_at) if device.last_seen_at else None,
    )
