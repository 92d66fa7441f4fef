"""The per-device upgrade decision, written once: from the assignment's stored step and what the device reports,
the next action; and how an ended attempt concludes (success, a retry at a given time, or a failure).

The LwM2M session and the HTTP device poll carry the actions out and report observations; the services commit
each action's step before the device is asked to act (docs/adr/0019-upgrade-state-machine.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from fota.domain.local_windows import window_open
from fota.domain.start_rule import Hold
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.domain.upgrade.failures import Failure
from fota.domain.upgrade.model import (
    Assignment,
    DeliveryMethod,
    Outcome,
    Step,
    UpdateState,
    UpgradePolicy,
    choose_delivery,
    outcome_after_reboot,
    outcome_of_result,
)
from fota.domain.upgrade.retry import RetryPolicy

if TYPE_CHECKING:  # the campaign holds a RetryPolicy: importing it at run time would be circular
    from fota.domain.campaign import Campaign


@dataclass(frozen=True)
class Observation:
    """What the device reports: Object 5 State (resource 3) and Update Result (5), the firmware it runs (/3/0/3,
    when read) and the delivery methods it supports (5/0/9, when it declares them)."""

    state: int
    result: int
    firmware: str | None = None
    delivery: DeliveryMethod | None = None


class WaitReason(StrEnum):
    """Why nothing is asked of the device now."""

    NO_DOWNLOAD_WINDOW = "no download window is open"
    NOT_STARTED = "the package was offered; the device has not started the download yet"
    DOWNLOADING = "the device is downloading the package"
    INSTALLING = "the device is installing the package"
    UNASKED_UPDATE = "the device reports a State this upgrade did not ask for; it finishes first"

    @property
    def device_busy(self) -> bool:
        """The device's State is about to change while it stays awake: worth watching, not only waiting for."""
        return self in (WaitReason.NOT_STARTED, WaitReason.DOWNLOADING)


@dataclass(frozen=True)
class Claim:
    """Start a new attempt: the pending upgrade moves to Starting."""


@dataclass(frozen=True)
class ReadStatus:
    """Read the device's Object 5 first: the decision at this step depends on it."""


@dataclass(frozen=True)
class OfferPackage:
    """Offer the package (step Downloading with a download link), by pull URL or by push."""

    method: DeliveryMethod


@dataclass(frozen=True)
class RecordDownloaded:
    """The device holds the package (State 2): record Downloaded, then decide again."""


@dataclass(frozen=True)
class ExecuteUpdate:
    """Commit Updating, then execute Update (/5/0/2); the one way an Update is executed in an attempt."""


@dataclass(frozen=True)
class ResendUpdate:
    """Updating is committed but the device still holds the package unexecuted (State 2, Update Result 0): the
    Execute never arrived, so send it again."""


@dataclass(frozen=True)
class HoldForInstall:
    """The package is downloaded but the campaign does not let it be installed now: keep it until the window."""

    until: datetime | None


@dataclass(frozen=True)
class Wait:
    why: WaitReason


@dataclass(frozen=True)
class Conclude:
    """End the attempt with `outcome`; `timed_out`: the step's deadline passed (only an expired step may end so)."""

    outcome: Outcome
    timed_out: bool = False


Action = (
    Claim
    | ReadStatus
    | OfferPackage
    | RecordDownloaded
    | ExecuteUpdate
    | ResendUpdate
    | HoldForInstall
    | Wait
    | Conclude
)


def may_start(
    campaign: Campaign,
    now: datetime,
    *,
    retry_after: datetime | None = None,
    device_zone: str | None = None,
    wave: int | None = None,
) -> bool:
    """Whether a new attempt may start: only in a Scheduled campaign that lets it start now (`start_allowed`), for
    a device whose rollout wave is open and not paused (`wave`: the device's; both device paths ask here), and not
    before a retry's back-off (`retry_after`) has passed. An attempt in progress is resumed whatever the hour
    instead: stopping half-way helps nobody."""
    if campaign.status is not CampaignStatus.SCHEDULED or not start_allowed(campaign, now, device_zone):
        return False
    if not campaign.rollout_offers(wave):
        return False
    return retry_after is None or retry_after <= now


def start_allowed(campaign: Campaign, now: datetime, device_zone: str | None) -> bool:
    """A campaign without windowZone and blackouts: a download window is open, as always. With them, its start
    rule: the live period, a window open in the zone the device's windows are read in (`device_zone` is the
    device's own, as stored), and no blackout unless the override is in force."""
    rule = campaign.start_rule()
    if rule is None:
        return campaign.may_download(now)
    return rule.may_start(rule.zone_for(device_zone), now)


def start_hold(campaign: Campaign, now: datetime, device_zone: str | None) -> Hold | None:
    """Why the start rule holds a pending device of this zone back now (its `resultReason`); None when it does not,
    or for a campaign without a start rule."""
    rule = campaign.start_rule()
    return None if rule is None else rule.hold(rule.zone_for(device_zone), now)


def offer_allowed(campaign: Campaign, now: datetime, device_zone: str | None) -> bool:
    """Whether an attempt already started may (re)offer its package: a download window is open, in the device's
    zone under windowZone device. Blackouts gate starts only (ADR 23), so they do not hold an offer back."""
    rule = campaign.start_rule()
    if rule is None:
        return campaign.may_download(now)
    return rule.period.contains(now) and window_open(rule.windows, rule.zone_for(device_zone), now)


