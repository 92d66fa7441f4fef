"""Domain objects to v1 wire bodies: one function per response shape that more than one v1 route returns."""

from __future__ import annotations

from fota.adapters.http.v1.schemas import V1DeviceChangeRead, V1UpgradeDeviceRead, V1UpgradeRead
from fota.services.campaigns import DeviceChange
from fota.services.licenses import LicenseChange
from fota.services.upgrade_reports import Upgrade

# v1 lists upgrades with all their devices, so a page holds fewer of them than v3's 1000 campaigns.
UPGRADE_PAGE_SIZE = 100


def upgrade_read(upgrade: Upgrade) -> V1UpgradeRead:
    campaign = upgrade.campaign
    return V1UpgradeRead(
        id=campaign.id,
        account_name=campaign.account_name,
        firmware_name=campaign.firmware_name,
        firmware_to=campaign.firmware_to,
        start_date=campaign.schedule.start_date.isoformat(),
        status=upgrade.status.value,
        device_list=[
            V1UpgradeDeviceRead(device_id=r.device_id, status=r.status.value, result_reason=r.reason)
            for r in upgrade.devices
        ],
    )


def device_change(change: DeviceChange | LicenseChange) -> V1DeviceChangeRead:
    return V1DeviceChangeRead(device_id=change.device_id, status=change.status, reason=change.reason)
