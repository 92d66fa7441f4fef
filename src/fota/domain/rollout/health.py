"""The health gate: whether a device that reached UpgradeSuccess stayed healthy through its soak (it kept checking
in within its registration lifetime and kept reporting firmwareTo)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class Unhealthy(StrEnum):
    SILENT = "silent"  # no check-in for longer than its registration lifetime
    ROLLED_BACK = "rolledBack"  # reports a firmware other than firmwareTo

    @property
    def reason(self) -> str:
        if self is Unhealthy.SILENT:
            return "stopped checking in after the upgrade"
        return "reports a firmware other than firmwareTo after the upgrade"


def soak_ends_at(succeeded_at: datetime, soak: timedelta) -> datetime:
    return succeeded_at + soak


def unhealthy_reason(
    *,
    succeeded_at: datetime,
    last_check_in_at: datetime | None,
    lifetime: timedelta,
    reported_firmware: str | None,
    firmware_to: str,
    soak: timedelta,
    now: datetime,
) -> Unhealthy | None:
    """The verdict on a succeeded device at `now`, judged over its soak only.

    The silence is measured at the earlier of `now` and the soak's end, from the later of the success and the last
    check-in, so a late evaluation still sees a device that fell silent within its soak. The firmware counts when
    it was reported within the soak, after the success (the last check-in carries it). A silence that ended with a
    check-in before this evaluation is `check_in_gap_reason`'s to see, at that check-in. The service keeps a verdict
    once given: a device that comes back later stays counted as unhealthy.
    """
    soak_end = soak_ends_at(succeeded_at, soak)
    judged_at = min(now, soak_end)
    heard_at = succeeded_at if last_check_in_at is None else max(succeeded_at, last_check_in_at)
    if heard_at <= judged_at and judged_at - heard_at > lifetime:
        return Unhealthy.SILENT
    # Strictly after the success: a check-in at the very instant of the success may carry the firmware read before
    # the update (on a clock that stands still between steps, the whole upgrade takes no time at all).
    reported_in_soak = last_check_in_at is not None and succeeded_at < last_check_in_at <= soak_end
    if reported_in_soak and reported_firmware is not None and reported_firmware != firmware_to:
        return Unhealthy.ROLLED_BACK
    return None


def check_in_gap_reason(
    *,
    succeeded_at: datetime,
    previous_check_in_at: datetime | None,
    check_in_at: datetime,
    lifetime: timedelta,
    soak: timedelta,
) -> Unhealthy | None:
    """At a check-in of a succeeded device: SILENT when the silence it ends began within the soak and outlasted
    the lifetime, even though the device is back."""
    soak_end = soak_ends_at(succeeded_at, soak)
    heard_at = succeeded_at if previous_check_in_at is None else max(succeeded_at, previous_check_in_at)
    if heard_at > soak_end:
        return None
    # Only the part of the silence inside the soak counts.
    if min(check_in_at, soak_end) - heard_at > lifetime:
        return Unhealthy.SILENT
    return None
