"""The firmware campaign: its rules for creation, date changes, cancellation and time-driven transitions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from fota.domain.bandwidth import BandwidthBudget
from fota.domain.blackouts import BlackoutCalendar, RecordedOverride
from fota.domain.errors import InvalidRequest, InvalidState
from fota.domain.phases import NO_PHASES, Phases, download_open, install_open
from fota.domain.protocols import Protocol
from fota.domain.rollout import RolloutSpec, RolloutState, may_offer
from fota.domain.start_rule import StartRule
from fota.domain.statuses import CampaignStatus
from fota.domain.upgrade.retry import RetryPolicy
from fota.domain.windows import Schedule, validate_windows
from fota.domain.zones import WindowZone

# A queued campaign is laid out (PreScheduled, then Scheduled) once its start is this close.
SCHEDULING_LEAD = timedelta(hours=24)


@dataclass(frozen=True)
class Firmware:
    name: str
    make: str
    model: str
    firmware_from: str
    firmware_to: str
    protocol: Protocol
    release_note: str
    launch_date: datetime
    image_size: int | None = None
    image_sha256: str | None = None
    # A verified detached signature over the image's sha256 (base64) and the publisher key that verified it.
    image_signature: str | None = None
    image_key_id: str | None = None
    kind: str = "firmware"  # or "file": a v2 configuration file, private to `owner_account`
    owner_account: str | None = None
    local_target_path: str | None = None


@dataclass(frozen=True)
class Campaign:
    id: str
    account_name: str
    name: str | None
    firmware_name: str
    firmware_from: str
    firmware_to: str
    protocol: Protocol
    make: str
    model: str
    schedule: Schedule
    auto_assign_license: bool
    auto_add_devices: bool
    status: CampaignStatus
    status_reason: str | None = None
    package_kind: str = "firmware"  # "file": pushes a configuration file; the device's firmware does not matter
    phases: Phases = NO_PHASES
    retry_policy: RetryPolicy | None = None  # the contract's retryPolicy; None: the server's own retry rule
    # The contract's windowZone and blackouts, and the blackout override in force (ADR 23, 26). A campaign with
    # neither field decides its starts by `may_download` exactly as before; one with either by `start_rule`.
    window_zone: WindowZone | None = None
    blackouts: BlackoutCalendar | None = None
    blackout_override: RecordedOverride | None = None
    bandwidth: BandwidthBudget | None = None  # the contract's bandwidth; None: image bytes are not budgeted
    follow_up_of: str | None = None  # the campaign whose missed devices this one carries; None: not a follow-up
    rollout: RolloutSpec | None = None  # the contract's rollout; None: every device is offered the upgrade at once
    rollout_state: RolloutState | None = None  # stored with `rollout`, changed only by services/rollouts.py

    def rollout_offers(self, wave: int | None) -> bool:
        """Whether the rollout lets a pending device of `wave` start (always, without a rollout). A member without a
        wave yet (enrolled while the plan was being made) counts as the last wave's, as a late device would."""
        if self.rollout is None or self.rollout_state is None:
            return True
        return may_offer(self.rollout_state, self.rollout.last_wave if wave is None else wave)

    def may_download(self, now: datetime) -> bool:
        """A new attempt (the package offer) may start: a download window is open."""
        return download_open(self.schedule, self.phases, now)

    def start_rule(self) -> StartRule | None:
        """The rule new attempts start by when the campaign has windowZone or blackouts; None: `may_download`."""
        if self.window_zone is None and self.blackouts is None:
            return None
        return StartRule.of_schedule(
            self.schedule,
            window_zone=self.window_zone or WindowZone.CAMPAIGN,
            blackouts=self.blackouts or BlackoutCalendar(),
            override=self.blackout_override.override if self.blackout_override is not None else None,
            download_after=self.phases.download_after,
        )

    def may_install(self, now: datetime) -> bool:
        return install_open(self.schedule, self.phases, now)

    def next_transition_at(self) -> datetime | None:
        """When the engine must next look at this campaign; None once it is final."""
        if self.status.is_final:
            return None
        if self.status in (CampaignStatus.QUEUED, CampaignStatus.PRE_SCHEDULED):
            return self.schedule.starts_at - SCHEDULING_LEAD
        return self.schedule.ends_at

    def is_live(self, now: datetime) -> bool:
        """Not final and not past its end: devices may still join."""
        return not self.status.is_final and now < self.schedule.ends_at

    def status_after_delete(self, now: datetime) -> CampaignStatus:
        if self.status.is_final:
            raise InvalidState(f"campaign {self.id} is already {self.status.value} and cannot be cancelled")
        return CampaignStatus.CANCELLED if now < self.schedule.starts_at else CampaignStatus.ABORTED

    def with_new_schedule(self, proposed: Schedule, now: datetime) -> Campaign:
        """Any valid change before the start; after it only the end date and windows; none after the end."""
        if self.status.is_final or now >= self.schedule.ends_at:
            raise InvalidState(f"campaign {self.id} is {self.status.value}; its dates can no longer change")
        started = now >= self.schedule.starts_at
        if started and proposed.start_date != self.schedule.start_date:
            raise InvalidState(
                f"campaign {self.id} started on {self.schedule.start_date.isoformat()}; "
                "only endDate and the time windows can change now"
            )
        checked = check_schedule(proposed, now, allow_past_start=started)
        return replace(self, schedule=checked)


