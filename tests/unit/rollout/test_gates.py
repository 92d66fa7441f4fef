"""Wave tallies, the advance gate (successPercent succeeded and soaked), the abort rule and a wave's state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fota.domain.rollout import (
    AbortRule,
    AdvanceRule,
    DeviceOutcome,
    DeviceProgress,
    WaveState,
    WaveTally,
    abort_due,
    gate_met,
    outcome_of,
    success_reached,
    tally_of,
    wave_state,
)
from fota.domain.statuses import DeviceStatus

NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
SOAK = timedelta(minutes=60)
RULE = AdvanceRule(success_percent=95, soak_minutes=60)


@pytest.mark.parametrize(
    ("status", "unhealthy", "outcome"),
    [
        (DeviceStatus.PENDING, False, DeviceOutcome.PENDING),
        (DeviceStatus.IN_PROGRESS, False, DeviceOutcome.IN_PROGRESS),
        (DeviceStatus.SUCCESS, False, DeviceOutcome.SUCCEEDED),
        (DeviceStatus.SUCCESS, True, DeviceOutcome.UNHEALTHY),
        (DeviceStatus.FAILED, False, DeviceOutcome.FAILED),
        (DeviceStatus.CAMPAIGN_ENDED, False, DeviceOutcome.PENDING),
        (DeviceStatus.REJECTED, False, None),
        (DeviceStatus.REMOVED, False, None),
    ],
)
def test_rows_count_in_their_wave_by_status(status: DeviceStatus, unhealthy: bool, outcome: DeviceOutcome) -> None:
    assert outcome_of(status, unhealthy=unhealthy) is outcome


def test_a_tally_counts_outcomes_and_the_succeeded_whose_soak_is_over() -> None:
    members = [
        DeviceProgress(DeviceOutcome.SUCCEEDED, NOW - SOAK),  # soaked, just
        DeviceProgress(DeviceOutcome.SUCCEEDED, NOW - SOAK + timedelta(seconds=1)),
        DeviceProgress(DeviceOutcome.UNHEALTHY, NOW - 2 * SOAK),
        DeviceProgress(DeviceOutcome.FAILED),
        DeviceProgress(DeviceOutcome.IN_PROGRESS),
        DeviceProgress(DeviceOutcome.PENDING),
    ]
    assert tally_of(members, SOAK, NOW) == WaveTally(devices=6, succeeded=2, soaked=1, failed=1, unhealthy=1)
    assert tally_of(members, SOAK, NOW).bad == 2


def test_a_succeeded_device_has_its_time_of_success() -> None:
    with pytest.raises(ValueError, match="time of its success"):
        DeviceProgress(DeviceOutcome.SUCCEEDED)


@pytest.mark.parametrize(
    "counts",
    [
        {"devices": -1},
        {"devices": 2, "succeeded": 1, "soaked": 2},
        {"devices": 2, "succeeded": 1, "failed": 1, "unhealthy": 1},
    ],
)
def test_impossible_tallies_are_refused(counts: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        WaveTally(**counts)


def test_the_gate_needs_success_percent_soaked() -> None:
    assert not gate_met(WaveTally(devices=20, succeeded=20, soaked=18), RULE)  # 90 %
    assert gate_met(WaveTally(devices=20, succeeded=20, soaked=19), RULE)  # 95 %
    assert gate_met(WaveTally(devices=5, succeeded=5, soaked=5), RULE)  # 95 % of 5 is 4.75: all 5


def test_success_reached_counts_the_soaking_too() -> None:
    tally = WaveTally(devices=20, succeeded=19, soaked=0)
    assert success_reached(tally, RULE)
    assert not gate_met(tally, RULE)


def test_unhealthy_devices_do_not_count_towards_the_gate() -> None:
    assert not gate_met(WaveTally(devices=5, succeeded=4, soaked=4, unhealthy=1), RULE)


def test_an_empty_wave_passes_its_gate_at_once() -> None:
    assert gate_met(WaveTally(devices=0), RULE)


ABORT = AbortRule(failure_percent=20, min_failures=2)


def test_abort_needs_both_the_percent_and_the_minimum() -> None:
    assert not abort_due(WaveTally(devices=20, failed=3), ABORT)  # 15 %
    assert abort_due(WaveTally(devices=20, failed=4), ABORT)  # 20 %
    assert not abort_due(WaveTally(devices=5, failed=1), ABORT)  # 20 %, but 1 < 2
    assert abort_due(WaveTally(devices=5, failed=2), ABORT)


def test_unhealthy_devices_count_like_failures() -> None:
    assert abort_due(WaveTally(devices=20, failed=2, unhealthy=2, succeeded=2), ABORT)


def test_excused_failures_do_not_count_again() -> None:
    assert not abort_due(WaveTally(devices=20, failed=7), ABORT, excused=4)
    assert abort_due(WaveTally(devices=20, failed=8), ABORT, excused=4)


@settings(derandomize=True, max_examples=500)
@given(
    st.integers(0, 200),
    st.integers(0, 200),
    st.integers(0, 200),
    st.integers(0, 100),
    st.integers(1, 50),
)
def test_the_abort_rule_never_fires_below_min_failures(
    devices: int, failed: int, unhealthy: int, percent: int, minimum: int
) -> None:
    failed, unhealthy = min(failed, devices), min(unhealthy, devices - min(failed, devices))
    tally = WaveTally(devices=devices, failed=failed, unhealthy=unhealthy)
    rule = AbortRule(failure_percent=percent, min_failures=minimum)
    if failed + unhealthy < minimum:
        assert not abort_due(tally, rule)
    if failed + unhealthy < percent * devices / 100:
        assert not abort_due(tally, rule)
    if failed + unhealthy >= max(minimum, percent * devices / 100):
        assert abort_due(tally, rule)


def test_wave_states() -> None:
    soaking = WaveTally(devices=20, succeeded=19)
    assert wave_state(2, 1, completed=False, tally=soaking, rule=RULE) is WaveState.WAITING
    assert wave_state(0, 1, completed=False, tally=WaveTally(devices=5), rule=RULE) is WaveState.DONE
    assert wave_state(1, 1, completed=False, tally=WaveTally(devices=20, succeeded=3), rule=RULE) is WaveState.OPEN
    assert wave_state(1, 1, completed=False, tally=soaking, rule=RULE) is WaveState.SOAKING
    soaked = WaveTally(devices=20, succeeded=19, soaked=19)
    assert wave_state(1, 1, completed=False, tally=soaked, rule=RULE) is WaveState.DONE
    assert wave_state(2, 2, completed=True, tally=WaveTally(devices=75), rule=RULE) is WaveState.DONE
