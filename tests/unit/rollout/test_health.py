"""The health rule: a succeeded device is unhealthy when, within its soak, it goes silent past its registration
lifetime or reports a firmware other than firmwareTo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fota.domain.rollout import Unhealthy, check_in_gap_reason, soak_ends_at, unhealthy_reason

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
SOAK = timedelta(minutes=60)
LIFETIME = timedelta(minutes=10)


def verdict(
    *, last_check_in: timedelta | None, now: timedelta, firmware: str | None = "2.0", soak: timedelta = SOAK
) -> Unhealthy | None:
    """The verdict on a device that succeeded at T0, with times given as offsets from T0."""
    return unhealthy_reason(
        succeeded_at=T0,
        last_check_in_at=None if last_check_in is None else T0 + last_check_in,
        lifetime=LIFETIME,
        reported_firmware=firmware,
        firmware_to="2.0",
        soak=soak,
        now=T0 + now,
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def test_soak_ends_soak_minutes_after_the_success() -> None:
    assert soak_ends_at(T0, SOAK) == T0 + SOAK


def test_a_device_checking_in_within_its_lifetime_is_healthy() -> None:
    assert verdict(last_check_in=minutes(25), now=minutes(30)) is None


def test_a_device_silent_past_its_lifetime_within_the_soak_is_unhealthy() -> None:
    assert verdict(last_check_in=minutes(5), now=minutes(16)) is Unhealthy.SILENT


def test_silence_exactly_one_lifetime_long_is_still_healthy() -> None:
    assert verdict(last_check_in=minutes(5), now=minutes(15)) is None


def test_the_success_counts_as_the_first_contact() -> None:
    assert verdict(last_check_in=None, now=minutes(9)) is None
    assert verdict(last_check_in=None, now=minutes(11)) is Unhealthy.SILENT
    # A check-in before the success (during the upgrade) does not push the deadline back.
    assert verdict(last_check_in=minutes(-30), now=minutes(9)) is None


def test_a_silence_that_began_in_the_soak_is_seen_after_the_soak() -> None:
    assert verdict(last_check_in=minutes(45), now=minutes(300)) is Unhealthy.SILENT


def test_silence_that_outlasts_the_lifetime_only_after_the_soak_does_not_count() -> None:
    assert verdict(last_check_in=minutes(55), now=minutes(300)) is None


def test_a_device_reporting_the_old_firmware_within_the_soak_rolled_back() -> None:
    assert verdict(last_check_in=minutes(20), now=minutes(21), firmware="1.0") is Unhealthy.ROLLED_BACK


def test_the_old_firmware_reported_at_the_instant_of_the_success_does_not_count() -> None:
    # On a clock that stands still between steps, the check-in that read the firmware before the update shares the
    # success's instant: only a report after the success tells of a rollback.
    assert verdict(last_check_in=minutes(0), now=minutes(0), firmware="1.0") is None
    assert verdict(last_check_in=minutes(0.01), now=minutes(0.01), firmware="1.0") is Unhealthy.ROLLED_BACK


def test_the_old_firmware_reported_after_the_soak_does_not_count() -> None:
    assert verdict(last_check_in=minutes(61), now=minutes(62), firmware="1.0") is None


def test_no_reported_firmware_is_not_a_rollback() -> None:
    assert verdict(last_check_in=minutes(20), now=minutes(21), firmware=None) is None


def test_with_no_soak_nothing_is_judged() -> None:
    assert verdict(last_check_in=None, now=minutes(600), soak=timedelta(0)) is None


def test_unhealthy_reasons_read_as_result_reasons() -> None:
    assert Unhealthy.SILENT.reason == "stopped checking in after the upgrade"
    assert "firmwareTo" in Unhealthy.ROLLED_BACK.reason


def gap(previous: timedelta | None, check_in: timedelta) -> Unhealthy | None:
    return check_in_gap_reason(
        succeeded_at=T0,
        previous_check_in_at=None if previous is None else T0 + previous,
        check_in_at=T0 + check_in,
        lifetime=LIFETIME,
        soak=SOAK,
    )


def test_a_check_in_after_a_long_silence_in_the_soak_reveals_it() -> None:
    assert gap(minutes(5), minutes(30)) is Unhealthy.SILENT
    assert gap(None, minutes(11)) is Unhealthy.SILENT


def test_a_check_in_within_the_lifetime_reveals_nothing() -> None:
    assert gap(minutes(5), minutes(14)) is None


def test_only_the_silence_inside_the_soak_counts_at_a_check_in() -> None:
    assert gap(minutes(55), minutes(200)) is None  # 5 minutes of it in the soak
    assert gap(minutes(70), minutes(200)) is None  # all of it after the soak
    assert gap(minutes(40), minutes(200)) is Unhealthy.SILENT  # 20 minutes of it in the soak


_offsets = st.integers(-120, 600).map(minutes)


@settings(derandomize=True, max_examples=300)
@given(_offsets, _offsets, _offsets)
def test_the_tick_and_the_check_in_agree_on_a_silence(
    previous: timedelta, check_in: timedelta, tick: timedelta
) -> None:
    """A silence (from `previous` to `check_in`) longer than the lifetime within the soak is caught by the check-in
    that ends it, and a tick during the silence never calls silent what that check-in would not."""
    previous, check_in = min(previous, check_in), max(previous, check_in)
    heard = max(timedelta(0), previous)
    silent_in_soak = heard <= SOAK and min(check_in, SOAK) - heard > LIFETIME
    assert (gap(previous, check_in) is Unhealthy.SILENT) == silent_in_soak
    if previous <= tick < check_in and verdict(last_check_in=previous, now=tick) is Unhealthy.SILENT:
        assert silent_in_soak