def next_action(
    assignment: Assignment, observed: Observation | None, *, now: datetime, awaiting_download: bool = False
) -> Action:
    """What to do next with the device working on `assignment`, which reports `observed` (None: not read yet).

    `awaiting_download`: this exchange offered the package, or saw the device downloading it, and is watching it
    while it stays awake; an Idle device without a failure result has then not started yet (no new offer).
    Past the step's deadline the answer is always a conclusion: what the device reports, if that decides the
    attempt, else the step's time-out.
    """
    step = assignment.step
    if step is None:
        return Claim() if assignment.may_download else Wait(WaitReason.NO_DOWNLOAD_WINDOW)
    if observed is None:
        return ReadStatus()
    if step is Step.UPDATING:
        action = _after_update(assignment, observed)
    elif step is Step.DOWNLOADED:
        action = ExecuteUpdate() if assignment.may_install else HoldForInstall(assignment.install_wait_until)
    else:
        action = _before_download(assignment, step, observed, awaiting_download)
    if assignment.deadline is not None and now >= assignment.deadline and not isinstance(action, Conclude):
        return Conclude(timed_out(step), timed_out=True)
    return action


def _before_download(assignment: Assignment, step: Step, observed: Observation, awaiting_download: bool) -> Action:
    if observed.state == UpdateState.DOWNLOADED:
        return RecordDownloaded()
    if observed.state == UpdateState.DOWNLOADING:
        return Wait(WaitReason.DOWNLOADING)
    if observed.state != UpdateState.IDLE:
        return Wait(WaitReason.UNASKED_UPDATE)  # Updating without this upgrade's Execute: let it finish and report
    # At Starting a failure result is an earlier attempt's; at Downloading it ends this one.
    failed = outcome_of_result(observed.result) if step is Step.DOWNLOADING and observed.result > 1 else None
    if failed is not None:
        return Conclude(failed)
    if awaiting_download:
        return Wait(WaitReason.NOT_STARTED)
    if not assignment.may_download:
        return Wait(WaitReason.NO_DOWNLOAD_WINDOW)  # the package is offered (again) only while a window is open
    return OfferPackage(choose_delivery(observed.delivery))


def _after_update(assignment: Assignment, observed: Observation) -> Action:
    if observed.state == UpdateState.UPDATING:
        return Wait(WaitReason.INSTALLING)  # still flashing; it will check in again
    if observed.state == UpdateState.DOWNLOADED and observed.result == 0:
        return ResendUpdate()
    return Conclude(
        outcome_after_reboot(
            observed.result,
            observed.firmware,
            assignment.firmware_to,
            firmware_must_match=assignment.changes_firmware,
        )
    )


_TIME_OUTS = {
    Step.STARTING: "time-out: the device did not accept the package offer",
    Step.DOWNLOADING: "time-out: the download did not complete",
    Step.DOWNLOADED: "time-out: the Update was not executed",
    Step.UPDATING: "time-out: the device did not come back after the Update",
}


def timed_out(step: Step) -> Outcome:
    """How an attempt whose `step` passed its deadline ends. Once an Update was executed, trying again could flash
    twice: only the earlier steps are retried, whatever a campaign's retry policy says of Timeout."""
    repeatable = step is not Step.UPDATING
    return Outcome(False, _TIME_OUTS[step], retryable=repeatable, failure=Failure.TIMEOUT, safe_to_repeat=repeatable)


@dataclass(frozen=True)
class Conclusion:
    """An ended attempt as stored: UpgradeSuccess, UpgradePending again until `retry_at`, or UpgradeFailed."""

    status: DeviceStatus
    reason: str
    retry_at: datetime | None = None


def conclusion(
    outcome: Outcome,
    *,
    attempts: int,
    policy: UpgradePolicy,
    now: datetime,
    campaign_live: bool,
    retry_policy: RetryPolicy | None = None,
) -> Conclusion:
    """Success; else a retry with back-off while attempts remain, the failure may be retried and the campaign still
    runs (`campaign_live`); else a failure.

    Without a campaign `retry_policy` the server's rule applies: `policy`'s attempts and back-off, transient
    failures only. With one, the policy's attempts and back-off, and every named failure but its neverRetry ones
    (an attempt that could flash twice is never retried).
    """
    if outcome.success:
        return Conclusion(DeviceStatus.SUCCESS, outcome.reason)
    if retry_policy is None:
        if not outcome.retryable:
            return Conclusion(DeviceStatus.FAILED, outcome.reason)
        retry_at = policy.retry_at(attempts, now)
    else:
        refused = retry_policy.refusal(outcome)
        if refused is not None:
            return Conclusion(DeviceStatus.FAILED, refused)
        retry_at = retry_policy.retry_at(attempts, now)
    if retry_at is not None and campaign_live:
        reason = f"attempt {attempts} failed ({outcome.reason}); retrying after {retry_at.isoformat()}"
        return Conclusion(DeviceStatus.PENDING, reason, retry_at)
    return Conclusion(DeviceStatus.FAILED, f"{outcome.reason} (after {attempts} attempts)")
