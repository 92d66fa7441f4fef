"""Follow-up campaigns (fota-extensions.md §2): a new campaign of a finished campaign's firmware for exactly the
devices that missed it and can still take it, each keeping how it ended the source campaign (`carriedReason`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from fota.clock import Clock
from fota.domain.campaign import Campaign
from fota.domain.errors import Conflict, NotFound
from fota.domain.statuses import DeviceStatus
from fota.domain.windows import TimeWindow
from fota.services import events
from fota.services.campaigns import CampaignCreate, checked_campaign, record_campaign_status
from fota.services.enrolment import enrol
from fota.services.ports import AuditRecord, CampaignDeviceRow, HistoryEntry, UnitOfWork

# How a device may have missed a campaign. Not carried: UpgradeSuccess (it has the firmware), DeviceRejected (it
# never joined: its reason was answered when the campaign was made) and DeviceRemoved (someone took it out).
MISSED = frozenset(
    {
        DeviceStatus.FAILED,
        DeviceStatus.CAMPAIGN_ENDED,
        DeviceStatus.CAMPAIGN_CANCELLED,
        DeviceStatus.CAMPAIGN_ABORTED,
    }
)
PAGE = 1000
# The audit's names for it, in the source campaign and in the follow-up (fota-extensions.md §2).
FOLLOW_UP_ACTION = "followUp"
FOLLOWS_UP_ACTION = "followsUp"
MAX_NAME = 255


@dataclass(frozen=True)
class FollowUpRequest:
    start_date: date
    end_date: date
    windows: Sequence[TimeWindow] | None  # None: the source campaign's windows
    campaign_name: str | None = None


@dataclass(frozen=True)
class FollowUp:
    """The new campaign and what an audit entry of the source campaign needs: who, when and why."""

    campaign: Campaign
    source_id: str
    carried: int
    not_carried: list[tuple[str, int]]  # devices that missed the source but cannot take this one, by reason
    actor: str
    at: datetime
    reason: str


def carried_reason(row: CampaignDeviceRow) -> str:
    """`carriedReason`: the status and result reason the device ended the source campaign with."""
    return f"{row.status.value}: {row.reason}" if row.reason else row.status.value


def create_follow_up(
    *,
    uow: UnitOfWork,
    clock: Clock,
    account_name: str,
    campaign_id: str,
    request: FollowUpRequest,
    actor: str,
    signing_required: bool,
) -> FollowUp:
    """404 for an unknown campaign; 409 while it is not final, or when none of its missed devices can take the
    follow-up; otherwise create's checks (dates, windows, firmware, signature) and create's enrolment rules."""
    now = clock.now()
    with uow:
        uow.accounts.lock(account_name)  # as create: the pool first, and two follow-ups of one campaign in turn
        source = uow.campaigns.get(account_name, campaign_id)
        if source is None:
            raise NotFound(f"campaign {campaign_id} not found in account {account_name}")
        if not source.status.is_final:
            raise Conflict(
                f"campaign {campaign_id} is {source.status.value}: a follow-up is made once it has ended, "
                "been cancelled or aborted, when it is known which devices missed it"
            )
        missed = {r.device_id: carried_reason(r) for r in _rows(uow, campaign_id) if r.status in MISSED}
        if not missed:
            raise Conflict(f"campaign {campaign_id} has no device to carry: none of its devices missed the upgrade")
        campaign = replace(
            checked_campaign(
                uow,
                now=now,
                account_name=account_name,
                request=_create_request(source, request, list(missed)),
                signing_required=signing_required,
            ),
            follow_up_of=source.id,
        )
        uow.campaigns.add(campaign, at=now)
        record_campaign_status(uow, campaign, now=now)
        results = enrol(uow, campaign, list(missed), now=now, record_rejections=False, carried=missed)
        carried = sum(1 for r in results if r.enrolled)
        not_carried = Counter(r.reason for r in results if not r.enrolled).most_common()
        if not carried:
            reasons = "; ".join(f"{n}: {reason}" for reason, n in not_carried)
            raise Conflict(
                f"campaign {campaign_id} has no device to carry: the {len(missed)} that missed it cannot take a "
                f"follow-up ({reasons})"
            )
        reason = f"follow-up campaign {campaign.id}: {carried} of the {len(missed)} devices that missed it carried"
        events.record(
            uow,
            [
                HistoryEntry(account_name, source.id, None, source.status.value, f"{reason}, by {actor}", now),
                HistoryEntry(
                    account_name,
                    campaign.id,
                    None,
                    campaign.status.value,
                    f"follow-up of campaign {source.id}: {carried} devices carried, by {actor}",
                    now,
                ),
            ],
        )
        uow.audit.add(
            [
                AuditRecord(source.id, account_name, now, actor, FOLLOW_UP_ACTION, reason, {"followUp": campaign.id}),
                AuditRecord(
                    campaign.id,
                    account_name,
                    now,
                    actor,
                    FOLLOWS_UP_ACTION,
                    f"follow-up of campaign {source.id}: {carried} devices carried",
                    {"followUpOf": source.id, "carried": carried},
                ),
            ]
        )
        uow.commit()
    return FollowUp(campaign, source.id, carried, not_carried, actor, now, reason)


def _rows(uow: UnitOfWork, campaign_id: str) -> list[CampaignDeviceRow]:
    rows: list[CampaignDeviceRow] = []
    after: str | None = None
    while True:
        page = uow.campaign_devices.page(campaign_id, after=after, limit=PAGE)
        rows.extend(page)
        if len(page) < PAGE:
            return rows
        after = page[-1].device_id


def _create_request(source: Campaign, request: FollowUpRequest, device_ids: list[str]) -> CampaignCreate:
    """The source's firmware, protocol, zone, license flag, retry policy, window zone, bandwidth budget and rollout
    with the new dates and windows. Not carried: auto-add (a follow-up is for these devices only), v2's after-dates
    and the blackouts (both belong to the old dates)."""
    default_name = f"follow-up of {source.name or source.id}"
    return CampaignCreate(
        firmware_name=source.firmware_name,
        firmware_from=source.firmware_from,
        firmware_to=source.firmware_to,
        protocol=source.protocol.value,
        start_date=request.start_date,
        end_date=request.end_date,
        device_ids=device_ids,
        auto_assign_license=source.auto_assign_license,
        auto_add_devices=False,
        campaign_name=request.campaign_name or default_name[:MAX_NAME],
        windows=tuple(request.windows) if request.windows is not None else source.schedule.windows,
        time_zone=source.schedule.time_zone,
        package_kind=source.package_kind,
        retry_policy=source.retry_policy,
        window_zone=source.window_zone,
        bandwidth=source.bandwidth,
        rollout=source.rollout,
    )
