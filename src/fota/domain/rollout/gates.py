"""A wave's counts and the rules read from them: its gate (successPercent succeeded and soaked), the abort rule
(failed plus unhealthy reach failurePercent and minFailures) and the state a wave shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fota.domain.rollout.spec import AbortRule, AdvanceRule
from fota.domain.statuses import DeviceStatus


class DeviceOutcome(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "inProgress"
    SUCCEEDED = "succeeded"  # UpgradeSuccess, and healthy so far
    UNHEALTHY = "unhealthy"  # UpgradeSuccess, then a health verdict (health.py) within its soak
    FAILED = "failed"


def outcome_of(status: DeviceStatus, *, unhealthy: bool) -> DeviceOutcome | None:
    """How a campaign-device row counts in its wave; None for rows that are not members (rejected, removed)."""
    if status in (DeviceStatus.REJECTED, DeviceStatus.REMOVED):
        return None
    if status is DeviceStatus.SUCCESS:
        return DeviceOutcome.UNHEALTHY if unhealthy else DeviceOutcome.SUCCEEDED
    if status is DeviceStatus.FAILED:
        return DeviceOutcome.FAILED
    if status is DeviceStatus.IN_PROGRESS:
        return DeviceOutcome.IN_PROGRESS
    # Pending, or a pending device the campaign's end closed: a member that never concluded.
    return DeviceOutcome.PENDING


@dataclass(frozen=True)
class DeviceProgress:
    outcome: DeviceOutcome
    succeeded_at: datetime | None = None  # required for SUCCEEDED

    def __post_init__(self) -> None:
        if self.outcome is DeviceOutcome.SUCCEEDED and self.succeeded_at is None:
            raise ValueError("a succeeded device has the time of its success")


@dataclass(frozen=True)
class WaveTally:
    """A wave's members by outcome; a service counts them with one grouped query. The outcomes are disjoint:
    `succeeded` excludes the unhealthy, `soaked` is the part of `succeeded` whose soak is over."""

    devices: int
    succeeded: int = 0
    soaked: int = 0
    failed: int = 0
    unhealthy: int = 0

    def __post_init__(self) -> None:
        if min(self.devices, self.succeeded, self.soaked, self.failed, self.unhealthy) < 0:
            raise ValueError("counts are not negative")
        if self.soaked > self.succeeded:
            raise ValueError("soaked devices are succeeded devices")
        if self.succeeded + self.failed + self.unhealthy > self.devices:
            raise ValueError("more outcomes than devices")

    @property
    def bad(self) -> int:
        """What the abort rule counts: an unhealthy device counts like a failure."""
        return self.failed + self.unhealthy


def tally_of(devices: Iterable[DeviceProgress], soak: timedelta, now: datetime) -> WaveTally:
    """The tally of a wave from its members' outcomes, for callers that hold them in memory."""
    devices_n = succeeded = soaked = failed = unhealthy = 0
    for d in devices:
        devices_n += 1
        if d.outcome is DeviceOutcome.SUCCEEDED:
            succeeded += 1
            if d.succeeded_at is not None and d.succeeded_at + soak <= now:
                soaked += 1
        elif d.outcome is DeviceOutcome.FAILED:
            failed += 1
        elif d.outcome is DeviceOutcome.UNHEALTHY:
            unhealthy += 1
    return WaveTally(devices_n, succeeded, soaked, failed, unhealthy)


def success_reached(tally: WaveTally, rule: AdvanceRule) -> bool:
    """successPercent of the wave's devices succeeded and are healthy, soaked or not (the wave is soaking)."""
    return tally.succeeded >= rule.success_share * tally.devices


def gate_met(tally: WaveTally, rule: AdvanceRule) -> bool:
    """successPercent of the wave's devices succeeded and stayed healthy for soakMinutes; an empty wave's gate is
    met at once."""
    return tally.soaked >= rule.success_share * tally.devices


def abort_due(tally: WaveTally, rule: AbortRule, *, excused: int = 0) -> bool:
    """Failed plus unhealthy devices of the open wave reach both failurePercent of its devices and minFailures.

    `excused` are the bad devices an operator resumed past after an automatic pause: only new ones count, or a
    resume would pause again at once.
    """
    counted = tally.bad - excused
    return counted >= rule.min_failures and counted >= rule.failure_share * tally.devices


class WaveState(StrEnum):
    WAITING = "waiting"  # not opened: its devices are not offered the upgrade
    OPEN = "open"  # offered; fewer than successPercent succeeded
    SOAKING = "soaking"  # successPercent succeeded; their soak is not over
    DONE = "done"  # the gate passed (the next wave opened, or the rollout completed) or is met now


def wave_state(index: int, current_wave: int, *, completed: bool, tally: WaveTally, rule: AdvanceRule) -> WaveState:
    if index > current_wave:
        return WaveState.WAITING
    if index < current_wave or completed or gate_met(tally, rule):
        return WaveState.DONE
    if success_reached(tally, rule):
        return WaveState.SOAKING
    return WaveState.OPEN