def check_schedule(schedule: Schedule, now: datetime, *, allow_past_start: bool = False) -> Schedule:
    """Validates dates against `now` in the campaign's zone and the windows; returns a normalized schedule."""
    windows = validate_windows(schedule.windows)
    today = schedule.local_today(now)
    if not allow_past_start and schedule.start_date < today:
        raise InvalidRequest(
            f"startDate {schedule.start_date.isoformat()} is in the past (today is {today.isoformat()})"
        )
    if schedule.end_date < schedule.start_date:
        raise InvalidRequest(
            f"endDate {schedule.end_date.isoformat()} is before startDate {schedule.start_date.isoformat()}"
        )
    if schedule.end_date < today:
        raise InvalidRequest(f"endDate {schedule.end_date.isoformat()} is in the past (today is {today.isoformat()})")
    return replace(schedule, windows=windows)


def check_firmware_matches(firmware: Firmware, firmware_from: str, firmware_to: str, protocol: Protocol) -> None:
    if firmware.firmware_from != firmware_from:
        raise InvalidRequest(
            f"firmwareFrom {firmware_from!r} does not match firmware {firmware.name!r}, "
            f"which upgrades from {firmware.firmware_from!r}"
        )
    if firmware.firmware_to != firmware_to:
        raise InvalidRequest(
            f"firmwareTo {firmware_to!r} does not match firmware {firmware.name!r}, "
            f"which upgrades to {firmware.firmware_to!r}"
        )
    if firmware.protocol is not protocol:
        raise InvalidRequest(
            f"protocol {protocol.value} does not match firmware {firmware.name!r}, "
            f"which is delivered over {firmware.protocol.firmware_spelling}"
        )


def check_flags(auto_assign_license: bool, auto_add_devices: bool) -> None:
    if auto_add_devices and not auto_assign_license:
        raise InvalidRequest("autoAddDevicesFlag requires autoAssignLicenseFlag to be true")


@dataclass(frozen=True)
class Transition:
    """A time-driven status change the engine applies."""

    to: CampaignStatus
    reason: str


def due_transition(campaign: Campaign, now: datetime) -> Transition | None:
    """What the passage of time does to a campaign at `now`, if anything."""
    if campaign.status.is_final:
        return None
    if now >= campaign.schedule.ends_at:
        return Transition(CampaignStatus.ENDED, "the campaign's end date has passed")
    if campaign.status is CampaignStatus.QUEUED and now >= campaign.schedule.starts_at - SCHEDULING_LEAD:
        return Transition(CampaignStatus.PRE_SCHEDULED, "laying out device work")
    if campaign.status is CampaignStatus.PRE_SCHEDULED:
        return Transition(CampaignStatus.SCHEDULED, "device work laid out")
    return None


def parse_date(text: object, field: str) -> date:
    if not isinstance(text, str):
        raise InvalidRequest(f"{field} must be a date string YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{field} {text!r} is not a valid date YYYY-MM-DD") from None
