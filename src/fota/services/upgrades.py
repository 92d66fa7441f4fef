"""Per-device upgrade use cases: what a checking-in device should do, and each step's transaction.

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
from fota.domain.campaign import Campaign
from fota.domain.phases import install_wait_until
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.domain.upgrade import Outcome, Step, UpgradePolicy
from fota.services import events
from fota.services.device_logging import note_check_in
from fota.services.enrolment import enrol_in_auto_add_campaigns
from fota.services.ports import DownloadLink, HistoryEntry, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class Assignment:
    """The upgrade a device has to work on now: to start (step None) or to resume."""

    campaign_id: str
    account_name: str
    firmware_name: str
    firmware_to: str
    step: Step | None
    attempts: int
    delivery: str | None
    update_executed: bool
    package_kind: str = "firmware"
    may_download: bool = True  # a download window is open now (a package offer may go out)
    may_install: bool = True  # the campaign lets a downloaded package be installed now
    install_wait_until: datetime | None = None  # if not now, until when a downloaded package may wait for it
    install_gated: bool = False  # the campaign has an install rule of its own (v2 install windows/after-date)


def device_reported(
    *, uow: UnitOfWork, clock: Clock, device_id: str, firmware: str | None, check_in: str | None = None
) -> bool:
    """Records a check-in and the firmware the device reports; returns whether the firmware changed.

    A changed firmware may make the device eligible for a live auto-add campaign, which enrols it here.
    `check_in`: the client type of a check-in this report is (HTTP), for the device's check-in history.
    """
    now = clock.now()
    with uow:
        device = uow.devices.get(device_id)
        if device is None:
            return False
        if check_in is not None:
            note_check_in(uow, device_id, check_in, f"{check_in} check-in, firmware {firmware}", now=now)
        changed = firmware is not None and firmware != device.firmware
        if changed:
            assert firmware is not None
            uow.devices.update(
                replace(device, firmware=firmware, firmware_updated_at=now, updated_at=now, last_seen_at=now)
            )
            enrol_in_auto_add_campaigns(uow, [device_id], now=now)
        else:
            uow.devices.touch(device_id, at=now)
        uow.commit()
    return changed


def current_work(*, uow: UnitOfWork, clock: Clock, device_id: str) -> Assignment | None:
    """The device's upgrade to start or resume, or None.

    A new attempt starts only in a Scheduled campaign, inside an open window, after any retry back-off.
    An upgrade already in progress is resumed whatever the hour: stopping half-way helps nobody.
    """
    now = clock.now()
    with uow:
        return work_in(uow, device_id, now)


def work_in(uow: UnitOfWork, device_id: str, now: datetime) -> Assignment | None:
    """`current_work` inside a unit of work the caller holds (a check-in reads it in its own transaction)."""
    found = uow.upgrades.active_for_device(device_id)
    if found is None:
        return None
    row, campaign = found
    if row.status is DeviceStatus.PENDING:
        if campaign.status is not CampaignStatus.SCHEDULED or not campaign.may_download(now):
            return None
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            return None
    return Assignment(
        campaign_id=campaign.id,
        account_name=campaign.account_name,
        firmware_name=campaign.firmware_name,
        firmware_to=campaign.firmware_to,
        step=Step(row.step) if row.step else None,
        attempts=row.attempts,
        delivery=row.delivery,
        update_executed=row.update_executed_at is not None,
        package_kind=campaign.package_kind,
        may_download=campaign.may_download(now),
        may_install=campaign.may_install(now),
        install_wait_until=install_wait_until(campaign.schedule, campaign.phases, now),
        install_gated=campaign.phases.separate_install,
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
    first is False and writes nothing.
    """
    now = clock.now()
    results: list[bool] = []
    entries: dict[str, list[HistoryEntry]] = {}
    with uow:
        startable: dict[tuple[str, str], bool] = {}
        for assignment, device_id in claims:
            key = (assignment.account_name, assignment.campaign_id)
            if key not in startable:
                startable[key] = _may_start(uow.campaigns.get(*key), now)
            claimed = startable[key] and uow.upgrades.claim(
                assignment.campaign_id,
                device_id,
                step=Step.STARTING.value,
                reason=Step.STARTING.reason,
                now=now,
                deadline=policy.deadline(Step.STARTING, now),
            )
            if claimed:
                entry = _entry(assignment, device_id, DeviceStatus.IN_PROGRESS, Step.STARTING.reason, now)
                entries.setdefault(assignment.account_name, []).append(entry)
            results.append(claimed)
        for account_entries in entries.values():
            events.record(uow, account_entries)  # one account's changes per call, as `record` expects
        uow.commit()
    return results


@dataclass(frozen=True)
class Offer:
    """A package offer to one device: the step moves to Downloading and a download link is issued, together."""

    assignment: Assignment
    device_id: str
    delivery: str  # "pull" or "push"


