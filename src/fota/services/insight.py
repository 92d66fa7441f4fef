"""Read-side use cases of the operator console: campaign overviews, per-status counts, progress over time, devices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fota.clock import Clock
from fota.domain.campaign import Campaign
from fota.domain.devices import Device
from fota.domain.errors import NotFound
from fota.domain.statuses import DeviceStatus
from fota.services.ports import CampaignDeviceRow, CampaignListing, HistoryEntry, Registration, UnitOfWork

MAX_CAMPAIGNS = 200
CHART_BUCKETS = 48
# Devices that never took part in the upgrade: they do not count towards a campaign's progress.
NOT_ENROLLED = frozenset({DeviceStatus.REJECTED, DeviceStatus.REMOVED})
OUTCOME = frozenset({DeviceStatus.SUCCESS, DeviceStatus.FAILED})


@dataclass(frozen=True)
class StatusCounts:
    by_status: dict[DeviceStatus, int] = field(default_factory=dict)

    def of(self, status: DeviceStatus) -> int:
        return self.by_status.get(status, 0)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def enrolled(self) -> int:
        return sum(n for s, n in self.by_status.items() if s not in NOT_ENROLLED)

    @property
    def succeeded(self) -> int:
        return self.of(DeviceStatus.SUCCESS)

    @property
    def concluded(self) -> int:
        """Devices whose upgrade is over, whatever the outcome."""
        return sum(n for s, n in self.by_status.items() if s not in NOT_ENROLLED and not s.is_active)

    @property
    def progress(self) -> float:
        """Share of enrolled devices that upgraded successfully, 0..1."""
        return self.succeeded / self.enrolled if self.enrolled else 0.0


@dataclass(frozen=True)
class CampaignSummary:
    campaign: Campaign
    created_at: datetime
    counts: StatusCounts


@dataclass(frozen=True)
class ProgressPoint:
    at: datetime
    succeeded: int
    failed: int


@dataclass(frozen=True)
class CampaignDetail:
    summary: CampaignSummary
    now: datetime
    next_opening: datetime | None
    window_open: bool
    status_history: list[HistoryEntry]
    progress: list[ProgressPoint]
    rows: list[CampaignDeviceRow]
    next_after: str | None


@dataclass(frozen=True)
class DeviceDetail:
    device: Device
    registration: Registration | None
    history: list[tuple[HistoryEntry, Campaign | None]]


def campaign_overview(*, uow: UnitOfWork, account_name: str) -> list[CampaignSummary]:
    with uow:
        listings = uow.insight.campaigns(account_name, limit=MAX_CAMPAIGNS)
        counts = uow.insight.status_counts([item.campaign.id for item in listings])
    return [_summary(item, counts.get(item.campaign.id, {})) for item in listings]


def _summary(listing: CampaignListing, counts: dict[DeviceStatus, int]) -> CampaignSummary:
    return CampaignSummary(listing.campaign, listing.created_at, StatusCounts(counts))


def campaign_summary(*, uow: UnitOfWork, account_name: str, campaign_id: str) -> CampaignSummary:
    with uow:
        listing = uow.insight.listing(account_name, campaign_id)
        if listing is None:
            raise NotFound(f"campaign {campaign_id} not found in account {account_name}")
        counts = uow.insight.status_counts([campaign_id])
    return _summary(listing, counts[campaign_id])


def campaign_detail(
    *,
    uow: UnitOfWork,
    clock: Clock,
    account_name: str,
    campaign_id: str,
    status: DeviceStatus | None,
    after: str | None,
    page_size: int,
) -> CampaignDetail:
    now = clock.now()
    with uow:
        listing = uow.insight.listing(account_name, campaign_id)
        if listing is None:
            raise NotFound(f"campaign {campaign_id} not found in account {account_name}")
        counts = uow.insight.status_counts([campaign_id])[campaign_id]
        rows = uow.insight.device_page(campaign_id, status=status, after=after, limit=page_size + 1)
        outcomes = uow.insight.outcomes(campaign_id)
        status_history = uow.history.for_campaign(campaign_id)
    campaign = listing.campaign
    live = not campaign.status.is_final
    return CampaignDetail(
        summary=_summary(listing, counts),
        now=now,
        next_opening=campaign.schedule.next_opening(now) if live else None,
        window_open=live and campaign.schedule.window_open(now),
        status_history=status_history,
        progress=progress_series(outcomes, start=listing.created_at, now=now),
        rows=rows[:page_size],
        next_after=rows[page_size - 1].device_id if len(rows) > page_size else None,
    )


def progress_series(
    outcomes: list[tuple[datetime, DeviceStatus]], *, start: datetime, now: datetime, buckets: int = CHART_BUCKETS
) -> list[ProgressPoint]:
    """Cumulative successes and failures at `buckets` + 1 instants from the first outcome (or `start`) to now."""
    first = min([start, *(at for at, _ in outcomes)])
    last = max([now, *(at for at, _ in outcomes)])
    span = max(last - first, timedelta(seconds=buckets))
    step = span / buckets
    succeeded = [0] * (buckets + 1)
    failed = [0] * (buckets + 1)
    for at, status in outcomes:
        index = min(buckets, max(0, -(-(at - first) // step)))  # ceiling: counted from the instant it happened
        (succeeded if status is DeviceStatus.SUCCESS else failed)[index] += 1
    points: list[ProgressPoint] = []
    total_ok = total_failed = 0
    for i in range(buckets + 1):
        total_ok += succeeded[i]
        total_failed += failed[i]
        points.append(ProgressPoint(first + step * i, total_ok, total_failed))
    return points


def device_detail(*, uow: UnitOfWork, account_name: str, device_id: str) -> DeviceDetail:
    """The device, its current registration, and every status it had in every campaign, newest first."""
    with uow:
        device = uow.devices.get(device_id)
        if device is None or device.account_name != account_name:
            raise NotFound(f"device {device_id} not found in account {account_name}")
        registration = uow.registrations.for_device(device_id)
        entries = uow.history.for_device(account_name, device_id)
        campaigns: dict[str, Campaign | None] = {}
        for entry in entries:
            if entry.campaign_id is not None and entry.campaign_id not in campaigns:
                campaigns[entry.campaign_id] = uow.campaigns.get(account_name, entry.campaign_id)
    history = [(e, campaigns.get(e.campaign_id) if e.campaign_id else None) for e in reversed(entries)]
    return DeviceDetail(device, registration, history)
