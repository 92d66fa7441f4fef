"""Per-device upgrade use cases: a device's current assignment, and the transaction of each step the upgrade state
machine (domain/upgrade/machine.py) decides on.

The LwM2M and HTTP device adapters call these between device operations; the engine calls `expire_steps`.
Every step is a conditional update committed before the device is asked to act, so a crash at any point
resumes from the stored step and an Update is never executed twice.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from fota.clock import Clock
from fota.domain.bandwidth import BudgetWait, Grant
from fota.domain.campaign import Campaign
from fota.domain.devices import ZoneSource, reported_zone
from fota.domain.phases import install_wait_until
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.domain.upgrade import (
    Assignment,
    Outcome,
    Step,
    UpgradePolicy,
    conclusion,
    may_start,
    offer_allowed,
    timed_out,
)
from fota.services import bandwidth, events, rollouts
from fota.services.device_logging import check_in_event, note_check_in
from fota.services.enrolment import enrol_in_auto_add_campaigns
from fota.services.ports import CampaignDeviceRow, DownloadLink, HistoryEntry, UnitOfWork, UnitOfWorkFactory


def device_reported(
    *,
    uow: UnitOfWork,
    clock: Clock,
    device_id: str,
    firmware: str | None,
    check_in: str | None = None,
    time_zone: str | None = None,
    read_at: datetime | None = None,
) -> bool:
    """Records a check-in and the firmware the device reports; returns whether the firmware or the zone changed
    (either may change the assignment: an auto-add enrolment, the zone a device's windows are read in).

    A changed firmware may make the device eligible for a live auto-add campaign, which enrols it here.
    `check_in`: the client type of a check-in this report is (HTTP), for the device's check-in history.
    `time_zone`: the Device object's Timezone (/3/0/15) as read, if the device has one; the device takes it unless
    the administration set a zone (`domain.devices.reported_zone`), in this same write.
    `read_at`: when the firmware was read from the device (now, when the device reported it itself); a rollout's
    health gate does not take a firmware read before the success it judges for a rollback.
    """
    now = clock.now()
    with uow:
        changed = reported_in(
            uow, device_id, firmware=firmware, now=now, check_in=check_in, time_zone=time_zone, read_at=read_at
        )
        uow.commit()
    return changed


def reported_in(
    uow: UnitOfWork,
    device_id: str,
    *,
    firmware: str | None,
    now: datetime,
    check_in: str | None = None,
    time_zone: str | None = None,
    read_at: datetime | None = None,
    event: str | None = None,
) -> bool:
    """`device_reported` inside a unit of work the caller holds and commits (an HTTP check-in reads its assignment
    in the same transaction). `event`: the check-in's log entry, if not `check_in_event`'s."""
    device = uow.devices.get(device_id)
    if device is None:
        return False
    # Before the check-in is recorded.
    rollouts.judge_check_in(uow, device_id, firmware=firmware, read_at=read_at or now, now=now)
    if check_in is not None:
        note_check_in(uow, device_id, check_in, event or check_in_event(check_in, firmware), now=now)
    changed = firmware is not None and firmware != device.firmware
    zone = reported_zone(device, time_zone)
    if changed or zone is not None:
        if changed:
            assert firmware is not None
            device = replace(device, firmware=firmware, firmware_updated_at=now)
        if zone is not None:
            device = replace(device, time_zone=zone, time_zone_source=ZoneSource.DEVICE)
        uow.devices.update(replace(device, updated_at=now, last_seen_at=now))
    else:
        uow.devices.touch(device_id, at=now)
    if changed:
        enrol_in_auto_add_campaigns(uow, [device_id], now=now)
    return changed or zone is not None


def current_assignment(*, uow: UnitOfWork, clock: Clock, device_id: str) -> Assignment | None:
    """The device's current campaign assignment, to start or resume, or None.

    A pending device has one only while a new attempt may start (the domain's `may_start`, in the device's zone
    under windowZone device); an upgrade in progress always has one.
    """
    now = clock.now()
    with uow:
        return assignment_in(uow, device_id, now)


def assignment_in(uow: UnitOfWork, device_id: str, now: datetime) -> Assignment | None:
    """`current_assignment` inside a unit of work the caller holds (an HTTP check-in reads it in the transaction
    that records the check-in)."""
    found = uow.upgrades.active_for_device(device_id)
    return None if found is None else assignment_of(*found, now=now)


def assignment_of(row: CampaignDeviceRow, campaign: Campaign, *, now: datetime) -> Assignment | None:
    """`assignment_in` for the device's active row (with its `device_zone`) and its campaign, as read."""
    pending = row.status is DeviceStatus.PENDING
    if pending and not may_start(
        campaign, now, retry_after=row.next_attempt_at, device_zone=row.device_zone, wave=row.wave
    ):
        return None
    return Assignment(
        campaign_id=campaign.id,
        account_name=campaign.account_name,
        firmware_name=campaign.firmware_name,
        firmware_to=campaign.firmware_to,
        step=row.step,
        attempts=row.attempts,
        delivery=row.delivery,
        update_executed=row.update_executed_at is not None,
        package_kind=campaign.package_kind,
        # A pending device got here only because it may start; an attempt under way offers by the window alone.
        may_download=pending or offer_allowed(campaign, now, row.device_zone),
        may_install=campaign.may_install(now),
        install_wait_until=install_wait_until(campaign.schedule, campaign.phases, now),
        install_gated=campaign.phases.separate_install,
        deadline=row.step_deadline,
        device_zone=row.device_zone,
        wave=row.wave,
    )


def fresh_gates(*, uow: UnitOfWork, clock: Clock, assignment: Assignment) -> Assignment:
    """`assignment` with its campaign's download and install gates read now: an LwM2M exchange can outlast the
    window it started in, and the Update must not go out on a gate read before a long download."""
    now = clock.now()
    with uow:
        campaign = uow.campaigns.get(assignment.account_name, assignment.campaign_id)
    if campaign is None:
        return assignment
    return replace(
        assignment,
        may_download=offer_allowed(campaign, now, assignment.device_zone),
        may_install=campaign.may_install(now),
        install_wait_until=install_wait_until(campaign.schedule, campaign.phases, now),
    )


def _entry(assignment: Assignment, device_id: str, status: DeviceStatus, reason: str, now: datetime) -> HistoryEntry:
    return HistoryEntry(assignment.account_name, assignment.campaign_id, device_id, status.value, reason, now)


def claim_start(
    *, uow: UnitOfWork, clock: Clock, policy: UpgradePolicy, assignment: Assignment, device_id: str
) -> bool:
    """Moves a pending device to UpgradeInProgress; False if another worker, or the clock, got there first."""
    return claim_many(uow=uow, clock=clock, policy=policy, claims=[(assignment, device_id)])[0]


def claim_many(
    *, uow: UnitOfWork, clock: Clock, policy: UpgradePolicy, claims: Sequence[tuple[Assignment, str]]
) -> list[bool]:
    """`claim_start` for many (assignment, device) pairs in one transaction; one result per pair, in order.

    Each claim is the same conditional UPDATE with its history entry: a pair another worker (or the clock) got to
    first is False and writes nothing. A campaign with a bandwidth budget first admits the device (docs/adr/0024):
    its image is reserved in this hour, in this transaction, or the device stays pending until the next hour with
    the budget's reason, and is False too.
    """
    now = clock.now()
    results = [False] * len(claims)
    entries: dict[str, list[HistoryEntry]] = {}
    with uow:
        startable: dict[tuple[str, str], _Startable | None] = {}
        # Per campaign, device zone and wave, not per device.
        open_to: dict[tuple[str, str, str | None, int | None], bool] = {}
        # Campaign by campaign (in id order, the batch's order within one): claim batches of several processes take
        # the budgets' counter rows in one order, each before the upgrade rows of its campaign.
        for index in sorted(range(len(claims)), key=lambda i: claims[i][0].campaign_id):
            assignment, device_id = claims[index]
            key = (assignment.account_name, assignment.campaign_id)
            if key not in startable:
                startable[key] = _startable(uow, key)
            start = startable[key]
            # The claim itself checks the back-off. The wave is asked about again on the campaign read in this
            # transaction, so that a pause committed since the assignment was read stops this start.
            open_key = (*key, assignment.device_zone, assignment.wave)
            if open_key not in open_to:
                open_to[open_key] = start is not None and may_start(
                    start.campaign, now, device_zone=assignment.device_zone, wave=assignment.wave
                )
            if start is None or not open_to[open_key]:
                continue
            if start.image_size:  # budgeted (a campaign without an image has nothing to send, nor to reserve)
                results[index] = _admitted_claim(uow, policy, start, assignment, device_id, now, entries)
            else:
                results[index] = _claim(uow, policy, assignment, device_id, None, now)
            if results[index]:
                entry = _entry(assignment, device_id, DeviceStatus.IN_PROGRESS, Step.STARTING.reason, now)
                entries.setdefault(assignment.account_name, []).append(entry)
        for account_entries in entries.values():
            events.record(uow, account_entries)  # one account's changes per call, as `record` expects
        uow.commit()
    return results


@dataclass
class _Startable:
    """A campaign whose devices may start now, as one claim batch sees it."""

    campaign: Campaign
    image_size: int | None  # of a budgeted campaign's image: what its admission reserves
    refused: BudgetWait | None = None  # the hour refused a device: it refuses the rest of the batch (same image)


def _startable(uow: UnitOfWork, key: tuple[str, str]) -> _Startable | None:
    """The campaign of a claim batch and what its admission reserves; whether it may start is asked per zone."""
    campaign = uow.campaigns.get(*key)
    if campaign is None:
        return None
    image_size = None
    if campaign.bandwidth is not None:
        firmware = uow.firmware.get(campaign.firmware_name)
        image_size = firmware.image_size if firmware is not None else None
    return _Startable(campaign, image_size)


def _admitted_claim(
    uow: UnitOfWork,
    policy: UpgradePolicy,
    start: _Startable,
    assignment: Assignment,
    device_id: str,
    now: datetime,
    entries: dict[str, list[HistoryEntry]],
) -> bool:
    """The claim of a budgeted campaign's device: its image reserved first, or the device deferred to the next hour
    (no attempt spent) with the budget's reason in its history."""
    assert start.image_size
    admitted = start.refused or bandwidth.admit(uow, start.campaign, start.image_size, now=now)
    if isinstance(admitted, Grant):
        return _claim(uow, policy, assignment, device_id, admitted, now)
    start.refused = admitted
    if uow.upgrades.defer(assignment.campaign_id, device_id, reason=admitted.reason, until=admitted.until, now=now):
        entry = _entry(assignment, device_id, DeviceStatus.PENDING, admitted.reason, now)
        entries.setdefault(assignment.account_name, []).append(entry)
    return False


def _claim(
    uow: UnitOfWork, policy: UpgradePolicy, assignment: Assignment, device_id: str, grant: Grant | None, now: datetime
) -> bool:
    claimed = uow.upgrades.claim(
        assignment.campaign_id,
        device_id,
        step=Step.STARTING,
        reason=Step.STARTING.reason,
        now=now,
        deadline=policy.deadline(Step.STARTING, now),
        bandwidth_hour=grant.hour if grant is not None else None,
    )
    if not claimed and grant is not None:  # another worker, or the clock, got there first: nothing sends these bytes
        uow.bandwidth.give_back(assignment.campaign_id, grant.hour, grant.bytes)
    return claimed


@dataclass(frozen=True)
class Offer:
    """A package offer to one device: the step moves to Downloading and a download link is issued, together."""

    assignment: Assignment
    device_id: str
    delivery: str  # "pull" or "push" (LwM2M), "http" (the HTTP device protocol)


def offer_many(*, uow: UnitOfWork, clock: Clock, policy: UpgradePolicy, offers: Sequence[Offer]) -> list[str | None]:
    """Records each offer (step Downloading from Starting or Downloading, with its delivery) and issues its download
    link in one transaction; per offer the link's token, or None when the upgrade was no longer at those steps.

    Committed before the device is sent anything, as `advance` is one by one.
    """
    now = clock.now()
    tokens: list[str | None] = []
    with uow:
        for offer in offers:
            moved = uow.upgrades.set_step(
                offer.assignment.campaign_id,
                offer.device_id,
                from_steps=Step.DOWNLOADING.reached_from,
                step=Step.DOWNLOADING,
                reason=Step.DOWNLOADING.reason,
                now=now,
                deadline=policy.deadline(Step.DOWNLOADING, now),
                delivery=offer.delivery,
            )
            if not moved:
                tokens.append(None)
                continue
            token = secrets.token_urlsafe(24)
            uow.downloads.add(
                download_token_hash(token),
                DownloadLink(
                    offer.device_id,
                    offer.assignment.campaign_id,
                    offer.assignment.firmware_name,
                    now,
                    now + policy.download_link_lifetime,
                ),
            )
            tokens.append(token)
        uow.commit()
    return tokens


def offer_package(
    *, uow: UnitOfWork, clock: Clock, policy: UpgradePolicy, assignment: Assignment, device_id: str, delivery: str
) -> str | None:
    """`offer_many` for one device: the download link's token, or None when the attempt moved on meanwhile."""
    return offer_many(uow=uow, clock=clock, policy=policy, offers=[Offer(assignment, device_id, delivery)])[0]


def advance(
    *,
    uow: UnitOfWork,
    clock: Clock,
    policy: UpgradePolicy,
    assignment: Assignment,
    device_id: str,
    to: Step,
    from_steps: tuple[Step, ...] | None = None,
    delivery: str | None = None,
) -> bool:
    """Records that the upgrade reached `to`; False if it was not in one of `from_steps` (by default the steps `to`
    is reached from) any more."""
    now = clock.now()
    with uow:
        moved = uow.upgrades.set_step(
            assignment.campaign_id,
            device_id,
            from_steps=to.reached_from if from_steps is None else from_steps,
            step=to,
            reason=to.reason,
            now=now,
            deadline=policy.deadline(to, now),
            delivery=delivery,
            executed_at=now if to is Step.UPDATING else None,
        )
        if moved:
            # Claiming already recorded "Downloading"; a (re)offer of the package changes nothing a reader sees.
            if to is not Step.DOWNLOADING:
                events.record(uow, [_entry(assignment, device_id, DeviceStatus.IN_PROGRESS, to.reason, now)])
            uow.commit()
    return moved


def wait_for_install(
    *, uow: UnitOfWork, clock: Clock, policy: UpgradePolicy, assignment: Assignment, device_id: str
) -> bool:
    """A downloaded package waits for the campaign's install window: the step's deadline moves past that window's
    close (plus the usual time-out), so waiting is not mistaken for a device gone quiet. No history: nothing
    changed."""
    now = clock.now()
    with uow:
        moved = _hold_for_install(uow, policy, assignment, device_id, assignment.install_wait_until, now)
        uow.commit()
    return moved


def _hold_for_install(
    uow: UnitOfWork,
    policy: UpgradePolicy,
    assignment: Assignment,
    device_id: str,
    until: datetime | None,
    now: datetime,
) -> bool:
    return uow.upgrades.set_step(
        assignment.campaign_id,
        device_id,
        from_steps=[Step.DOWNLOADED],
        step=Step.DOWNLOADED,
        reason=Step.DOWNLOADED.reason,
        now=now,
        deadline=policy.deadline(Step.DOWNLOADED, max(now, until or now)),
    )


def mark_update_executing(
    *, uow: UnitOfWork, clock: Clock, policy: UpgradePolicy, assignment: Assignment, device_id: str
) -> bool:
    """Commits Updating before the Execute goes out; only one caller ever gets True for an attempt."""
    return advance(
        uow=uow,
        clock=clock,
        policy=policy,
        assignment=assignment,
        device_id=device_id,
        to=Step.UPDATING,
    )


def conclude(
    *,
    uow: UnitOfWork,
    clock: Clock,
    policy: UpgradePolicy,
    campaign_id: str,
    account_name: str,
    device_id: str,
    outcome: Outcome,
    attempts: int,
    expected_step: Step | None = None,
    expired_by: datetime | None = None,
) -> DeviceStatus | None:
    """Ends an attempt as the domain's `conclusion` says: UpgradeSuccess, a retry later (back to UpgradePending), or
    UpgradeFailed. `expected_step`: only from that step; `expired_by`: only a step whose deadline passed by then.

    Returns the new status, or None when the upgrade had already been concluded by someone else.
    """
    now = clock.now()
    with uow:
        campaign = uow.campaigns.get(account_name, campaign_id)
        live = campaign is not None and campaign.is_live(now) and campaign.status is CampaignStatus.SCHEDULED
        ended = conclusion(
            outcome,
            attempts=attempts,
            policy=policy,
            now=now,
            campaign_live=live,
            retry_policy=campaign.retry_policy if campaign is not None else None,
        )
        done = uow.upgrades.conclude(
            campaign_id,
            device_id,
            status=ended.status,
            reason=ended.reason,
            now=now,
            next_attempt_at=ended.retry_at,
            expected_step=expected_step,
            expired_by=expired_by,
        )
        if not done:
            return None
        events.record(uow, [HistoryEntry(account_name, campaign_id, device_id, ended.status.value, ended.reason, now)])
        if campaign is not None:
            rollouts.started_soak(uow, campaign, device_id, ended.status, now=now)
        uow.commit()
    return ended.status


def download_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def resolve_download(
    *, uow: UnitOfWork, clock: Clock, token: str, cached: Collection[str] = ()
) -> tuple[DownloadLink, bytes | None] | None:
    """The link and package bytes for a valid, unexpired token; None otherwise (or when the image is missing).

    `cached`: firmware names whose images the caller holds already; for those the bytes are not read (None).
    """
    with uow:
        link = uow.downloads.get(download_token_hash(token))
        if link is None or link.expires_at <= clock.now():
            return None
        if link.firmware_name in cached:
            return link, None
        image = uow.firmware.image(link.firmware_name)
    return (link, image) if image is not None else None


def expire_steps(
    *,
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    policy: UpgradePolicy,
    batch: int = 500,
    outcomes: Counter[DeviceStatus] | None = None,
) -> int:
    """Ends every step whose deadline passed: a device that went quiet is retried or failed, never left hanging.

    `outcomes`, when given, counts the resulting statuses (for the adapters' metrics).
    """
    now = clock.now()
    uow = uow_factory()
    with uow:
        expired = uow.upgrades.expired(now, batch)
    count = 0
    for row in expired:
        step = row.step or Step.STARTING
        status = conclude(
            uow=uow_factory(),
            clock=clock,
            policy=policy,
            campaign_id=row.campaign_id,
            account_name=row.account_name,
            device_id=row.device_id,
            outcome=timed_out(step),
            attempts=row.attempts,
            expected_step=step,
            expired_by=now,
        )
        count += status is not None
        if outcomes is not None and status is not None:
            outcomes[status] += 1
    return count
