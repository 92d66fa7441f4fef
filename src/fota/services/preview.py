"""Dry run of campaign creation: the same checks and eligibility rules as `create_campaign`, writing nothing,
plus the licenses it would take, the waves a rollout would form and an estimated completion (domain/estimate.py)
from the windows, blackouts, waves, soak, bandwidth budget and the devices' check-in intervals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fota.clock import Clock
from fota.domain.blackouts import BlackoutCalendar
from fota.domain.devices import Device, ineligibility_reason
from fota.domain.estimate import (
    DEFAULT_CHECKIN_INTERVAL,
    UPGRADE_ALLOWANCE,
    DownloadRate,
    Estimate,
    WaveEstimate,
    WaveLoad,
    estimate_waves,
)
from fota.domain.rollout import DeviceTraits, Group, WavePlan, plan_waves
from fota.domain.start_rule import StartRule
from fota.domain.zones import WindowZone, effective_zone
from fota.services.campaigns import CampaignCreate, checked_campaign
from fota.services.ports import CheckIn, UnitOfWork

__all__ = ["DEFAULT_CHECKIN_INTERVAL", "UPGRADE_ALLOWANCE", "CampaignPreview", "CompletionEstimate", "preview_campaign"]


@dataclass(frozen=True)
class CompletionEstimate:
    first_opening: datetime | None
    completes_at: datetime | None  # None: not within the campaign's dates (or nothing to upgrade)
    median_interval: timedelta | None
    slowest_interval: timedelta | None
    devices_observed: int  # eligible devices with a registration or a last check-in
    devices_never_seen: int  # eligible devices fota has never heard from (assumed DEFAULT_CHECKIN_INTERVAL)
    after_end: bool  # the slowest device is not expected to check in inside a window before the end
    waves: tuple[WaveEstimate, ...] = ()  # with a rollout: when each wave is expected to open and be done


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
    waves: tuple[WavePlan, ...] = ()  # empty without a rollout


def preview_campaign(
    *,
    uow: UnitOfWork,
    clock: Clock,
    account_name: str,
    request: CampaignCreate,
    signing_required: bool,
) -> CampaignPreview:
    """What `create_campaign` would do with this request now; raises the same validation errors. The extension
    fields (rollout, windowZone, blackouts, bandwidth) are read off the campaign create's checks would build."""
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
        firmware = uow.firmware.get(campaign.firmware_name)
    rollout = campaign.rollout
    window_zone = campaign.window_zone or WindowZone.CAMPAIGN
    blackouts = campaign.blackouts.blackouts if campaign.blackouts is not None else ()
    bandwidth = campaign.bandwidth

    # The same walk as services/enrolment.enrol, so the pool runs out at the same device.
    licenses_free = account.licenses_free if account and campaign.auto_assign_license else 0
    pool = licenses_free
    reasons: Counter[str] = Counter()
    eligible: list[Device] = []
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
        eligible.append(device)
        if device.license_assigned:
            already += 1
        else:
            needed += 1
            pool -= 1

    campaign_zone = campaign.schedule.time_zone
    membership = None
    if rollout is not None:
        traits = [
            DeviceTraits(d.device_id, Group(d.make, d.model, d.firmware, d.time_zone or campaign_zone))
            for d in eligible
        ]
        membership = plan_waves(rollout, traits)
    wave_count = len(rollout.waves) if rollout is not None else 1
    members: list[list[Device]] = [[] for _ in range(wave_count)]
    for device in eligible:
        members[membership.wave_of[device.device_id] if membership is not None else 0].append(device)

    image_size = firmware.image_size if firmware is not None else None
    # Without an uploaded image there is nothing to measure the budget in: it is left out of the estimate.
    rate = DownloadRate(bandwidth.bytes_per_hour, image_size) if bandwidth is not None and image_size else None
    intervals = {d.device_id: checkin_interval(checkins.get(d.device_id), now) for d in eligible}
    loads = [_load(wave, intervals, window_zone, campaign_zone) for wave in members]
    soak = rollout.advance.soak if rollout is not None else timedelta(0)
    try:
        rule = StartRule.of_schedule(
            campaign.schedule,
            window_zone=window_zone,
            blackouts=BlackoutCalendar(tuple(blackouts)),
            download_after=campaign.phases.download_after,
        )
        estimate = estimate_waves(rule, loads, now=now, soak=soak, rate=rate)
    except OverflowError:
        # Create takes an end date as late as 9999-12-31, whose 24:00 no datetime can hold: no estimate then.
        estimate = Estimate(None, tuple(WaveEstimate(None, None) for _ in loads))

    observed = sorted(i for i in intervals.values() if i is not None)
    never_seen = len(intervals) - len(observed)
    every = sorted(observed + [DEFAULT_CHECKIN_INTERVAL] * never_seen)
    return CampaignPreview(
        requested=len(device_ids),
        eligible=len(eligible),
        rejected=sum(reasons.values()),
        rejection_reasons=reasons.most_common(),
        licenses_needed=needed,
        licenses_free=account.licenses_free if account else 0,
        already_licensed=already,
        estimate=CompletionEstimate(
            first_opening=estimate.first_opening,
            completes_at=estimate.completes_at if every else None,
            median_interval=every[len(every) // 2] if every else None,
            slowest_interval=every[-1] if every else None,
            devices_observed=len(observed),
            devices_never_seen=never_seen,
            after_end=bool(every) and estimate.completes_at is None,
            waves=estimate.waves if rollout is not None else (),
        ),
        waves=membership.waves if membership is not None else (),
    )


def _load(
    wave: Sequence[Device], intervals: dict[str, timedelta | None], window_zone: WindowZone, campaign_zone: str
) -> WaveLoad:
    slowest: dict[str, timedelta] = {}
    for device in wave:
        zone = effective_zone(window_zone, device.time_zone, campaign_zone)
        interval = intervals[device.device_id] or DEFAULT_CHECKIN_INTERVAL
        slowest[zone] = max(slowest.get(zone, interval), interval)
    return WaveLoad(len(wave), slowest)


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
