"""Read-side use cases: campaign lists by status, campaign device report, device history, account devices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from fota.clock import Clock
from fota.domain.campaign import Campaign
from fota.domain.devices import Device
from fota.domain.errors import NotFound
from fota.domain.protocols import Protocol
from fota.domain.start_rule import Hold, StartRule, holds_by_zone
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.services.ports import (
    CampaignDeviceRow,
    HistoryEntry,
    ReportVersion,
    UnitOfWork,
    UnitOfWorkFactory,
    WrittenItems,
)
from fota.services.report_pages import PageKey, ReportPages


def campaigns_by_status(
    *, uow: UnitOfWork, account_name: str, status: CampaignStatus, after: str | None, page_size: int
) -> tuple[list[Campaign], bool]:
    with uow:
        rows = uow.campaigns.page_by_status(account_name, status, after=after, limit=page_size + 1)
    return rows[:page_size], len(rows) > page_size


@dataclass(frozen=True)
class CampaignDeviceReport:
    total: int
    rows: list[CampaignDeviceRow]
    has_more: bool
    # When a pending row with no back-off of its own may next start: the campaign's next window opening, given once
    # for the page (copying it into a thousand rows cost more than reading them).
    next_opening: datetime | None = None

    def next_attempt(self, row: CampaignDeviceRow) -> datetime | None:
        if row.next_attempt_at is not None or row.status is not DeviceStatus.PENDING:
            return row.next_attempt_at
        return self.next_opening


@dataclass(frozen=True)
class WrittenDeviceReport:
    """A page of the device report whose items the store wrote as the wire's JSON (docs/adr/0034)."""

    total: int
    page: WrittenItems


def campaign_devices(
    *, uow: UnitOfWork, clock: Clock, account_name: str, campaign_id: str, after: str | None, page_size: int
) -> CampaignDeviceReport:
    """The campaign's devices by id; pending devices get their next attempt: the next open window.

    Under windowZone or blackouts a pending device the start rule holds back also gets the hold's `resultReason`,
    computed here once per zone of the page rather than written at every check-in (ADR 26).
    """
    now = clock.now()
    with uow:
        campaign = _campaign(uow, account_name, campaign_id)
        return _rows_report(uow, campaign, _start_rule(campaign), now, after, page_size)


def written_campaign_devices(
    *,
    uow: UnitOfWork,
    clock: Clock,
    account_name: str,
    campaign_id: str,
    after: str | None,
    page_size: int,
    pages: ReportPages | None = None,
) -> WrittenDeviceReport | CampaignDeviceReport:
    """`campaign_devices`, its page written by the store, except where a start rule may hold pending devices back:
    their reasons come from the rows and the zones (then it is `campaign_devices`' own report).

    A written page is kept in `pages` and served from there while the report's version is unchanged (ADR 43).
    """
    now = clock.now()
    with uow:
        campaign = _campaign(uow, account_name, campaign_id)
        rule = _start_rule(campaign)
        if rule is not None:
            return _rows_report(uow, campaign, rule, now, after, page_size)
        key = _page_key(campaign, after, page_size, now)
        # Read before the page: a page read later is at least as new as its version, never older.
        version = uow.campaign_devices.report_version(campaign.id)
        page = pages.get(key, version) if pages is not None else None
        if page is None:
            page = uow.campaign_devices.report_items(
                campaign.id, after=after, limit=page_size, next_opening=key.next_opening
            )
            if pages is not None:
                pages.put(key, version, page)
        return WrittenDeviceReport(version.devices, page)


def campaign_and_report_version(
    *, uow: UnitOfWork, account_name: str, campaign_id: str
) -> tuple[Campaign, ReportVersion] | None:
    """The campaign and its device report's version, for `cached_page`; None when there is no such campaign."""
    with uow:
        campaign = uow.campaigns.get(account_name, campaign_id)
        return None if campaign is None else (campaign, uow.campaign_devices.report_version(campaign.id))


def cached_page(
    *,
    pages: ReportPages,
    campaign: Campaign,
    version: ReportVersion,
    clock: Clock,
    after: str | None,
    page_size: int,
) -> WrittenDeviceReport | None:
    """`written_campaign_devices`' page if `pages` holds it at `version`; None for anything else (a page not kept, a
    campaign with a start rule), which `written_campaign_devices` answers."""
    if _start_rule(campaign) is not None:
        return None
    page = pages.get(_page_key(campaign, after, page_size, clock.now()), version)
    return None if page is None else WrittenDeviceReport(version.devices, page)


