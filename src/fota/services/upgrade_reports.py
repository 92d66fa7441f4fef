"""Read-side use cases of v1 upgrades: one upgrade with all its devices, upgrades by v1 status, a device's upgrades.

v1 upgrades are campaigns, so these read the campaign tables; only the grouping and the status spelling are v1's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from fota.clock import Clock
from fota.domain.campaign import Campaign
from fota.domain.errors import NotFound
from fota.domain.statuses import DeviceStatus
from fota.domain.upgrade_statuses import CAMPAIGN_STATUSES_OF, DeviceTally, UpgradeStatus, upgrade_status
from fota.services.ports import CampaignDeviceRow, UnitOfWork

SCAN_BATCH = 500
# v1's device history covers "the previous six months".
HISTORY_PERIOD = timedelta(days=183)


@dataclass(frozen=True)
class Upgrade:
    campaign: Campaign
    status: UpgradeStatus
    devices: list[CampaignDeviceRow]


def _devices(uow: UnitOfWork, campaign_id: str) -> list[CampaignDeviceRow]:
    rows: list[CampaignDeviceRow] = []
    while True:
        page = uow.campaign_devices.page(campaign_id, after=rows[-1].device_id if rows else None, limit=SCAN_BATCH)
        rows.extend(page)
        if len(page) < SCAN_BATCH:
            return rows


def upgrade(*, uow: UnitOfWork, clock: Clock, account_name: str, upgrade_id: str) -> Upgrade:
    """The upgrade with every device it lists (v1 has no paging here)."""
    now = clock.now()
    with uow:
        campaign = uow.campaigns.get(account_name, upgrade_id)
        if campaign is None:
            raise NotFound(f"upgrade {upgrade_id} not found in account {account_name}")
        rows = _devices(uow, campaign.id)
    tally = DeviceTally.of(Counter(r.status for r in rows))
    return Upgrade(campaign, upgrade_status(campaign.status, campaign, now, tally), rows)


@dataclass(frozen=True)
class UpgradePage:
    upgrades: list[Upgrade]
    has_more: bool
    next_index: int  # the startIndex of the next page


def upgrades_by_status(
    *, uow: UnitOfWork, clock: Clock, account_name: str, status: UpgradeStatus, start_index: int, page_size: int
) -> UpgradePage:
    """The account's upgrades in `status`, from position `start_index`, grouped by campaign status, then by id.

    A position, not an id, because v1 pages by index; the scan is bounded by the account's campaigns in the
    statuses `status` can come from, their device counts read a batch at a time.
    """
    now = clock.now()
    found: list[Campaign] = []
    skipped = 0
    with uow:
        for campaign_status in CAMPAIGN_STATUSES_OF[status]:
            after: str | None = None
            while len(found) <= page_size:
                batch = uow.campaigns.page_by_status(account_name, campaign_status, after=after, limit=SCAN_BATCH)
                counts = uow.insight.status_counts([c.id for c in batch])
                for campaign in batch:
                    tally = DeviceTally.of(counts[campaign.id])
                    if upgrade_status(campaign_status, campaign, now, tally) is not status:
                        continue
                    if skipped < start_index:
                        skipped += 1
                    elif len(found) <= page_size:
                        found.append(campaign)
                if len(batch) < SCAN_BATCH:
                    break
                after = batch[-1].id
        upgrades = [Upgrade(c, status, _devices(uow, c.id)) for c in found[:page_size]]
    return UpgradePage(upgrades, len(found) > page_size, start_index + len(upgrades))


@dataclass(frozen=True)
class DeviceUpgrade:
    campaign: Campaign
    status: str
    reason: str
    started_at: datetime | None  # when the device's upgrade itself began, if it has


def device_upgrades(*, uow: UnitOfWork, clock: Clock, account_name: str, device_id: str) -> list[DeviceUpgrade]:
    """One item per upgrade the device was in over the last six months, with its latest status, oldest first."""
    since = clock.now() - HISTORY_PERIOD
    with uow:
        device = uow.devices.get(device_id)
        if device is None or device.account_name != account_name:
            raise NotFound(f"device {device_id} not found in account {account_name}")
        latest: dict[str, tuple[str, str, datetime | None, datetime]] = {}
        for entry in uow.history.for_device(account_name, device_id):
            if entry.campaign_id is None:
                continue
            started = latest[entry.campaign_id][2] if entry.campaign_id in latest else None
            if started is None and entry.status == DeviceStatus.IN_PROGRESS:
                started = entry.at
            latest[entry.campaign_id] = (entry.status, entry.reason or "", started, entry.at)
        items = []
        for campaign_id, (status, reason, started, at) in latest.items():
            campaign = uow.campaigns.get(account_name, campaign_id)
            if campaign is not None and at >= since:
                items.append(DeviceUpgrade(campaign, status, reason, started))
    return items
