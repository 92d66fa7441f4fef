"""Wave sizes and membership: every device in exactly one wave, `first` in device-id order, `stratified` with every
(make, model, firmware, time zone) group in proportion, the preview's group counts, and late devices."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fota.domain.rollout import (
    DeviceTraits,
    Group,
    GroupCount,
    parse_rollout,
    plan_waves,
    wave_for_late_device,
    wave_sizes,
)

ACCEPTANCE = {"waves": [{"devices": 5}, {"percent": 25}, {"percent": 100}]}


def spec(*waves: dict[str, Any], canary: str = "first") -> Any:
    return parse_rollout({"waves": list(waves), "canary": canary})


def devices(count: int, group: Group, start: int = 0) -> list[DeviceTraits]:
    return [DeviceTraits(f"{350000000000000 + start + i:015d}", group) for i in range(count)]


A = Group("Acme", "M1", "1.0", "Europe/Berlin")
B = Group("Acme", "M1", "1.0", "America/Los_Angeles")
C = Group("Acme", "M1", "0.9", "Europe/Berlin")
D = Group("Acme", "M1", "1.0", "Asia/Kolkata")


# --- wave_sizes ---------------------------------------------------------------------------------------------------


def test_acceptance_waves_of_100_devices_are_5_20_75() -> None:
    assert wave_sizes(parse_rollout(ACCEPTANCE).waves, 100) == (5, 20, 75)


def test_percents_are_cumulative_and_rounded_up() -> None:
    waves = spec({"percent": 1}, {"percent": 10}, {"percent": 100}).waves
    assert wave_sizes(waves, 150) == (2, 13, 135)  # 1.5 -> 2, 15 -> 15


def test_a_percent_the_counts_already_passed_gives_an_empty_wave() -> None:
    assert wave_sizes(parse_rollout(ACCEPTANCE).waves, 10) == (5, 0, 5)


def test_counts_stop_at_the_enrolled_devices() -> None:
    assert wave_sizes(parse_rollout(ACCEPTANCE).waves, 3) == (3, 0, 0)


def test_no_devices_gives_empty_waves() -> None:
    assert wave_sizes(parse_rollout(ACCEPTANCE).waves, 0) == (0, 0, 0)


def test_a_count_after_a_percent_adds_to_it() -> None:
    assert wave_sizes(spec({"percent": 10}, {"devices": 3}, {"percent": 100}).waves, 100) == (10, 3, 87)


def test_late_devices_join_the_last_wave() -> None:
    assert wave_for_late_device(parse_rollout(ACCEPTANCE)) == 2


_waves = st.lists(
    st.one_of(st.builds(lambda n: {"devices": n}, st.integers(1, 300)), st.integers(1, 99)), max_size=5
).map(
    lambda items: [
        *[i for i in items if isinstance(i, dict)],
        *[{"percent": p} for p in sorted({i for i in items if isinstance(i, int)})],
        {"percent": 100},
    ]
)


@settings(derandomize=True, max_examples=300)
@given(_waves, st.integers(0, 5000))
def test_sizes_add_up_to_the_enrolled_and_cumulative_ends_never_fall(waves: list[Any], enrolled: int) -> None:
    rollout = parse_rollout({"waves": waves})
    sizes = wave_sizes(rollout.waves, enrolled)
    assert len(sizes) == len(rollout.waves)
    assert sum(sizes) == enrolled
    assert all(size >= 0 for size in sizes)
    end = 0
    for wave, size in zip(rollout.waves, sizes, strict=True):
        end += size
        if wave.share is not None and wave is not rollout.waves[-1]:
            # A percent wave ends at its share (rounded up) unless the waves before it already went further.
            assert end == min(enrolled, max(end - size, -(-enrolled * wave.share.numerator // wave.share.denominator)))


# --- membership: first --------------------------------------------------------------------------------------------


def test_first_takes_devices_in_device_id_order_whatever_the_input_order() -> None:
    fleet = devices(100, A)
    plan = plan_waves(parse_rollout(ACCEPTANCE), reversed(fleet))
    assert [plan.wave_of[d.device_id] for d in fleet] == [0] * 5 + [1] * 20 + [2] * 75
    assert [(w.name, w.devices) for w in plan.waves] == [("wave-1", 5), ("wave-2", 20), ("wave-3", 75)]
    assert plan.waves[0].groups == (GroupCount(A, 5),)


def test_group_counts_are_the_previews_shape() -> None:
    plan = plan_waves(spec({"percent": 100}), devices(2, A) + devices(1, B, start=10))
    assert plan.waves[0].as_dict() == {
        "name": "wave-1",
        "devices": 3,
        "groups": [
            {"make": "Acme", "model": "M1", "firmware": "1.0", "timeZone": "America/Los_Angeles", "count": 1},
            {"make": "Acme", "model": "M1", "firmware": "1.0", "timeZone": "Europe/Berlin", "count": 2},
        ],
    }


def test_repeated_device_ids_are_a_caller_error() -> None:
    with pytest.raises(ValueError, match="repeat"):
        plan_waves(spec({"percent": 100}), devices(1, A) + devices(1, B))


# --- membership: stratified ---------------------------------------------------------------------------------------


def test_stratified_canary_has_every_group_even_a_small_one() -> None:
    # 90 Berlin, 9 Los Angeles, 1 old firmware: `first` would put only Berlin devices in the canary.
    fleet = devices(90, A) + devices(9, B, start=100) + devices(1, C, start=200)
    plan = plan_waves(parse_rollout({**ACCEPTANCE, "canary": "stratified"}), fleet)
    assert dict((g.group, g.count) for g in plan.waves[0].groups) == {A: 3, B: 1, C: 1}
    assert dict((g.group, g.count) for g in plan.waves[1].groups) == {A: 19, B: 1}
    assert dict((g.group, g.count) for g in plan.waves[2].groups) == {A: 68, B: 7}


def test_stratified_waves_follow_the_groups_proportions() -> None:
    fleet = devices(60, A) + devices(40, B, start=100)
    plan = plan_waves(spec({"percent": 10}, {"percent": 50}, {"percent": 100}, canary="stratified"), fleet)
    assert [dict((g.group, g.count) for g in w.groups) for w in plan.waves] == [
        {A: 6, B: 4},
        {A: 24, B: 16},
        {A: 30, B: 20},
    ]


def test_a_canary_smaller_than_the_group_count_takes_the_largest_groups() -> None:
    fleet = devices(5, A) + devices(4, B, start=100) + devices(3, C, start=200) + devices(2, D, start=300)
    plan = plan_waves(spec({"devices": 2}, {"devices": 4}, {"percent": 100}, canary="stratified"), fleet)
    assert dict((g.group, g.count) for g in plan.waves[0].groups) == {A: 1, B: 1}
    # The next wave catches up the groups the canary had no room for.
    assert {g.group for g in plan.waves[1].groups} == {A, B, C, D}


def test_within_a_group_the_lowest_device_ids_go_first() -> None:
    fleet = devices(10, A)
    plan = plan_waves(spec({"devices": 3}, {"percent": 100}, canary="stratified"), fleet)
    assert [d.device_id for d in fleet if plan.wave_of[d.device_id] == 0] == [d.device_id for d in fleet[:3]]


ZONES = ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"]
_groups = st.builds(
    Group,
    make=st.just("Acme"),
    model=st.sampled_from(["M1", "M2"]),
    firmware=st.sampled_from(["0.9", "1.0"]),
    time_zone=st.sampled_from(ZONES),
)
_fleets = st.lists(_groups, max_size=300).map(
    lambda groups: [DeviceTraits(f"{350000000000000 + i * 7919 % 1000003:015d}", g) for i, g in enumerate(groups)]
)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(_fleets, _waves, st.sampled_from(["first", "stratified"]))
def test_every_device_lands_in_exactly_one_wave_of_the_planned_size(
    fleet: list[DeviceTraits], waves: list[Any], canary: str
) -> None:
    rollout = parse_rollout({"waves": waves, "canary": canary})
    plan = plan_waves(rollout, fleet)
    assert set(plan.wave_of) == {d.device_id for d in fleet}
    assert Counter(plan.wave_of.values()) == Counter(
        {i: n for i, n in enumerate(wave_sizes(rollout.waves, len(fleet))) if n}
    )
    assert [w.devices for w in plan.waves] == list(wave_sizes(rollout.waves, len(fleet)))
    assert [sum(g.count for g in w.groups) for w in plan.waves] == [w.devices for w in plan.waves]
    # The same devices in another order give the same plan.
    assert plan_waves(rollout, list(reversed(fleet))) == plan


@settings(derandomize=True, max_examples=200, deadline=None)
@given(_fleets, st.integers(1, 40))
def test_a_stratified_first_wave_covers_every_group_while_it_has_room(fleet: list[DeviceTraits], canary: int) -> None:
    rollout = parse_rollout({"waves": [{"devices": canary}, {"percent": 100}], "canary": "stratified"})
    plan = plan_waves(rollout, fleet)
    groups = {d.group for d in fleet}
    covered = {g.group for g in plan.waves[0].groups}
    assert len(covered) == min(len(groups), plan.waves[0].devices)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(_fleets, st.integers(1, 99))
def test_a_stratified_wave_holds_each_group_near_its_share(fleet: list[DeviceTraits], percent: int) -> None:
    rollout = parse_rollout({"waves": [{"percent": percent}, {"percent": 100}], "canary": "stratified"})
    plan = plan_waves(rollout, fleet)
    size = plan.waves[0].devices
    in_campaign = Counter(d.group for d in fleet)
    in_wave = {g.group: g.count for g in plan.waves[0].groups}
    for group, count in in_campaign.items():
        share = Fraction(size * count, len(fleet))
        # Never more than its share rounded up (or the one device it is owed); never short by more than the seats
        # the other groups' one-device minimum took.
        assert in_wave.get(group, 0) < max(Fraction(1), share) + 1
        assert in_wave.get(group, 0) > share - len(in_campaign)