def offer_many(*, uow: UnitOfWork, clock: Clock, policy: UpgradePolicy, offers: Sequence[Offer]) -> list[str | None]:
    """Records each offer (step Downloading from Starting or Downloading, with its delivery) and issues its download
    link in one transaction; per offer the link's token, or None when the upgrade was no longer at those steps.

    Committed before the device is sent anything, as `advance` and `issue_download_link` are one by one.
    """
    now = clock.now()
    tokens: list[str | None] = []
    with uow:
        for offer in offers:
            moved = uow.upgrades.set_step(
                offer.assignment.campaign_id,
                offer.device_id,
                from_steps=[Step.STARTING.value, Step.DOWNLOADING.value],
                step=Step.DOWNLOADING.value,
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


def _may_start(campaign: Campaign | None, now: datetime) -> bool:
    return campaign is not None and campaign.status is CampaignStatus.SCHEDULED and campaign.may_download(now)


def advance(
    *,
    uow: UnitOfWork,
    clock: Clock,
    policy: UpgradePolicy,
    assignment: Assignment,
    device_id: str,
    from_steps: tuple[Step, ...],
    to: Step,
    delivery: str | None = None,
) -> bool:
    """Records that the upgrade reached `to`; False if it was not in one of `from_steps` any more."""
    now = clock.now()
    with uow:
        moved = uow.upgrades.set_step(
            assignment.campaign_id,
            device_id,
            from_steps=[s.value for s in from_steps],
            step=to.value,
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


def ready_to_install(
    *, uow: UnitOfWork, clock: Clock, policy: UpgradePolicy, assignment: Assignment, device_id: str
) -> bool:
    """Whether the Update may be executed now, read afresh (an LwM2M download can outlast the window it started in);
    when not, the downloaded package is held for the install window as `wait_for_install` does."""
    now = clock.now()
    with uow:
        campaign = uow.campaigns.get(assignment.account_name, assignment.campaign_id)
        if campaign is None or campaign.may_install(now):
            return True
        until = install_wait_until(campaign.schedule, campaign.phases, now)
        _hold_for_install(uow, policy, assignment, device_id, until, now)
        uow.commit()
    return False


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
        from_steps=[Step.DOWNLOADED.value],
        step=Step.DOWNLOADED.value,
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
        from_steps=(Step.DOWNLOADED,),
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
    """Ends an attempt: UpgradeSuccess, a retry later (back to UpgradePending), or UpgradeFailed.

    Returns the new status, or None when the upgrade had already been concluded by someone else.
    """
    now = clock.now()
    with uow:
        campaign = uow.campaigns.get(account_name, campaign_id)
        retry_at = policy.retry_at(attempts, now) if outcome.retryable else None
        live = campaign is not None and campaign.is_live(now) and campaign.status is CampaignStatus.SCHEDULED
        if outcome.success:
            status, reason, next_attempt = DeviceStatus.SUCCESS, outcome.reason, None
        elif retry_at is not None and live:
            status, next_attempt = DeviceStatus.PENDING, retry_at
            reason = f"attempt {attempts} failed ({outcome.reason}); retrying after {retry_at.isoformat()}"
        else:
            status, reason, next_attempt = DeviceStatus.FAILED, outcome.reason, None
            if outcome.retryable:
                reason = f"{outcome.reason} (after {attempts} attempts)"
        done = uow.upgrades.conclude(
            campaign_id,
            device_id,
            status=status,
            reason=reason,
            now=now,
            next_attempt_at=next_attempt,
            expected_step=expected_step.value if expected_step else None,
            expired_by=expired_by,
        )
        if not done:
            return None
        events.record(uow, [HistoryEntry(account_name, campaign_id, device_id, status.value, reason, now)])
        uow.commit()
    return status


def issue_download_link(
    *, uow: UnitOfWork, clock: Clock, policy: UpgradePolicy, assignment: Assignment, device_id: str
) -> str:
    """A random token naming this device's package download; only its hash is stored."""
    now = clock.now()
    token = secrets.token_urlsafe(24)
    with uow:
        uow.downloads.add(
            download_token_hash(token),
            DownloadLink(
                device_id, assignment.campaign_id, assignment.firmware_name, now, now + policy.download_link_lifetime
            ),
        )
        uow.commit()
    return token


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
        step = Step(row.step) if row.step else Step.STARTING
        reason = {
            Step.STARTING: "time-out: the device did not accept the package offer",
            Step.DOWNLOADING: "time-out: the download did not complete",
            Step.DOWNLOADED: "time-out: the Update was not executed",
            Step.UPDATING: "time-out: the device did not come back after the Update",
        }[step]
        # Once an Update was executed, trying again could flash twice: only earlier steps are retried.
        outcome = Outcome(False, reason, retryable=step is not Step.UPDATING)
        status = conclude(
            uow=uow_factory(),
            clock=clock,
            policy=policy,
            campaign_id=row.campaign_id,
            account_name=row.account_name,
            device_id=row.device_id,
            outcome=outcome,
            attempts=row.attempts,
            expected_step=step,
            expired_by=now,
        )
        count += status is not None
        if outcomes is not None and status is not None:
            outcomes[status] += 1
    return count