def _page_key(campaign: Campaign, after: str | None, page_size: int, now: datetime) -> PageKey:
    return PageKey(campaign.id, after or "", page_size, _next_opening(campaign, now))


def fold_report_changes(*, uow_factory: UnitOfWorkFactory) -> int:
    """Keeps the rows the report versions are summed from few, so that reading a version stays one index probe."""
    uow = uow_factory()
    with uow:
        folded = uow.campaign_devices.fold_report_changes()
        uow.commit()
    return folded


def _campaign(uow: UnitOfWork, account_name: str, campaign_id: str) -> Campaign:
    campaign = uow.campaigns.get(account_name, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found in account {account_name}")
    return campaign


def _start_rule(campaign: Campaign) -> StartRule | None:
    """The rule that may hold the campaign's pending devices back; none once the campaign is final."""
    return campaign.start_rule() if not campaign.status.is_final else None


def _next_opening(campaign: Campaign, now: datetime) -> datetime | None:
    return campaign.schedule.next_opening(now) if not campaign.status.is_final else None


def _rows_report(
    uow: UnitOfWork, campaign: Campaign, rule: StartRule | None, now: datetime, after: str | None, page_size: int
) -> CampaignDeviceReport:
    rows = uow.campaign_devices.page(campaign.id, after=after, limit=page_size + 1)
    total = uow.campaign_devices.count(campaign.id)
    if rule is not None:
        waiting = [r.device_id for r in rows[:page_size] if _waits_for_a_window(r, now)]
        zones = {d: device.time_zone for d, device in uow.devices.get_many(waiting).items()}
        holds = holds_by_zone(rule, set(zones.values()) | {None}, now)
        page = [
            _held(row, holds[zones.get(row.device_id)]) if _waits_for_a_window(row, now) else row
            for row in rows[:page_size]
        ]
        return CampaignDeviceReport(total, page, len(rows) > page_size)
    return CampaignDeviceReport(total, rows[:page_size], len(rows) > page_size, _next_opening(campaign, now))


def _waits_for_a_window(row: CampaignDeviceRow, now: datetime) -> bool:
    """Pending and past any back-off: only the start rule keeps it from starting."""
    return row.status is DeviceStatus.PENDING and (row.next_attempt_at is None or row.next_attempt_at <= now)


def _held(row: CampaignDeviceRow, hold: Hold | None) -> CampaignDeviceRow:
    if hold is None:
        return row  # it may start at its next check-in
    return replace(row, reason=hold.reason, next_attempt_at=hold.next_open_at)


@dataclass(frozen=True)
class DeviceHistoryItem:
    entry: HistoryEntry
    campaign: Campaign


def device_history(*, uow: UnitOfWork, account_name: str, device_id: str) -> list[DeviceHistoryItem]:
    """Every status the device had in every campaign, oldest first."""
    with uow:
        device = uow.devices.get(device_id)
        if device is None or device.account_name != account_name:
            raise NotFound(f"device {device_id} not found in account {account_name}")
        entries = [e for e in uow.history.for_device(account_name, device_id) if e.campaign_id is not None]
        campaigns: dict[str, Campaign] = {}
        for entry in entries:
            assert entry.campaign_id is not None
            if entry.campaign_id not in campaigns:
                campaign = uow.campaigns.get(account_name, entry.campaign_id)
                if campaign is not None:
                    campaigns[entry.campaign_id] = campaign
    return [
        DeviceHistoryItem(e, campaigns[e.campaign_id])
        for e in entries
        if e.campaign_id is not None and e.campaign_id in campaigns
    ]


def account_devices(
    *, uow: UnitOfWork, account_name: str, protocol: Protocol | None, after: str | None, page_size: int
) -> tuple[list[Device], bool]:
    with uow:
        rows = uow.devices.page(account_name, protocol=protocol, after=after, limit=page_size + 1)
    return rows[:page_size], len(rows) > page_size


def lookup_devices(*, uow: UnitOfWork, account_name: str, device_ids: Sequence[str]) -> list[tuple[str, Device | None]]:
    with uow:
        found = uow.devices.get_many(list(dict.fromkeys(device_ids)))
    return [
        (d, found[d] if d in found and found[d].account_name == account_name else None)
        for d in dict.fromkeys(device_ids)
    ]


def upgradable_kinds(*, uow: UnitOfWork) -> set[tuple[str, str, str, Protocol]]:
    """(make, model, firmwareFrom, protocol) of every firmware package: a device matching one is FOTA-eligible."""
    with uow:
        return {(f.make, f.model, f.firmware_from, f.protocol) for f in uow.firmware.list(None)}
