"""Dry run of campaign creation: the same checks and eligibility rules as `create_campaign`, writing nothing,
plus the licenses it would take and an estimated completion from the windows and the devices' check-in intervals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from fota.clock import Clock
from fota.domain.devices import ineligibility_reason
from fota.domain.windows import Schedule
from fota.services.campaigns import CampaignCreate, checked_campaign
from fota.services.ports import CheckIn, UnitOfWork

# Assumed for a device fota has never heard from, or whose registration says nothing about its next check-in.
DEFAULT_CHECKIN_INTERVAL = timedelta(hours=24)
# Download, update and the check-in after reboot, once a device has checked in inside a window.
UPGRADE_ALLOWANCE = timedelta(minutes=10)


@dataclass(frozen=True)
class CompletionEstimate:
    first_opening: datetime | None
    completes_at: datetime | None  # None: not within the campaign's dates (or nothing to upgrade)
    median_interval: timedelta | None
    slowest_interval: timedelta | None
    devices_observed: int  # eligible devices with a registration or a last check-in
    devices_never_seen: int  # eligible devices fota has never heard from (assumed DEFAULT_CHECKIN_INTERVAL)
    after_end: bool  # the slowest device is not expected to check in inside a window before the end


@dataclass(frozen=True)
class CampaignPreview:
    requested: int
    eligible: int
    rejected: int
    rejection_reasons: list[tuple[str, int]]  # most frequent first
    licenses_needed: int
    licenses_free: int
    already_licensed: int
    estimate: CompletionEstimate


def preview_campaign(
    *, uow: UnitOfWork, clock: Clock, account_name: str, request: CampaignCreate, signing_required: bool
) -> CampaignPreview:
    """What `create_campaign` would do with this request now; raises the same validation errors."""
    now = clock.now()
    device_ids = list(dict.fromkeys(request.device_ids))
    with uow:
        # A fresh id matches no stored campaign, so every live campaign counts as "another" one.
        campaign = checked_campaign(
            uow, now=now, account_name=account_name, request=request, signing_required=signing_required
        )
        account = uow.accounts.get(account_name)
        devices = uow.devices.get_many(device_ids)
        busy = uow.campaign_devices.active_elsewhere(device_ids, campaign.id)
        checkins = uow.insight.checkins(device_ids)

    # The same walk as services/enrolment.enrol, so the pool runs out at the same device.
    licenses_free = account.licenses_free if account and campaign.auto_assign_license else 0
    pool = licenses_free
    reasons: Counter[str] = Counter()
    eligible: list[str] = []
    needed = already = 0
    for device_id in device_ids:
        device = devices.get(device_id)
        if device is not None and device.account_name != account_name:
            device = None
        reason = ineligibility_reason(
            device, campaign, in_other_live_campaign=device_id in busy, license_obtainable=pool > 0
        )
        if reason is not None:
            reasons[reason] += 1
            continue
        assert device is not None
        eligible.append(device_id)
        if device.license_assigned:
            already += 1
        else:
            needed += 1
            pool -= 1
    return CampaignPreview(
        requested=len(device_ids),
        eligible=len(eligible),
        rejected=sum(reasons.values()),
        rejection_reasons=reasons.most_common(),
        licenses_needed=needed,
        licenses_free=account.licenses_free if account else 0,
        already_licensed=already,
        estimate=estimate_completion(campaign.schedule, [checkins.get(d) for d in eligible], now=now),
    )


def checkin_interval(checkin: CheckIn | None, now: datetime) -> timedelta | None:
    """The longest a device is expected to go between check-ins; None when fota has never heard from it.

    A registered LwM2M client promises an Update within its lifetime; a device silent for longer than that
    evidently checks in less often, so the time since it was last seen is the better bound.
    """
    if checkin is None or (checkin.last_seen_at is None and checkin.lifetime is None):
        return None
    interval = timedelta(seconds=checkin.lifetime) if checkin.lifetime else DEFAULT_CHECKIN_INTERVAL
    if checkin.last_seen_at is not None:
        interval = max(interval, now - checkin.last_seen_at)
    return interval


def estimate_completion(schedule: Schedule, checkins: list[CheckIn | None], *, now: datetime) -> CompletionEstimate:
    """When the slowest eligible device should have checked in inside a window and upgraded.

    A device checking in every `I` is sure to be heard during any open stretch of length `I`; across shorter
    windows the open time adds up, so the estimate is the instant the campaign has been open for
    `I` + UPGRADE_ALLOWANCE in total, counted from the first opening.
    """
    first_opening = schedule.next_opening(now)
    observed = [i for i in (checkin_interval(c, now) for c in checkins) if i is not None]
    never_seen = len(checkins) - len(observed)
    intervals = sorted(observed + [DEFAULT_CHECKIN_INTERVAL] * never_seen)
    if not intervals or first_opening is None:
        return CompletionEstimate(first_opening, None, None, None, len(observed), never_seen, after_end=bool(intervals))
    slowest = intervals[-1]
    completes_at = open_time_reached(schedule, first_opening, slowest + UPGRADE_ALLOWANCE)
    return CompletionEstimate(
        first_opening=first_opening,
        completes_at=completes_at,
        median_interval=intervals[len(intervals) // 2],
        slowest_interval=slowest,
        devices_observed=len(observed),
        devices_never_seen=never_seen,
        after_end=completes_at is None,
    )


def open_time_reached(schedule: Schedule, start: datetime, needed: timedelta) -> datetime | None:
    """The instant at which the schedule has been open for `needed` since `start`; None if it ends first."""
    moment: datetime | None = start
    remaining = needed
    for _ in range(10_000):  # a campaign of decades with one window a day stays well inside this
        moment = schedule.next_opening(moment) if moment is not None else None
        if moment is None:
            return None
        closes = min(_window_close(schedule, moment), schedule.ends_at)
        if closes - moment >= remaining:
            return moment + remaining
        remaining -= closes - moment
        moment = closes
    return None


def _window_close(schedule: Schedule, moment: datetime) -> datetime:
    if not schedule.windows:
        return schedule.ends_at
    local = moment.astimezone(schedule.zone)
    for window in schedule.windows:
        if window.contains_hour(local.hour):
            day_start = datetime.combine(local.date(), time(), schedule.zone)
            return (day_start + timedelta(hours=window.end_hour)).astimezone(UTC)
    return moment
